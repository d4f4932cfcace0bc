"""Per-epoch data order and resume state (cheap, in-process checks of shared.training)."""

import keras
import numpy as np
import tensorflow as tf

from shared.training import ResumeState, each_epoch, shuffle_each_epoch, training_epoch


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
