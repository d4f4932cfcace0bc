"""Per-epoch data order and resume state (cheap, in-process checks of shared.training)."""

import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from shared.config import BaseConfig
from shared.training import (
    HISTORY_FILE,
    EpochMetrics,
    ResumeState,
    each_epoch,
    epoch_measure,
    fit,
    read_history,
    shuffle_each_epoch,
    training_epoch,
    validation_subset,
)


def _order(dataset: tf.data.Dataset, epoch: int) -> list[int]:
    training_epoch().assign(epoch)
    return [int(x) for x in dataset.as_numpy_iterator()]


def test_the_order_of_an_epoch_depends_on_the_epoch_not_on_what_ran_before():
    for global_seed in (0, 1234):  # a global seed of 0 once broke tensor op seeds
        tf.random.set_seed(global_seed)
        dataset = shuffle_each_epoch(tf.data.Dataset.range(50), 50, seed=7)
        assert int(dataset.cardinality()) == 50
        first, second, third = _order(dataset, 0), _order(dataset, 1), _order(dataset, 2)
        assert sorted(first) == list(range(50))
        assert first != second and second != third  # reshuffled every epoch
        # A resumed process starts at epoch 2 without having iterated epochs 0 and 1.
        fresh = shuffle_each_epoch(tf.data.Dataset.range(50), 50, seed=7)
        assert _order(fresh, 2) == third
        assert _order(dataset, 1) == second


def test_each_epoch_builds_from_the_current_epoch():
    dataset = each_epoch(lambda epoch: tf.data.Dataset.from_tensors(epoch))
    assert [_order(dataset, epoch) for epoch in (0, 3, 1)] == [[0], [3], [1]]


def test_resume_state_restores_dropout_seeds_and_best_records(tmp_path):
    def model() -> keras.Model:
        inputs = keras.Input((4,))
        hidden = keras.layers.Dropout(0.5, seed=1, name="dropout")(inputs)
        built = keras.Model(inputs, keras.layers.Dense(1, name="dense")(hidden))
        built.compile("sgd", "mse")
        return built

    def callbacks(built: keras.Model) -> ResumeState:
        stopping = keras.callbacks.EarlyStopping(patience=3)
        checkpoint = keras.callbacks.ModelCheckpoint(
            str(tmp_path / "best.weights.h5"), save_best_only=True, save_weights_only=True
        )
        state = ResumeState(tmp_path / "backup" / "state.json", stopping, checkpoint)
        for callback in (stopping, checkpoint, state):
            callback.set_model(built)
            callback.on_train_begin()
        return state

    trained = model()
    saved = callbacks(trained)
    trained.fit(np.ones((8, 4)), np.ones((8, 1)), epochs=2, verbose=0)  # moves the seed state
    saved.early_stopping.best, saved.early_stopping.wait, saved.checkpoint.best = 0.5, 1, 0.5
    saved.on_epoch_end(1)
    seeds = [np.asarray(v) for v in trained.variables if v.name == "seed_generator_state"]

    resumed = model()
    restored = callbacks(resumed)
    restored.on_epoch_begin(2)
    assert restored.resumed_from == 2
    again = [np.asarray(v) for v in resumed.variables if v.name == "seed_generator_state"]
    assert len(again) == len(seeds) == 1
    np.testing.assert_array_equal(again[0], seeds[0])
    assert (restored.early_stopping.best, restored.early_stopping.wait) == (0.5, 1)
    assert restored.checkpoint.best == 0.5


def _dropout_model() -> keras.Model:
    keras.utils.set_random_seed(3)  # the same initial weights and dropout seeds every time
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(8, activation="relu", name="hidden")(inputs)
    hidden = keras.layers.Dropout(0.5, name="dropout")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(1, name="output")(hidden))
    model.compile("adam", "mse")
    return model


def test_epoch_metrics_reach_the_logs_first_and_leave_training_unchanged(tmp_path):
    features = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    targets = features.sum(axis=1, keepdims=True)
    train = tf.data.Dataset.from_tensor_slices((features, targets)).batch(16)
    validation = tf.data.Dataset.from_tensor_slices((features[:16], targets[:16])).batch(16)
    config = BaseConfig(epochs=3, early_stopping_patience=5)
    measured = []

    def measure(model: keras.Model) -> dict[str, float]:
        # A figure Keras does not log, read from the model as an app's decoding would.
        value = float(np.mean(np.asarray(model(features[:16], training=False))))
        measured.append(value)
        return {"val_mean_output": value}

    plain = _dropout_model()
    fit(plain, train, validation, config, tmp_path / "plain")
    watched = _dropout_model()
    history = fit(
        watched,
        train,
        validation,
        config,
        tmp_path / "watched",
        monitor="val_mean_output",
        mode="max",
        epoch_metrics=measure,
    )

    # Measuring draws no random numbers training uses: dropout masks, hence weights, are equal.
    for before, after in zip(plain.get_weights(), watched.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)
    assert len(measured) == 3
    assert history.history["val_mean_output"] == measured
    rows = read_history(tmp_path / "watched" / HISTORY_FILE)
    assert [row["val_mean_output"] for row in rows] == pytest.approx(measured, rel=1e-12)
    assert all(row["seconds"] > 0 for row in rows)
    # The checkpoint, placed before the CSV logger, saved weights by the new figure.
    assert (tmp_path / "watched" / "best.weights.h5").is_file()


def test_epoch_metrics_refuse_a_name_keras_already_logs():
    callback = EpochMetrics(lambda model: {"val_loss": 0.5})
    with pytest.raises(ValueError, match="val_loss"):
        callback.on_epoch_end(0, {"val_loss": 1.0})


def test_the_validation_subset_is_fixed_in_order_and_leaves_numpy_alone():
    columns = {"text": [f"row {i}" for i in range(50)], "label": np.arange(50)}
    np.random.seed(7)
    before = np.random.get_state()[1].copy()
    subset = validation_subset(columns, 10, seed=1234)
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    assert list(subset["label"]) == sorted(subset["label"]) and len(set(subset["label"])) == 10
    assert subset["text"] == [f"row {i}" for i in subset["label"]]
    assert validation_subset(columns, 10, seed=1234)["text"] == subset["text"]
    assert list(subset["label"]) != list(range(10))  # spread over the split, not its head
    assert validation_subset(columns, 80, seed=1234)["text"] == columns["text"]


def test_an_epoch_measure_scores_the_fixed_subset_with_one_predictor_per_model():
    columns = {"text": [f"row {i}" for i in range(50)], "label": np.arange(50)}
    built, scored = [], []

    def predictor_of(model):
        built.append(model)
        return ("predictor of", model)

    def score(predictor, rows):
        scored.append(predictor)
        return {"val_rows": float(len(rows["text"])), "val_first": float(rows["label"][0])}

    measure = epoch_measure(columns, 10, 1234, predictor_of, score)
    first, second = object(), object()
    subset = validation_subset(columns, 10, seed=1234)
    expected = {"val_rows": 10.0, "val_first": float(subset["label"][0])}
    assert measure(first) == measure(first) == expected
    assert built == [first]  # built once for the model in training
    assert measure(second) == expected and built == [first, second]  # a new model: rebuilt
    assert scored == [("predictor of", first)] * 2 + [("predictor of", second)]


def test_a_part_kept_apart_ends_with_its_own_best_epoch_and_the_rest_with_the_monitors():
    """Two heads that share no weights: the model is kept at the monitor's best epoch
    (epoch 1, by a figure that only gets worse), the kept-apart head at its own (the last)."""
    import tempfile

    rng = np.random.default_rng(1)
    x = rng.normal(size=(128, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32)).astype("float32")
    inputs = keras.Input((3,), name="x")
    first = keras.Sequential([keras.layers.Dense(1)], name="first")(inputs)
    second = keras.Sequential([keras.layers.Dense(1)], name="second")(inputs)
    model = keras.Model(inputs, {"a": first, "b": second})
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss={"a": "mse", "b": "mse"})
    data = tf.data.Dataset.from_tensor_slices((x, {"a": y, "b": y})).batch(32)
    snapshots = []

    def worsening(model_) -> dict[str, float]:  # epoch 1 stays best for the whole model
        snapshots.append(
            {
                name: [w.copy() for w in model_.get_layer(name).get_weights()]
                for name in ("first", "second")
            }
        )
        return {"val_worsening": float(len(snapshots))}

    with tempfile.TemporaryDirectory() as folder:
        history = fit(
            model,
            data,
            data,
            BaseConfig(epochs=4, early_stopping_patience=10),
            pathlib.Path(folder),
            monitor="val_worsening",
            mode="min",
            epoch_metrics=worsening,
            kept_apart={"second": ("val_b_loss", "min")},
        )
    losses = history.history["val_b_loss"]
    assert losses[-1] < losses[0]  # it learned, so its own best epoch is the last
    assert history.kept_apart["second"]["epoch"] == 4
    for kept, last in zip(
        model.get_layer("second").get_weights(), snapshots[-1]["second"], strict=True
    ):
        np.testing.assert_array_equal(kept, last)
    # The part not kept apart has the monitor's epoch 1 weights, not the last epoch's.
    for kept, first in zip(
        model.get_layer("first").get_weights(), snapshots[0]["first"], strict=True
    ):
        np.testing.assert_array_equal(kept, first)
    assert not np.allclose(snapshots[0]["first"][0], snapshots[-1]["first"][0])


def _averaging_fit(folder: pathlib.Path, epochs: int, average: bool = True) -> tuple:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(96, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3).astype("float32")
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(
        optimizer=keras.optimizers.SGD(0.05, use_ema=average, ema_momentum=0.9), loss="mse"
    )
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    history = fit(model, data, data, BaseConfig(epochs=epochs, early_stopping_patience=10), folder)
    return model, history, data


def test_weight_averaging_measures_and_keeps_the_averaged_weights(tmp_path):
    model, history, data = _averaging_fit(tmp_path / "run", epochs=3)
    losses = history.history["val_loss"]
    best = int(np.argmin(losses))
    # The kept weights are those the best epoch was measured with: the averages. Had the raw
    # weights been checkpointed, they would score differently from the logged figure.
    assert model.evaluate(data, verbose=0) == pytest.approx(losses[best], rel=1e-5)
    # And they are not the raw weights: the same run without averaging (the same updates)
    # measures other figures at every epoch.
    raw_losses = _averaging_fit(tmp_path / "raw", epochs=3, average=False)[1].history["val_loss"]
    assert all(a != pytest.approx(b, rel=1e-3) for a, b in zip(losses, raw_losses, strict=True))


def test_weight_averaging_resumes_to_the_same_weights(tmp_path):
    whole, _, _ = _averaging_fit(tmp_path / "whole", epochs=4)
    # A run killed after epoch 2 (its backup is kept), then run again to epoch 4.
    folder = tmp_path / "resumed"

    class Kill(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    original = keras.callbacks.TensorBoard
    try:
        keras.callbacks.TensorBoard = lambda *a, **k: Kill()
        with pytest.raises(KeyboardInterrupt):
            _averaging_fit(folder, epochs=4)
    finally:
        keras.callbacks.TensorBoard = original
    resumed, _, _ = _averaging_fit(folder, epochs=4)
    for a, b in zip(whole.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
