"""The SavedModel module (``TranslationServing``): strings in, strings out.

``serving_default`` / ``translate`` take strings and return strings, with the greedy loop
inside the graph (``tf.while_loop``); ``encode`` and ``decode_step`` expose the two halves for
a host loop (beam search); ``teacher_forced`` and ``tokenize`` serve the parity and tokenizer
checks.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from apps.translation.config import TranslationConfig
from apps.translation.export import build_inference_models
from apps.translation.runtime import Tokenizers
from shared.layers import state_names
from shared.layers.unit_detokenizer import UnitDetokenizer
from shared.layers.unit_vectorizer import UnitVectorizer
from shared.preprocessing.text_units import PAD_ID
from shared.runtime.step_decoder import RESERVED
from shared.step_decoder import (
    banned_logits,
    decode_step_signature,
    graph_greedy_decode,
    pack_states,
    packed_step_outputs,
)


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
