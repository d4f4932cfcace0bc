"""The pitch of synthesised speech, shared by the speech-engine tests (eSpeak NG, tts)."""

import numpy as np


def fundamental_frequency(audio: np.ndarray, sample_rate: int = 16_000) -> float:
    """Median pitch from autocorrelation over voiced (loud) 40 ms frames (60-400 Hz)."""
    frame, estimates = int(0.04 * sample_rate), []
    peak = np.abs(audio).max()
    for start in range(0, len(audio) - frame, frame // 2):
        chunk = audio[start : start + frame]
        if np.abs(chunk).max() < 0.3 * peak:
            continue
        chunk = chunk - chunk.mean()
        correlation = np.correlate(chunk, chunk, mode="full")[frame - 1 :]
        low, high = sample_rate // 400, sample_rate // 60
        estimates.append(sample_rate / (low + np.argmax(correlation[low:high])))
    return float(np.median(estimates))
