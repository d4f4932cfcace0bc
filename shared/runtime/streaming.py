"""Streaming on device, the host side: step-model sessions, staggered windows, the detector.

The pattern (kws_streaming's, reused by any app that listens or watches continuously):

1. Export a *step model*: one hop of input plus every piece of state (recurrent state,
   and the context buffers that causal convolutions or framing need) in, the scores
   and the next state out (``shared.streaming.context_window`` builds those buffers in
   a Keras step graph). State inputs are named ``<name>``, their updates ``next_<name>``.
2. On the host, ``StreamingSession`` feeds hops and carries the state;
   ``WindowedStream`` runs staggered sessions that each restart every window, so every
   window a model scores is exactly a window it was trained on (a model trained on
   1-s clips gives the full model's answer for each 1-s window, stride after stride).
3. ``detect_events`` turns the windows' posteriors into events: moving-average
   smoothing, a threshold, and a refractory period; ``score_events`` counts false
   rejects and false accepts against the truth.

NumPy only, so it runs where TensorFlow is not (``shared.runtime``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

NEXT_PREFIX = "next_"

StepFunction = Callable[..., dict[str, np.ndarray]]


def state_names(input_names: Sequence[str], output_names: Sequence[str]) -> list[str]:
    """Inputs that have a ``next_`` output: the state a host loop must carry."""
    outputs = set(output_names)
    return [name for name in input_names if NEXT_PREFIX + name in outputs]


class StreamingSession:
    """Carries the state of one step model across calls.

    Args:
        step: callable taking keyword arrays (the step model's inputs) and returning a
            dict of arrays (its outputs): a ``LiteRTModel``, say.
        state_shapes: state input name -> shape; states start (and reset) at zeros.
        input_name: the name of the per-step input.

    Call arguments:
        chunk: one hop of input, already shaped like the step model's input.

    Returns the step's outputs other than the next states.

    Example:
        >>> session = StreamingSession(runner, {"rnn_state": (1, 64)}, "audio")
        >>> scores = [session(hop)["scores"] for hop in hops]
    """

    def __init__(
        self, step: StepFunction, state_shapes: dict[str, tuple[int, ...]], input_name: str
    ):
        self.step = step
        self.state_shapes = dict(state_shapes)
        self.input_name = input_name
        self.reset()

    def reset(self) -> None:
        self.states = {
            name: np.zeros(shape, dtype=np.float32) for name, shape in self.state_shapes.items()
        }

    def __call__(self, chunk: np.ndarray) -> dict[str, np.ndarray]:
        outputs = self.step(**{self.input_name: chunk}, **self.states)
        for name in self.states:
            self.states[name] = outputs[NEXT_PREFIX + name]
        return {k: v for k, v in outputs.items() if not k.startswith(NEXT_PREFIX)}


class WindowedStream:
    """Scores every `window_steps`-step window that starts on a multiple of `stride_steps`.

    Runs ``window_steps / stride_steps`` staggered sessions of one step model; each one
    is reset when it starts a window, so its output at the window's last step is the
    full (non-streaming) model's answer on that window. Cost: that many step calls per
    hop, each one hop's worth of compute.

    Args:
        step, state_shapes, input_name: as for ``StreamingSession``.
        window_steps: hops per window (50 for 1 s of 20 ms hops).
        stride_steps: hops between window starts; must divide `window_steps`.
        output_name: the output holding the scores.

    Call arguments:
        chunk: the next hop.

    Returns a list of ``(end_step, scores)`` for the windows that ended with this hop
    (empty or one item); ``end_step`` counts hops from the start of the stream.

    Example:
        >>> stream = WindowedStream(runner, shapes, "audio", window_steps=50, stride_steps=10)
        >>> for hop in hops:
        ...     for end_step, scores in stream(hop): ...
    """

    def __init__(
        self,
        step: StepFunction,
        state_shapes: dict[str, tuple[int, ...]],
        input_name: str,
        window_steps: int,
        stride_steps: int,
        output_name: str = "scores",
    ):
        if window_steps < 1 or stride_steps < 1 or window_steps % stride_steps:
            raise ValueError(
                f"stride_steps must divide window_steps, got {stride_steps} and {window_steps}"
            )
        self.window_steps = window_steps
        self.stride_steps = stride_steps
        self.output_name = output_name
        self.sessions = [
            StreamingSession(step, state_shapes, input_name)
            for _ in range(window_steps // stride_steps)
        ]
        self.position = 0  # hops consumed so far

    def __call__(self, chunk: np.ndarray) -> list[tuple[int, np.ndarray]]:
        ended = []
        for index, session in enumerate(self.sessions):
            start = index * self.stride_steps
            if self.position < start:
                continue  # this session's first window has not begun
            offset = (self.position - start) % self.window_steps
            if offset == 0:
                session.reset()
            outputs = session(chunk)
            if offset == self.window_steps - 1:
                ended.append((self.position + 1, outputs[self.output_name]))
        self.position += 1
        return ended


def window_starts(num_steps: int, window_steps: int, stride_steps: int) -> np.ndarray:
    """The start hop of every full window ``WindowedStream`` scores over `num_steps` hops."""
    return np.arange(0, num_steps - window_steps + 1, stride_steps)


@dataclasses.dataclass
class Event:
    """A detection (or a true occurrence): class index, score and time in seconds."""

    label: int
    time: float
    score: float = 1.0
    end: float | None = None  # true occurrences: when the event ends


def detect_events(
    times: np.ndarray,
    posteriors: np.ndarray,
    classes: Sequence[int],
    threshold: float,
    smoothing: int = 1,
    refractory: float = 1.0,
) -> list[Event]:
    """Events from a sequence of posteriors: smooth, threshold, then a refractory period.

    Args:
        times: [n] the time (seconds) each posterior is read.
        posteriors: [n, classes] the scores at those times.
        classes: the class indices that are events (keywords, not "unknown" or "silence").
        threshold: smallest smoothed score that fires.
        smoothing: moving average over this many consecutive readings.
        refractory: seconds after a detection during which nothing else fires.
    """
    posteriors = np.asarray(posteriors, dtype=np.float32)
    if smoothing < 1:
        raise ValueError(f"smoothing must be >= 1, got {smoothing}")
    if len(posteriors) == 0:
        return []
    cumulative = np.concatenate([np.zeros((1, posteriors.shape[1])), np.cumsum(posteriors, 0)])
    first = np.maximum(np.arange(len(posteriors)) + 1 - smoothing, 0)
    count = (np.arange(len(posteriors)) + 1 - first)[:, None]
    smoothed = (cumulative[1:] - cumulative[first]) / count  # [n, classes]
    candidates = smoothed[:, list(classes)]
    events: list[Event] = []
    for index in range(len(posteriors)):
        best = int(np.argmax(candidates[index]))
        score = float(candidates[index, best])
        if score < threshold:
            continue
        if events and times[index] - events[-1].time < refractory:
            continue
        events.append(Event(label=int(classes[best]), time=float(times[index]), score=score))
    return events


def score_events(
    detections: Sequence[Event], truth: Sequence[Event], duration: float, latency: float
) -> dict:
    """False-reject rate and false accepts per hour of `detections` against `truth`.

    A detection is correct if it names the label of a true event not yet found and
    fires between the event's start and `latency` seconds after its end (a 1-s window
    scores a word only once it has heard all of it). Every other detection is a false
    accept; every true event no detection found is a false reject.
    """
    found = [False] * len(truth)
    false_accepts = 0
    for detection in detections:
        match = None
        for index, event in enumerate(truth):
            end = event.time if event.end is None else event.end
            if (
                not found[index]
                and event.label == detection.label
                and event.time <= detection.time <= end + latency
            ):
                match = index
                break
        if match is None:
            false_accepts += 1
        else:
            found[match] = True
    hours = duration / 3600.0
    return {
        "events": len(truth),
        "detections": len(detections),
        "false_rejects": int(len(truth) - sum(found)),
        "false_reject_rate": float((len(truth) - sum(found)) / max(1, len(truth))),
        "false_accepts": int(false_accepts),
        "false_accepts_per_hour": float(false_accepts / hours) if hours > 0 else 0.0,
        "stream_seconds": float(duration),
    }
