"""Name -> App: the one place that lists the apps.

Apps are imported lazily, so ``rnnapps list`` and errors stay fast.
"""

from __future__ import annotations

import importlib
import pathlib
from typing import TYPE_CHECKING

from shared.errors import UserError

if TYPE_CHECKING:  # importing the App base would load TensorFlow
    from shared.app import App

APPS = {
    "sentiment": "apps.sentiment.app:SentimentApp",
    "speech": "apps.speech.app:SpeechApp",
    "text_generation": "apps.text_generation.app:TextGenerationApp",
    "translation": "apps.translation.app:TranslationApp",
    "captioning": "apps.captioning.app:CaptioningApp",
    "video": "apps.video.app:VideoApp",
    "forecasting": "apps.forecasting.app:ForecastingApp",
    "music": "apps.music.app:MusicApp",
}


# Name -> the app's TensorFlow-free LiteRT predictor (``apps/<app>/runtime.py``): what
# ``rnnapps predict`` uses with the LiteRT engine, without importing TensorFlow. An app not
# listed here still answers through its App (and TensorFlow).
RUNTIMES = {
    "captioning": "apps.captioning.runtime:CaptioningRuntime",
    "sentiment": "apps.sentiment.runtime:SentimentRuntime",
    "speech": "apps.speech.runtime:SpeechRuntime",
    "text_generation": "apps.text_generation.runtime:TextGenerationRuntime",
    "translation": "apps.translation.runtime:TranslationRuntime",
    "video": "apps.video.runtime:VideoRuntime",
    "forecasting": "apps.forecasting.runtime:ForecastingRuntime",
    "music": "apps.music.runtime:MusicRuntime",
}


def _present(name: str) -> bool:
    """An app counts once its ``app.py`` exists; the others are still being built."""
    return (pathlib.Path(__file__).parent / name / "app.py").is_file()


def names() -> list[str]:
    return [name for name in APPS if _present(name)]


def check_name(name: str) -> None:
    """Raise a UserError listing the apps unless `name` is one (imports nothing)."""
    if name not in APPS or not _present(name):
        raise UserError(f"{name!r}: unknown app (choose from {', '.join(names())})")


def get_app(name: str) -> App:
    """A fresh App object for `name`, or a UserError listing the apps."""
    check_name(name)
    module_name, class_name = APPS[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)()


def get_runtime(name: str):
    """The ``shared.runtime.base.Runtime`` class of `name`, or None if it has none yet."""
    check_name(name)
    if name not in RUNTIMES:
        return None
    module_name, class_name = RUNTIMES[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def describe(name: str) -> str:
    """The app's one-line description (its package's docstring), without importing its App."""
    check_name(name)
    package = importlib.import_module(f"apps.{name}")  # the package only: no TensorFlow
    return " ".join((package.__doc__ or "").split())


def predict_declarations(name: str) -> tuple[str, tuple]:
    """(input kind, options) of the app's ``predict``, as its runtime declares them (no
    TensorFlow); an app without a runtime declares them on its App (TensorFlow loads)."""
    runtime = get_runtime(name)
    declared = runtime if runtime is not None else get_app(name)
    return declared.input_kind, tuple(declared.options)
