"""The generic run: train -> save -> SavedModel -> .tflite x3 -> parity -> evaluate.

Every app goes through these functions, so every finished run leaves the same
files (see DESIGN.md): model.keras, saved_model/, model_{fp32,fp16,int8}.tflite,
sidecars, config.json, metrics.json, model_card.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import pathlib
import platform
import shutil
import subprocess
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from shared import export, figures
from shared.app import App
from shared.config import BaseConfig
from shared.data.cache import atomic_path
from shared.data.sources import Source
from shared.training import (
    HISTORY_FILE,
    fit,
    is_chief,
    make_strategy,
    read_history,
    set_seeds,
    worker_name,
)

PARITY_INPUTS = 32


_START = time.monotonic()


def log(message: str) -> None:
    """A progress line on stderr, with the seconds since the process started."""
    print(f"[rnnapps {time.monotonic() - _START:6.0f} s] {message}", file=sys.stderr, flush=True)


def versions() -> dict:
    import ai_edge_litert

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "ai_edge_litert": getattr(ai_edge_litert, "__version__", "unknown"),
        "numpy": np.__version__,
    }


def source_commit() -> str | None:
    """The git commit the code was run from ("abc1234", "+dirty" when tracked files differ),
    or None outside a git checkout: so a recorded figure can be traced to its code."""
    root = pathlib.Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "--short=7", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}+dirty" if dirty else commit


def _summary(values: list[float]) -> dict:
    return {
        "values": [round(v, 6) for v in values],
        "mean": round(float(np.mean(values)), 6),
        "min": round(float(np.min(values)), 6),
        "max": round(float(np.max(values)), 6),
    }


def spread_of(app: App, runs: list[dict], seeds: list[int]) -> dict:
    """Mean and range of the headline metric (Keras and LiteRT fp32, and on every held-out
    set) over runs that differ only in their seed."""
    key = app.metric
    spread: dict = {"seeds": seeds, "metric": key}
    keras_values = [run["metrics"].get(key) for run in runs]
    fp32_values = [run["litert"]["fp32"].get(key) for run in runs]
    if all(isinstance(v, int | float) for v in keras_values):
        spread["keras"] = _summary(keras_values)
    if all(isinstance(v, int | float) for v in fp32_values):
        spread["fp32"] = _summary(fp32_values)
    held_out = {}
    for name, entry in (runs[0]["metrics"].get("held_out") or {}).items():
        metric = entry.get("metric", key)  # a held-out set may be scored in its own metric
        values = [
            ((run["metrics"].get("held_out") or {}).get(name) or {}).get(metric) for run in runs
        ]
        if all(isinstance(v, int | float) for v in values):
            held_out[name] = _summary(values)
    if held_out:
        spread["held_out"] = held_out
    return spread


def finished_run(target: pathlib.Path, config: BaseConfig, source: Source) -> dict | None:
    """The metrics of a run already exported to `target` with `config` on `source`, or None.

    Lets ``--seeds N`` resume: a seed whose folder holds a finished export (metrics.json
    written last) of the same data and the same config.json is not trained again.
    """
    target = pathlib.Path(target)
    try:
        saved = json.loads((target / "config.json").read_text())
        metrics = json.loads((target / "metrics.json").read_text())
    except (OSError, ValueError):
        return None
    if (
        saved != json.loads(config.to_json())
        or metrics.get("source") != str(source)
        or "litert" not in metrics
    ):
        return None
    return metrics


def train_seeds(
    app: App, config: BaseConfig, source: Source, out_dir: pathlib.Path, count: int
) -> dict:
    """`count` runs with seeds ``seed``, ``seed + 1``, ... on the same split (``split_seed``).

    The first run is the model in `out_dir`; the others are kept beside it in
    ``.<name>.seeds/seed-<seed>/``. `out_dir`'s ``metrics.json`` gains ``spread``: the mean
    and range of the headline metric over all of them.
    """
    out_dir = pathlib.Path(out_dir)
    runs, seeds = [], []
    for index in range(count):
        seeded = dataclasses.replace(config, seed=config.seed + index)
        target = (
            out_dir
            if index == 0
            else out_dir.with_name(f".{out_dir.name}.seeds") / f"seed-{seeded.seed}"
        )
        finished = finished_run(target, seeded, source)
        if finished is not None:
            log(
                f"{app.name}: seed {seeded.seed} ({index + 1} of {count}) already finished in "
                f"{target} with this config (commit {finished.get('commit')}); kept it "
                "(delete the folder to train it again)"
            )
            runs.append(finished)
        else:
            log(f"{app.name}: seed {seeded.seed} ({index + 1} of {count}) -> {target}")
            runs.append(train(app, seeded, source, target))
        seeds.append(seeded.seed)
    if not all(runs):  # a worker that is not the chief exports nothing
        return runs[0]
    metrics = runs[0]
    metrics["spread"] = spread_of(app, runs, seeds)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    log(f"{app.name}: over seeds {seeds}: {json.dumps(metrics['spread'].get('keras'))}")
    return metrics


def train(app: App, config: BaseConfig, source: Source, out_dir: pathlib.Path) -> dict:
    """Train `app` on `source` and export everything to `out_dir`; returns metrics."""
    out_dir = pathlib.Path(out_dir)
    set_seeds(config.seed)
    started = time.time()
    commit = source_commit()  # the code as it was when the run began, not when it ended
    log(f"{app.name}: loading data ({source})")
    splits = app.load_data(config, source)
    log(
        f"{app.name}: {len(next(iter(splits.train.values())))} train, "
        f"{len(next(iter(splits.validation.values())))} validation, "
        f"{len(next(iter(splits.test.values())))} test examples"
    )
    strategy = make_strategy(config.strategy)
    with strategy.scope():
        model = app.build_model(config, splits)
    train_data, validation_data = app.make_datasets(config, splits)
    chief = is_chief()
    # Only the chief keeps a run folder and exports; another worker's run (its backup, so it
    # can resume too) goes to a folder of its own, deleted when training ends.
    suffix = "run" if chief else f"{worker_name()}.run"
    run_dir = out_dir.with_name(f".{out_dir.name}.{suffix}")
    monitor, mode = app.monitor_for(config)
    log(
        f"{app.name}: training ({config.preset} preset, {config.epochs} epochs at most; "
        f"keeps the epoch with the {'highest' if mode == 'max' else 'lowest'} {monitor})"
    )
    history = fit(
        model,
        train_data,
        validation_data,
        config,
        run_dir,
        monitor=monitor,
        mode=mode,
        epoch_metrics=app.epoch_metrics(config, splits),  # BLEU, F1 ...: for the bench's target
        kept_apart=app.kept_apart(config),
    )
    train_seconds = time.time() - started
    if not chief:
        shutil.rmtree(run_dir, ignore_errors=True)
        log(f"{app.name}: {worker_name()} finished; the chief exports the model")
        return {}
    # After a resume, history.epoch holds only this process's epochs; the run's total is the last.
    epochs_run = history.epoch[-1] + 1 if history.epoch else config.epochs
    adjusted = app.after_training(model, config, splits)
    if adjusted:
        log(f"{app.name}: after training: {json.dumps(adjusted)}")
    return export_and_evaluate(
        app,
        model,
        config,
        splits,
        out_dir,
        source=str(source),
        training={
            "commit": commit,
            "seconds": round(train_seconds, 1),
            "epochs_run": epochs_run,
            "kept_by": {"monitor": monitor, "mode": mode},  # the epoch whose weights were kept
            # Sub-models kept at their own best epoch instead (App.kept_apart).
            **({"kept_apart": history.kept_apart} if getattr(history, "kept_apart", None) else {}),
            **({"after_training": adjusted} if adjusted else {}),
            # Every epoch's losses, metrics and end time (s): what bench's time-to-target reads.
            "history": [
                {key: round(value, 6) for key, value in row.items()}
                for row in read_history(run_dir / HISTORY_FILE)
            ],
        },
    )


def export_and_evaluate(
    app: App,
    model: keras.Model,
    config: BaseConfig,
    splits,
    out_dir: pathlib.Path,
    source: str = "default",
    training: dict | None = None,
) -> dict:
    """Write every artifact into a temporary folder, check it, then move it into place."""
    out_dir = pathlib.Path(out_dir)
    with atomic_path(out_dir) as work:
        work.mkdir(parents=True)
        log(f"{app.name}: saving model.keras and the SavedModel")
        model.save(work / "model.keras")
        bundle = app.build_export(model, config, splits)
        for name, text in bundle.sidecars.items():
            (work / name).write_text(text, encoding="utf-8")
        tf.saved_model.save(bundle.serving, str(work / "saved_model"), signatures=bundle.signatures)
        (work / "config.json").write_text(config.to_json())
        ops = {}
        for name, tflite_model in bundle.tflite_models.items():
            for variant in export.VARIANTS:
                file_name = f"{name}_{variant}.tflite"
                log(f"{app.name}: converting {file_name}")
                content = export.convert_to_tflite(
                    tflite_model, variant, bundle.representative_data.get(name)
                )
                ops[file_name] = export.audit_builtin_ops(content, file_name)
                (work / file_name).write_bytes(content)
        metrics = evaluate_all(app, work, config, splits)
        metrics["source"] = source  # the --data value that reproduces this run
        metrics["ops"] = ops
        metrics["training"] = {**(training or {}), "parameters": int(model.count_params())}
        metrics["versions"] = versions()
        # A re-export (`rnnapps export`) records the code it ran with.
        metrics["commit"] = metrics["training"].pop("commit", None) or source_commit()
        metrics["seed"] = config.seed
        metrics["date"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        (work / "metrics.json").write_text(json.dumps(metrics, indent=2))
        (work / "model_card.md").write_text(model_card(app, config, metrics))
        draw_figures(app, metrics, work, splits)
    log(f"{app.name}: exported to {out_dir}")
    return metrics


def draw_figures(
    app: App,
    metrics: dict,
    model_dir: pathlib.Path,
    splits=None,
    only_missing: bool = False,
) -> list[pathlib.Path]:
    """The PNG figures of a finished run, beside its ``metrics.json`` in `model_dir`: the
    training curves (``training_curves.png``) and the app's own (``App.figures``: scores per
    group, its picture of one example). Returns the files written.

    A figure that cannot be drawn is logged and skipped: a trained model is never lost to a
    plot. `only_missing` (a folder drawn again, ``rnnapps demo``) keeps the training curves
    when the folder has them, and the app's figures when it holds any ``scores_by_*.png``.
    """
    model_dir = pathlib.Path(model_dir)
    history = (metrics.get("training") or {}).get("history") or []
    title = f"{app.name}: training ({metrics.get('preset')} preset, seed {metrics.get('seed')})"
    curves = model_dir / figures.TRAINING_CURVES_FILE
    steps = []
    if not (only_missing and curves.is_file()):
        steps.append(("training curves", lambda: [figures.training_curves(history, curves, title)]))
    if not (only_missing and any(model_dir.glob(figures.scores_file("*")))):
        steps.append(("its figures", lambda: app.figures(metrics, model_dir, splits)))
    written = []
    for what, draw in steps:
        try:
            written += [path for path in draw() if path is not None]
        except Exception as error:  # noqa: BLE001 -- a figure is never worth the run
            log(f"{app.name}: could not draw {what}: {type(error).__name__}: {error}")
    if written:
        log(f"{app.name}: figures {', '.join(path.name for path in written)}")
    return written


def evaluate_all(app: App, model_dir: pathlib.Path, config: BaseConfig, splits) -> dict:
    """Parity across engines, then test-split metrics of every engine and variant."""
    model_dir = pathlib.Path(model_dir)
    predictors = {"keras": app.load_predictor(model_dir, "keras")}
    predictors["savedmodel"] = app.load_predictor(model_dir, "savedmodel")
    for variant in export.VARIANTS:
        predictors[variant] = app.load_predictor(model_dir, "litert", variant)

    parity_inputs = app.parity_inputs(splits, PARITY_INPUTS)
    reference = predictors["keras"].outputs(parity_inputs)
    parity = {}
    for name, predictor in predictors.items():
        if name == "keras":
            continue
        gap = float(np.max(np.abs(predictor.outputs(parity_inputs) - reference)))
        parity[name] = gap
        if gap > app.parity_tolerance[name]:
            raise export.ExportError(
                f"{app.name}: {name} differs from Keras by {gap:.3g} "
                f"(tolerance {app.parity_tolerance[name]})"
            )
    log(f"{app.name}: parity with Keras (max abs difference) {parity}")

    engines = ["keras", "savedmodel", *export.VARIANTS]
    log(f"{app.name}: evaluating on the test split ({', '.join(engines)}) and the baselines")
    progress = EvaluationProgress(app.name, engines)
    scores = {}
    for name in engines:
        with progress.step(name):
            scores[name] = app.evaluate(predictors[name], splits, config)
            if name in export.VARIANTS:
                # Every on-device model of the app counts (an encoder and a decoder step, say).
                scores[name]["size_bytes"] = sum(
                    p.stat().st_size for p in model_dir.glob(f"*_{name}.tflite")
                )
                scores[name].update(
                    app.latency(model_dir, name, predictors[name], splits, config.latency_runs)
                )
        if name == "savedmodel":  # the baselines come where they always did: before LiteRT
            with progress.step("baselines", counted=False):
                baselines = app.baselines(splits, config)
    return {
        "app": app.name,
        "data": str(getattr(splits, "source", "default")),
        "preset": config.preset,
        "metrics": scores["keras"],
        "savedmodel": scores["savedmodel"],
        "baselines": baselines,
        "parity_max_abs_diff": parity,
        "litert": {variant: scores[variant] for variant in export.VARIANTS},
    }


class EvaluationProgress:
    """One log line per evaluated engine: how long it took, how many are done, and about how
    long the rest will take (the mean of the engines so far, times those left)."""

    def __init__(self, app_name: str, engines: list[str], clock=time.perf_counter):
        self.app_name, self.engines, self.clock = app_name, list(engines), clock
        self.durations: list[float] = []

    def line(self, name: str, seconds: float, counted: bool = True) -> str:
        if not counted:
            return f"{self.app_name}: {name} in {seconds:.0f} s"
        self.durations.append(seconds)
        done, total = len(self.durations), len(self.engines)
        left = (total - done) * sum(self.durations) / done
        rest = f", about {left:.0f} s for the other {total - done}" if done < total else ""
        return f"{self.app_name}: {name} evaluated in {seconds:.0f} s ({done} of {total}{rest})"

    @contextlib.contextmanager
    def step(self, name: str, counted: bool = True):
        started = self.clock()
        yield
        log(self.line(name, self.clock() - started, counted))


def model_card(app: App, config: BaseConfig, metrics: dict) -> str:
    """A short human-readable card that travels with the model."""
    lines = [
        f"# {app.name}: {app.task}",
        "",
        f"- RNN pattern: {app.pattern}",
        f"- Data: {metrics.get('data')} (preset `{config.preset}`)",
        f"- Trained: {metrics.get('date')}, {metrics['training']['parameters']:,} parameters",
        f"- Versions: {json.dumps(metrics.get('versions'))}",
        "",
        "## Test-split quality",
        "",
        "| engine | " + app.metric + " | size (bytes) | latency p50 (ms, 1 thread) |",
        "|---|---|---|---|",
        f"| keras | {_fmt(metrics['metrics'].get(app.metric))} | | |",
        f"| savedmodel | {_fmt(metrics['savedmodel'].get(app.metric))} | | |",
    ]
    for variant, scores in metrics["litert"].items():
        lines.append(
            f"| litert {variant} | {_fmt(scores.get(app.metric))} | {scores['size_bytes']:,} | "
            f"{scores['latency_ms_p50']:.3f} |"
        )
    lines += [
        "",
        "Every `.tflite` uses builtin ops only (audited at export):",
        "",
    ]
    for file_name, ops in metrics["ops"].items():
        lines.append(f"- `{file_name}`: {', '.join(ops)}")
    lines += [
        "",
        "## Config",
        "",
        "```json",
        json.dumps(dataclasses.asdict(config), indent=2),
        "```",
        "",
    ]
    return "\n".join(lines)


def _fmt(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)
