"""One app: quality per engine, every model's cost, baselines and training time to target."""

from __future__ import annotations

import json
import pathlib
import statistics
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

from shared.metrics import LOWER_IS_BETTER_WORDS as LOWER_IS_BETTER

if TYPE_CHECKING:  # shared.app imports TensorFlow, which the bench loads only when it runs
    from shared.app import QualityTarget

from apps.bench.common import ENGINES, THREADS, VARIANTS, headline_value, is_number, log
from apps.bench.flops import count_flops
from apps.bench.models import (
    directory_bytes,
    engine_memory,
    is_step_model,
    litert_latency,
    litert_memory,
    model_inputs,
)


def is_trained(model_dir: pathlib.Path) -> bool:
    return (model_dir / "metrics.json").is_file() and (model_dir / "config.json").is_file()


def baseline_ratios(ours: dict, baselines: dict) -> dict:
    """Each baseline's scores and, for every scalar metric both have, ours / baseline.

    A baseline scored per split (``{"test": {...}, "other": {...}}``) is compared on
    its ``test`` scores, the split our figures come from.
    """
    result = {}
    for name, scores in baselines.items():
        if not isinstance(scores, dict):
            result[name] = {"metrics": scores, "ratio": {}}
            continue
        test_scores = scores.get("test") if isinstance(scores.get("test"), dict) else {}
        ratios = {}
        for key, value in {**test_scores, **scores}.items():
            mine = ours.get(key)
            if key == "count" or not is_number(value) or not is_number(mine):
                continue
            if value != 0:
                ratios[key] = mine / value
        result[name] = {"metrics": scores, "ratio": ratios}
    return result


def strongest_baseline(baselines: dict, key: str, lower_is_better: bool) -> str | None:
    """The name of the baseline with the best `key` (the one the README compares with)."""
    scored = {
        name: headline_value(entry["metrics"], key)
        for name, entry in baselines.items()
        if is_number(headline_value(entry["metrics"], key))
    }
    if not scored:
        return None
    pick = min if lower_is_better else max
    return pick(scored, key=scored.get)


def with_controls(app, quality: dict, recorded: dict) -> dict:
    """The baselines the training run scored, then the app's controls as scored now on fp32.

    A control is the model itself on altered input (``App.controls``), so its figure is the
    one this bench just measured, beside the headline metric it stands in for.
    """
    baselines = dict(recorded.get("baselines", {}))
    for name, key in app.controls.items():
        if is_number(quality["fp32"].get(key)):
            baselines[name] = {app.metric: quality["fp32"][key]}
    return baselines


def cold_predict(app, model_dir: pathlib.Path, runs: int = 3) -> dict:
    """Wall time of a whole cold ``rnnapps predict APP SAMPLE`` (LiteRT fp32, a fresh Python
    each time: start-up, imports, loading, the answer), median and runs, in seconds."""
    sample = str(app.sample_inputs[0])
    command = [sys.executable, "-m", "apps.cli", "predict", app.name, sample]
    command += ["--model", str(model_dir), "--json"]
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        seconds.append(time.perf_counter() - started)
        if done.returncode != 0:
            return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1][:200]}
    return {"seconds_p50": statistics.median(seconds), "runs": [round(t, 3) for t in seconds]}


def bench_app(app, model_dir: pathlib.Path, options: dict) -> dict:
    """Every figure of one trained app (see the module docstring)."""
    from shared.config import load_config
    from shared.data.sources import parse_source
    from shared.data.splits import num_rows

    recorded = json.loads((model_dir / "metrics.json").read_text())
    config = load_config(app.config_class, model_dir / "config.json")
    log(f"{app.name}: loading the test split ({recorded.get('source', 'default')})")
    splits = app.load_data(config, parse_source(recorded.get("source", "default")))
    app.restore_state(model_dir, config, splits)  # as `rnnapps export` does

    result: dict[str, Any] = {
        "status": "benchmarked",
        "model_dir": str(model_dir),
        "data": recorded.get("data"),
        "source": recorded.get("source"),
        "preset": recorded.get("preset"),
        "metric": app.metric,
        "metric_lower_is_better": bool(getattr(app, "lower_is_better", False))
        or any(word in app.metric for word in LOWER_IS_BETTER),
        "trained": recorded.get("date"),
    }

    # Quality through every engine, now, on the same split.
    predictors, quality, evaluation_seconds = {}, {}, {}
    for engine in ENGINES:
        kind, variant = ("litert", engine) if engine in VARIANTS else (engine, "fp32")
        predictors[engine] = app.load_predictor(model_dir, kind, variant)
        log(f"{app.name}: evaluating {engine}")
        started = time.perf_counter()
        quality[engine] = app.evaluate(predictors[engine], splits, config)
        evaluation_seconds[engine] = time.perf_counter() - started
    result["quality"] = quality
    result["evaluation_seconds"] = evaluation_seconds
    result["baselines"] = baseline_ratios(quality["fp32"], with_controls(app, quality, recorded))
    result["strongest_baseline"] = strongest_baseline(
        result["baselines"], app.metric, result["metric_lower_is_better"]
    )

    # Each engine as a whole: size, the app's own on-device answer, peak memory.
    raw_inputs = app.parity_inputs(splits, 1) if options["engine_memory"] else None
    engines = {}
    for engine in ENGINES:
        if engine == "keras":
            size = directory_bytes(model_dir / "model.keras")
        elif engine == "savedmodel":
            size = directory_bytes(model_dir / "saved_model")
        else:
            size = sum(p.stat().st_size for p in model_dir.glob(f"*_{engine}.tflite"))
        figures: dict[str, Any] = {"size_bytes": size}
        if engine in VARIANTS:
            log(f"{app.name}: timing a whole answer on LiteRT {engine}")
            figures["answer_latency"] = app.latency(
                model_dir, engine, predictors[engine], splits, options["answer_runs"]
            )
        if raw_inputs is not None:
            log(f"{app.name}: peak memory of the {engine} engine")
            figures["memory"] = engine_memory(app, model_dir, engine, raw_inputs)
        engines[engine] = figures
    if raw_inputs is not None:  # not in quick runs: three fresh processes
        log(f"{app.name}: cold rnnapps predict on LiteRT fp32")
        engines["fp32"]["cold_predict"] = cold_predict(app, model_dir)
    result["engines"] = engines

    # Every .tflite: latency at 1 and 2 threads, FLOPs, fraction of the machine's limit.
    models = {}
    for variant in VARIANTS:
        for path in sorted(model_dir.glob(f"*_{variant}.tflite")):
            name = path.name[: -len(f"_{variant}.tflite")]
            inputs, origin = model_inputs(app, path, predictors[variant], splits)
            flops = count_flops(path)
            figures = {
                "model": name,
                "variant": variant,
                "per_step": is_step_model(path),
                "size_bytes": path.stat().st_size,
                "inputs": origin,
                **flops,
                "latency": {},
                "gflops_per_second": {},
            }
            for threads in THREADS:
                log(f"{app.name}: timing {path.name} on {threads} thread(s)")
                timing = litert_latency(path, inputs, threads, options["runs"], options["warmup"])
                figures["latency"][str(threads)] = timing
                figures["gflops_per_second"][str(threads)] = (
                    flops["flops"] / (timing["latency_ms_p50"] / 1000.0) / 1e9
                )
            figures["memory"] = litert_memory(path, inputs)
            models[path.name] = figures
    result["models"] = models

    training = dict(recorded.get("training", {}))
    examples = num_rows(splits.train)
    training["train_examples"] = examples
    if training.get("seconds") and training.get("epochs_run"):
        # The recorded wall time includes loading data, validation and early stopping.
        training["examples_per_second"] = examples * training["epochs_run"] / training["seconds"]
    # Absent in runs recorded before per-epoch times; metrics.json keeps it, results.json need not.
    history = training.pop("history", None)
    training["time_to_target"] = time_to_target(history, app.run_quality_target(recorded))
    training["time_to_best"] = time_to_best(history)
    result["training"] = training
    if options.get("train"):
        result["training"]["measured"] = measure_training(app, config, splits, options)
    return result


def time_to_target(history: list[dict] | None, target: QualityTarget | None) -> dict:
    """When a run first met its validation `target`: the wall time at the end of that epoch.

    Args:
        history: the run's ``training.history`` rows (``epoch`` 0-based, ``seconds`` since
            training began, the logged metrics), or None for a run recorded without it.
        target: the app's target with an absolute goal (``App.run_quality_target``), or None.

    Returns:
        ``status``: ``"reached"``, ``"not reached"``, or why there is no figure (``"no
        target"``, ``"no history"``, ``"metric not logged"``); ``seconds`` (None unless
        reached) and ``epochs`` (epochs trained when first met); the target's ``metric``,
        ``goal``, ``mode`` and ``note``; ``best`` and ``best_epochs``, the best value the
        run logged and when.
    """
    if target is None:
        return {"status": "no target", "seconds": None}
    described = {
        "metric": target.metric,
        "goal": target.goal,
        "mode": target.mode,
        "note": target.note,
        "seconds": None,
    }
    if not history:
        return {"status": "no history", **described}
    column = target.column(history)
    rows = sorted(
        (row for row in history if column and is_number(row.get(column))),
        key=lambda row: row["epoch"],
    )
    if not rows:
        return {"status": "metric not logged", **described}
    described["metric"] = column
    pick = max if target.mode == "max" else min
    best = pick(rows, key=lambda row: row[column])  # the first of equal values
    described |= {"best": best[column], "best_epochs": best["epoch"] + 1}
    for row in rows:
        if target.is_met(row[column]):
            return {
                **described,
                "status": "reached",
                "seconds": row.get("seconds"),
                "epochs": row["epoch"] + 1,
            }
    return {"status": "not reached", **described}


def time_to_best(history: list[dict] | None) -> dict | None:
    """The epoch of the lowest ``val_loss``: the weights a run keeps. None without a history.

    Training checkpoints only strict improvements, so among equal losses the first counts.
    Returns its ``seconds`` (since training began), ``epochs`` (trained by then) and ``val_loss``.
    """
    rows = sorted(
        (row for row in history or [] if is_number(row.get("val_loss"))),
        key=lambda row: row["epoch"],
    )
    if not rows:
        return None
    best = min(rows, key=lambda row: row["val_loss"])
    return {
        "seconds": best.get("seconds"),
        "epochs": best["epoch"] + 1,
        "val_loss": best["val_loss"],
    }


def measure_training(app, config, splits, options: dict) -> dict:
    """A few training steps of the trained config: how long each waits for input.

    Builds the app's model afresh and its training ``tf.data`` pipeline, then times
    ``next(iterator)`` (input wait, left after prefetching) and ``train_on_batch``
    (compute) separately, after warm-up steps that trace the graph.
    """
    import tensorflow as tf

    from shared.training import set_seeds

    set_seeds(config.seed)
    model = app.build_model(config, splits)
    train_data, _ = app.make_datasets(config, splits)
    iterator = iter(train_data.repeat())
    warmup, steps = 3, options["train_steps"]
    waiting = computing = 0.0
    examples = 0
    for index in range(warmup + steps):
        started = time.perf_counter()
        batch = next(iterator)
        fetched = time.perf_counter()
        features, targets, *weights = batch
        model.train_on_batch(features, targets, sample_weight=weights[0] if weights else None)
        finished = time.perf_counter()
        if index >= warmup:
            waiting += fetched - started
            computing += finished - fetched
            examples += int(tf.nest.flatten(features)[0].shape[0])
    return {
        "steps": steps,
        "batch_size": config.batch_size,
        "examples_per_second": examples / (waiting + computing),
        "step_ms": 1000.0 * (waiting + computing) / steps,
        "input_wait_share": waiting / (waiting + computing),
    }
