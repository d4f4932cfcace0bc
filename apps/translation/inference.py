"""Export graphs and predictors: an encoder and a decoder step, looped in-graph or on the host.

- SavedModel (``TranslationServing``): ``serving_default`` / ``translate`` take strings and
  return strings, with the greedy loop inside the graph (``tf.while_loop``); ``encode`` and
  ``decode_step`` expose the two halves for a host loop (beam search); ``teacher_forced`` and
  ``tokenize`` serve the parity and tokenizer checks.
- LiteRT: ``encoder_<variant>.tflite`` (source ids [1, max_source_length] -> encoder outputs and
  the decoder's initial state) and ``decoder_step_<variant>.tflite`` (previous token, state,
  encoder outputs, source mask -> logits, new state, attention weights), built here
  (``litert_models``) and run on the host by ``apps.translation.runtime``, without TensorFlow.
- ``TranslationPredictor``: the Keras and SavedModel engines.

Only the text side is here: ``shared.step_decoder`` holds what any attentive step decoder
needs (its step graph, greedy loop in the graph, and Keras / SavedModel predictor).
"""

from __future__ import annotations

import pathlib

import keras
import numpy as np
import tensorflow as tf

from apps.translation.config import TranslationConfig
from apps.translation.runtime import (
    CONTEXT_NAMES,
    SOURCE_INPUT,
    VOCABULARY_FILE,
    Tokenizers,
    Translation,
    Translator,
)
from shared.config import load_config
from shared.layers import state_names
from shared.layers.unit_detokenizer import UnitDetokenizer
from shared.layers.unit_vectorizer import UnitVectorizer
from shared.preprocessing.text_units import PAD_ID
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


class TranslationServing(tf.Module):
    """The SavedModel: strings in, strings out, greedy loop inside the graph."""

    def __init__(self, model: keras.Model, config: TranslationConfig, tokenizers: Tokenizers):
        super().__init__()
        self.model = model
        self.config = config
        self.names = state_names(config.cell)
        self.encoder, self.step = build_inference_models(
            model, config, source_length=config.max_source_length
        )
        self.vectorizer = UnitVectorizer(
            tokenizers.source.vocabulary,
            config.max_source_length,
            lowercase=True,
            name="vectorizer",
        )
        self.detokenizer = UnitDetokenizer(
            tokenizers.target.vocabulary, mark_attached=True, reserved=RESERVED, name="detokenizer"
        )
        self.ban = banned_logits(tokenizers.target.vocabulary_size)
        text = tf.TensorSpec([None], tf.string, name="text")
        self.translate = tf.function(self._translate, input_signature=[text])
        self.tokenize = tf.function(self._tokenize, input_signature=[text])
        self.encode = tf.function(self._encode, input_signature=[text])
        self.teacher_forced = tf.function(
            self._teacher_forced,
            input_signature=[text, tf.TensorSpec([None, None], tf.int32, name="decoder_input_ids")],
        )
        self.decode_step = tf.function(
            self._decode_step,
            input_signature=decode_step_signature(
                self.names,
                config.decoder_units,
                tf.TensorSpec(
                    [None, config.max_source_length, 2 * config.encoder_units],
                    tf.float32,
                    name="encoder_outputs",
                ),
                tf.TensorSpec([None, config.max_source_length], tf.float32, name="source_mask"),
            ),
        )

    def signatures(self) -> dict:
        translate = self.translate.get_concrete_function()
        return {
            "serving_default": translate,
            "translate": translate,
            "tokenize": self.tokenize.get_concrete_function(),
            "encode": self.encode.get_concrete_function(),
            "decode_step": self.decode_step.get_concrete_function(),
            "teacher_forced": self.teacher_forced.get_concrete_function(),
        }

    def _tokenize(self, text):
        return {"source_ids": self.vectorizer(text)}

    def _encode(self, text):
        source_ids = self.vectorizer(text)
        encoded = self.encoder(source_ids, training=False)
        return {
            "source_ids": source_ids,
            "source_mask": tf.cast(source_ids != PAD_ID, tf.float32),
            "encoder_outputs": tf.identity(encoded["encoder_outputs"]),
            "state": pack_states(encoded, self.names),
        }

    def _decode_step(self, previous_token, state, encoder_outputs, source_mask):
        states = tf.split(state, len(self.names), axis=-1)
        out = self.step([previous_token, *states, encoder_outputs, source_mask], training=False)
        return packed_step_outputs(out, self.names)

    def _teacher_forced(self, text, decoder_input_ids):
        source_ids = self.vectorizer(text)
        logits = self.model(
            {"source_ids": source_ids, "decoder_input_ids": decoder_input_ids}, training=False
        )
        return {"logits": logits}

    def _translate(self, text):
        source_ids = self.vectorizer(text)
        source_mask = tf.cast(source_ids != PAD_ID, tf.float32)
        encoded = self.encoder(source_ids, training=False)
        # tf.identity drops the Keras mask the encoder attaches (the step model takes the mask
        # as an explicit input instead).
        values = tf.identity(encoded["encoder_outputs"])
        token_ids, weights = graph_greedy_decode(
            lambda tokens, states: self.step(
                [tokens, *states, values, source_mask], training=False
            ),
            tuple(encoded[name] for name in self.names),
            self.names,
            tf.shape(source_ids)[0],
            self.config.max_target_length,
            self.ban,
            end_at_last_step=False,  # the model was exported without it; keep its answers
        )
        return {
            "translation": self.detokenizer(token_ids),
            "token_ids": token_ids,
            "attention": weights,
            "source_ids": source_ids,
        }


def litert_models(model: keras.Model, config: TranslationConfig) -> dict[str, keras.Model]:
    """The batch-1, fixed-length encoder and decoder step that convert with builtin ops."""
    encoder, step = build_inference_models(
        model, config, batch_size=1, source_length=config.max_source_length
    )
    return {"encoder": encoder, "decoder_step": step}


class TranslationPredictor(Translator, StepDecoderPredictor):
    """Raw English texts -> translations, through Keras or the SavedModel (the LiteRT engine is
    ``apps.translation.runtime.TranslationRuntime``, without TensorFlow).

    ``keras`` runs the encoder once and loops the decoder step on the host (greedy or beam
    search); ``savedmodel`` runs greedy decoding inside its ``translate`` signature and beam
    search over its ``encode`` / ``decode_step`` signatures.
    """

    def __init__(self, model_dir: pathlib.Path, engine: str):
        if engine not in ("keras", "savedmodel"):
            raise ValueError(f"engine must be keras or savedmodel here, got {engine!r}")
        model_dir = pathlib.Path(model_dir)
        self.config = load_config(TranslationConfig, model_dir / "config.json")
        self.tokenizers = Tokenizers.load(model_dir / VOCABULARY_FILE)
        super().__init__(
            model_dir,
            engine,
            state_names(self.config.cell),
            lambda model: build_inference_models(model, self.config),
            encoder_input=SOURCE_INPUT,
            context_names=CONTEXT_NAMES,
        )

    @classmethod
    def from_model(
        cls, model: keras.Model, config: TranslationConfig, tokenizers: Tokenizers
    ) -> TranslationPredictor:
        """The ``keras`` engine over a model in memory (the one being trained), not a folder.

        Its encoder and step model share `model`'s layers, so it follows the weights as they
        train: the per-epoch BLEU decodes exactly as ``evaluate`` does after training.
        """
        # StepDecoderPredictor reads model.keras from a folder; this sets what its keras
        # branch sets, from `model` instead.
        predictor = cls.__new__(cls)
        predictor.config, predictor.tokenizers = config, tokenizers
        predictor.engine = "keras"
        predictor.names = list(state_names(config.cell))
        predictor.encoder_input, predictor.context_names = SOURCE_INPUT, CONTEXT_NAMES
        predictor.model = model
        encoder, step = build_inference_models(model, config)
        predictor._keras_encoder = tf.function(encoder, reduce_retracing=True)
        predictor._keras_step = tf.function(step, reduce_retracing=True)
        predictor._keras_step_input_names = [tensor.name for tensor in step.inputs]
        return predictor

    def encode_sources(self, texts: list[str], source_ids: np.ndarray) -> dict:
        # The SavedModel's ``encode`` signature tokenises the raw text itself.
        return self.encode_inputs(source_ids, {"text": tf.constant(texts)})

    def translate_batch(
        self, texts: list[str], beam_width: int, length_penalty: float
    ) -> list[Translation]:
        if self.engine != "savedmodel" or beam_width != 1:
            return super().translate_batch(texts, beam_width, length_penalty)
        out = self.signatures["translate"](text=tf.constant(texts))
        answers = []
        for row, text in enumerate(texts):
            ids = out["token_ids"][row].numpy().tolist()
            length = written_length(ids)
            answers.append(
                self.translation(
                    text,
                    out["translation"][row].numpy().decode("utf-8"),
                    ids[:length],
                    out["attention"][row].numpy()[:length],
                )
            )
        return answers

    def teacher_forced_logits(self, sources: list[str], decoder_inputs: np.ndarray) -> np.ndarray:
        """The full-sequence model's logits (Keras, or the SavedModel's ``teacher_forced``)."""
        if self.engine == "keras":
            return np.asarray(
                self.model(
                    {
                        "source_ids": self.tokenizers.source.encode(sources),
                        "decoder_input_ids": decoder_inputs,
                    },
                    training=False,
                )
            )
        return self.signatures["teacher_forced"](
            text=tf.constant(sources), decoder_input_ids=tf.constant(decoder_inputs)
        )["logits"].numpy()
