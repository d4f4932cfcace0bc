"""The apps a server answers for: which are trained, their metrics, their loaded predictors.

Nothing here knows a single app: an app is reached through a catalog object with
``names()``, ``get_app(name)`` and ``get_runtime(name)`` (``apps.registry``). With the
LiteRT engine an app is served from its runtime class (``apps/<app>/runtime.py``, through
``RuntimeApp``), so the server imports no TensorFlow; the Keras and SavedModel engines
serve it through its ``App``.
"""

from __future__ import annotations

import importlib
import json
import math
import pathlib
import re
import threading
from importlib.util import find_spec
from typing import Any, Protocol

from shared.errors import UserError

# What an app's inputs are (``App.input_kind``): text apps take the string itself; the others
# take a file, which the server writes from the request's bytes.
FILE_KINDS = ("audio", "image", "video", "csv")
ENGINES = ("litert", "savedmodel", "keras")
VARIANTS = ("fp32", "fp16", "int8")


class ApiError(Exception):
    """A request the server refuses: an HTTP status and a one-line message for the client."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


# The figures a training run leaves in a model folder that the page shows (``training_curves.png``,
# ``scores_by_domain.png`` ...): PNG files of these names only, read from that folder alone.
RUN_FIGURE_NAME = re.compile(r"[a-z0-9_]{1,80}\.png")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The page's order: how training went, then the errors, the scores per group, the rest.
_RUN_FIGURE_ORDER = ("training_curves", "confusion_matrix", "scores_by_")

# What drawing a figure needs beyond the base install (the ``serve`` extra).
SERVE_EXTRA = 'pip install "rnn-apps[serve]"'


class AppCatalog(Protocol):
    """What the server needs of ``apps.registry``. A catalog may also have
    ``get_runtime(name)`` (the app's ``Runtime`` class or None): the LiteRT engine then
    serves the app from it, without TensorFlow."""

    def names(self) -> list[str]: ...

    def get_app(self, name: str) -> Any: ...


def _function(reference: str | None):
    """The function a ``"module:function"`` reference names (None for None)."""
    if reference is None:
        return None
    module_name, function_name = reference.split(":")
    return getattr(importlib.import_module(module_name), function_name)


class RuntimeApp:
    """An app as ``ServedApp`` needs it, read from its TensorFlow-free ``Runtime`` class:
    what the App would say of itself (the App copies the same declarations), LiteRT
    predictors, and the figures the runtime names (``attention_figure``, ``answer_figure``).

    Args:
        name: the app's name.
        runtime_class: its ``shared.runtime.base.Runtime`` subclass.

    Example:
        >>> app = RuntimeApp("sentiment", registry.get_runtime("sentiment"))
        >>> app.predict(app.load_predictor(pathlib.Path("saved_models/sentiment"), "litert"), ["fine"])
    """

    def __init__(self, name: str, runtime_class: type):
        self.name = name
        self.runtime_class = runtime_class
        self.task: str = runtime_class.task
        self.pattern: str = runtime_class.pattern
        self.default_data: str = runtime_class.default_data
        self.metric: str = runtime_class.metric
        self.input_kind: str = runtime_class.input_kind
        self.options = tuple(runtime_class.options)
        # The App's ``save_attention(predictor, raw, path, **options)`` and
        # ``figure(predictor, raw, answers)``: the functions they call.
        self.save_attention = _function(runtime_class.attention_figure)
        self.figure = _function(runtime_class.answer_figure)

    @property
    def sample_inputs(self) -> tuple[str, ...]:
        """The runtime's sample texts, or the paths of its sample files (the App writes
        them; ``ServedApp.samples`` offers those that exist)."""
        if self.input_kind in FILE_KINDS:
            return tuple(str(path) for path in self.runtime_class.sample_paths())
        return tuple(self.runtime_class.sample_inputs)

    def load_predictor(self, model_dir: pathlib.Path, engine: str, variant: str = "fp32") -> Any:
        if engine != "litert":
            raise ValueError(f"{self.name}: the runtime answers with litert only, not {engine}")
        return self.runtime_class(model_dir, variant)

    def predict(self, predictor: Any, inputs: list[str], **options) -> list:
        return predictor.predict(inputs, **options)


def served_app(registry: AppCatalog, name: str, engine: str) -> Any:
    """What serves `name`: with the LiteRT engine, its runtime class when the catalog has
    one (no TensorFlow); otherwise its App."""
    get_runtime = getattr(registry, "get_runtime", None)
    if engine == "litert" and get_runtime is not None:
        runtime_class = get_runtime(name)
        if runtime_class is not None:
            return RuntimeApp(name, runtime_class)
    return registry.get_app(name)


def _shown(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (str, int, float, bool, type(None))) else None
    if text is None:
        text = type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return round(float(value), 4)
    return None


def metrics_summary(metric: str, metrics: dict) -> dict:
    """The headline metric per engine, with size and latency, from a ``metrics.json``."""
    rows = []
    keras_scores = metrics.get("metrics") or {}
    if isinstance(keras_scores, dict):
        rows.append({"engine": "keras", "value": _number(keras_scores.get(metric))})
    if isinstance(metrics.get("savedmodel"), dict):
        rows.append({"engine": "savedmodel", "value": _number(metrics["savedmodel"].get(metric))})
    for variant, scores in (metrics.get("litert") or {}).items():
        if isinstance(scores, dict):
            rows.append(
                {
                    "engine": f"litert {variant}",
                    "value": _number(scores.get(metric)),
                    "size_bytes": _number(scores.get("size_bytes")),
                    "latency_ms_p50": _number(scores.get("latency_ms_p50")),
                }
            )
    scores = {}
    if isinstance(keras_scores, dict):
        scores = {k: _number(v) for k, v in keras_scores.items() if _number(v) is not None}
    return {
        "metric": metric,
        "preset": metrics.get("preset"),
        "data": metrics.get("data"),
        "rows": rows,
        "scores": scores,
    }


class ServedApp:
    """One app as the server sees it: its folder, state, options and (once loaded) predictor.

    Args:
        app: the ``App`` object, or a ``RuntimeApp`` (the LiteRT engine).
        models: the configured models folder; the app's model is ``models/<name>`` and
            nothing outside that folder is ever loaded (a symlink out of it is refused).
        default_models: True when `models` is the CLI's default (shortens the train command).

    Example:
        >>> served = ServedApp(registry.get_app("sentiment"), pathlib.Path("saved_models"))
        >>> served.trained, served.kind
        (True, 'text')
    """

    def __init__(self, app: Any, models: pathlib.Path, default_models: bool = False):
        self.app = app
        self.name: str = app.name
        self.models = pathlib.Path(models).resolve()
        self.directory = self.models / self.name
        self.kind: str = getattr(app, "input_kind", None) or "text"
        # The app's predict options as it declares them (``App.options``): name -> Option.
        self.options = {option.name: option for option in getattr(app, "options", ())}
        self.lock = threading.Lock()  # one answer at a time: interpreters are not thread-safe
        self.predictor: Any = None
        self.state = "END"
        self.error = ""
        self.metrics: dict | None = None
        self._samples: list[pathlib.Path] | None = None
        out = "" if default_models else f" --out {self.directory}"
        self.train_command = f"rnnapps train {self.name} --preset demo{out}"
        self.refresh()

    def inside_models(self) -> bool:
        """Whether the app's folder really is inside the models folder (no symlink out)."""
        return self.directory.resolve().is_relative_to(self.models)

    @property
    def trained(self) -> bool:
        return (
            self.inside_models()
            and (self.directory / "config.json").is_file()
            and (self.directory / "metrics.json").is_file()
        )

    def refresh(self) -> None:
        """Re-read the metrics (a train may have finished since the server started)."""
        if not self.trained:
            self.metrics, self.predictor = None, None
            self.state, self.error = "END", f"not trained (run: {self.train_command})"
            return
        if self.predictor is None and self.error.startswith("not trained"):
            self.state, self.error = "START", ""  # trained since: loaded on first use
        try:
            self.metrics = json.loads((self.directory / "metrics.json").read_text())
        except (OSError, ValueError) as error:
            self.metrics = None
            self.error = f"{self.directory / 'metrics.json'}: unreadable ({error})"

    def load(self, engine: str, variant: str) -> None:
        """Load the predictor (Keras models are loaded by the apps with ``safe_mode=True``)."""
        if not self.trained:
            self.state, self.error = "END", f"not trained (run: {self.train_command})"
            return
        self.state = "LOADING"
        try:
            self.predictor = self.app.load_predictor(self.directory, engine, variant)
        except (UserError, OSError, ValueError) as error:
            # A half-written or foreign model folder: say so in the status, keep serving the rest.
            self.predictor = None
            self.state, self.error = "END", f"failed to load: {error}"
            return
        self.state, self.error = "AVAILABLE", ""

    def status(self) -> dict:
        """The TensorFlow Serving ``GetModelStatus`` answer."""
        code = (
            "OK" if self.state == "AVAILABLE" else ("NOT_FOUND" if not self.trained else "UNKNOWN")
        )
        return {
            "model_version_status": [
                {
                    "version": "1",
                    "state": self.state,
                    "status": {"error_code": code, "error_message": self.error},
                }
            ]
        }

    def describe(self) -> dict:
        """What the web page shows of the app (and ``GET /v1/models/<app>/metadata``)."""
        app = self.app
        examples = [] if self.kind in FILE_KINDS else [str(s) for s in app.sample_inputs]
        return {
            "name": self.name,
            "task": app.task,
            "pattern": app.pattern,
            "data": app.default_data,
            "kind": self.kind,
            "trained": self.trained,
            "state": self.state,
            "error": self.error,
            "train_command": self.train_command,
            "metrics": metrics_summary(app.metric, self.metrics) if self.metrics else None,
            "options": [{"name": name, **option.schema()} for name, option in self.options.items()],
            "examples": examples,
            "samples": len(self.samples()),
            # The training run's PNG figures in the model folder (GET .../figures/<name>).
            "run_figures": self.run_figures(),
            # What the page asks for: a figure this install can draw.
            "figure": self.has_figure and self.figure_unavailable() is None,
        }

    @property
    def has_figure(self) -> bool:
        """Whether the app draws a figure beside an answer: its own (``figure``), its
        attention map (``save_attention``), or the spectrogram of audio."""
        app = self.app
        return (
            getattr(app, "figure", None) is not None
            or getattr(app, "save_attention", None) is not None
            or self.kind == "audio"
        )

    def figure_unavailable(self) -> str | None:
        """One line saying which package drawing the app's figure needs and how to install
        it, when this install lacks it (the ``serve`` extra); None when it can be drawn."""
        if not self.has_figure:
            return None
        needed = ["matplotlib"]
        own = getattr(self.app, "figure", None) or getattr(self.app, "save_attention", None)
        if own is None:  # the spectrogram of audio
            needed.append("librosa")
        missing = [name for name in needed if find_spec(name) is None]
        if not missing:
            return None
        return f"{self.name}: figures need {' and '.join(missing)} ({SERVE_EXTRA})"

    def run_figure(self, name: str) -> pathlib.Path | None:
        """The training run's figure `name` in the app's folder, or None: only a PNG file
        whose name is lower-case letters, digits and underscores (no path, no dot but the
        suffix's), directly in a trained folder inside the models folder, not a link out of
        it, starting with the PNG signature."""
        if not RUN_FIGURE_NAME.fullmatch(name) or not self.trained:
            return None
        path = self.directory / name
        try:
            if not path.is_file() or path.resolve().parent != self.directory.resolve():
                return None
            with open(path, "rb") as file:
                if file.read(len(PNG_SIGNATURE)) != PNG_SIGNATURE:
                    return None
        except OSError:
            return None
        return path

    def run_figures(self) -> list[str]:
        """The names of the training run's figures (``run_figure``): training curves first,
        then confusion matrices, scores per group, the app's own picture."""
        if not self.trained:
            return []
        try:
            names = [path.name for path in self.directory.iterdir()]
        except OSError:
            return []

        def rank(name: str) -> tuple[int, str]:
            order = [i for i, start in enumerate(_RUN_FIGURE_ORDER) if name.startswith(start)]
            return (order[0] if order else len(_RUN_FIGURE_ORDER), name)

        return sorted((name for name in names if self.run_figure(name)), key=rank)

    def samples(self) -> list[pathlib.Path]:
        """Generated sample files the page offers (file apps): chosen by the app, not a
        request; those that exist (an App writes its own on first use)."""
        if self.kind not in FILE_KINDS:
            return []
        if self._samples is None:
            self._samples = [pathlib.Path(path) for path in self.app.sample_inputs]
        return [path for path in self._samples if path.is_file()]


class Catalog:
    """Every registered app, served from one models folder with one engine.

    Args:
        registry: ``names()``, ``get_app(name)`` and optionally ``get_runtime(name)``
            (``apps.registry``): with `engine` ``litert`` an app with a runtime is served
            from it (``served_app``), without importing TensorFlow.
        models: the folder holding ``<app>/`` model folders.
        engine: ``litert`` (default), ``savedmodel`` or ``keras``.
        variant: the ``.tflite`` variant for LiteRT: ``fp32``, ``fp16`` or ``int8``.

    Example:
        >>> catalog = Catalog(registry, pathlib.Path("saved_models"), "litert")
        >>> catalog.load_all()
        >>> catalog.get("sentiment").state
        'AVAILABLE'
    """

    def __init__(
        self,
        registry: AppCatalog,
        models: pathlib.Path,
        engine: str = "litert",
        variant: str = "fp32",
    ):
        if engine not in ENGINES:
            raise UserError(f"--engine {engine}: choose from {', '.join(ENGINES)}")
        if variant not in VARIANTS:
            raise UserError(f"--variant {variant}: choose from {', '.join(VARIANTS)}")
        models = pathlib.Path(models)
        if not models.is_dir():
            raise UserError(f"{models}: no such models folder")
        self.engine, self.variant, self.models = engine, variant, models.resolve()
        default = models == pathlib.Path("saved_models")
        self.apps = {
            name: ServedApp(served_app(registry, name, engine), models, default)
            for name in registry.names()
        }

    def load_all(self, log=None) -> None:
        for served in self.apps.values():
            served.load(self.engine, self.variant)
            if log:
                log(f"{served.name}: {served.error or served.state.lower()}")

    def get(self, name: str) -> ServedApp:
        """The app named by a request, or an ApiError 404 listing the apps."""
        served = self.apps.get(name)
        if served is None:
            raise ApiError(
                404, f"{_shown(name)}: unknown model (choose from {', '.join(self.apps)})"
            )
        return served
