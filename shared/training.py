"""One training wiring for every app: strategy, seeds, callbacks, resumable fit."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import sys

import keras
import tensorflow as tf

from shared.config import BaseConfig
from shared.errors import UserError

STRATEGIES = ("default", "mirrored", "multi_worker")


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The tf.distribute strategy named in the config."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise UserError("strategy=multi_worker: set TF_CONFIG to describe the cluster")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise UserError(
        f"--set strategy={name}: unknown strategy (choose from {', '.join(STRATEGIES)})"
    )


def is_chief() -> bool:
    """True on the worker that writes checkpoints and exports (or when alone)."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    task = config.get("task", {})
    return task.get("type", "chief") == "chief" or (
        task.get("type") == "worker"
        and task.get("index", 0) == 0
        and "chief" not in config.get("cluster", {})
    )


def set_seeds(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and ask TF for deterministic kernels."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def fit(
    model: keras.Model,
    train_data: tf.data.Dataset,
    validation_data: tf.data.Dataset,
    config: BaseConfig,
    run_dir: pathlib.Path,
    monitor: str = "val_loss",
    mode: str = "min",
) -> keras.callbacks.History:
    """``model.fit`` with the callbacks every app wants.

    - BackupAndRestore in ``run_dir/backup``: a killed run resumes at the epoch
      it had reached when the same command runs again.
    - ModelCheckpoint of the best weights, EarlyStopping on `monitor`
      (restoring the best weights), CSV and TensorBoard logs in `run_dir`.
    """
    run_dir = pathlib.Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    saved_config = run_dir / "config.json"
    if saved_config.is_file() and saved_config.read_text() != config.to_json():
        # A backup of another config would not load into this model: start afresh.
        shutil.rmtree(run_dir / "backup", ignore_errors=True)
    saved_config.write_text(config.to_json())
    callbacks = [
        keras.callbacks.BackupAndRestore(str(run_dir / "backup")),
        keras.callbacks.ModelCheckpoint(
            str(run_dir / "best.weights.h5"),
            monitor=monitor,
            mode=mode,
            save_best_only=True,
            save_weights_only=True,
        ),
        keras.callbacks.EarlyStopping(
            monitor=monitor,
            mode=mode,
            patience=config.early_stopping_patience,
            restore_best_weights=True,
        ),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
        keras.callbacks.TensorBoard(str(run_dir / "logs"), write_graph=False, profile_batch=0),
    ]
    verbose = (
        1 if sys.stderr.isatty() else 2
    )  # a progress bar on a terminal, a line per epoch in logs
    return model.fit(
        train_data,
        validation_data=validation_data,
        epochs=config.epochs,
        callbacks=callbacks,
        verbose=verbose,
    )
