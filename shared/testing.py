"""Test helpers shared by every layer and app test."""

from __future__ import annotations

import copy
import pathlib
from collections.abc import Callable

import keras
import numpy as np


def check_layer(
    make_layer: Callable[[], keras.layers.Layer],
    input_data: np.ndarray,
    tmp_path: pathlib.Path,
    expected_output_shape: tuple | None = None,
    trainable: bool = True,
) -> np.ndarray:
    """Check any layer the way keras-hub's harness does, and return its eager output.

    - ``get_config`` round-trips through ``from_config`` to an equal config;
    - a symbolic call and an eager call give the expected shape;
    - one training step runs (when `trainable`) and changes the weights;
    - a model holding the layer saves to ``.keras`` and reloads with the same outputs.
    """
    layer = make_layer()
    config = layer.get_config()
    # A copy: some from_config (keras.layers.RNN's) pop keys from the dict they are given.
    clone = layer.__class__.from_config(copy.deepcopy(config))
    assert clone.get_config() == config, "get_config does not round-trip"

    dtype = "string" if input_data.dtype.kind in "OUS" else str(input_data.dtype)
    symbolic_input = keras.Input(shape=input_data.shape[1:], dtype=dtype)
    symbolic_output = layer(symbolic_input)
    eager_output = np.asarray(layer(input_data))
    if expected_output_shape is not None:
        assert tuple(eager_output.shape) == tuple(expected_output_shape), eager_output.shape
        assert tuple(symbolic_output.shape[1:]) == tuple(expected_output_shape[1:])

    model = keras.Model(symbolic_input, symbolic_output)
    if trainable and model.trainable_weights:
        before = [np.array(w) for w in model.trainable_weights]
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        model.fit(input_data, np.ones_like(eager_output), epochs=1, verbose=0)
        after = [np.array(w) for w in model.trainable_weights]
        assert any(not np.allclose(a, b) for a, b in zip(before, after, strict=True)), (
            "a training step did not change any weight"
        )
    expected = np.asarray(model(input_data))
    path = pathlib.Path(tmp_path) / "layer_model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(np.asarray(reloaded(input_data)), expected, atol=1e-5)
    return eager_output
