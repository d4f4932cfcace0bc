"""Pick a recurrent layer or cell by name, so every app's config can say ``cell=...``.

Names: "elman" (= "simple_rnn", Keras's SimpleRNN), "jordan" (:class:`JordanCell`),
"lstm", "gru" and "indrnn" (:class:`IndRNNCell`). Keras's own layers are used where Keras
has one; the other cells are wrapped by ``keras.layers.RNN``.
"""

from __future__ import annotations

import functools

import keras

from shared.layers.indrnn_cell import IndRNNCell
from shared.layers.jordan_cell import JordanCell

# Cell classes by name: what a step model calls once per time step.
CELL_CLASSES = {
    "elman": keras.layers.SimpleRNNCell,
    "simple_rnn": keras.layers.SimpleRNNCell,
    "jordan": JordanCell,
    "lstm": keras.layers.LSTMCell,
    "gru": keras.layers.GRUCell,
    "indrnn": IndRNNCell,
}

# Arguments of keras.layers.RNN itself; every other keyword goes to the cell.
RNN_ARGUMENTS = frozenset(
    [
        "return_sequences",
        "return_state",
        "go_backwards",
        "stateful",
        "unroll",
        "zero_output_for_mask",
        "name",
        "dtype",
        "trainable",
    ]
)


def _wrapped(cell_class: type, units: int, **kwargs) -> keras.layers.RNN:
    """``keras.layers.RNN(cell_class(units, ...))``, splitting layer from cell arguments."""
    layer_arguments = {key: value for key, value in kwargs.items() if key in RNN_ARGUMENTS}
    cell_arguments = {key: value for key, value in kwargs.items() if key not in RNN_ARGUMENTS}
    return keras.layers.RNN(cell_class(units, **cell_arguments), **layer_arguments)


# Layer constructors by name: ``CELLS[name](units, **kwargs)`` is a whole recurrent layer.
CELLS = {
    "elman": keras.layers.SimpleRNN,
    "simple_rnn": keras.layers.SimpleRNN,
    "jordan": functools.partial(_wrapped, JordanCell),
    "lstm": keras.layers.LSTM,
    "gru": keras.layers.GRU,
    "indrnn": functools.partial(_wrapped, IndRNNCell),
}


def _check(cell: str, units: int) -> None:
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
    if units < 1:
        raise ValueError(f"units must be >= 1, got {units}")


def recurrent_layer(cell: str, units: int, **kwargs) -> keras.layers.Layer:
    """A Keras recurrent layer of kind `cell` (a key of :data:`CELLS`).

    Keyword arguments of ``keras.layers.RNN`` (``return_sequences``, ``name`` ...) go to
    the layer, the others (``activation``, ``recurrent_max_abs`` ...) to the cell.

    Example:
        >>> layer = recurrent_layer("gru", 32, return_sequences=True, name="encoder")
        >>> layer = recurrent_layer("indrnn", 32, recurrent_max_abs=1.01, name="encoder")
    """
    _check(cell, units)
    return CELLS[cell](units, **kwargs)


def make_cell(cell: str, units: int, **kwargs) -> keras.layers.Layer:
    """The *cell* of kind `cell`: one time step, for ``keras.layers.RNN`` or a step model.

    Example:
        >>> rnn = keras.layers.RNN(make_cell("jordan", 16, name="decoder_cell"))
    """
    _check(cell, units)
    return CELL_CLASSES[cell](units, **kwargs)


def state_names(cell: str) -> list[str]:
    """Names of the recurrent states of `cell`: hidden and memory for an LSTM, else one.

    Example:
        >>> state_names("lstm"), state_names("indrnn")
        (['state_h', 'state_c'], ['state'])
    """
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
    return ["state_h", "state_c"] if cell == "lstm" else ["state"]


def state_count(cell: str) -> int:
    """How many state tensors `cell` carries from one step to the next (LSTM 2, others 1)."""
    return len(state_names(cell))
