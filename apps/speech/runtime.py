"""Speech on device: audio files -> keywords, detections in a stream, transcripts, without TensorFlow.

What an answer from the ``.tflite`` files needs on the host: reading any audio file as
16 kHz mono (soundfile, soxr), the first second for a keyword, the staggered sessions
that carry the step model's state hop by hop and the detector for ``--stream``, and the
CTC ids joined into text for ``--task transcribe``. Imports only NumPy, the audio
decoders and ``ai_edge_litert`` (``shared.runtime``), so it runs where TensorFlow is not
installed; ``SpeechApp.predict`` gives every engine's answers through the same ``answers``.

LiteRT files (each in fp32, fp16 and int8):
  ``model_*.tflite``       the 1-s keyword classifier, waveform [1, 16000] -> scores [1, 12]
  ``step_*.tflite``        one 20 ms hop [1, 320] + state -> scores + next state (crnn only)
  ``transcribe_*.tflite``  a 3-s phrase [1, 48000] -> greedy CTC ``ids`` [1, 150], ``length``

Example:
    >>> runtime = SpeechRuntime("saved_models/speech", variant="int8")
    >>> runtime.predict(["yes.wav"])[0]["keyword"]
    'yes'
    >>> runtime.predict(["kitchen.wav"], stream=True)  # one answer per detected keyword
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from shared.errors import UserError
from shared.preprocessing import audio as audio_lib
from shared.runtime.answers import answer_each
from shared.runtime.base import Runtime
from shared.runtime.litert import LiteRTModel
from shared.runtime.options import Option
from shared.runtime.streaming import WindowedStream, detect_events, window_starts

LABELS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
LABELS += ["_unknown_", "_silence_"]
KEYWORDS = LABELS[:10]
UNKNOWN_INDEX = LABELS.index("_unknown_")
SILENCE_INDEX = LABELS.index("_silence_")
SAMPLE_RATE = 16000
CLIP_SAMPLES = SAMPLE_RATE  # one-second clips, as in Speech Commands
# Characters of a transcript, index 0 left free for the CTC blank by the model.
ALPHABET = " 'abcdefghijklmnopqrstuvwxyz"
MAX_TRANSCRIPTION_SECONDS = 3.0
TRANSCRIPTION_SAMPLES = int(MAX_TRANSCRIPTION_SECONDS * SAMPLE_RATE)
TASKS = ("keyword", "transcribe")
MAX_STREAM_SECONDS = 3600.0  # a longer recording is most likely the wrong file
# Any input: checked from the header before decoding, so a file of a few samples at 1 Hz
# cannot resample into gigabytes at 16 kHz.
MAX_INPUT_SECONDS = MAX_STREAM_SECONDS
CONFIG_FILE = "config.json"
STREAMING_FILE = "streaming.json"
# The demo's keywords, spoken by eSpeak NG into ``<data>/speech_samples/<word>.wav`` by the
# App (``SpeechApp.sample_inputs``).
SAMPLE_WORDS = ("yes", "stop", "left")
# The options of ``predict`` (and of the CLI and the server).
OPTIONS = (
    Option("task", "string", "which model answers", "keyword", choices=TASKS),
    Option("stream", "boolean", "detect keywords over a long recording", False),
)


class Engine(Protocol):
    """What ``answers`` needs of a predictor, on any engine (``SpeechRuntime`` is LiteRT's)."""

    model_dir: pathlib.Path
    has_transcriber: bool

    def scores(self, clips: np.ndarray) -> np.ndarray: ...

    def window_posteriors(
        self, waveform: np.ndarray, hop_samples: int, stride_steps: int
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def transcribe(self, clips: list[np.ndarray]) -> list[str]: ...


def stride_steps(window_stride_ms: float, hop_length: int) -> int:
    """Hops between the starts of two scored 1-s windows of a stream."""
    return int(round(window_stride_ms / 1000 * SAMPLE_RATE)) // hop_length


@dataclasses.dataclass(frozen=True)
class StreamSettings:
    """How ``--stream`` reads a recording: the hop, the window stride and the detector."""

    hop_samples: int
    stride_steps: int
    threshold: float
    smoothing_windows: int
    refractory_seconds: float

    @classmethod
    def read(cls, model_dir: str | pathlib.Path) -> StreamSettings:
        """The settings the model was trained with (its ``config.json``, read as JSON)."""
        config = json.loads((pathlib.Path(model_dir) / CONFIG_FILE).read_text(encoding="utf-8"))
        return cls(
            hop_samples=int(config["hop_length"]),
            stride_steps=stride_steps(config["window_stride_ms"], config["hop_length"]),
            threshold=float(config["detection_threshold"]),
            smoothing_windows=int(config["smoothing_windows"]),
            refractory_seconds=float(config["refractory_seconds"]),
        )


def ids_to_text(ids: np.ndarray, length: int | None = None) -> str:
    """Join decoded CTC ids (1-based into `ALPHABET`, 0 = blank/padding)."""
    ids = np.asarray(ids).reshape(-1)
    if length is not None:
        ids = ids[:length]
    return "".join(ALPHABET[i - 1] for i in ids.tolist() if i > 0).strip()


def pad_phrases(clips: Sequence[np.ndarray]) -> np.ndarray:
    """Phrases of at most 3 s as one array ``[n, TRANSCRIPTION_SAMPLES]``, padded with silence."""
    padded = np.zeros((len(clips), TRANSCRIPTION_SAMPLES), dtype=np.float32)
    for row, clip in enumerate(clips):
        clip = np.asarray(clip, dtype=np.float32)[:TRANSCRIPTION_SAMPLES]
        padded[row, : len(clip)] = clip
    return padded


def _hops(waveform: np.ndarray, hop_samples: int) -> tuple[np.ndarray, int, int]:
    """The waveform cut to whole hops (padded to one window if shorter), its hop count, and
    the hops of one window."""
    window_steps = CLIP_SAMPLES // hop_samples
    num_steps = len(waveform) // hop_samples
    if num_steps < window_steps:  # shorter than one window: pad to a single window
        waveform = np.pad(waveform, (0, CLIP_SAMPLES - len(waveform)))
        num_steps = window_steps
    return (
        np.asarray(waveform[: num_steps * hop_samples], dtype=np.float32),
        num_steps,
        window_steps,
    )


def sliding_window_posteriors(
    scores, waveform: np.ndarray, hop_samples: int, stride_steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """The 1-s model (`scores`: clips [n, 16000] -> [n, 12]) on every window of a long
    waveform that starts every `stride_steps` hops: the time (s) each window ends and
    its scores [windows, 12]."""
    waveform, num_steps, window_steps = _hops(waveform, hop_samples)
    starts = window_starts(num_steps, window_steps, stride_steps)
    windows = np.stack([waveform[s * hop_samples : s * hop_samples + CLIP_SAMPLES] for s in starts])
    return (starts + window_steps) * hop_samples / SAMPLE_RATE, scores(windows)


def stepped_window_posteriors(
    step: LiteRTModel, waveform: np.ndarray, hop_samples: int, stride_steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """The same windows as ``sliding_window_posteriors``, scored by the step model hop by
    hop (``WindowedStream``: staggered sessions, each restarted at its window's start)."""
    waveform, num_steps, window_steps = _hops(waveform, hop_samples)
    stream = WindowedStream(step, state_shapes_of(step), "audio", window_steps, stride_steps)
    ends, posteriors = [], []
    for hop in waveform.reshape(num_steps, 1, hop_samples):
        for end_step, scores in stream(hop):
            ends.append(end_step)
            posteriors.append(scores[0])
    posteriors = np.asarray(posteriors).reshape(-1, len(LABELS))
    return np.asarray(ends) * hop_samples / SAMPLE_RATE, posteriors


def state_shapes_of(step: LiteRTModel) -> dict[str, tuple[int, ...]]:
    """The step model's state inputs (all but ``audio``) and their shapes."""
    return {name: step.input_shape(name) for name in step.input_names if name != "audio"}


def load_recording(path: str) -> np.ndarray:
    """The file's audio at 16 kHz in [-1, 1], or the UserError that names it."""
    import soundfile

    if pathlib.Path(path).is_file():
        try:
            header = soundfile.info(path)
        except (soundfile.LibsndfileError, RuntimeError, ValueError):
            header = None  # not audio: load_audio says so, in the same words as elsewhere
        if header is not None and header.samplerate > 0:
            seconds = header.frames / header.samplerate
            if seconds > MAX_INPUT_SECONDS:
                raise UserError(
                    f"{path}: {seconds:.0f} s long, more than the "
                    f"{MAX_INPUT_SECONDS:.0f} s a recording may be"
                )
    audio = audio_lib.load_audio(path, SAMPLE_RATE)
    # Float files may hold samples far beyond full scale (1e30 overflows the log-mel
    # front end into NaN scores); a microphone's ADC clips, and training clips the same.
    return np.clip(audio, -1.0, 1.0)


def keyword_clip(audio: np.ndarray) -> np.ndarray:
    """The 1-s clip keyword mode hears: the first second (``--stream`` for longer ones)."""
    clip = audio[:CLIP_SAMPLES] if len(audio) > CLIP_SAMPLES else audio
    return audio_lib.pad_or_crop(clip, CLIP_SAMPLES)


def stream_audio(path: str, audio: np.ndarray) -> np.ndarray:
    """A recording to stream, or the UserError if it is too long to be one."""
    if len(audio) > MAX_STREAM_SECONDS * SAMPLE_RATE:
        raise UserError(
            f"{path}: {len(audio) / SAMPLE_RATE:.0f} s long, more than the "
            f"{MAX_STREAM_SECONDS:.0f} s a stream may be"
        )
    return audio


def phrase_audio(path: str, audio: np.ndarray, has_transcriber: bool) -> np.ndarray:
    """A phrase to transcribe (trimmed of silence when longer than 3 s), or the UserError."""
    if not has_transcriber:
        raise UserError(f"{path}: this model has no transcriber (trained with transcription=false)")
    if len(audio) > TRANSCRIPTION_SAMPLES:
        audio = audio_lib.trim_silence(audio, SAMPLE_RATE)
    if len(audio) > TRANSCRIPTION_SAMPLES:
        raise UserError(
            f"{path}: {len(audio) / SAMPLE_RATE:.1f} s of speech; transcription takes "
            f"phrases of at most {MAX_TRANSCRIPTION_SECONDS:g} s"
        )
    return audio


def detections(
    path: str, times: np.ndarray, posteriors: np.ndarray, settings: StreamSettings
) -> list[dict]:
    """One answer per keyword the detector finds in a stream's window posteriors; one
    empty answer (``keyword`` None) when it finds none, so the input still gets its line."""
    events = detect_events(
        times,
        posteriors,
        range(len(KEYWORDS)),
        settings.threshold,
        settings.smoothing_windows,
        settings.refractory_seconds,
    )
    if not events:
        return [{"input": path, "keyword": None, "score": None, "time": None}]
    return [
        {
            "input": path,
            "keyword": LABELS[event.label],
            "score": round(event.score, 4),
            "time": round(event.time, 2),
        }
        for event in events
    ]


def answers(
    inputs: Sequence[str], engine: Engine, stream: bool = False, task: str = "keyword"
) -> list[dict | UserError]:
    """One answer per input (per detection with `stream`), or the UserError for a bad input,
    from any engine: the keyword of the first second, every keyword detected in a stream,
    or the transcript of a phrase (``task="transcribe"``)."""
    if task not in TASKS:
        raise UserError(f"--task {task}: choose from {', '.join(TASKS)}")
    if task == "transcribe":

        def transcribe(raws: list[str], phrases: list[np.ndarray]) -> list[dict]:
            texts = engine.transcribe(phrases)
            return [{"input": raw, "text": text} for raw, text in zip(raws, texts, strict=True)]

        return answer_each(
            inputs,
            lambda path: phrase_audio(path, load_recording(path), engine.has_transcriber),
            transcribe,
        )
    if stream:
        settings = StreamSettings.read(engine.model_dir)

        def detect(raws: list[str], recordings: list[np.ndarray]) -> list:
            return [
                detections(
                    raw,
                    *engine.window_posteriors(
                        recording, settings.hop_samples, settings.stride_steps
                    ),
                    settings,
                )
                for raw, recording in zip(raws, recordings, strict=True)
            ]

        nested = answer_each(inputs, lambda path: stream_audio(path, load_recording(path)), detect)
        flat: list[dict | UserError] = []
        for item in nested:
            flat.extend(item if isinstance(item, list) else [item])
        return flat

    def keywords(raws: list[str], clips: list[np.ndarray]) -> list[dict]:
        result = []
        for raw, scores in zip(raws, engine.scores(np.stack(clips)), strict=True):
            best = int(np.argmax(scores))
            result.append(
                {"input": raw, "keyword": LABELS[best], "score": round(float(scores[best]), 4)}
            )
        return result

    return answer_each(inputs, lambda path: keyword_clip(load_recording(path)), keywords)


def summary(answer: dict) -> str:
    """One short line for the terminal and the demo table."""
    if "text" in answer:
        return answer["text"]
    if "time" in answer:
        if answer["keyword"] is None:
            return "no keyword detected"
        return f"{answer['keyword']} at {answer['time']:.2f} s ({answer['score']:.2f})"
    return f"{answer['keyword']} ({answer['score']:.2f})"


class SpeechRuntime(Runtime):
    """``model_<variant>.tflite``, and ``step_`` and ``transcribe_`` when the model has them:
    audio files -> keywords, detections in a stream, transcripts."""

    task = "Keyword spotting (12 Speech Commands labels, streaming) and phrase transcription"
    pattern = "many-to-one (causal CRNN, streams 20 ms steps) + many-to-many (BiGRU + CTC)"
    default_data = "eSpeak NG speech generated offline, whole voices held out for test"
    metric = "accuracy"
    input_kind = "audio"
    options = OPTIONS
    sample_files = tuple(f"speech_samples/{word}.wav" for word in SAMPLE_WORDS)

    def __init__(self, model_dir: str | pathlib.Path, variant: str = "fp32"):
        super().__init__(model_dir, variant)
        self.runner = LiteRTModel(self.tflite("model"), num_threads=1)
        step = self.tflite("step")
        self.step = LiteRTModel(step, num_threads=1) if step.is_file() else None
        path = self.tflite("transcribe")
        self.transcriber = LiteRTModel(path, num_threads=1) if path.is_file() else None
        self.has_transcriber = self.transcriber is not None

    def scores(self, clips: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Softmax scores [n, 12] of 1-s clips [n, 16000], one clip per call."""
        del batch_size  # the engines' shared signature; LiteRT runs clip by clip
        clips = np.asarray(clips, dtype=np.float32).reshape(-1, CLIP_SAMPLES)
        if len(clips) == 0:
            return np.zeros((0, len(LABELS)), dtype=np.float32)
        out = [self.runner(waveform=clip[None])["scores"] for clip in clips]
        return np.concatenate(out).astype(np.float32)

    def outputs(self, inputs: list) -> np.ndarray:
        return self.scores(np.stack(inputs))

    def window_posteriors(
        self, waveform: np.ndarray, hop_samples: int, stride_steps: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scores of every 1-s window of a long waveform, one every `stride_steps` hops: the
        step model hop by hop when there is one (crnn), else the 1-s model on each window.
        Returns the time (s) each window ends and the scores [windows, 12]."""
        if self.step is not None:
            return stepped_window_posteriors(self.step, waveform, hop_samples, stride_steps)
        return sliding_window_posteriors(self.scores, waveform, hop_samples, stride_steps)

    def transcribe(self, clips: list[np.ndarray], batch_size: int = 64) -> list[str]:
        """Greedy CTC transcripts of clips of at most 3 s (padded with silence)."""
        del batch_size  # the engines' shared signature; LiteRT runs phrase by phrase
        if self.transcriber is None:
            raise ValueError("this model has no transcriber (trained with transcription=false)")
        texts = []
        for phrase in pad_phrases(clips):
            decoded = self.transcriber(waveform=phrase[None])
            texts.append(ids_to_text(decoded["ids"][0], int(decoded["length"][0])))
        return texts

    def predict(
        self, inputs: list, stream: bool = False, task: str = "keyword"
    ) -> list[dict | UserError]:
        return answers(inputs, self, stream=stream, task=task)

    def summary(self, answer: dict) -> str:
        return summary(answer)
