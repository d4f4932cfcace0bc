"""The SavedModel module: ``generate`` (also ``serving_default``) takes the prompt string and
the sampling knobs and runs the whole loop in the graph (``tf.while_loop``); ``logits`` is the
sequence model (``export.sequence_model``); ``encode`` shows the ids.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from apps.text_generation.config import TextGenerationConfig
from apps.text_generation.export import model_parts, sequence_model, step
from apps.text_generation.runtime import (
    BEGIN_ID,
    UNKNOWN_ID,
    CharVocabulary,
    SubwordVocabulary,
)
from shared.sampling import tf_sample_next


class TextGenerationServing(tf.Module):
    """The SavedModel: ``generate`` (= ``serving_default``), ``logits`` and ``encode``.

    Args:
        model: the trained model (its layers are reused).
        config: its config.
        vocabulary: the vocabulary it was trained with. Subword pieces are tokenised in the
            graph by ``tensorflow_text`` from the same SentencePiece model as on the host, so
            loading this SavedModel needs ``import tensorflow_text`` first.

    ``generate(prompt, length, temperature, seed, top_k, top_p) -> {"text"}``: the prompt is
    read after the begin token, then ids are drawn until they write ``length`` characters, the
    text being cut there (``temperature`` 0 is greedy; ``top_k`` 0 and ``top_p`` 1 keep every
    id); the loop stops early when the model ends the document (draws the begin token). The
    unknown id is never drawn.

    Example:
        >>> serving = TextGenerationServing(model, config, vocabulary)
        >>> serving.generate(prompt="The movie was", length=100, temperature=0.8, seed=0,
        ...                  top_k=0, top_p=0.95)["text"]
    """

    def __init__(
        self,
        model: keras.Model,
        config: TextGenerationConfig,
        vocabulary: CharVocabulary | SubwordVocabulary,
    ):
        super().__init__()
        self.model = model
        self.parts = model_parts(model, config)
        self.sequence = sequence_model(self.parts)
        if isinstance(vocabulary, SubwordVocabulary):
            import tensorflow_text  # registers the SentencePiece ops

            self.pieces = tensorflow_text.SentencepieceTokenizer(
                model=vocabulary.model_proto, out_type=tf.int32
            )
        else:
            codepoints = tf.constant([ord(c) for c in vocabulary.characters], tf.int32)
            self.table = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    codepoints, tf.range(2, vocabulary.size, dtype=tf.int32)
                ),
                default_value=UNKNOWN_ID,
            )
        self.id_text = tf.constant(vocabulary.id_texts)
        self.id_length = tf.constant([len(text) for text in vocabulary.id_texts], tf.int32)
        self.unknown = tf.one_hot(UNKNOWN_ID, vocabulary.size, on_value=True, off_value=False)

    def _encode(self, text):
        # Invalid UTF-8 becomes U+FFFD, which no vocabulary holds: the unknown id.
        if hasattr(self, "pieces"):
            valid = tf.strings.unicode_transcode(text, "UTF-8", "UTF-8", errors="replace")
            ids = self.pieces.tokenize(valid)
        else:
            codepoints = tf.strings.unicode_decode(text, "UTF-8", errors="replace")
            ids = self.table.lookup(codepoints)
        return tf.concat([[BEGIN_ID], ids], axis=0)  # [1 + ids]

    @tf.function(input_signature=[tf.TensorSpec([], tf.string, name="text")])
    def encode(self, text):
        return {"token_ids": self._encode(text)}

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None], tf.int32, name="token_ids"),
            tf.TensorSpec([None, None, None], tf.float32, name="states"),
        ]
    )
    def logits(self, token_ids, states):
        return self.sequence([token_ids, states], training=False)

    @tf.function(
        input_signature=[
            tf.TensorSpec([], tf.string, name="prompt"),
            tf.TensorSpec([], tf.int32, name="length"),
            tf.TensorSpec([], tf.float32, name="temperature"),
            tf.TensorSpec([], tf.int32, name="seed"),
            tf.TensorSpec([], tf.int32, name="top_k"),
            tf.TensorSpec([], tf.float32, name="top_p"),
        ]
    )
    def generate(self, prompt, length, temperature, seed, top_k, top_p):
        prompt_ids = self._encode(prompt)[tf.newaxis, :]  # [1, 1 + characters]
        zeros = tf.zeros([1, self.parts.state_count, self.parts.units])
        primed = self.sequence([prompt_ids, zeros], training=False)
        seed_pair = tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])

        def keep_going(index, written, done, logits, states, tokens):
            return tf.logical_and(written < length, tf.logical_not(done))

        def draw(index, written, done, logits, states, tokens):
            allowed = tf.where(self.unknown[tf.newaxis, :], -np.inf, logits)  # [1, vocabulary]
            step_seed = tf.random.experimental.stateless_fold_in(seed_pair, index)
            token = tf_sample_next(allowed, temperature, top_k, top_p, step_seed)  # [1]
            logits, states = step(self.parts, token, states)
            written += tf.gather(self.id_length, token[0])
            tokens = tokens.write(index, token[0])
            return index + 1, written, token[0] == BEGIN_ID, logits, states, tokens

        count, _, done, _, _, tokens = tf.while_loop(
            keep_going,
            draw,
            (
                tf.constant(0),
                tf.constant(0),
                tf.constant(False),
                primed["logits"][:, -1, :],
                primed["new_states"],
                tf.TensorArray(tf.int32, size=0, dynamic_size=True, element_shape=[]),
            ),
        )
        drawn = tokens.stack()[: count - tf.cast(done, tf.int32)]  # the end token is not text
        text = tf.strings.reduce_join(tf.gather(self.id_text, drawn))
        return {"text": tf.strings.substr(text, 0, length, unit="UTF8_CHAR")}
