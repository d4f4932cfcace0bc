"""Export graphs: an encoder and a decoder step, sharing the trained model's layers.

LiteRT: ``encoder_<variant>.tflite`` (source ids [1, max_source_length] -> encoder outputs and
the decoder's initial state) and ``decoder_step_<variant>.tflite`` (previous token, state,
encoder outputs, source mask -> logits, new state, attention weights), built here
(``litert_models``) and run on the host by ``apps.translation.runtime``, without TensorFlow.
The SavedModel (``serving.py``) and the Keras predictor (``predictor.py``) loop the same two
graphs (``build_inference_models``).

Only the text side is here: ``shared.step_decoder`` holds what any attentive step decoder
needs (its step graph, greedy loop in the graph, and Keras / SavedModel predictor).
"""

from __future__ import annotations

import keras

from apps.translation.config import TranslationConfig
from shared.layers import state_names
from shared.step_decoder import decoder_step_inputs, decoder_step_outputs


def build_inference_models(
    model: keras.Model,
    config: TranslationConfig,
    batch_size: int | None = None,
    source_length: int | None = None,
) -> tuple[keras.Model, keras.Model]:
    """The encoder and the one-step decoder, sharing the trained model's layers.

    With ``batch_size=1`` and ``source_length=max_source_length`` every shape is static, which
    is what the LiteRT converter needs to emit builtin ops only.
    """
    names = state_names(config.cell)
    source_ids = keras.Input(
        batch_shape=(batch_size, source_length), dtype="int32", name="source_ids"
    )
    x = model.get_layer("source_embedding")(source_ids)  # [batch, source_time, embedding]
    encoded = model.get_layer("encoder")(x)
    forward, backward = encoded[1 : 1 + len(names)], encoded[1 + len(names) :]
    encoder_outputs = {"encoder_outputs": encoded[0]}
    for name, forward_state, backward_state in zip(names, forward, backward, strict=True):
        final = model.get_layer(f"final_{name}")([forward_state, backward_state])
        encoder_outputs[name] = model.get_layer(f"bridge_{name}")(final)  # [batch, units]
    encoder = keras.Model(source_ids, encoder_outputs, name="encoder")

    previous_token, states = decoder_step_inputs(batch_size, config.decoder_units, names)
    values = keras.Input(
        batch_shape=(batch_size, source_length, 2 * config.encoder_units), name="encoder_outputs"
    )
    source_mask = keras.Input(batch_shape=(batch_size, source_length), name="source_mask")
    embedded = model.get_layer("target_embedding")(previous_token)  # [batch, embedding]
    step_outputs = decoder_step_outputs(model, embedded, states, names, values, source_mask)
    # A list, not a dict, of inputs: the LiteRT converter traces Keras 3 models from a flat
    # input signature (the tensors keep their names in the .tflite signature).
    step = keras.Model(
        [previous_token, *states, values, source_mask], step_outputs, name="decoder_step"
    )
    return encoder, step


def litert_models(model: keras.Model, config: TranslationConfig) -> dict[str, keras.Model]:
    """The batch-1, fixed-length encoder and decoder step that convert with builtin ops."""
    encoder, step = build_inference_models(
        model, config, batch_size=1, source_length=config.max_source_length
    )
    return {"encoder": encoder, "decoder_step": step}
