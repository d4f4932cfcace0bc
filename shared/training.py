"""One training wiring for every app: strategy, seeds, callbacks, resumable fit.

A killed run resumes where it stopped and ends exactly as an uninterrupted run
would (same seed, same machine). Keras' BackupAndRestore keeps the weights, the
optimizer and the epoch; three more things decide what the rest of a run does,
and this module makes each of them a function of the epoch or saves it:

- the order of the training data: apps shuffle with ``shuffle_each_epoch``,
  whose seed is derived from (config seed, epoch) instead of a tf.data seed
  generator that advances once per iterator this *process* created;
- the random state of dropout (Keras ``SeedGenerator`` states are not in the
  backup's weights file);
- the best-so-far bookkeeping of EarlyStopping and ModelCheckpoint, and the
  best weights themselves (read back from ``best.weights.h5``, not held in memory).
"""

from __future__ import annotations

import csv
import json
import math
import os
import pathlib
import shutil
import sys
import time
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from shared.config import BaseConfig
from shared.data.splits import Columns, num_rows, take
from shared.errors import UserError

STRATEGIES = ("default", "mirrored", "multi_worker")
STATE_FILE = "resume_state.json"  # in the backup folder, beside Keras' own files
HISTORY_FILE = "history.csv"  # in the run folder: one row per epoch, with `seconds`


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


def _task() -> dict:
    try:
        config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    except json.JSONDecodeError:
        raise UserError("TF_CONFIG: not valid JSON") from None
    return config


def is_chief() -> bool:
    """True on the worker that writes checkpoints and exports (or when alone)."""
    config = _task()
    task = config.get("task", {})
    return task.get("type", "chief") == "chief" or (
        task.get("type") == "worker"
        and task.get("index", 0) == 0
        and "chief" not in config.get("cluster", {})
    )


def worker_name() -> str:
    """This process's task in TF_CONFIG, e.g. ``worker1`` ("chief" when alone)."""
    task = _task().get("task", {})
    return f"{task.get('type', 'chief')}{task.get('index', '')}" if task else "chief"


def set_seeds(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and ask TF for deterministic kernels."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


_TRAINING_EPOCH: tf.Variable | None = None
_EACH_EPOCH_GRAPH_SEED = 87654321


def training_epoch() -> tf.Variable:
    """The epoch ``fit`` is training, as a variable a tf.data pipeline reads.

    ``fit`` sets it at the start of every epoch, before Keras creates that
    epoch's iterator, so a pipeline built with ``each_epoch`` sees the epoch
    index that Keras (and BackupAndRestore, after a resume) is at.
    """
    global _TRAINING_EPOCH
    if _TRAINING_EPOCH is None:
        with tf.init_scope():  # eager, even if first asked for inside a traced function
            _TRAINING_EPOCH = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
    return _TRAINING_EPOCH


def epoch_seed(seed: int, epoch: tf.Tensor) -> tf.Tensor:
    """An int64 scalar seed that depends only on (`seed`, `epoch`)."""
    # tf.data reduces seeds modulo 2**31 - 1: distinct for a million epochs of any seed.
    return tf.constant(seed, tf.int64) * 1_000_003 + tf.cast(epoch, tf.int64)


def each_epoch(
    build: Callable[[tf.Tensor], tf.data.Dataset], cardinality: int = -1
) -> tf.data.Dataset:
    """A dataset that ``build(epoch)`` makes afresh for every epoch of ``fit``.

    Random choices inside `build` that take ``epoch_seed(seed, epoch)`` are
    then the same in a resumed run as in an uninterrupted one.

    Args:
        build: epoch (an int64 scalar tensor) -> the dataset for that epoch.
        cardinality: the number of elements of every epoch, when known; Keras
            uses it for the progress bar and to end an epoch.
    """
    epoch = training_epoch()

    def build_in_graph(_) -> tf.data.Dataset:
        # tf.data pairs an op seed with the graph's seed, and when that one is 0 it
        # compares the (here symbolic) op seed in Python, which fails. A fixed graph seed
        # avoids that and makes the draws depend on (seed, epoch) alone.
        tf.compat.v1.get_default_graph().seed = _EACH_EPOCH_GRAPH_SEED
        return build(epoch.read_value())

    dataset = tf.data.Dataset.from_tensors(tf.constant(0, tf.int64)).flat_map(build_in_graph)
    if cardinality >= 0:
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(cardinality))
    return dataset


def shuffle_each_epoch(dataset: tf.data.Dataset, buffer_size: int, seed: int) -> tf.data.Dataset:
    """`dataset` shuffled in an order that depends only on (`seed`, epoch).

    Use it instead of ``dataset.shuffle(..., reshuffle_each_iteration=True)``
    for training data: that one's order depends on how many iterators this
    process has made, so a resumed run would replay epoch 0's order.
    """
    return each_epoch(
        lambda epoch: dataset.shuffle(buffer_size, seed=epoch_seed(seed, epoch)),
        int(dataset.cardinality()),
    )


def with_epoch_randoms(dataset: tf.data.Dataset, seed: int) -> tf.data.Dataset:
    """`dataset`'s elements paired with an int64 random value that changes every epoch.

    The values come from a stream seeded by ``epoch_seed(seed, epoch)``: a stateless draw
    seeded by one (augmentation, token dropout ...) differs from epoch to epoch, is the same
    in a resumed run, and cannot be reordered by a parallel map. Elements are
    ``(element, random_value)``; the epoch keeps `dataset`'s length.
    """
    randoms = each_epoch(lambda epoch: tf.data.Dataset.random(seed=epoch_seed(seed, epoch)))
    paired = tf.data.Dataset.zip((dataset, randoms))
    # Zipping with the endless random stream must not hide how many elements an epoch has.
    cardinality = int(dataset.cardinality())
    if cardinality >= 0:
        paired = paired.apply(tf.data.experimental.assert_cardinality(cardinality))
    return paired


def _seed_states(model: keras.Model) -> list[keras.Variable]:
    # Dropout and recurrent dropout draw from these counters; they are not in the weights file.
    return [v for v in model.variables if v.name == "seed_generator_state"]


class ResumeState(keras.callbacks.Callback):
    """Keeps what BackupAndRestore does not, so a resumed run repeats an uninterrupted one.

    At the end of every epoch it writes `path` (atomically): the epoch, the
    model's random-seed states and the best-so-far records of `early_stopping`
    and `checkpoint`. At the first epoch of a run it restores them if they
    belong to the epoch Keras resumes at, and it tells ``training_epoch()``
    which epoch each one is.

    Args:
        path: the state file, inside the BackupAndRestore folder so it is
            deleted with it when training finishes.
        early_stopping: the run's EarlyStopping callback.
        checkpoint: the run's best-only ModelCheckpoint callback.
    """

    def __init__(
        self,
        path: pathlib.Path,
        early_stopping: keras.callbacks.EarlyStopping,
        checkpoint: keras.callbacks.ModelCheckpoint,
    ):
        super().__init__()
        self.path = pathlib.Path(path)
        self.early_stopping = early_stopping
        self.checkpoint = checkpoint
        self.resumed_from: int | None = None
        self._first_epoch = True

    def on_train_begin(self, logs=None):
        self._first_epoch = True

    def on_epoch_begin(self, epoch, logs=None):
        if _TRAINING_EPOCH is not None:  # made by a pipeline that depends on the epoch
            _TRAINING_EPOCH.assign(epoch)
        if self._first_epoch:
            self._first_epoch = False
            if epoch > 0:
                self.resumed_from = epoch
                self._restore(epoch)

    def on_epoch_end(self, epoch, logs=None):
        stopping = self.early_stopping
        state = {
            "epoch": epoch + 1,
            # In model order: names of seed generators get numbered per process, not per model.
            "seed_states": [np.asarray(v).tolist() for v in _seed_states(self.model)],
            "early_stopping": {
                "wait": stopping.wait,
                "best": _to_json_number(stopping.best),
                "best_epoch": stopping.best_epoch,
            },
            "checkpoint_best": _to_json_number(self.checkpoint.best),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps(state))
        os.replace(partial, self.path)

    def _restore(self, epoch: int) -> None:
        state = json.loads(self.path.read_text()) if self.path.is_file() else {}
        if state.get("epoch") != epoch:
            # Killed between Keras' backup and ours: the weights resume, the rest starts afresh.
            print(
                f"[rnnapps] resuming at epoch {epoch + 1} without the saved random and "
                "early-stopping state: metrics may differ slightly from an uninterrupted run",
                file=sys.stderr,
            )
            return
        variables = _seed_states(self.model)
        if len(variables) != len(state["seed_states"]):
            raise ValueError(f"{self.path}: saved for another model; delete its folder")
        for variable, value in zip(variables, state["seed_states"], strict=True):
            variable.assign(np.asarray(value, dtype=variable.dtype))
        records = state["early_stopping"]
        self.early_stopping.wait = records["wait"]
        self.early_stopping.best = _from_json_number(records["best"])
        self.early_stopping.best_epoch = records["best_epoch"]
        self.checkpoint.best = _from_json_number(state["checkpoint_best"])
        print(f"[rnnapps] resumed at epoch {epoch + 1} from {self.path.parent}", file=sys.stderr)


class BestPart(keras.callbacks.Callback):
    """Keeps one sub-model's weights from its own best epoch, by its own validation figure.

    For a model whose parts share no weights and answer different questions (speech: the
    keyword spotter and the transcriber), the epoch that is best for one is not for the
    other. ``fit`` keeps the whole model's best epoch by its monitor, then loads each such
    part's own best weights over it (``restore``). The best value so far is written beside
    the weights, so a resumed run keeps the same part as an uninterrupted one.

    Args:
        layer: the sub-model's layer name in the training model.
        monitor, mode: its figure in the epoch logs (``val_transcript_loss``, ``"min"``).
        path: where its best weights go (``<run_dir>/best_<layer>.weights.h5``).
    """

    def __init__(self, layer: str, monitor: str, mode: str, path: pathlib.Path):
        super().__init__()
        self.layer, self.monitor, self.mode, self.path = layer, monitor, mode, pathlib.Path(path)
        self.record = self.path.with_suffix(".json")
        self.best: float | None = None
        self.epoch: int | None = None
        if self.record.is_file() and self.path.is_file():
            saved = json.loads(self.record.read_text())
            self.best, self.epoch = saved["best"], saved["epoch"]

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not math.isfinite(float(value)):
            return
        better = self.best is None or (
            value < self.best if self.mode == "min" else value > self.best
        )
        if better:
            self.best, self.epoch = float(value), int(epoch)
            self.model.get_layer(self.layer).save_weights(str(self.path))
            self.record.write_text(json.dumps({"best": self.best, "epoch": self.epoch}))

    def restore(self, model: keras.Model) -> dict | None:
        """Load the part's best weights into `model`; what was kept, or None if nothing was."""
        if not self.path.is_file():
            return None
        model.get_layer(self.layer).load_weights(str(self.path))
        return {
            "monitor": self.monitor,
            "mode": self.mode,
            "epoch": self.epoch + 1,
            "value": self.best,
        }


class AveragedWeights(keras.callbacks.SwapEMAWeights):
    """Keras's ``SwapEMAWeights(swap_on_epoch=True)``, safe to resume.

    At each epoch's end the optimizer's moving averages of the weights are swapped into the
    model (and the raw weights into the averages' slots), so the measures, the checkpoint
    and the backup that follow all see the averaged weights; the next epoch swaps back
    before training on. A backup is therefore written in the swapped state: a resumed run
    (`resumed`) starts swapped, and its first epoch swaps back as an uninterrupted run's does.
    """

    def __init__(self, resumed: bool = False):
        super().__init__(swap_on_epoch=True)
        self.resumed = resumed

    def on_train_begin(self, logs=None):
        self._ema_weights_in_model = self.resumed


class EpochSeconds(keras.callbacks.Callback):
    """Adds ``seconds`` to every epoch's logs: wall time since the run began, across resumes.

    Placed before the CSV logger, it puts the time each epoch ended into the history, so
    the time a run took to reach a quality (``rnnapps bench``) is read, not guessed. A resumed
    run continues from the last time in `history_path`.
    """

    def __init__(self, history_path: pathlib.Path):
        super().__init__()
        self.history_path = pathlib.Path(history_path)
        self._start = time.time()
        self._offset = 0.0
        self._first_epoch = True

    def on_train_begin(self, logs=None):
        self._start, self._offset, self._first_epoch = time.time(), 0.0, True

    def on_epoch_begin(self, epoch, logs=None):
        if self._first_epoch:
            self._first_epoch = False
            earlier = [row for row in read_history(self.history_path) if row["epoch"] < epoch]
            if epoch > 0 and earlier:
                self._offset = earlier[-1].get("seconds", 0.0)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["seconds"] = self._offset + time.time() - self._start


EpochMeasure = Callable[[keras.Model], dict[str, float]]


class EpochMetrics(keras.callbacks.Callback):
    """Adds an app's own validation figures (BLEU, weighted F1 ...) to every epoch's logs.

    Some issue targets are not Keras metrics: they need a decoding loop or a whole-corpus
    score. `measure` computes them from the model at each epoch's end, on a fixed subset of
    the validation split (see :func:`validation_subset`). Placed before the callbacks that
    read the logs (checkpoint, early stopping, ``EpochSeconds``, the CSV logger), its values
    land in ``history.csv``, so ``rnnapps bench`` can time reaching the target; the epoch's
    ``seconds`` include the time measuring took, since a run pays for it.

    `measure` must not draw from any random state that training uses (it calls the model
    with ``training=False``), so that a run with it trains exactly as one without it, and a
    resumed run as an uninterrupted one.

    Args:
        measure: the model -> {log name: value}, names such as ``val_bleu``.

    Example:
        >>> callback = EpochMetrics(lambda model: {"val_answer": 42.0})
    """

    def __init__(self, measure: EpochMeasure):
        super().__init__()
        self.measure = measure
        self.seconds: list[float] = []  # what measuring took, epoch by epoch of this process

    def on_epoch_end(self, epoch, logs=None):
        started = time.perf_counter()
        values = {name: float(value) for name, value in self.measure(self.model).items()}
        self.seconds.append(time.perf_counter() - started)
        clashing = sorted(set(values) & set(logs or {}))
        if clashing:  # ours: two figures under one name would silently replace one another
            raise ValueError(f"epoch metrics {clashing} are already in the logs")
        if logs is not None:
            logs.update(values)
        shown = ", ".join(f"{name} {value:.4g}" for name, value in values.items())
        print(
            f"[rnnapps] epoch {epoch + 1}: {shown} ({self.seconds[-1]:.1f} s to measure)",
            file=sys.stderr,
            flush=True,
        )


def validation_subset(columns: Columns, count: int, seed: int) -> Columns:
    """At most `count` rows of the split `columns`, the same ones every epoch and every run.

    A seeded random choice rather than the first rows, which are often one domain or one
    kind; the rows keep their order. A generator of its own leaves NumPy's global state,
    and so training, untouched.
    """
    rows = num_rows(columns)
    if count >= rows:
        return dict(columns)
    chosen = np.random.default_rng(seed).choice(rows, size=count, replace=False)
    return take(columns, np.sort(chosen))


def epoch_measure(
    validation: Columns,
    count: int,
    seed: int,
    predictor_of: Callable[[keras.Model], Any],
    score: Callable[[Any, Columns], dict[str, float]],
) -> EpochMeasure:
    """The usual ``App.epoch_metrics`` measure: ``score(predictor, columns)`` on `count` fixed
    rows of `validation` (:func:`validation_subset` with `seed`), where the predictor is
    ``predictor_of(model)`` built once per model. Built over the model in training, it shares
    the model's layers (or reads its weights), so it follows the training."""
    columns = validation_subset(validation, count, seed)
    built: list = []  # [the model, its predictor]

    def measure(model: keras.Model) -> dict[str, float]:
        if not built or built[0] is not model:
            built[:] = [model, predictor_of(model)]
        return score(built[1], columns)

    return measure


def read_history(path: pathlib.Path) -> list[dict]:
    """The rows of a run's ``history.csv`` as numbers (``epoch`` 0-based), [] if none."""
    path = pathlib.Path(path)
    if not path.is_file():
        return []
    with path.open(newline="") as file:
        rows = [
            {key: float(value) for key, value in row.items() if value}
            for row in csv.DictReader(file)
        ]
    by_epoch = {}  # a run killed after logging an epoch but before its backup logs it twice
    for row in rows:
        row["epoch"] = int(row["epoch"])
        by_epoch[row["epoch"]] = row
    return [by_epoch[epoch] for epoch in sorted(by_epoch)]


def _to_json_number(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else repr(value)  # "inf", "nan": JSON has no such numbers


def _from_json_number(value):
    return float(value) if isinstance(value, str) else value


def distributed_options() -> tf.data.Options:
    """Shard every worker's input by element (our datasets are in-memory, not files)."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return options


def _build_for_distribution(model: keras.Model, train_data: tf.data.Dataset) -> None:
    """Build `model`'s loss, metrics and optimizer from the data's shapes, before ``fit``.

    Keras 3.15 builds them under a strategy by averaging the first distributed
    batch across replicas (``strategy.reduce("MEAN", batch)``), which raises
    under MultiWorkerMirroredStrategy and would all-reduce token ids. The
    shapes are all it needs: build from the dataset's element spec instead and
    tell ``fit`` the model is built. The shapes are those of one replica's share of a global
    batch: a model with a fixed batch (stateful layers) is built for that share.
    """
    replicas = model.distribute_strategy.num_replicas_in_sync

    def per_replica(spec: tf.TensorSpec) -> tf.TensorSpec:
        if spec.shape.rank and spec.shape[0] is not None and spec.shape[0] % replicas == 0:
            return tf.TensorSpec([spec.shape[0] // replicas, *spec.shape[1:]], spec.dtype)
        return spec

    with model.distribute_strategy.scope():
        model._symbolic_build(
            data_batch=tf.nest.map_structure(per_replica, train_data.element_spec)
        )

    def already_built(iterator=None, data_batch=None) -> None:
        return None

    model._maybe_symbolic_build = already_built


def _average_logs_across_workers() -> None:
    """Make Keras 3.15 ``fit`` average its logs correctly under MultiWorkerMirroredStrategy.

    Keras averages each per-replica log value with ``strategy.reduce("MEAN", v, axis=0)``,
    which fails on the scalar losses and metrics every model logs ("Invalid reduction
    dimension 0 for input with 0 dimensions", tensorflow/tensorflow#72388). Averaging
    across replicas only (``axis=None``) is what the single-worker branch does.
    """
    from keras.src.backend.tensorflow import trainer

    original = trainer.reduce_per_replica
    if getattr(original, "averages_across_workers", False):
        return

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and isinstance(
            strategy, tf.distribute.MultiWorkerMirroredStrategy
        ):
            return tf.nest.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return original(values, strategy, reduction)

    reduce_per_replica.averages_across_workers = True
    trainer.reduce_per_replica = reduce_per_replica


def _reduces_before_clipping(optimizer: keras.optimizers.Optimizer) -> bool:
    """True where ``_clip_after_all_reduce`` moves `optimizer`'s all-reduce before clipping."""
    context = tf.distribute.get_replica_context()
    return (
        bool(optimizer.clipnorm or optimizer.global_clipnorm or optimizer.clipvalue)
        and not optimizer.gradient_accumulation_steps  # clips only every nth step: left as is
        and context is not None
        and context.num_replicas_in_sync > 1
    )


def _clip_after_all_reduce() -> None:
    """Make Keras 3.15 clip the replicas' summed gradient, as one device clips its gradient.

    Keras clips (``clipnorm``, ``global_clipnorm``, ``clipvalue``) in ``BaseOptimizer.apply``,
    before its TF optimizer sums the replicas' gradients (``_backend_update_step``): each
    replica's share is clipped on its own, so R replicas may step up to R times as far as one
    device. Measured on text generation's quick preset (global norm 1, 2 replicas): the run
    equalled an unclipped one, not the clipped single-device run. With clipping on, this sums
    the gradients first, clips the sum and skips the later (now redundant) sum.
    """
    from keras.src.backend.tensorflow.optimizer import TFOptimizer

    if getattr(TFOptimizer, "clips_after_all_reduce", False):
        return
    clip_gradients, all_reduce_sum_gradients = (
        TFOptimizer._clip_gradients,
        TFOptimizer._all_reduce_sum_gradients,
    )

    def sum_then_clip(self, grads):
        if _reduces_before_clipping(self):
            present = [gradient for gradient in grads if gradient is not None]
            summed = iter(
                tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, present)
            )
            grads = [None if gradient is None else next(summed) for gradient in grads]
        return clip_gradients(self, grads)

    def sum_unless_summed(self, grads_and_vars):
        if _reduces_before_clipping(self):
            return list(grads_and_vars)
        return all_reduce_sum_gradients(self, grads_and_vars)

    TFOptimizer._clip_gradients = sum_then_clip
    TFOptimizer._all_reduce_sum_gradients = sum_unless_summed
    TFOptimizer.clips_after_all_reduce = True


def fit(
    model: keras.Model,
    train_data: tf.data.Dataset,
    validation_data: tf.data.Dataset,
    config: BaseConfig,
    run_dir: pathlib.Path,
    monitor: str = "val_loss",
    mode: str = "min",
    epoch_metrics: EpochMeasure | None = None,
    kept_apart: dict[str, tuple[str, str]] | None = None,
) -> keras.callbacks.History:
    """``model.fit`` with the callbacks every app wants.

    - BackupAndRestore in ``run_dir/backup`` (plus ``ResumeState``): a killed
      run resumes at the epoch it had reached when the same command runs again,
      and ends with the same weights and metrics as an uninterrupted run.
    - ModelCheckpoint of the best weights, EarlyStopping on `monitor`; the best
      weights are loaded back at the end. CSV and TensorBoard logs in `run_dir`.
    - Both datasets are sharded by element across workers (global batches); under a
      strategy, gradients are clipped after the replicas' gradients are summed, as on one device.
    - With `epoch_metrics` (``App.epoch_metrics``), the app's own validation figures join
      every epoch's logs, first of all, so every later callback and the history see them.
    - With `kept_apart` (``App.kept_apart``: layer name -> (monitor, mode)), each of those
      sub-models ends with its own best epoch's weights (``BestPart``);
      ``history.kept_apart`` says which epoch each came from.
    - With an optimizer built with ``use_ema=True`` (weight averaging), every epoch's
      validation, measures, checkpoint and backup see the averaged weights
      (``AveragedWeights``), and the model ends with the best epoch's averaged weights.

    ``history.epoch`` holds the epoch indices this call trained (after a
    resume, the later ones only).
    """
    run_dir = pathlib.Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    saved_config = run_dir / "config.json"
    backup = run_dir / "backup"
    if saved_config.is_file() and saved_config.read_text() != config.to_json():
        # A backup of another config would not load into this model: start afresh.
        shutil.rmtree(backup, ignore_errors=True)
    saved_config.write_text(config.to_json())
    best_weights = run_dir / "best.weights.h5"
    history_csv = run_dir / HISTORY_FILE
    parts = [
        BestPart(layer, monitor_, mode_, run_dir / f"best_{layer}.weights.h5")
        for layer, (monitor_, mode_) in (kept_apart or {}).items()
    ]
    if not backup.exists():
        # A fresh run: an old best must not come back, nor an old run's epochs.
        best_weights.unlink(missing_ok=True)
        history_csv.unlink(missing_ok=True)
        for part in parts:
            part.path.unlink(missing_ok=True)
            part.record.unlink(missing_ok=True)
            part.best = part.epoch = None
    checkpoint = keras.callbacks.ModelCheckpoint(
        str(best_weights),
        monitor=monitor,
        mode=mode,
        save_best_only=True,
        save_weights_only=True,
    )
    # The best weights are read back from `best_weights` after fit, not kept in memory,
    # so that a resumed run restores the same ones as an uninterrupted run.
    early_stopping = keras.callbacks.EarlyStopping(
        monitor=monitor, mode=mode, patience=config.early_stopping_patience
    )
    callbacks = [
        # Two generations of backup: a kill while one is being written leaves the other.
        keras.callbacks.BackupAndRestore(str(backup), double_checkpoint=True),
        checkpoint,
        early_stopping,
        EpochSeconds(history_csv),  # before the CSV logger, which then records the time
        keras.callbacks.CSVLogger(str(history_csv), append=True),
        keras.callbacks.TensorBoard(str(run_dir / "logs"), write_graph=False, profile_batch=0),
        *parts,
        ResumeState(backup / STATE_FILE, early_stopping, checkpoint),  # last: after the above
    ]
    if epoch_metrics is not None:
        # First: an epoch is backed up, checkpointed and logged only once it has been measured.
        callbacks.insert(0, EpochMetrics(epoch_metrics))
    if getattr(model.optimizer, "use_ema", False):
        # Before everything: the averaged weights are what each epoch is measured and kept by.
        callbacks.insert(0, AveragedWeights(resumed=backup.exists()))
    if model.distribute_strategy is not tf.distribute.get_strategy():
        _build_for_distribution(model, train_data)
        _clip_after_all_reduce()
    if isinstance(model.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
        _average_logs_across_workers()
    verbose = (
        1 if sys.stderr.isatty() else 2
    )  # a progress bar on a terminal, a line per epoch in logs
    history = model.fit(
        train_data.with_options(distributed_options()),
        validation_data=validation_data.with_options(distributed_options()),
        epochs=config.epochs,
        callbacks=callbacks,
        verbose=verbose,
    )
    if best_weights.is_file():
        model.load_weights(str(best_weights))
    history.kept_apart = {}
    for part in parts:
        kept = part.restore(model)
        if kept is not None:
            history.kept_apart[part.layer] = kept
    return history
