"""Export graphs: an image encoder and a decoder step, sharing the trained model's layers.

LiteRT: ``encoder_<variant>.tflite`` (uint8 image [1, 64, 64, 3] -> the 64 regions of the
feature map and the decoder's initial state) and ``decoder_step_<variant>.tflite`` (previous
token, state, regions -> logits, new state, attention weights over the 64 regions), built here
(``litert_models``) and run on the host by ``apps.captioning.runtime``, without TensorFlow.
The SavedModel (``serving.py``) and the Keras predictor (``predictor.py``) loop the same two
graphs (``build_inference_models``).

The decoder step comes from ``shared.step_decoder``; this module adds the image side.
"""

from __future__ import annotations

import keras

from apps.captioning.config import CaptioningConfig
from apps.captioning.model import FEATURE_SIZE
from apps.captioning.runtime import IMAGE_SIZE
from shared.layers import state_names
from shared.step_decoder import decoder_step_inputs, decoder_step_outputs

REGIONS = FEATURE_SIZE * FEATURE_SIZE


def build_inference_models(
    model: keras.Model, config: CaptioningConfig, batch_size: int | None = None
) -> tuple[keras.Model, keras.Model]:
    """The image encoder and the one-step decoder, sharing the trained model's layers.

    With ``batch_size=1`` every shape is static, which is what the LiteRT converter needs to
    emit builtin ops only.
    """
    names = state_names(config.cell)
    image = keras.Input(
        batch_shape=(batch_size, IMAGE_SIZE, IMAGE_SIZE, 3), dtype="uint8", name="image"
    )
    x = model.get_layer("features")(model.get_layer("backbone")(image))  # [batch, 8, 8, dim]
    summary = model.get_layer("summary_flatten")(model.get_layer("summary_projection")(x))
    regions = model.get_layer("region_positions")(model.get_layer("regions_flatten")(x))
    encoder_outputs = {"regions": regions}  # [batch, 64, feature_dim]
    for name in names:
        encoder_outputs[name] = model.get_layer(f"init_{name}")(summary)  # [batch, units]
    encoder = keras.Model(image, encoder_outputs, name="encoder")

    previous_token, states = decoder_step_inputs(batch_size, config.decoder_units, names)
    values = keras.Input(batch_shape=(batch_size, REGIONS, config.feature_dim), name="regions")
    embedded = model.get_layer("word_embedding")(previous_token)  # [batch, embedding]
    step_outputs = decoder_step_outputs(model, embedded, states, names, values)
    step = keras.Model(
        {"previous_token": previous_token, "regions": values}
        | {name: state for name, state in zip(names, states, strict=True)},
        step_outputs,
        name="decoder_step",
    )
    return encoder, step


def litert_models(model: keras.Model, config: CaptioningConfig) -> dict[str, keras.Model]:
    """The batch-1 encoder and decoder step that convert with builtin ops."""
    encoder, step = build_inference_models(model, config, batch_size=1)
    return {"encoder": encoder, "decoder_step": step}
