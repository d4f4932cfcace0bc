"""Graphs of a recurrent language model over token ids, built from its trained layers.

The text generation and music apps train the same shape of model (an embedding, one or more
recurrent cells, a dense layer to next-token logits) and export the same graphs from it, with
weights shared, not copied:

- ``step_model``: one id and the recurrent states in, next-id logits and the new states out
  (batch 1, builtin LiteRT ops only, no loop): the model a TensorFlow-free host loop drives.
- ``sequence_model``: ids [batch, time] and the initial states in, logits at every position and
  the final states out (teacher forcing), for scoring, priming, and the SavedModel.
- ``sequence_outputs``: the same on inputs of any fixed shape (music's scoring window).

Every recurrent state travels as one tensor ``states`` [batch, state_count, units]: layer by
layer, ``h`` then ``c`` for an LSTM, the one state of every other cell (``h`` for a GRU, the
fed-back output for a Jordan cell).
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from shared.layers import state_count


@dataclasses.dataclass
class ModelParts:
    """The trained layers the inference graphs reuse (weights shared, not copied)."""

    embedding: keras.layers.Layer
    cells: list[keras.layers.Layer]
    logits: keras.layers.Layer
    states_per_cell: int
    units: int

    @property
    def state_count(self) -> int:
        return self.states_per_cell * len(self.cells)

    def zero_states(self, batch_size: int = 1) -> np.ndarray:
        return np.zeros((batch_size, self.state_count, self.units), np.float32)


def model_parts(model: keras.Model, layer_names: list[str], cell: str, units: int) -> ModelParts:
    """`model`'s ``embedding`` and ``logits`` layers and the cells of its recurrent layers
    `layer_names` (of kind `cell`, `units` wide)."""
    return ModelParts(
        embedding=model.get_layer("embedding"),
        cells=[model.get_layer(name).cell for name in layer_names],
        logits=model.get_layer("logits"),
        states_per_cell=state_count(cell),
        units=units,
    )


def split_states(parts: ModelParts, states) -> list[list]:
    """[batch, state_count, units] -> per cell, its list of [batch, units] states."""
    per_cell = parts.states_per_cell
    return [
        [states[:, index * per_cell + offset] for offset in range(per_cell)]
        for index in range(len(parts.cells))
    ]


def step(parts: ModelParts, token_ids, states):
    """One step: ids [batch] and states -> logits [batch, vocabulary] and new states."""
    x = parts.embedding(token_ids)  # [batch, embedding]
    new_states = []
    for cell, cell_states in zip(parts.cells, split_states(parts, states), strict=True):
        x, cell_new = cell(x, cell_states, training=False)  # [batch, units]
        new_states += list(cell_new) if isinstance(cell_new, list | tuple) else [cell_new]
    return parts.logits(x), keras.ops.stack(new_states, axis=1)


def step_model(parts: ModelParts) -> keras.Model:
    """The batch-1 step model for LiteRT: builtin ops only (FULLY_CONNECTED, LOGISTIC, ...)."""
    token_id = keras.Input(batch_shape=(1,), dtype="int32", name="token_id")
    states = keras.Input(batch_shape=(1, parts.state_count, parts.units), name="states")
    logits, new_states = step(parts, token_id, states)
    return keras.Model(
        [token_id, states], {"logits": logits, "new_states": new_states}, name="step"
    )


def sequence_outputs(parts: ModelParts, token_ids, states, prefix: str) -> dict:
    """Teacher forcing over ids [batch, time]: ``logits`` [batch, time, vocabulary] and the
    final ``new_states``; the RNN wrappers are named ``<prefix>_<n>``."""
    x = parts.embedding(token_ids)  # [batch, time, embedding]
    new_states = []
    for index, (cell, cell_states) in enumerate(
        zip(parts.cells, split_states(parts, states), strict=True)
    ):
        rnn = keras.layers.RNN(
            cell, return_sequences=True, return_state=True, name=f"{prefix}_{index + 1}"
        )
        x, *cell_new = rnn(x, initial_state=cell_states)  # x: [batch, time, units]
        new_states += cell_new
    return {"logits": parts.logits(x), "new_states": keras.ops.stack(new_states, axis=1)}


def sequence_model(parts: ModelParts) -> keras.Model:
    """Teacher forcing: ids [batch, time] and initial states -> logits [batch, time, vocab]."""
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    states = keras.Input(shape=(parts.state_count, parts.units), name="states")
    outputs = sequence_outputs(parts, token_ids, states, "sequence")
    return keras.Model([token_ids, states], outputs, name="sequence")
