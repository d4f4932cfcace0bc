import keras
import numpy as np
import pytest

from shared.export import audit_builtin_ops, convert_to_tflite, fixed_shape_model
from shared.layers import (
    CELLS,
    IndRNNCell,
    JordanCell,
    make_cell,
    recurrent_bound,
    recurrent_layer,
    state_count,
    state_names,
)
from shared.runtime.litert import LiteRTModel
from shared.testing import check_layer

DATA = np.random.default_rng(0).normal(size=(2, 6, 3)).astype("float32")


@pytest.mark.parametrize(
    "make_layer",
    [
        lambda: keras.layers.RNN(JordanCell(4, output_units=5), return_sequences=True, name="rnn"),
        lambda: keras.layers.RNN(
            IndRNNCell(5, recurrent_max_abs=recurrent_bound(6)), return_sequences=True, name="rnn"
        ),
    ],
    ids=["jordan", "indrnn"],
)
def test_layer_harness(make_layer, tmp_path):
    check_layer(make_layer, DATA, tmp_path, expected_output_shape=(2, 6, 5))


def test_cell_config_round_trips():
    for cell in (
        JordanCell(3, output_units=2, output_activation="sigmoid"),
        IndRNNCell(3, recurrent_max_abs=1.5),
    ):
        clone = cell.__class__.from_config(cell.get_config())
        assert clone.get_config() == cell.get_config()


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_every_cell_converts_to_builtin_ops_and_matches_keras(cell):
    inputs = keras.Input(shape=(7, 3), name="inputs")
    outputs = recurrent_layer(cell, 4, return_sequences=True, name="rnn")(inputs)
    model = fixed_shape_model(keras.Model(inputs, outputs))
    content = convert_to_tflite(model)
    ops = audit_builtin_ops(content, cell)
    assert "WHILE" in ops  # the recurrence is a loop, not an unrolled or Flex graph
    data = DATA[:1, :, :].repeat(2, axis=1)[:, :7]
    runner = LiteRTModel(content)
    (result,) = runner(inputs=data).values()
    np.testing.assert_allclose(result, np.asarray(model(data)), atol=1e-5)


def test_names_and_state_counts():
    for cell in CELLS:
        assert isinstance(make_cell(cell, 3), keras.layers.Layer)
        assert state_count(cell) == len(state_names(cell))
    assert state_names("lstm") == ["state_h", "state_c"] and state_count("indrnn") == 1
    assert isinstance(recurrent_layer("jordan", 3).cell, JordanCell)
    # Layer keywords go to the RNN, the rest to the cell.
    layer = recurrent_layer("indrnn", 3, recurrent_max_abs=1.5, return_sequences=True, name="x")
    assert layer.name == "x" and layer.return_sequences and layer.cell.recurrent_max_abs == 1.5
    with pytest.raises(ValueError, match="cell"):
        make_cell("transformer", 3)
    with pytest.raises(ValueError, match="recurrent_max_abs"):
        IndRNNCell(3, recurrent_max_abs=0.0)


def test_indrnn_recurrent_weight_stays_within_its_bound():
    bound = recurrent_bound(10)  # 2^(1/10) ~ 1.072
    cell = IndRNNCell(8, recurrent_max_abs=bound, recurrent_initializer="ones")
    model = keras.Sequential([keras.Input((10, 3)), keras.layers.RNN(cell), keras.layers.Dense(1)])
    # A huge learning rate on a target far away pushes u hard, both ways.
    model.compile(optimizer=keras.optimizers.SGD(100.0), loss="mse")
    rng = np.random.default_rng(1)
    model.fit(rng.uniform(size=(16, 10, 3)), 1e3 * rng.normal(size=(16, 1)), epochs=2, verbose=0)
    recurrent = np.asarray(cell.recurrent_kernel)
    assert np.all(np.abs(recurrent) <= bound + 1e-6)
    assert np.isclose(np.abs(recurrent).max(), bound)  # the bound was reached, so it acted


def test_indrnn_step_is_elementwise():
    cell = IndRNNCell(2, activation="relu", kernel_initializer="ones", bias_initializer="zeros")
    cell.build((None, 1))
    cell.recurrent_kernel.assign(np.array([0.5, -1.0], "float32"))
    output, _ = cell(np.array([[1.0]], "float32"), [np.array([[2.0, 3.0]], "float32")])
    # relu(1 + [0.5 * 2, -1 * 3]) = relu([2, -2])
    np.testing.assert_allclose(np.asarray(output), [[2.0, 0.0]], atol=1e-6)


def test_jordan_state_is_the_previous_output():
    rng = np.random.default_rng(2)
    cell = JordanCell(3, output_units=2)
    rnn = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    sequence = rng.normal(size=(1, 4, 2)).astype("float32")
    outputs, final_state = rnn(sequence)
    w, u, v = (np.asarray(t) for t in (cell.kernel, cell.recurrent_kernel, cell.output_kernel))
    b, c = np.asarray(cell.bias), np.asarray(cell.output_bias)
    previous_output = np.zeros((1, 2), "float32")
    for step in range(4):
        hidden = np.tanh(sequence[:, step] @ w + previous_output @ u + b)
        previous_output = np.tanh(hidden @ v + c)  # the output is the next step's context
        np.testing.assert_allclose(np.asarray(outputs[:, step]), previous_output, atol=1e-5)
    np.testing.assert_allclose(np.asarray(final_state), previous_output, atol=1e-5)
