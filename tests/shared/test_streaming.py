"""Streaming helpers: staggered windows, the event detector and its scoring."""

import keras
import numpy as np
import pytest

from shared.runtime.streaming import (
    Event,
    StreamingSession,
    WindowedStream,
    detect_events,
    score_events,
    state_names,
    window_starts,
)
from shared.streaming import context_window


def summing_step(audio, total):
    """A toy step model: the state is the running sum; the score is the sum so far."""
    new_total = total + audio.sum(keepdims=True)
    return {"scores": new_total.copy(), "next_total": new_total}


def test_session_carries_state_and_resets():
    session = StreamingSession(summing_step, {"total": (1, 1)}, "audio")
    outputs = [session(np.full((1, 2), value, np.float32))["scores"].item() for value in (1, 2, 3)]
    assert outputs == [2, 6, 12]
    assert "next_total" not in session(np.zeros((1, 2), np.float32))
    session.reset()
    assert session(np.ones((1, 2), np.float32))["scores"].item() == 2


def test_windowed_stream_scores_exactly_the_strided_windows():
    hops = np.arange(23, dtype=np.float32).reshape(23, 1, 1)
    stream = WindowedStream(
        summing_step, {"total": (1, 1)}, "audio", window_steps=6, stride_steps=2
    )
    ended = [item for hop in hops for item in stream(hop)]
    starts = window_starts(23, 6, 2)
    assert [end for end, _ in ended] == (starts + 6).tolist()
    for (_, scores), start in zip(ended, starts, strict=True):
        assert scores.item() == hops[start : start + 6].sum()  # the sum over its window only
    with pytest.raises(ValueError, match="divide"):
        WindowedStream(summing_step, {"total": (1, 1)}, "audio", window_steps=5, stride_steps=2)


def test_context_window_keeps_the_most_recent_entries():
    context = keras.Input(batch_shape=(1, 2, 3), name="context")
    current = keras.Input(batch_shape=(1, 1, 3), name="current")
    window, next_context = context_window(context, current)
    model = keras.Model([context, current], [window, next_context])
    past = np.arange(6, dtype=np.float32).reshape(1, 2, 3)
    now = np.full((1, 1, 3), 9, np.float32)
    got_window, got_next = (np.asarray(x) for x in model([past, now]))
    np.testing.assert_array_equal(got_window, np.concatenate([past, now], axis=1))
    np.testing.assert_array_equal(got_next, np.concatenate([past[:, 1:], now], axis=1))
    assert state_names(["audio", "context"], ["scores", "next_context"]) == ["context"]


def test_detector_smooths_thresholds_and_waits_out_the_refractory_period():
    times = np.arange(10) * 0.2
    posteriors = np.zeros((10, 3), np.float32)
    posteriors[:, 2] = 1.0  # class 2 (not an event class) always wins, and is ignored
    posteriors[[2, 3, 4], 0] = [0.9, 0.9, 0.9]
    posteriors[8, 1] = 0.95
    events = detect_events(times, posteriors, classes=[0, 1], threshold=0.8, refractory=1.0)
    assert [(e.label, e.time) for e in events] == [(0, pytest.approx(0.4)), (1, pytest.approx(1.6))]
    # Averaging two readings halves a single-window spike below the threshold.
    smoothed = detect_events(times, posteriors, [0, 1], 0.8, smoothing=2, refractory=1.0)
    assert [e.label for e in smoothed] == [0]
    assert smoothed[0].time == pytest.approx(0.6) and smoothed[0].score == pytest.approx(0.9)


def test_score_events_counts_false_rejects_and_accepts():
    truth = [Event(0, 1.0, end=1.4), Event(1, 5.0, end=5.5), Event(0, 9.0, end=9.3)]
    detections = [
        Event(0, 1.9),  # finds the first
        Event(1, 3.0),  # before the second starts: a false accept
        Event(0, 9.5),  # finds the third
        Event(0, 9.8),  # the third again: a false accept
    ]
    scores = score_events(detections, truth, duration=1800.0, latency=1.0)
    assert scores["false_rejects"] == 1 and scores["false_reject_rate"] == pytest.approx(1 / 3)
    assert scores["false_accepts"] == 2 and scores["false_accepts_per_hour"] == pytest.approx(4.0)
