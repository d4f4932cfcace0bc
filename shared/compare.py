"""``rnnapps compare``: design choices decided on the validation split, never on test.

Each variant (a name and ``--set`` overrides) is trained once per seed, on one split
(``split_seed``), without exporting. What is recorded is what training logged on the
validation split at the epoch whose weights a run keeps (the best ``App.monitor``, by default
the lowest ``val_loss``): the
Keras validation metrics and the app's own per-epoch figures (``App.epoch_metrics``: BLEU,
weighted F1, bits per character...). The test split is never scored.

Results go to one JSON file, rewritten after every run, so a stopped comparison resumes
where it was: a (variant, seed) already there is not trained again.
"""

from __future__ import annotations

import json
import pathlib
import tempfile
import time
from typing import Any

import numpy as np

from shared.errors import UserError


def parse_variant(text: str) -> tuple[str, list[str]]:
    """``"name:key=value,key=value"`` -> ``("name", ["key=value", ...])``; ``"name:"`` is the
    preset itself."""
    name, separator, settings = text.partition(":")
    if not separator or not name.strip():
        raise UserError(f"--variant {text!r}: expected NAME:KEY=VALUE[,KEY=VALUE...] (or NAME:)")
    overrides = [item.strip() for item in settings.split(",") if item.strip()]
    for item in overrides:
        if "=" not in item:
            raise UserError(f"--variant {text!r}: {item!r} is not KEY=VALUE")
    return name.strip(), overrides


def kept_epoch(history: list[dict], monitor: str = "val_loss", mode: str = "min") -> dict:
    """The row of the epoch whose weights a run keeps: the best `monitor` (``App.monitor``)."""
    rows = [row for row in history if isinstance(row.get(monitor), int | float)]
    if not rows:
        raise ValueError(f"the run logged no {monitor}")
    pick = min if mode == "min" else max
    return pick(rows, key=lambda row: row[monitor])


def train_variant(app, preset: str, overrides: list[str], seed: int, source) -> dict:
    """Train one variant with one seed (no export); its validation figures at the kept epoch."""
    from shared.config import resolve_config
    from shared.training import HISTORY_FILE, fit, make_strategy, read_history, set_seeds

    config = resolve_config(app.config_class, preset, [*overrides, f"seed={seed}"])
    set_seeds(config.seed)
    started = time.time()
    splits = app.load_data(config, source)
    with make_strategy(config.strategy).scope():
        model = app.build_model(config, splits)
    train_data, validation_data = app.make_datasets(config, splits)
    monitor, mode = app.monitor_for(config)
    with tempfile.TemporaryDirectory() as run_dir:
        fit(
            model,
            train_data,
            validation_data,
            config,
            pathlib.Path(run_dir),
            monitor=monitor,
            mode=mode,
            epoch_metrics=app.epoch_metrics(config, splits),
        )
        history = read_history(pathlib.Path(run_dir) / HISTORY_FILE)
    best = kept_epoch(history, monitor, mode)
    return {
        "kept_epoch": int(best.get("epoch", history.index(best))) + 1,
        "epochs_run": len(history),
        "kept_by": monitor,
        "validation": {k: float(v) for k, v in best.items() if k.startswith("val_")},
        "seconds": round(time.time() - started, 1),
    }


def summarise(runs: list[dict]) -> dict[str, dict[str, dict[str, Any]]]:
    """Variant -> validation metric -> mean, min, max and the seeds' values."""
    summary: dict[str, dict[str, dict[str, Any]]] = {}
    for variant in dict.fromkeys(run["variant"] for run in runs):
        mine = [run for run in runs if run["variant"] == variant]
        metrics = sorted(set.intersection(*(set(run["validation"]) for run in mine)))
        summary[variant] = {}
        for metric in metrics:
            values = [run["validation"][metric] for run in mine]
            summary[variant][metric] = {
                "mean": round(float(np.mean(values)), 6),
                "min": round(float(np.min(values)), 6),
                "max": round(float(np.max(values)), 6),
                "seeds": [run["seed"] for run in mine],
                "values": [round(v, 6) for v in values],
            }
    return summary


def compare(
    app,
    preset: str,
    variants: list[tuple[str, list[str]]],
    seeds: list[int],
    out: pathlib.Path,
    source,
    train=train_variant,
    log=print,
) -> dict:
    """Train every variant with every seed (skipping those `out` already holds); write `out`."""
    out = pathlib.Path(out)
    result = json.loads(out.read_text()) if out.is_file() else {}
    if result and (result.get("app"), result.get("preset")) != (app.name, preset):
        raise UserError(
            f"--out {out}: holds a comparison of {result.get('app')} ({result.get('preset')} "
            f"preset), not {app.name} ({preset}); choose another file"
        )
    result = {
        "app": app.name,
        "preset": preset,
        "split": "validation (the epoch whose weights a run keeps: the best of the app's "
        "monitor, `kept_by` in each run)",
        "runs": result.get("runs", []),
    }
    done = {(run["variant"], run["seed"]) for run in result["runs"]}
    for seed in seeds:
        for name, overrides in variants:
            if (name, seed) in done:
                continue
            log(f"compare {app.name}: {name} {overrides or '(preset as is)'}, seed {seed}")
            figures = train(app, preset, overrides, seed, source)
            result["runs"].append(
                {"variant": name, "overrides": overrides, "seed": seed, **figures}
            )
            result["summary"] = summarise(result["runs"])
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(result, indent=1) + "\n")
    result["summary"] = summarise(result["runs"])
    return result


def summary_markdown(result: dict, metrics: list[str] | None = None) -> str:
    """A table: one row per variant, the mean (range) of each validation metric over seeds."""
    summary = result["summary"]
    if metrics is None:
        metrics = sorted({m for figures in summary.values() for m in figures})
    lines = [
        "| variant | seeds | " + " | ".join(metrics) + " |",
        "|---|---|" + "---|" * len(metrics),
    ]
    for variant, figures in summary.items():
        seeds = max((len(entry["seeds"]) for entry in figures.values()), default=0)
        cells = [
            f"{figures[m]['mean']:.4f} ({figures[m]['min']:.4f}–{figures[m]['max']:.4f})"
            if m in figures
            else "–"
            for m in metrics
        ]
        lines.append(f"| {variant} | {seeds} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
