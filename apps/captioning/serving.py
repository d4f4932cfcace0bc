"""The SavedModel module (``CaptioningServing``): image bytes in, caption strings out.

``serving_default`` takes encoded image bytes (JPEG, PNG, GIF, BMP), decodes and resizes them
in the graph (``decode_image_bytes``) and returns the caption string, with the greedy loop
inside the graph (``tf.while_loop``). ``caption_pixels`` does the same from uint8 pixels;
``encode`` and ``decode_step`` expose the two halves for a host loop (beam search);
``teacher_forced`` and ``preprocess`` serve the parity and preprocessing checks. The in-graph
greedy loop comes from ``shared.step_decoder``.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from apps.captioning.config import CaptioningConfig
from apps.captioning.export import REGIONS, build_inference_models
from apps.captioning.runtime import IMAGE_SIZE
from shared.layers import state_names
from shared.layers.unit_detokenizer import UnitDetokenizer
from shared.preprocessing.text_units import UnitTokenizer
from shared.runtime.step_decoder import RESERVED
from shared.step_decoder import (
    banned_logits,
    decode_step_signature,
    graph_greedy_decode,
    pack_states,
    packed_step_outputs,
)


def decode_image_bytes(data: tf.Tensor) -> tf.Tensor:
    """One encoded image (JPEG, PNG, GIF, BMP) -> uint8 [64, 64, 3], as ``load_image`` does.

    Grayscale becomes RGB and transparency is composed over white (Pillow's rules on the
    host); the resize is bilinear with antialiasing, as Pillow's. Images that are already
    64x64 come out identical on both sides; others differ by a grey level or two.
    """
    image = tf.io.decode_image(data, expand_animations=False)  # [height, width, channels]
    pixels = tf.cast(image, tf.float32)
    channels = tf.shape(image)[-1]
    has_alpha = tf.equal(channels % 2, 0)  # 2 (grey + alpha) or 4 (RGBA)
    colour_channels = tf.where(has_alpha, channels - 1, channels)
    colour = pixels[..., :colour_channels]
    colour = tf.cond(
        tf.equal(colour_channels, 1),
        lambda: tf.tile(colour, [1, 1, 3]),
        lambda: colour,
    )
    colour = tf.ensure_shape(colour, [None, None, 3])
    alpha = tf.cond(
        has_alpha,
        lambda: pixels[..., -1:] / 255.0,
        lambda: tf.ones_like(pixels[..., :1]),
    )
    colour = colour * alpha + 255.0 * (1.0 - alpha)
    size = tf.shape(colour)[:2]
    resized = tf.cond(
        tf.reduce_all(tf.equal(size, IMAGE_SIZE)),
        lambda: colour,
        lambda: tf.image.resize(colour, [IMAGE_SIZE, IMAGE_SIZE], antialias=True),
    )
    resized = tf.reshape(resized, [IMAGE_SIZE, IMAGE_SIZE, 3])
    return tf.cast(tf.clip_by_value(tf.round(resized), 0.0, 255.0), tf.uint8)


class CaptioningServing(tf.Module):
    """The SavedModel: image bytes in, caption strings out, greedy loop inside the graph."""

    def __init__(self, model: keras.Model, config: CaptioningConfig, tokenizer: UnitTokenizer):
        super().__init__()
        self.model = model
        self.config = config
        self.names = state_names(config.cell)
        self.encoder, self.step = build_inference_models(model, config)
        self.detokenizer = UnitDetokenizer(
            tokenizer.vocabulary, mark_attached=True, reserved=RESERVED, name="detokenizer"
        )
        self.ban = banned_logits(tokenizer.vocabulary_size)
        image_bytes = tf.TensorSpec([None], tf.string, name="image_bytes")
        pixels = tf.TensorSpec([None, IMAGE_SIZE, IMAGE_SIZE, 3], tf.uint8, name="image")
        self.caption_bytes = tf.function(self._caption_bytes, input_signature=[image_bytes])
        self.caption_pixels = tf.function(self._caption_pixels, input_signature=[pixels])
        self.preprocess = tf.function(self._preprocess, input_signature=[image_bytes])
        self.encode = tf.function(self._encode, input_signature=[pixels])
        self.teacher_forced = tf.function(
            self._teacher_forced,
            input_signature=[
                pixels,
                tf.TensorSpec([None, None], tf.int32, name="decoder_input_ids"),
            ],
        )
        self.decode_step = tf.function(
            self._decode_step,
            input_signature=decode_step_signature(
                self.names,
                config.decoder_units,
                tf.TensorSpec([None, REGIONS, config.feature_dim], tf.float32, name="regions"),
            ),
        )

    def signatures(self) -> dict:
        caption = self.caption_bytes.get_concrete_function()
        return {
            "serving_default": caption,
            "caption_bytes": caption,
            "caption_pixels": self.caption_pixels.get_concrete_function(),
            "preprocess": self.preprocess.get_concrete_function(),
            "encode": self.encode.get_concrete_function(),
            "decode_step": self.decode_step.get_concrete_function(),
            "teacher_forced": self.teacher_forced.get_concrete_function(),
        }

    def _preprocess(self, image_bytes):
        images = tf.map_fn(
            decode_image_bytes,
            image_bytes,
            fn_output_signature=tf.TensorSpec([IMAGE_SIZE, IMAGE_SIZE, 3], tf.uint8),
        )
        return {"image": images}

    def _caption_bytes(self, image_bytes):
        return self._caption_pixels(self._preprocess(image_bytes)["image"])

    def _encode(self, image):
        encoded = self.encoder(image, training=False)
        return {"regions": encoded["regions"], "state": pack_states(encoded, self.names)}

    def _decode_step(self, previous_token, state, regions):
        states = tf.split(state, len(self.names), axis=-1)
        out = self.step(
            {"previous_token": previous_token, "regions": regions}
            | dict(zip(self.names, states, strict=True)),
            training=False,
        )
        return packed_step_outputs(out, self.names)

    def _teacher_forced(self, image, decoder_input_ids):
        logits = self.model(
            {"image": image, "decoder_input_ids": decoder_input_ids}, training=False
        )
        return {"logits": logits}

    def _caption_pixels(self, image):
        encoded = self.encoder(image, training=False)
        regions = encoded["regions"]
        token_ids, weights = graph_greedy_decode(
            lambda tokens, states: self.step(
                {"previous_token": tokens, "regions": regions}
                | dict(zip(self.names, states, strict=True)),
                training=False,
            ),
            tuple(encoded[name] for name in self.names),
            self.names,
            tf.shape(image)[0],
            self.config.max_caption_length + 1,  # room for the end token
            self.ban,
            end_at_last_step=True,
        )
        return {
            "caption": self.detokenizer(token_ids),
            "token_ids": token_ids,
            "attention": weights,
        }
