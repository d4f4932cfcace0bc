"""``rnnapps bench --cells``: what the choice of recurrent cell costs or buys on each app."""

from __future__ import annotations

import json
import pathlib
import time
from typing import Any

from apps.bench.common import is_number, log, number_text
from apps.bench.machine import load_average, machine_description
from apps.bench.results import loads_text
from shared.metrics import LOWER_IS_BETTER_WORDS as LOWER_IS_BETTER
from shared.report import update_block

CELLS_PAGE = pathlib.Path("docs/lab.md")
"""The page whose block between `CELLS_START` and `CELLS_END` ``rnnapps bench --cells`` rewrites."""


CELLS_START = "<!-- cells:start -->"


CELLS_END = "<!-- cells:end -->"


COMPARED_CELLS = ("elman", "jordan", "lstm", "gru", "indrnn")


def run_cells(
    app_names: list[str],
    cells: list[str],
    models_dir: pathlib.Path,
    quick: bool = False,
    data: str | None = None,
) -> dict:
    """Train every app of `app_names` once per cell of `cells`; the headline test metric of each.

    Each run is a whole ``rnnapps train APP --set cell=CELL`` (quick preset with `quick`,
    else demo) into ``models_dir/APP/CELL``: its Keras and LiteRT fp32 test metric, wall
    time and parameter count (of the ``.keras`` file's model) are recorded.
    """
    import datetime

    import keras

    from apps import registry
    from shared.config import resolve_config
    from shared.data.sources import parse_source
    from shared.errors import UserError
    from shared.layers import CELLS
    from shared.workflow import train, versions

    names = app_names or registry.names()
    for name in names:
        registry.check_name(name)
    for cell in cells:
        if cell not in CELLS:
            raise UserError(f"--cells {cell}: choose from {', '.join(sorted(CELLS))}")
    preset = "quick" if quick else "demo"
    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine_description(),
        "versions": versions(),
        "preset": preset,
        "cells": list(cells),
        "apps": {},
    }
    for name in names:
        app = registry.get_app(name)
        runs = {}
        for cell in cells:
            log(f"cells: {name} with cell={cell} ({preset} preset)")
            config = resolve_config(app.config_class, preset, [f"cell={cell}"])
            out = pathlib.Path(models_dir) / name / cell
            metrics, seconds = _finished_cell_run(out, preset, data), None
            if metrics is None:
                started = time.perf_counter()
                metrics = train(app, config, parse_source(data), out)
                seconds = time.perf_counter() - started
            else:
                log(f"cells: {name} with cell={cell}: already trained in {out}; reused")
            model = keras.saving.load_model(out / "model.keras", safe_mode=True)
            runs[cell] = {
                "keras": metrics["metrics"].get(app.metric),
                "litert_fp32": metrics["litert"]["fp32"].get(app.metric),
                "train_seconds": metrics.get("training", {}).get("seconds"),
                "run_seconds": None if seconds is None else round(seconds, 1),
                "parameters": int(model.count_params()),
            }
        results["apps"][name] = {
            "metric": app.metric,
            "lower_is_better": any(word in app.metric for word in LOWER_IS_BETTER),
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "runs": runs,
        }
    results["machine"]["load_average_end"] = load_average()
    return results


def _finished_cell_run(out: pathlib.Path, preset: str, data: str | None) -> dict | None:
    """The metrics of a finished run in `out` with this preset and data, else None.

    So a ``bench --cells`` that died (or was stopped) goes on where it was, as ``make demo``
    does: each run's folder appears only when its run has finished (the export is atomic).
    """
    path = out / "metrics.json"
    if not path.is_file():
        return None
    metrics = json.loads(path.read_text())
    if metrics.get("preset") != preset or metrics.get("source") != (data or "default"):
        return None
    return metrics


def merge_cells(results: dict, previous: dict) -> dict:
    """`results` plus the apps of an earlier run with the same preset that it did not re-run.

    So ``rnnapps bench APP --cells`` refreshes one app's row and keeps the others'; each
    app keeps the date its row was measured.
    """
    if previous.get("preset") != results["preset"]:
        return results
    merged = {}
    for name, entry in previous.get("apps", {}).items():
        merged[name] = results["apps"].get(name) or {"date": previous["date"], **entry}
    merged.update({n: e for n, e in results["apps"].items() if n not in merged})
    cells = list(results["cells"])
    cells += [c for c in previous.get("cells", []) if c not in cells]
    return {**results, "cells": cells, "apps": merged}


def cells_markdown(results: dict) -> str:
    """The cell-comparison block of docs/lab.md, generated from ``cells.json``."""
    cells = results["cells"]
    lines = [
        f"Measured {results['date']} by `rnnapps bench --cells` ({results['preset']} preset, "
        f"{results['machine']['cpu_model']}, load average {loads_text(results['machine'])}). "
        "Each entry: the app's headline test metric on LiteRT fp32 (Keras in brackets), "
        "then training wall time and parameters; the best per app is in bold.",
        "",
        "| app | metric | " + " | ".join(cells) + " |",
        "|---|---|" + "---|" * len(cells),
    ]
    dates = {app.get("date", results["date"])[:10] for app in results["apps"].values()}
    if len(dates) > 1:
        lines[0] += " Rows were measured on different days: the date follows each app's name."
    for name, app in results["apps"].items():
        if len(dates) > 1:
            name = f"{name} ({app.get('date', results['date'])[:10]})"
        scores = {
            cell: run["litert_fp32"]
            for cell, run in app["runs"].items()
            if is_number(run["litert_fp32"])
        }
        pick = min if app["lower_is_better"] else max
        best = pick(scores, key=scores.get) if scores else None
        row = []
        for cell in cells:
            run = app["runs"].get(cell)
            if run is None:
                row.append("–")
                continue
            shown = f"{number_text(run['litert_fp32'])} ({number_text(run['keras'])})"
            if cell == best:
                shown = f"**{shown}**"
            row.append(
                f"{shown}<br>{number_text(run['train_seconds'], 0)} s, {run['parameters']:,}"
            )
        direction = " ↓" if app["lower_is_better"] else " ↑"
        lines.append(f"| {name} | {app['metric']}{direction} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def cells_main(
    apps: list[str],
    cells: list[str],
    out: pathlib.Path,
    readme: pathlib.Path,
    quick: bool,
    models: pathlib.Path = pathlib.Path("saved_models/cells"),
) -> int:
    """``rnnapps bench --cells``: train each app with each cell, write `out` and the page's block.

    Args:
        apps: app names; empty for every registered app.
        cells: cell names (keys of ``shared.layers.CELLS``).
        out: the results JSON to write.
        readme: the page whose cells block (:data:`CELLS_START`) is regenerated
            (:data:`CELLS_PAGE`, docs/lab.md, from the command line).
        quick: the quick preset (seconds per run) rather than demo (minutes).
        models: where the trained models go (``APP/CELL``).
    """
    results = run_cells(apps, cells, pathlib.Path(models), quick=quick)
    out = pathlib.Path(out)
    if out.is_file():
        results = merge_cells(results, json.loads(out.read_text()))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    body = cells_markdown(results)
    update_block(pathlib.Path(readme), CELLS_START, CELLS_END, body)
    log(f"wrote {out} and the cells block of {readme}")
    print(body)
    return 0
