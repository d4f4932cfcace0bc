"""Pick a recurrent layer by name, so every app's config can say ``cell=...``."""

from __future__ import annotations

import keras

CELLS = {
    "lstm": keras.layers.LSTM,
    "gru": keras.layers.GRU,
    "simple_rnn": keras.layers.SimpleRNN,
}


def recurrent_layer(cell: str, units: int, **kwargs) -> keras.layers.Layer:
    """A Keras recurrent layer of kind `cell` ("lstm", "gru", "simple_rnn").

    Example:
        >>> layer = recurrent_layer("gru", 32, return_sequences=True, name="encoder")
    """
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
    if units < 1:
        raise ValueError(f"units must be >= 1, got {units}")
    return CELLS[cell](units, **kwargs)
