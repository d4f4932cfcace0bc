"""A generated long recording for streaming evaluation: keywords among other speech and noise.

The stream is cut from the held-out test voices only: keyword clips (trimmed to the
word), other words (``_unknown_`` clips) and, when the phrase corpus is loaded,
whole phrases that contain no keyword ("set an alarm for half past nine"), separated
by pauses, over continuous coloured background noise. The true keyword times are
known exactly, so false rejects and false accepts can be counted.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from apps.speech import data
from apps.speech.config import SpeechConfig
from shared.data.splits import Splits
from shared.preprocessing import audio as audio_lib
from shared.runtime.streaming import Event, detect_events, score_events

BACKGROUND_DBFS = -45.0  # RMS of the room noise under the whole stream


@dataclasses.dataclass
class Stream:
    waveform: np.ndarray  # float32 [samples] at 16 kHz
    truth: list[Event]  # every keyword spoken, with start and end times
    seconds: float


def _has_keyword(text: str) -> bool:
    return bool(set(re.findall(r"[a-z']+", text)) & set(data.KEYWORDS))


def build_stream(splits: Splits, seconds: float, seed: int) -> Stream:
    """`seconds` of test-voice speech: ~40% keywords, the rest other words and phrases."""
    rng = np.random.default_rng(seed + 1)
    labels = np.asarray(splits.test["label"])
    keyword_rows = np.flatnonzero(labels < len(data.KEYWORDS))
    unknown_rows = np.flatnonzero(labels == data.UNKNOWN_INDEX)
    phrases = []
    transcription = splits.info.get("transcription")
    if transcription is not None:
        phrases = [
            clip
            for clip, text in zip(
                transcription.test["audio"], transcription.test["text"], strict=True
            )
            if not _has_keyword(text)
        ]
    kinds = ["keyword", "unknown"] + (["phrase"] if phrases else [])
    weights = np.array([0.4, 0.3, 0.3][: len(kinds)])
    pieces, truth, position = [], [], 0
    total = int(seconds * data.SAMPLE_RATE)
    while True:
        position += int(rng.uniform(0.4, 1.6) * data.SAMPLE_RATE)  # a pause
        kind = kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]
        if kind == "phrase":
            clip = phrases[int(rng.integers(len(phrases)))]
        else:
            rows = keyword_rows if kind == "keyword" else unknown_rows
            if len(rows) == 0:
                continue
            row = int(rows[rng.integers(len(rows))])
            clip = audio_lib.trim_silence(splits.test["audio"][row], data.SAMPLE_RATE)
        clip = clip * np.float32(10.0 ** (rng.uniform(-6.0, 0.0) / 20.0))
        if position + len(clip) > total:
            break
        pieces.append((position, clip))
        if kind == "keyword":
            truth.append(
                Event(
                    label=int(labels[row]),
                    time=position / data.SAMPLE_RATE,
                    end=(position + len(clip)) / data.SAMPLE_RATE,
                )
            )
        position += len(clip)
    noise = audio_lib.background_noise(total, rng) * np.float32(10.0 ** (BACKGROUND_DBFS / 20))
    waveform = noise.astype(np.float32)
    for start, clip in pieces:
        waveform[start : start + len(clip)] += clip
    return Stream(np.clip(waveform, -1.0, 1.0), truth, total / data.SAMPLE_RATE)


def stream_scores(predictor, stream: Stream, config: SpeechConfig, stride_steps: int) -> dict:
    """False-reject rate and false accepts per hour of the detector on `stream`."""
    times, posteriors = predictor.window_posteriors(
        stream.waveform, config.hop_length, stride_steps
    )
    events = detect_events(
        times,
        posteriors,
        range(len(data.KEYWORDS)),
        config.detection_threshold,
        config.smoothing_windows,
        config.refractory_seconds,
    )
    stride_seconds = stride_steps * config.hop_length / data.SAMPLE_RATE
    # A 1-s window holds the whole word at the latest 1 s after the word starts.
    latency = 1.0 + config.smoothing_windows * stride_seconds
    return score_events(events, stream.truth, stream.seconds, latency)
