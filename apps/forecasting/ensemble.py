"""An ensemble of separately trained forecasting runs, exported as one model.

    rnnapps train forecasting --seeds 3
    python -m apps.forecasting.ensemble saved_models/forecasting \\
        saved_models/.forecasting.seeds/seed-1235 saved_models/.forecasting.seeds/seed-1236

Each run's encoder and head become one member of a ``members=N`` graph (``model.py``), whose
forecast is the members' mean quantiles; the step model carries every member's state. The
intervals are then scaled and the anomaly threshold chosen on the validation windows, as
after any training (``ForecastingApp.after_training``), and the model is exported and
evaluated like a trained one (``--out``, default ``saved_models/forecasting_ensemble``).
Training the members in one graph lost on validation (README, "Choices made on
validation"); runs trained apart, each with its own batches and its own best epoch, are
what averaged well there.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import sys

import keras

from apps.forecasting.config import ForecastingConfig
from apps.forecasting.model import build_core, member_count, member_suffix
from shared.errors import UserError

# The layers that hold a member's weights; the rest of the graph has none.
MEMBER_LAYERS = ("encoder", "state_dropout", "head_1", "head_2", "head_out", "quantiles")


def merge_members(cores: list[keras.Model], config: ForecastingConfig) -> keras.Model:
    """A ``members=len(cores)`` core whose member ``i`` holds the weights of ``cores[i]``
    (each a one-member core built from `config`)."""
    if len(cores) < 2:
        raise UserError(f"an ensemble needs at least 2 runs, got {len(cores)}")
    merged = build_core(dataclasses.replace(config, members=len(cores)))
    for index, core in enumerate(cores):
        if member_count(core) != 1:
            raise UserError(f"run {index + 1} is itself an ensemble ({member_count(core)} members)")
        stray = [
            layer.name for layer in core.layers if layer.weights and layer.name not in MEMBER_LAYERS
        ]
        if stray:  # a layer this merge does not know would be silently left at its init
            raise UserError(f"run {index + 1} has weights in layers {stray} a member does not")
        for name in MEMBER_LAYERS:
            merged.get_layer(name + member_suffix(index)).set_weights(
                core.get_layer(name).get_weights()
            )
    return merged


def run_configs(folders: list[pathlib.Path]) -> list[ForecastingConfig]:
    """Each run's saved config; refused unless they differ in their seed alone."""
    from shared.config import load_config

    configs = []
    for folder in folders:
        needed = ("config.json", "model.keras", "metrics.json")  # what the merge reads
        if not all((folder / name).is_file() for name in needed):
            raise UserError(f"{folder}: not a trained forecasting model (no {', '.join(needed)})")
        configs.append(load_config(ForecastingConfig, folder / "config.json"))
    first = dataclasses.replace(configs[0], seed=0)
    for folder, config in zip(folders[1:], configs[1:], strict=True):
        other = dataclasses.replace(config, seed=0)
        if other != first:
            differing = [
                field.name
                for field in dataclasses.fields(first)
                if getattr(first, field.name) != getattr(other, field.name)
            ]
            raise UserError(
                f"{folder}: trained with other settings than {folders[0]} ({', '.join(differing)}); "
                "an ensemble's runs may differ in their seed alone"
            )
    return configs


def main(argv: list[str] | None = None) -> int:
    from shared.data.sources import parse_source
    from shared.engines import load_keras_model
    from shared.train_command import print_metrics_summary
    from shared.workflow import export_and_evaluate, log

    parser = argparse.ArgumentParser(
        prog="python -m apps.forecasting.ensemble",
        description="Export separately trained forecasting runs (same settings, other seeds) "
        "as one model whose forecast is their mean.",
    )
    parser.add_argument("runs", nargs="+", help="two or more trained model folders")
    parser.add_argument("--out", default="saved_models/forecasting_ensemble")
    args = parser.parse_args(argv)
    try:
        folders = [pathlib.Path(run) for run in args.runs]
        configs = run_configs(folders)
        from apps.forecasting.app import ForecastingApp

        app = ForecastingApp()
        metrics = [json.loads((folder / "metrics.json").read_text()) for folder in folders]
        config = dataclasses.replace(configs[0], members=len(folders))
        source = metrics[0].get("source", "default")
        log(f"forecasting: an ensemble of {len(folders)} runs (seeds {[c.seed for c in configs]})")
        splits = app.load_data(config, parse_source(source))
        merged = merge_members([load_keras_model(folder) for folder in folders], config)
        adjusted = app.after_training(merged, config, splits)
        log(f"forecasting: after merging: {json.dumps(adjusted)}")
        result = export_and_evaluate(
            app,
            merged,
            config,
            splits,
            pathlib.Path(args.out),
            source=source,
            training={
                "ensemble_of": [str(folder) for folder in folders],
                "seeds": [c.seed for c in configs],
                "seconds": round(sum(m["training"]["seconds"] for m in metrics), 1),
                "after_training": adjusted,
            },
        )
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print_metrics_summary(app, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
