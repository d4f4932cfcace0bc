"""What an app is: the small object the CLI and the workflow drive.

An app holds only what is specific to its task; ``shared.workflow`` does the
generic work (train, save, export, convert, evaluate, write metrics) once.
"""

from __future__ import annotations

import abc
import dataclasses
import pathlib
from collections.abc import Callable, Iterable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from shared.config import BaseConfig
from shared.data.sources import Source
from shared.data.splits import Splits


@dataclasses.dataclass
class ExportBundle:
    """What an app hands the exporter.

    Attributes:
        serving: a ``tf.Module`` (tracking the model's variables) saved as the SavedModel.
        signatures: signature name -> ``tf.function`` concrete function; must
            include ``serving_default`` taking raw input.
        tflite_models: name -> fixed-shape Keras model. ``"model"`` becomes
            ``model_<variant>.tflite``; any other name ``<name>_<variant>.tflite``.
        representative_data: name -> callable yielding input lists from the
            training split (for quantisation calibration).
        sidecars: file name -> text written next to the models (a vocabulary, say).
    """

    serving: tf.Module
    signatures: dict[str, Any]
    tflite_models: dict[str, keras.Model]
    representative_data: dict[str, Callable[[], Iterable[list[np.ndarray]]]] = dataclasses.field(
        default_factory=dict
    )
    sidecars: dict[str, str] = dataclasses.field(default_factory=dict)


class Predictor(abc.ABC):
    """An exported model behind one engine, taking raw inputs.

    ``outputs`` returns the main numeric output for a batch of raw inputs; the
    workflow compares it across engines (the parity check).
    """

    engine: str = "keras"

    @abc.abstractmethod
    def outputs(self, inputs: list) -> np.ndarray: ...


class App(abc.ABC):
    """One application of the suite.

    Class attributes describe it for ``rnnapps list`` and the README table.
    """

    name: str = ""
    task: str = ""
    pattern: str = ""  # the RNN pattern: many-to-one, many-to-many, one-to-many ...
    default_data: str = ""
    metric: str = ""  # the headline metric's key in metrics.json
    config_class: type[BaseConfig] = BaseConfig
    sample_inputs: tuple[str, ...] = ()  # what the demo predicts on
    # Largest max-abs difference from Keras allowed per engine in the export parity check.
    parity_tolerance: dict[str, float] = {
        "savedmodel": 1e-4,
        "fp32": 1e-4,
        "fp16": 5e-2,
        "int8": 0.25,
    }

    @abc.abstractmethod
    def load_data(self, config: BaseConfig, source: Source) -> Splits: ...

    @abc.abstractmethod
    def build_model(self, config: BaseConfig, splits: Splits) -> keras.Model:
        """The compiled training model (built inside the strategy scope)."""

    @abc.abstractmethod
    def make_datasets(
        self, config: BaseConfig, splits: Splits
    ) -> tuple[tf.data.Dataset, tf.data.Dataset]:
        """Batched training and validation datasets (global batch size)."""

    @abc.abstractmethod
    def build_export(
        self, model: keras.Model, config: BaseConfig, splits: Splits
    ) -> ExportBundle: ...

    @abc.abstractmethod
    def load_predictor(
        self, model_dir: pathlib.Path, engine: str, variant: str = "fp32"
    ) -> Predictor: ...

    @abc.abstractmethod
    def evaluate(self, predictor: Predictor, splits: Splits, config: BaseConfig) -> dict:
        """Test-split metrics of one engine: a flat-ish dict of floats."""

    def baselines(self, splits: Splits, config: BaseConfig) -> dict:
        """Non-RNN references scored on the same test split (optional)."""
        return {}

    def restore_state(self, model_dir: pathlib.Path, config: BaseConfig, splits: Splits) -> None:
        """Reload what training derived from the data (a vocabulary, say) for a re-export."""
        return None  # most apps derive nothing

    def parity_inputs(self, splits: Splits, count: int) -> list:
        """Raw test inputs for the engine parity check."""
        raise NotImplementedError

    def latency_inputs(self, predictor: Predictor, splits: Splits) -> dict[str, np.ndarray]:
        """One realistic input of the main ``.tflite`` model, for timing."""
        raise NotImplementedError

    def latency(
        self, model_dir: pathlib.Path, variant: str, predictor: Predictor, splits: Splits, runs: int
    ) -> dict:
        """Single-thread latency of one on-device answer, in ms (p50 and p90).

        The default times one call of ``model_<variant>.tflite`` on
        ``latency_inputs``; apps whose answer is a host loop over step models
        (translation, text generation) override it to time the whole answer.
        """
        from shared.litert import LiteRTModel

        runner = LiteRTModel(pathlib.Path(model_dir) / f"model_{variant}.tflite", num_threads=1)
        return runner.latency_ms(self.latency_inputs(predictor, splits), runs=runs)

    @abc.abstractmethod
    def predict(self, predictor: Predictor, inputs: list[str]) -> list[dict | Exception]:
        """One JSON-ready answer per input, or the UserError for a bad input."""

    def report(self, metrics: dict) -> str:
        """Markdown details of a run for the README (per-domain tables, say)."""
        return ""

    def summary(self, answer: dict) -> str:
        """One short line for the demo table."""
        return ", ".join(f"{k}={v}" for k, v in answer.items() if k != "input")
