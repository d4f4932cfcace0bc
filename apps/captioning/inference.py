"""Export graphs and predictors: an image encoder and a decoder step, looped in-graph or on host.

- SavedModel (``CaptioningServing``): ``serving_default`` takes encoded image bytes (JPEG, PNG,
  GIF, BMP), decodes and resizes them in the graph and returns the caption string, with the
  greedy loop inside the graph (``tf.while_loop``). ``caption_pixels`` does the same from uint8
  pixels; ``encode`` and ``decode_step`` expose the two halves for a host loop (beam search);
  ``teacher_forced`` and ``preprocess`` serve the parity and preprocessing checks.
- LiteRT: ``encoder_<variant>.tflite`` (uint8 image [1, 64, 64, 3] -> the 64 regions of the
  feature map and the decoder's initial state) and ``decoder_step_<variant>.tflite`` (previous
  token, state, regions -> logits, new state, attention weights over the 64 regions), built
  here (``litert_models``) and run on the host by ``apps.captioning.runtime``, without
  TensorFlow.
- ``CaptionPredictor``: the Keras and SavedModel engines.

The decoder step, the in-graph greedy loop and the Keras / SavedModel predictor come from
``shared.step_decoder``; this module adds the image side.
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from apps.captioning.config import CaptioningConfig
from apps.captioning.model import FEATURE_SIZE
from apps.captioning.runtime import (
    CONTEXT_NAMES,
    IMAGE_INPUT,
    IMAGE_SIZE,
    VOCABULARY_FILE,
    Caption,
    Captioner,
)
from shared.config import load_config
from shared.layers import state_names
from shared.layers.unit_detokenizer import UnitDetokenizer
from shared.preprocessing.text_units import UnitTokenizer, build_unit_vocabulary
from shared.runtime.step_decoder import RESERVED, written_length
from shared.step_decoder import (
    StepDecoderPredictor,
    banned_logits,
    decode_step_signature,
    decoder_step_inputs,
    decoder_step_outputs,
    graph_greedy_decode,
    pack_states,
    packed_step_outputs,
)

REGIONS = FEATURE_SIZE * FEATURE_SIZE


def build_tokenizer(captions: Sequence[Sequence[str]], config: CaptioningConfig) -> UnitTokenizer:
    """The caption vocabulary from every reference caption of the training split."""
    texts = [caption for references in captions for caption in references]
    vocabulary = build_unit_vocabulary(
        texts,
        config.max_tokens,
        min_count=config.min_count,
        lowercase=True,
        mark_attached=True,
        reserved=RESERVED,
    )
    return make_tokenizer(vocabulary, config)


def make_tokenizer(vocabulary: list[str], config: CaptioningConfig) -> UnitTokenizer:
    # Captions are written lower-case; a "," written after a word carries the ## mark.
    return UnitTokenizer(
        vocabulary, config.max_caption_length, lowercase=True, mark_attached=True, reserved=RESERVED
    )


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


class CaptionPredictor(Captioner, StepDecoderPredictor):
    """uint8 images [n, 64, 64, 3] -> captions, through Keras or the SavedModel (the LiteRT
    engine is ``apps.captioning.runtime.CaptioningRuntime``, without TensorFlow).

    ``keras`` runs the encoder once and loops the decoder step on the host (greedy or beam
    search); ``savedmodel`` runs greedy decoding inside its ``caption_pixels`` signature and
    beam search over its ``encode`` / ``decode_step`` signatures.
    """

    def __init__(self, model_dir: pathlib.Path, engine: str):
        if engine not in ("keras", "savedmodel"):
            raise ValueError(f"engine must be keras or savedmodel here, got {engine!r}")
        model_dir = pathlib.Path(model_dir)
        self.config = load_config(CaptioningConfig, model_dir / "config.json")
        self.tokenizer = UnitTokenizer.load(model_dir / VOCABULARY_FILE)
        super().__init__(
            model_dir,
            engine,
            state_names(self.config.cell),
            lambda model: build_inference_models(model, self.config),
            encoder_input=IMAGE_INPUT,
            context_names=CONTEXT_NAMES,
        )

    @classmethod
    def from_model(
        cls, model: keras.Model, config: CaptioningConfig, tokenizer: UnitTokenizer
    ) -> CaptionPredictor:
        """The ``keras`` engine over a model in memory (the one being trained), not a folder.

        Its encoder and step model share `model`'s layers, so it follows the weights as they
        train: the per-epoch BLEU-4 decodes exactly as ``evaluate`` does after training.
        """
        # StepDecoderPredictor reads model.keras from a folder; this sets what its keras
        # branch sets, from `model` instead.
        predictor = cls.__new__(cls)
        predictor.config, predictor.tokenizer = config, tokenizer
        predictor.engine = "keras"
        predictor.names = list(state_names(config.cell))
        predictor.encoder_input, predictor.context_names = IMAGE_INPUT, CONTEXT_NAMES
        predictor.model = model
        encoder, step = build_inference_models(model, config)
        predictor._keras_encoder = tf.function(encoder, reduce_retracing=True)
        predictor._keras_step = tf.function(step, reduce_retracing=True)
        predictor._keras_step_input_names = None  # the step model takes a dict
        return predictor

    def caption_batch(
        self, images: np.ndarray, beam_width: int, length_penalty: float
    ) -> list[Caption]:
        if self.engine != "savedmodel" or beam_width != 1:
            return super().caption_batch(images, beam_width, length_penalty)
        return _graph_captions(self.signatures["caption_pixels"](image=tf.constant(images)))

    def caption_bytes(self, encoded_images: list[bytes]) -> list[Caption]:
        """Greedy captions of encoded image files through ``serving_default`` (SavedModel only)."""
        if self.engine != "savedmodel":
            raise ValueError("caption_bytes needs the savedmodel engine")
        out = self.signatures["serving_default"](image_bytes=tf.constant(encoded_images))
        return _graph_captions(out)

    def teacher_forced_logits(self, images: np.ndarray, decoder_inputs: np.ndarray) -> np.ndarray:
        """The full-sequence model's logits (Keras, or the SavedModel's ``teacher_forced``)."""
        if self.engine == "keras":
            return np.asarray(
                self.model({"image": images, "decoder_input_ids": decoder_inputs}, training=False)
            )
        return self.signatures["teacher_forced"](
            image=tf.constant(images), decoder_input_ids=tf.constant(decoder_inputs)
        )["logits"].numpy()


def _graph_captions(out: dict) -> list[Caption]:
    answers = []
    for row in range(int(out["caption"].shape[0])):
        ids = out["token_ids"][row].numpy().tolist()
        length = written_length(ids)
        answers.append(
            Caption(
                out["caption"][row].numpy().decode("utf-8"),
                ids[:length],
                out["attention"][row].numpy()[:length],
            )
        )
    return answers
