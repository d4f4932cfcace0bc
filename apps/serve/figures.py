"""Figures the web page shows beside an answer, as PNG bytes.

An app may draw its own (``App.figure(predictor, input, answers) -> PNG bytes``); apps
with an attention map save it (``save_attention``); audio gets its log-mel spectrogram
with any detected keywords marked on it. With the LiteRT engine the app is a
``RuntimeApp`` whose ``figure`` and ``save_attention`` are the functions its runtime names
(``apps/<app>/figures.py``): nothing here imports TensorFlow. Drawing needs matplotlib
(and librosa for the spectrogram), the ``serve`` extra, imported only when drawing.
"""

from __future__ import annotations

import inspect
import io
import pathlib
import tempfile
import threading
from typing import Any

import numpy as np

from apps.serve.catalog import ServedApp

# pyplot keeps global state; apps' save_attention use it, so one figure at a time.
PYPLOT_LOCK = threading.Lock()
SPECTROGRAM_SAMPLE_RATE = 16000
SPECTROGRAM_MELS = 40
SPECTROGRAM_HOP = 160  # 10 ms


def log_mel_spectrogram(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """``[mels, frames]`` log-mel power in dB (librosa, 25 ms windows every 10 ms)."""
    import librosa

    power = librosa.feature.melspectrogram(
        y=audio, sr=sample_rate, n_fft=400, hop_length=SPECTROGRAM_HOP, n_mels=SPECTROGRAM_MELS
    )
    return librosa.power_to_db(power, ref=np.max, top_db=80.0)


def spectrogram_png(
    path: str | pathlib.Path, answers: list[dict], title: str | None = None
) -> bytes:
    """The log-mel spectrogram of an audio file, keyword detections marked by time (and
    `title` above it: the answer, when the figure is kept apart from it)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from shared.preprocessing.audio import load_audio

    audio = load_audio(path, SPECTROGRAM_SAMPLE_RATE, allow_silent=True)
    mels = log_mel_spectrogram(audio, SPECTROGRAM_SAMPLE_RATE)
    seconds = len(audio) / SPECTROGRAM_SAMPLE_RATE
    figure = Figure(figsize=(7.0, 2.4), dpi=100)
    FigureCanvasAgg(figure)
    axis = figure.add_subplot()
    axis.imshow(
        mels, origin="lower", aspect="auto", cmap="magma", extent=(0.0, seconds, 0, mels.shape[0])
    )
    axis.set_xlabel("time (s)")
    axis.set_ylabel("mel band")
    for answer in answers:
        time, keyword = answer.get("time"), answer.get("keyword")
        if isinstance(time, (int, float)) and keyword:
            axis.axvline(time, color="cyan", linewidth=1.5)
            axis.text(time, mels.shape[0] - 3, f" {keyword}", color="cyan", fontsize=9)
    if title:
        axis.set_title(title, fontsize=9)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def attention_png(served: ServedApp, predictor: Any, raw: str, options: dict) -> bytes:
    """The app's own attention map, saved through its ``save_attention``.

    The request's options that ``save_attention`` also takes (a beam width) are passed on,
    so the map is the one of the answer shown.
    """
    accepted = inspect.signature(served.app.save_attention).parameters
    passed = {name: value for name, value in options.items() if name in accepted}
    with tempfile.TemporaryDirectory(prefix="rnnapps-serve-figure-") as folder:
        path = pathlib.Path(folder) / "attention.png"
        with PYPLOT_LOCK:
            served.app.save_attention(predictor, raw, path, **passed)
        return path.read_bytes()


def figure_png(
    served: ServedApp, predictor: Any, raw: str, answers: list[dict], options: dict
) -> bytes | None:
    """The figure for one input, or None when the app has nothing to draw."""
    if getattr(served.app, "figure", None) is not None:
        with PYPLOT_LOCK:
            return served.app.figure(predictor, raw, answers)
    if getattr(served.app, "save_attention", None) is not None:
        return attention_png(served, predictor, raw, options)
    if served.kind == "audio":
        return spectrogram_png(raw, answers)
    return None
