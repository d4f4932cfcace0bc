"""The SavedModel module: raw strings in, tokenised in the graph."""

from __future__ import annotations

import keras
import tensorflow as tf

from apps.sentiment.runtime import LABELS
from shared.layers import TextVectorizer
from shared.preprocessing.text import WordTokenizer


class SentimentServing(tf.Module):
    """The SavedModel: ``serving_default`` takes raw strings; ``tokenize`` shows the ids.

    A text longer than one window (``max_length`` tokens) is read whole: every window is
    scored and the text gets their mean, weighted by tokens (``mean_over_windows`` on the
    host does the same for Keras and LiteRT).
    """

    def __init__(self, model: keras.Model, tokenizer: WordTokenizer):
        super().__init__()
        self.model = model
        self.vectorizer = TextVectorizer(
            tokenizer.vocabulary, tokenizer.max_length, tokenizer.mark_caps, name="vectorizer"
        )
        self.labels = tf.constant(LABELS)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve(self, text):
        ids, owners = self.vectorizer.windows(text)  # [windows, max_length], [windows]
        outputs = self.model(ids, training=False)
        weights = tf.maximum(tf.reduce_sum(tf.cast(ids > 0, tf.float32), axis=-1), 1.0)[:, None]
        count = tf.shape(text)[0]
        total = tf.math.unsorted_segment_sum(weights, owners, count)

        def mean(values):  # per window -> per text, as mean_over_windows on the host
            return tf.math.unsorted_segment_sum(values * weights, owners, count) / total

        probabilities = mean(outputs["label"])  # [batch, 3]
        best = tf.argmax(probabilities, axis=-1)
        return {
            "probabilities": probabilities,
            "label": tf.gather(self.labels, best),
            "score": tf.reduce_max(probabilities, axis=-1),
            "rating": mean(outputs["rating"])[:, 0] * 4.0,  # back to the human scale [-4, 4]
        }

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def tokenize(self, text):
        ids, owners = self.vectorizer.windows(text)
        return {"token_ids": ids, "text_index": owners}
