"""Export graphs, built from the trained layers (weights shared, not copied).

- ``step_model``: one id (a character or a subword piece) and the recurrent states in, next-id
  logits and the new states out. This is the LiteRT model (``model_<variant>.tflite``): the host
  loop in ``runtime.TextGenerationRuntime`` drives it one id at a time, without TensorFlow.
- ``sequence_model``: a whole sequence of ids and the initial states in, logits at every
  position and the final states out (teacher forcing), for scoring and for priming a prompt.
  The SavedModel (``serving.py``) serves it and loops ``step`` in the graph.

Every recurrent state travels as one tensor ``states`` [batch, state_count, units]: layer by
layer, ``h`` then ``c`` for an LSTM, the one state of every other cell (``h`` for a GRU, the
fed-back output for a Jordan cell). The graphs share the training model's embedding, cells and
output layer, so they compute the same function with the same weights.

The graphs are ``shared.token_model``'s, which both language-model apps export.
"""

from __future__ import annotations

import keras

from apps.text_generation.config import TextGenerationConfig
from apps.text_generation.model import recurrent_layer_names
from shared import token_model
from shared.token_model import (  # noqa: F401 (the app's export graphs, named here)
    ModelParts,
    sequence_model,
    step,
    step_model,
)


def model_parts(model: keras.Model, config: TextGenerationConfig) -> ModelParts:
    return token_model.model_parts(model, recurrent_layer_names(config), config.cell, config.units)
