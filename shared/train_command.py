"""Train one app from the command line: its flags, its run, its summary.

``rnnapps train APP`` and each app's own script (``python -m apps.<app>.train``) both
come here, so an app's script needs neither the suite's CLI nor its list of apps.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys

from shared.errors import UserError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
USER_ERROR = 2


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage mistake in one line."""

    def error(self, message: str):
        raise UserError(message)


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of a training run (everything but the app's name)."""
    parser.add_argument("--preset", default="default", help="quick | demo | default")
    parser.add_argument("--data", default=None, help="default | tfds:NAME | a file or folder")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change one config field (rnnapps train APP --help lists them)",
    )
    parser.add_argument("--out", default=None, help="output folder (default saved_models/APP)")
    parser.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="train N runs (seed, seed+1, ...; same split) and record their mean and range",
    )
    parser.add_argument(
        "--json", action="store_true", help="end with the run's headline figures as one JSON line"
    )


def run_training(app, args: argparse.Namespace) -> dict:
    """Train, export and evaluate `app` with the parsed flags; print the summary."""
    from shared.config import resolve_config
    from shared.data.sources import parse_source
    from shared.workflow import train, train_seeds

    config = resolve_config(app.config_class, args.preset, args.set)
    source = parse_source(args.data)
    out = pathlib.Path(args.out) if args.out else pathlib.Path("saved_models") / app.name
    if args.seeds < 1:
        raise UserError(f"--seeds {args.seeds}: give 1 or more")
    if args.seeds == 1:
        metrics = train(app, config, source, out)
    else:
        metrics = train_seeds(app, config, source, out, args.seeds)
    if getattr(args, "json", False) and metrics:
        print(json.dumps({"app": app.name, "preset": args.preset, **app.headline(metrics)}))
    else:
        print_metrics_summary(app, metrics)
    return metrics


def print_metrics_summary(app, metrics: dict) -> None:
    if not metrics:
        return
    key = app.metric
    print(f"{app.name}: test {key} keras {metrics['metrics'].get(key):.4f}", end="")
    for variant, scores in metrics["litert"].items():
        print(
            f" | litert {variant} {scores.get(key):.4f} "
            f"({scores['size_bytes'] / 1e6:.2f} MB, {scores['latency_ms_p50']:.3f} ms)",
            end="",
        )
    print()
    figures = app.headline(metrics)
    for name, entry in figures["held_out"].items():
        value = entry["fp32"] if entry["fp32"] is not None else entry["keras"]
        if not isinstance(value, int | float):
            continue
        print(f"{app.name}: held-out {name} ({entry['description']}): {key} {value:.4f}")
    if figures["strongest"]:
        entry = figures["baselines"][figures["strongest"]]
        ratio = f", ours / it {entry['ratio']:.3f}" if entry["ratio"] is not None else ""
        tuned = "not tuned" if entry["tuned_on"] == "not tuned" else f"tuned on {entry['tuned_on']}"
        print(
            f"{app.name}: strongest baseline {figures['strongest']} {key} {entry['value']:.4f} "
            f"({tuned}{ratio})"
        )
    spread = metrics.get("spread") or {}
    if spread.get("keras"):
        keras_spread = spread["keras"]
        print(
            f"{app.name}: over seeds {spread['seeds']}: {key} mean {keras_spread['mean']:.4f}, "
            f"{keras_spread['min']:.4f} to {keras_spread['max']:.4f}"
        )


def import_tensorflow_quietly(command: str = "rnnapps") -> None:
    """Import TensorFlow with its C++ start-up chatter (CUDA probing) kept off stderr.

    Those lines come from native code before any Python logging setting applies,
    so the only way to keep a user's terminal to our own lines is to point file
    descriptor 2 elsewhere for the import. Python exceptions still surface.
    """
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        try:
            import tensorflow as tf
        except ImportError:
            raise UserError(
                f"{command}: needs TensorFlow, which the runtime-only install leaves out "
                '(pip install "rnn-apps[train]"); predict with the LiteRT engine does not'
            ) from None

        tf.config.list_physical_devices("GPU")  # the CUDA probe logs once, here
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def main(make_app, argv: list[str] | None = None) -> int:
    """An app's training script: ``sys.exit(main(MyApp, sys.argv[1:]))``.

    `make_app` is the App class (or any callable returning the App); it is called after
    the flags are parsed and TensorFlow is imported quietly.
    """
    parser = Parser(description="train, export and evaluate the app (see rnnapps train --help)")
    add_train_arguments(parser)
    try:
        args = parser.parse_args(argv)
        import_tensorflow_quietly("training")
        run_training(make_app(), args)
        return 0
    except UserError as error:
        print(f"train: error: {error}", file=sys.stderr)
        return USER_ERROR
