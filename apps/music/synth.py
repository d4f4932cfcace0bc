"""A small synthesiser of our own: a tune as a 16-bit mono WAV (NumPy and the standard library).

Each sounding note (tied notes joined, ``events.sounding``) is a sum of five harmonics at
equal temperament (A4 = 440 Hz) under an ADSR envelope: 10 ms attack, 80 ms decay to 60%,
sustain, and a release inside the note's own time (at most 60 ms, at most a third of the
note), so notes never click or overlap. Rests are silence. The output is exactly
``round(quarter notes x 60 / tempo x sample_rate)`` samples long, peak-normalised to `volume`.
No sound font, no MIDI.

Example:
    write_wav("tune.wav", tune, tempo=120)       # tempo in quarter notes per minute
"""

from __future__ import annotations

import io
import pathlib
import wave

import numpy as np

from apps.music.events import Tune, sounding

HARMONICS = (1.0, 0.5, 0.3, 0.15, 0.08)  # amplitudes of partials 1..5: a soft reed-like tone
ATTACK, DECAY, SUSTAIN, RELEASE = 0.010, 0.080, 0.6, 0.060  # seconds, level


def frequency(pitch: int) -> float:
    """A MIDI pitch in Hz (69 = A4 = 440 Hz)."""
    return 440.0 * 2.0 ** ((pitch - 69) / 12.0)


def _envelope(count: int, sample_rate: int) -> np.ndarray:
    t = np.arange(count) / sample_rate
    length = count / sample_rate
    release = min(RELEASE, length / 3)
    attack = min(ATTACK, length / 3)
    level = np.where(
        t < attack,
        t / max(attack, 1e-9),
        SUSTAIN + (1 - SUSTAIN) * np.exp(-(t - attack) / DECAY * 3),
    )
    fade = np.clip((length - t) / max(release, 1e-9), 0.0, 1.0)
    return level * fade


def render(
    tune: Tune, tempo: float = 120.0, sample_rate: int = 22050, volume: float = 0.5
) -> np.ndarray:
    """The tune as int16 samples; `tempo` in quarter notes per minute."""
    if tempo <= 0 or sample_rate <= 0 or not 0 < volume <= 1:
        raise ValueError("tempo and sample_rate must be positive, volume in (0, 1]")
    notes = sounding(tune)
    seconds_per_quarter = 60.0 / tempo
    onsets = np.concatenate([[0.0], np.cumsum([float(n.duration) for n in notes])])
    bounds = np.round(onsets * seconds_per_quarter * sample_rate).astype(np.int64)
    out = np.zeros(int(bounds[-1]), dtype=np.float64)
    for note, start, end in zip(notes, bounds[:-1], bounds[1:], strict=True):
        if note.pitch is None or end <= start:
            continue
        t = np.arange(end - start) / sample_rate
        base = frequency(note.pitch)
        tone = sum(
            amplitude * np.sin(2 * np.pi * base * (k + 1) * t)
            for k, amplitude in enumerate(HARMONICS)
            if base * (k + 1) < sample_rate / 2  # no partial above Nyquist
        )
        out[start:end] = tone * _envelope(end - start, sample_rate)
    peak = np.max(np.abs(out)) if len(out) else 0.0
    if peak > 0:
        out *= volume / peak
    return np.round(out * 32767).astype(np.int16)


def wav_bytes(tune: Tune, tempo: float = 120.0, sample_rate: int = 22050) -> bytes:
    """The tune as the bytes of a 16-bit mono WAV file."""
    samples = render(tune, tempo, sample_rate)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(sample_rate)
        f.writeframes(samples.astype("<i2").tobytes())
    return buffer.getvalue()


def write_wav(
    path: str | pathlib.Path, tune: Tune, tempo: float = 120.0, sample_rate: int = 22050
) -> pathlib.Path:
    """Write the tune as a 16-bit mono WAV file at `path`."""
    path = pathlib.Path(path)
    path.write_bytes(wav_bytes(tune, tempo, sample_rate))
    return path
