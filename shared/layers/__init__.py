"""Reusable Keras layers: one public class per file, registered for saving."""

from shared.layers.indrnn_cell import IndRNNCell, recurrent_bound
from shared.layers.jordan_cell import JordanCell
from shared.layers.recurrent_layer import (
    CELL_CLASSES,
    CELLS,
    make_cell,
    recurrent_layer,
    state_count,
    state_names,
)
from shared.layers.text_vectorizer import TextVectorizer

__all__ = [
    "CELLS",
    "CELL_CLASSES",
    "IndRNNCell",
    "JordanCell",
    "TextVectorizer",
    "make_cell",
    "recurrent_bound",
    "recurrent_layer",
    "state_count",
    "state_names",
]
