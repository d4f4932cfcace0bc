"""What an app is: the small object the CLI and the workflow drive.

An app holds only what is specific to its task; ``shared.workflow`` does the
generic work (train, save, export, convert, evaluate, write metrics) once.
"""

from __future__ import annotations

import abc
import dataclasses
import math
import pathlib
from collections.abc import Callable, Iterable
from typing import Any, Literal

import keras
import numpy as np
import tensorflow as tf

from shared.config import BaseConfig
from shared.data.sources import Source
from shared.data.splits import Splits
from shared.metrics import LOWER_IS_BETTER_WORDS
from shared.runtime.base import Predictor, Runtime
from shared.runtime.options import Option


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


@dataclasses.dataclass(frozen=True)
class QualityTarget:
    """An app's quality target as read on the validation split after every training epoch.

    ``rnnapps bench`` finds the first epoch of a run's history (``training.history`` in
    ``metrics.json``) whose `metric` meets the goal: the wall time to reach the target. The
    issues set their targets on the test split; the validation figure is what training logs
    per epoch, so it stands in for it.

    Args:
        metric: the history column: a Keras validation metric name such as ``val_accuracy``,
            or one the app adds to every epoch's logs itself (``App.epoch_metrics``).
        goal: the value to reach; with `relative_to`, the factor applied to the run's reference.
        mode: ``"max"`` (met at or above the goal) or ``"min"`` (met at or below it).
        note: where the goal comes from, for the results (the issue, the test figure it mirrors).
        relative_to: keys into the run's ``metrics.json`` leading to a reference number (a
            baseline scored in the same run); the goal is then ``goal`` times that number.
        aliases: other history columns holding the same figure under another configuration
            (a metric logged with or without its output's prefix); the first present is read.

    Example:
        >>> target = QualityTarget("val_accuracy", 0.98, "max", "issue 7: 98% test accuracy")
        >>> target.is_met(0.985), target.is_met(0.97)
        (True, False)
    """

    metric: str
    goal: float
    mode: Literal["max", "min"]
    note: str
    relative_to: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()

    def __post_init__(self):
        if self.mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', received {self.mode!r}")
        if not math.isfinite(self.goal):
            raise ValueError(f"goal must be a finite number, received {self.goal!r}")

    def for_run(self, metrics: dict) -> QualityTarget | None:
        """This target with an absolute goal for one run's ``metrics.json`` (`metrics`).

        None when the reference named by `relative_to` is not a number there (a run
        that did not score that baseline).
        """
        if not self.relative_to:
            return self
        reference: Any = metrics
        for key in self.relative_to:
            reference = reference.get(key) if isinstance(reference, dict) else None
        if not _is_finite_number(reference):
            return None
        return dataclasses.replace(
            self,
            goal=self.goal * float(reference),
            relative_to=(),
            note=f"{self.note} ({self.goal:g} × {'.'.join(self.relative_to)} = {reference:.4f})",
        )

    def column(self, history: list[dict]) -> str | None:
        """The first of `metric` and `aliases` that a row of `history` holds, else None."""
        for name in (self.metric, *self.aliases):
            if any(name in row for row in history):
                return name
        return None

    def is_met(self, value: float) -> bool:
        """Whether `value` of the metric reaches the goal (a NaN never does)."""
        if self.relative_to:
            raise ValueError(f"{self.metric}: a relative goal needs for_run(metrics) first")
        return value >= self.goal if self.mode == "max" else value <= self.goal


def _is_finite_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class App(abc.ABC):
    """One application of the suite.

    Class attributes describe it for ``rnnapps list`` and the README table.
    """

    name: str = ""
    task: str = ""
    pattern: str = ""  # the RNN pattern: many-to-one, many-to-many, one-to-many ...
    default_data: str = ""
    metric: str = ""  # the headline metric's key in metrics.json
    lower_is_better: bool = False  # the headline metric's direction (bits per character: True)
    # What the in-distribution test split is, for the README ("held-out voices", say).
    test_split: str = "test split"
    # The validation figure that picks the epoch whose weights a run keeps and stops training
    # early, and its direction: a Keras log or one `epoch_metrics` adds. An app whose choice
    # depends on the config overrides ``monitor_for`` (speech: its held-out engine's voices).
    monitor: tuple[str, Literal["min", "max"]] = ("val_loss", "min")
    config_class: type[BaseConfig] = BaseConfig
    # How a trained folder answers: ``runtime_class`` (``apps/<app>/runtime.py``, LiteRT,
    # no TensorFlow) and ``predictor_class`` (Keras and SavedModel), see ``load_predictor``.
    runtime_class: type[Runtime] | None = None
    predictor_class: type[Predictor] | None = None
    # What ``predict`` takes, declared once on the runtime (``Runtime.input_kind``,
    # ``Runtime.options``) and copied here, so the CLI's flags, the server's checks and the
    # OpenAPI description agree with both; an app without a runtime declares them here.
    input_kind: str = "text"
    options: tuple[Option, ...] = ()
    sample_inputs: tuple[str, ...] = ()  # what the demo predicts on

    # Declared on the runtime and copied, like `input_kind` and `options`: what a server
    # without TensorFlow shows of the app is what the App says of itself.
    _FROM_RUNTIME = ("task", "pattern", "default_data", "metric", "sample_inputs")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        runtime = cls.__dict__.get("runtime_class")
        if runtime is not None:
            cls.input_kind, cls.options = runtime.input_kind, tuple(runtime.options)
            for name in cls._FROM_RUNTIME:
                # A file app keeps its own `sample_inputs`: a property writing the files.
                if name not in cls.__dict__:
                    setattr(cls, name, getattr(runtime, name))

    # Largest max-abs difference from Keras allowed per engine in the export parity check.
    parity_tolerance: dict[str, float] = {
        "savedmodel": 1e-4,
        "fp32": 1e-4,
        "fp16": 5e-2,
        "int8": 0.25,
    }
    # The quality target on a metric training logs per epoch (``rnnapps bench`` times
    # reaching it): a Keras metric, or one the app's ``epoch_metrics`` adds (BLEU, say).
    quality_target: QualityTarget | None = None
    # Controls: baselines that are our own model on altered input, scored by ``evaluate``
    # itself (video: the clip with its frames shuffled). Name -> the key of ``evaluate``'s
    # result holding the headline metric under that control; the bench sets them beside
    # the ``baselines``.
    controls: dict[str, str] = {}

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

    def load_predictor(
        self, model_dir: pathlib.Path, engine: str, variant: str = "fp32"
    ) -> Predictor:
        """The model in `model_dir` behind `engine`: ``runtime_class`` (LiteRT, `variant`)
        or ``predictor_class`` (Keras, SavedModel: ``predictor_class(model_dir, engine)``)."""
        from shared.engines import check_engine

        if check_engine(engine) == "litert":
            return self.runtime_class(model_dir, variant)
        return self.predictor_class(model_dir, engine)

    @abc.abstractmethod
    def evaluate(self, predictor: Predictor, splits: Splits, config: BaseConfig) -> dict:
        """Test-split metrics of one engine: a flat-ish dict of floats."""

    def monitor_for(self, config: BaseConfig) -> tuple[str, Literal["min", "max"]]:
        """The figure (and direction) that picks the kept epoch for this config: ``monitor``."""
        return self.monitor

    def kept_apart(self, config: BaseConfig) -> dict[str, tuple[str, Literal["min", "max"]]]:
        """Sub-models (layer name -> (monitor, mode)) that keep their own best epoch's weights
        instead of the epoch ``monitor_for`` picks: parts that share no weights with the rest
        and answer another question (speech's transcriber). The default: none."""
        return {}

    def epoch_metrics(
        self, config: BaseConfig, splits: Splits
    ) -> Callable[[keras.Model], dict[str, float]] | None:
        """The app's own figures on a fixed validation subset, added to every epoch's logs.

        For a target Keras cannot log per epoch (BLEU of greedy decoding, a weighted F1):
        training calls the returned function with the model at the end of every epoch and
        logs what it returns (``{"val_bleu": 41.2}``), see ``shared.training.EpochMetrics``.
        It should score the way ``evaluate`` does, on rows of ``splits.validation``, call the
        model with ``training=False`` and take a second or two. None (the default): nothing
        to add.
        """
        return None

    def after_training(self, model: keras.Model, config: BaseConfig, splits: Splits) -> dict:
        """Adjust the trained `model` before it is saved and exported; what it did, for metrics.

        For a decision rule tuned on ``splits.validation`` after the weights are fixed (a
        threshold, say). Whatever it returns (JSON-ready) is written under
        ``training.after_training`` in ``metrics.json``. The default: nothing, ``{}``.
        """
        return {}

    def run_quality_target(self, metrics: dict) -> QualityTarget | None:
        """`quality_target` for one trained run (its ``metrics.json``), with an absolute goal.

        Override when a goal depends on the run in a way ``QualityTarget.relative_to``
        cannot express.
        """
        return None if self.quality_target is None else self.quality_target.for_run(metrics)

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
        from shared.runtime.litert import LiteRTModel

        runner = LiteRTModel(pathlib.Path(model_dir) / f"model_{variant}.tflite", num_threads=1)
        return runner.latency_ms(self.latency_inputs(predictor, splits), runs=runs)

    @abc.abstractmethod
    def predict(self, predictor: Predictor, inputs: list[str]) -> list[dict | Exception]:
        """One JSON-ready answer per input, or the UserError for a bad input."""

    def headline(self, metrics: dict) -> dict:
        """The figures the README shows for one run (``metrics.json``), by the evaluation protocol.

        - ``in_distribution``: the headline metric on the test split, per engine.
        - ``held_out``: each held-out-by-construction or shifted test set that ``evaluate``
          reported under ``"held_out"``: ``{name: {"description": str, <metric>: value}}``.
        - ``baselines``: each baseline of ``metrics["baselines"]`` holding the metric (at its
          top level, or under ``"test"``), with ours (LiteRT fp32) / baseline; ``strongest``
          names the best of them, the one the README compares with.
        - ``spread``: mean and range over seeds, when ``--seeds`` trained more than one.
        """
        key = self.metric
        ours = metrics["litert"]["fp32"].get(key)
        figures: dict[str, Any] = {
            "metric": key,
            "lower_is_better": self.lower_is_better,
            "in_distribution": {
                "split": self.test_split,
                "keras": metrics["metrics"].get(key),
                **{variant: scores.get(key) for variant, scores in metrics["litert"].items()},
            },
            "held_out": {},
            "baselines": {},
            "strongest": None,
            "spread": metrics.get("spread"),
        }
        fp32_held_out = metrics["litert"]["fp32"].get("held_out") or {}
        for name, entry in (metrics["metrics"].get("held_out") or {}).items():
            # A held-out set may be scored in its own metric ("metric": "cer"); its name says so.
            metric = entry.get("metric", key)
            shown = name
            if metric != key:
                lower = any(word in metric for word in LOWER_IS_BETTER_WORDS)
                shown = f"{name} ({metric.upper()}{', lower is better' if lower else ''})"
            figures["held_out"][shown] = {
                "description": entry.get("description", name),
                "keras": entry.get(metric),
                "fp32": (fp32_held_out.get(name) or {}).get(metric),
            }
        for name, entry in (metrics.get("baselines") or {}).items():
            if not isinstance(entry, dict):
                continue
            value = entry.get(key)
            if not _is_finite_number(value) and isinstance(entry.get("test"), dict):
                value = entry["test"].get(key)
            if not _is_finite_number(value):
                continue
            figures["baselines"][name] = {
                "value": value,
                "tuned_on": entry.get("tuned_on", "not tuned"),
                "chosen": entry.get("chosen"),
                "ratio": ours / value if _is_finite_number(ours) and value else None,
            }
        if figures["baselines"]:
            pick = min if self.lower_is_better else max
            figures["strongest"] = pick(
                figures["baselines"], key=lambda name: figures["baselines"][name]["value"]
            )
        return figures

    def report(self, metrics: dict) -> str:
        """Markdown details of a run for the README (per-domain tables, say)."""
        return ""

    def figures(
        self, metrics: dict, model_dir: pathlib.Path, splits: Splits | None = None
    ) -> list[pathlib.Path]:
        """The app's own PNG figures of a finished run, written into `model_dir` beside its
        ``metrics.json`` (`metrics`) once evaluation is done (``shared.workflow.draw_figures``,
        after the training curves every app gets).

        What matters for the app: one metric per group that `metrics` holds
        (``scores_by_<group>.png``, ``shared.figures.scores_by_group``: per domain, per kind,
        per held-out set ...) and its own picture of one example drawn by the exported model in
        `model_dir` (an attention map, say). `splits` gives a test example to draw; it is None
        when a finished folder is drawn again on its own (``rnnapps demo``): then an app draws
        one of its ``sample_inputs``, or no picture. Returns the files written. The default:
        none.
        """
        return []

    def sample_check(self, predictor, raw: str, answer: dict) -> bool | None:
        """Whether the answer to one of ``sample_inputs`` is right, for the demo's table:
        True or False where the app knows the right answer (a label, a reference), None
        where it cannot (generated text, a forecast). The default: None."""
        return None

    def summary(self, answer: dict) -> str:
        """One short line for the demo table."""
        return ", ".join(f"{k}={v}" for k, v in answer.items() if k != "input")
