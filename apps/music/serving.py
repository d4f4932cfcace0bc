"""The SavedModel module: ``generate`` (also ``serving_default``) takes a key and metre ("G major
6/8") and the sampling knobs and runs the whole loop in the graph (``tf.while_loop``); ``logits``
is the sequence model (``export.sequence_model``) and ``step`` the step model, which the Keras
and SavedModel predictors drive on the host like the LiteRT runtime (bar-keeping masks, beam
search: ``runtime.Composer``)."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from apps.music import events
from apps.music.config import MusicConfig
from apps.music.export import model_parts, sequence_model, step
from apps.music.runtime import FREE_MASK, IDENTITY, INTERNAL
from shared.sampling import tf_sample_next


class MusicServing(tf.Module):
    """The SavedModel: ``generate`` (= ``serving_default``), ``logits`` and ``step``.

    Args:
        model: the trained model (its layers are reused).
        config: its config.

    ``generate(start, length, temperature, seed, top_k, top_p) -> {"token_ids", "events"}``:
    ``start`` names a key and metre ("G major 6/8", an unknown one gives an empty tune); ids are
    drawn from the model as it is (start tokens and padding never) until ``<end>`` or
    ``length`` events; ``events`` is their names joined by ", ", from the start token.

    Example:
        >>> serving = MusicServing(model, config)
        >>> serving.generate(start="D dorian 6/8", length=200, temperature=1.0, seed=0,
        ...                  top_k=0, top_p=0.95)["events"]
    """

    def __init__(self, model: keras.Model, config: MusicConfig):
        super().__init__()
        self.model = model
        self.parts = model_parts(model, config)
        self.sequence = sequence_model(self.parts)
        names = [events.VOCABULARY[i][len("<start ") : -1] for i in range(len(events.VOCABULARY))]
        starts = list(range(events.FIRST_START_ID, len(events.VOCABULARY)))
        self.starts = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant([names[i] for i in starts]), tf.constant(starts, tf.int32)
            ),
            default_value=-1,
        )
        self.names = tf.constant(events.VOCABULARY)
        self.banned = tf.constant(~FREE_MASK)
        # The model's id of every event for each key shift (identity but for key_relative).
        tables = INTERNAL if config.key_relative else np.tile(IDENTITY, (12, 1))
        self.tables = tf.constant(tables)

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
            tf.TensorSpec([None], tf.int32, name="token_id"),
            tf.TensorSpec([None, None, None], tf.float32, name="states"),
        ]
    )
    def step(self, token_id, states):
        logits, new_states = step(self.parts, token_id, states)
        return {"logits": logits, "new_states": new_states}

    @tf.function(
        input_signature=[
            tf.TensorSpec([], tf.string, name="start"),
            tf.TensorSpec([], tf.int32, name="length"),
            tf.TensorSpec([], tf.float32, name="temperature"),
            tf.TensorSpec([], tf.int32, name="seed"),
            tf.TensorSpec([], tf.int32, name="top_k"),
            tf.TensorSpec([], tf.float32, name="top_p"),
        ]
    )
    def generate(self, start, length, temperature, seed, top_k, top_p):
        start_id = self.starts.lookup(tf.strings.strip(start))
        known = start_id >= 0
        first = tf.maximum(start_id, events.FIRST_START_ID)
        tonic = (first - events.FIRST_START_ID) % 12
        table = self.tables[(tonic + 6) % 12]  # [692]: the model's id of every event
        zeros = tf.zeros([1, self.parts.state_count, self.parts.units])
        first_logits, first_states = step(self.parts, tf.gather(table, first)[tf.newaxis], zeros)
        seed_pair = tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])

        def keep_going(index, done, logits, states, tokens):
            return tf.logical_and(index < length, tf.logical_not(done))

        def draw(index, done, logits, states, tokens):
            scores = tf.gather(logits, table, axis=-1)  # [1, 692]: the events' logits
            allowed = tf.where(self.banned[tf.newaxis, :], -1e9, scores)
            step_seed = tf.random.experimental.stateless_fold_in(seed_pair, index)
            token = tf_sample_next(allowed, temperature, top_k, top_p, step_seed)  # [1]
            logits, states = step(self.parts, tf.gather(table, token), states)
            tokens = tokens.write(index, token[0])
            return index + 1, token[0] == events.END_ID, logits, states, tokens

        count, _, _, _, tokens = tf.while_loop(
            keep_going,
            draw,
            (
                tf.constant(0),
                tf.logical_not(known),
                first_logits,
                first_states,
                tf.TensorArray(tf.int32, size=0, dynamic_size=True, element_shape=[]),
            ),
        )
        drawn = tokens.stack()[:count]
        ids = tf.cond(
            known, lambda: tf.concat([[start_id], drawn], 0), lambda: tf.zeros([0], tf.int32)
        )
        return {
            "token_ids": ids,
            "events": tf.strings.reduce_join(tf.gather(self.names, ids), separator=", "),
        }
