"""Answering a checked ``:predict`` request within its time limit.

Files arrive as bytes and are written to a private temporary folder (mode 0700) that is
removed after the answer; the app is given that path, never a path from the request.
"""

from __future__ import annotations

import base64
import math
import pathlib
import shutil
import tempfile
import threading
import time
from typing import Any

import numpy as np

from apps.serve.catalog import FILE_KINDS, ApiError, ServedApp
from apps.serve.figures import figure_png
from apps.serve.payload import Instance, PredictRequest
from shared.errors import UserError
from shared.runtime.answers import RequestText

# File signatures -> the suffix the decoders expect; anything else keeps the kind's default.
_SIGNATURES = (
    (0, b"RIFF", 8, b"WAVE", ".wav"),
    (0, b"RIFF", 8, b"AVI ", ".avi"),
    (0, b"RIFF", 8, b"WEBP", ".webp"),
    (0, b"fLaC", 0, b"", ".flac"),
    (0, b"OggS", 0, b"", ".ogg"),
    (0, b"ID3", 0, b"", ".mp3"),
    (0, b"FORM", 8, b"AIFF", ".aiff"),
    (0, b"\x89PNG", 0, b"", ".png"),
    (0, b"\xff\xd8\xff", 0, b"", ".jpg"),
    (0, b"GIF8", 0, b"", ".gif"),
    (0, b"BM", 0, b"", ".bmp"),
    (4, b"ftyp", 0, b"", ".mp4"),
    (0, b"\x1a\x45\xdf\xa3", 0, b"", ".webm"),
)
_DEFAULT_SUFFIX = {"audio": ".wav", "image": ".png", "video": ".mp4", "csv": ".csv"}


def file_suffix(data: bytes, kind: str) -> str:
    """The suffix a file of these bytes should carry, from its signature."""
    for offset, magic, offset2, magic2, suffix in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic and (
            not magic2 or data[offset2 : offset2 + len(magic2)] == magic2
        ):
            return suffix
    return _DEFAULT_SUFFIX[kind]


def jsonable(value: Any) -> Any:
    """An answer with numpy values turned into plain JSON values (non-finite floats: null)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _raw_input(instance: Instance, index: int, kind: str, folder: pathlib.Path) -> str:
    """What ``App.predict`` is given: the text, or the path of the written file."""
    if kind in FILE_KINDS:
        path = folder / f"input_{index}{file_suffix(instance.data, kind)}"
        with open(path, "xb") as file:  # the folder is ours alone; never overwrite
            file.write(instance.data)
        return str(path)
    # Only the CLI reads "@FILE" as a file's text; through here "@..." is just text, and an
    # app that reads paths (music: a melody file) knows this text is no path.
    return RequestText(instance.text)


def _scrub(message: str, raw: str, where: str, kind: str) -> str:
    """An app's message about a written file names the instance, not the server's path."""
    return message.replace(raw, where) if kind in FILE_KINDS else message


class _Job(threading.Thread):
    """The answer computed on its own thread, so the handler can stop waiting for it."""

    def __init__(self, served: ServedApp, request: PredictRequest, engine: str, variant: str):
        super().__init__(name=f"predict-{served.name}", daemon=True)
        self.served, self.request = served, request
        self.engine, self.variant = engine, variant
        self.result: list | None = None
        self.error: BaseException | None = None
        self.cancelled = threading.Event()

    def run(self) -> None:
        try:
            self.result = answer_request(
                self.served, self.request, self.engine, self.variant, self.cancelled
            )
        except BaseException as error:  # handed to the waiting handler, which re-raises it
            self.error = error
        finally:
            self.served.lock.release()


def predict(
    served: ServedApp, request: PredictRequest, engine: str, variant: str, time_limit: float
) -> list:
    """The predictions, or ApiError 503 when the app is busy or the limit passes.

    The app's lock is taken here and released by the job when it really ends, so a
    request that ran over keeps later ones waiting instead of running two at once.
    """
    start = time.monotonic()
    if not served.lock.acquire(timeout=time_limit):
        raise ApiError(503, f"{served.name}: busy with other requests for {time_limit:g} s")
    job = _Job(served, request, engine, variant)
    job.start()
    job.join(timeout=max(0.0, time_limit - (time.monotonic() - start)))
    if job.is_alive():
        job.cancelled.set()
        raise ApiError(503, f"{served.name}: no answer within the {time_limit:g} s time limit")
    if job.error is not None:
        raise job.error
    return job.result


def ensure_loaded(served: ServedApp, engine: str, variant: str) -> Any:
    """The app's predictor, loading it if it was trained after the server started."""
    if served.predictor is None and served.trained:
        served.refresh()
        served.load(engine, variant)
    if served.predictor is None:
        if not served.trained:
            raise ApiError(404, f"{served.name}: not trained (run: {served.train_command})")
        raise ApiError(503, f"{served.name}: {served.error}")
    return served.predictor


def answer_request(
    served: ServedApp,
    request: PredictRequest,
    engine: str,
    variant: str,
    cancelled: threading.Event | None = None,
) -> list:
    """One prediction per instance (call with ``served.lock`` held)."""
    unavailable = served.figure_unavailable() if request.figure else None
    if unavailable:  # this install cannot draw it (no serve extra): say so in one line
        raise ApiError(501, unavailable)
    predictor = ensure_loaded(served, engine, variant)
    folder = pathlib.Path(tempfile.mkdtemp(prefix="rnnapps-serve-"))
    predictions, errors = [], []
    try:
        for index, instance in enumerate(request.instances):
            if cancelled is not None and cancelled.is_set():
                return []  # the client was already told; stop spending time on it
            where = f"instances[{index}]"
            raw = _raw_input(instance, index, served.kind, folder)
            try:
                answers = served.app.predict(predictor, [raw], **request.options)
            except UserError as error:  # an option that is wrong for every input
                raise ApiError(400, _scrub(str(error), raw, where, served.kind)) from None
            failed = [a for a in answers if isinstance(a, Exception)]
            if failed:
                errors.append(f"{where}: {_scrub(str(failed[0]), raw, where, served.kind)}")
                continue
            prediction = _prediction(served, instance, raw, where, answers, request.options)
            if request.figure:
                png = figure_png(served, predictor, raw, answers, request.options)
                if png is not None:
                    prediction["figure"] = {
                        "b64": base64.b64encode(png).decode("ascii"),
                        "content_type": "image/png",
                    }
            predictions.append(prediction)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if errors:
        raise ApiError(400, "; ".join(errors))
    return predictions


def _prediction(
    served: ServedApp, instance: Instance, raw: str, where: str, answers: list, options: dict
) -> dict:
    """One instance's answer; several answers for one input (stream events) are grouped."""
    shown = where if served.kind in FILE_KINDS else instance.text
    answers = [jsonable(a) for a in answers]
    for answer in answers:
        if answer.get("input") == raw or served.kind in FILE_KINDS:
            answer["input"] = shown
    if len(answers) == 1 and not options.get("stream"):
        return answers[0]
    return {"input": shown, "events": answers}
