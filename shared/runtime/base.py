"""A model behind one engine (``Predictor``), and an app's TensorFlow-free one (``Runtime``)."""

from __future__ import annotations

import abc
import pathlib

import numpy as np

from shared.runtime.options import Option

ENGINES = ("keras", "savedmodel", "litert")
VARIANTS = ("fp32", "fp16", "int8")


class Predictor(abc.ABC):
    """An exported model behind one engine, taking raw inputs.

    ``outputs`` returns the main numeric output for a batch of raw inputs; the
    workflow compares it across engines (the parity check).
    """

    engine: str = "keras"

    @abc.abstractmethod
    def outputs(self, inputs: list) -> np.ndarray: ...


class Runtime(Predictor):
    """An app's ``.tflite`` models and the host loop around them, without TensorFlow.

    Subclasses live in ``apps/<app>/runtime.py``, load what they need from `model_dir`
    (the ``<name>_<variant>.tflite`` files and their sidecars) and answer raw inputs with
    ``predict``: the same answers the app gives through any engine.

    Class attributes, the one place they are declared (the CLI's flags, the server's checks
    and the OpenAPI description are made from them; the App's ``predict`` takes the same):
        input_kind: ``"text"`` (the string itself) or a file: ``"audio"``, ``"image"``,
            ``"video"``.
        options: the keyword options of ``predict``, as ``shared.runtime.options.Option``.

    What the app is, for ``rnnapps list``, the README and the server (the App copies them):
        task, pattern, default_data: one line each; metric: the headline metric's key in
            ``metrics.json``.
        sample_inputs: the texts the demo and the web page try (text apps).
        sample_files: a file app's generated samples, as paths under the data folder
            (``shared.data.cache.data_dir()``) where its App writes them; ``sample_paths()``.
        attention_figure, answer_figure: the app's figures as ``"module:function"`` of a
            module that draws with matplotlib (the ``serve`` extra), named rather than
            imported so the runtime needs only the base install. ``attention_figure(predictor,
            raw, path, **options)`` saves an attention map as a PNG; ``answer_figure(predictor,
            raw, answers)`` returns PNG bytes (or None). The App's ``save_attention`` and
            ``figure`` call the same functions.

    Args:
        model_dir: a trained model's folder (``saved_models/<app>``).
        variant: which conversion to run: ``fp32``, ``fp16`` or ``int8``.
    """

    input_kind: str = "text"
    options: tuple[Option, ...] = ()
    task: str = ""
    pattern: str = ""
    default_data: str = ""
    metric: str = ""
    sample_inputs: tuple[str, ...] = ()
    sample_files: tuple[str, ...] = ()
    attention_figure: str | None = None
    answer_figure: str | None = None

    @classmethod
    def sample_paths(cls) -> list[pathlib.Path]:
        """Where the sample files are (``sample_files`` under the data folder): the App
        writes them; a server without TensorFlow offers those that exist."""
        from shared.data.cache import data_dir

        return [data_dir() / name for name in cls.sample_files]

    def __init__(self, model_dir: str | pathlib.Path, variant: str = "fp32"):
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
        self.model_dir = pathlib.Path(model_dir)
        self.variant = variant
        self.engine = f"litert-{variant}"

    def tflite(self, name: str = "model") -> pathlib.Path:
        """The path of ``<name>_<variant>.tflite`` in the model folder."""
        return self.model_dir / f"{name}_{self.variant}.tflite"

    @abc.abstractmethod
    def predict(self, inputs: list, **options) -> list:
        """One JSON-ready answer (a dict with ``"input"``) or ``UserError`` per raw input."""

    def summary(self, answer: dict) -> str:
        """One short line of an answer, for the terminal and the demo table."""
        return ", ".join(f"{key}={value}" for key, value in answer.items() if key != "input")
