"""The Keras / SavedModel predictor: raw strings in (LiteRT's is ``runtime.py``)."""

from __future__ import annotations

import pathlib

import keras
import numpy as np
import tensorflow as tf

import apps.sentiment.model  # noqa: F401  (registers its layers, so load_model finds them)
from apps.sentiment.runtime import LABELS, VOCABULARY_FILE
from shared.app import Predictor
from shared.engines import load_keras_model, load_saved_model
from shared.preprocessing.text import WordTokenizer, mean_over_windows


class SentimentPredictor(Predictor):
    """Raw texts -> class probabilities and rating, through Keras or the SavedModel (the
    LiteRT engine is ``apps.sentiment.runtime.SentimentRuntime``, without TensorFlow)."""

    def __init__(self, model_dir: pathlib.Path, engine: str):
        model_dir = pathlib.Path(model_dir)
        self.model_dir = model_dir
        self.engine = engine
        self.tokenizer = WordTokenizer.load(model_dir / VOCABULARY_FILE)
        if engine == "keras":
            self.model = load_keras_model(model_dir)
        elif engine == "savedmodel":
            self.loaded = load_saved_model(model_dir)
            self.serve = self.loaded.signatures["serving_default"]
        else:
            raise ValueError(f"engine must be keras or savedmodel here, got {engine!r}")

    @classmethod
    def from_model(cls, model: keras.Model, tokenizer: WordTokenizer) -> SentimentPredictor:
        """The ``keras`` engine over a model in memory (the one being trained), not a folder.

        The model runs as one traced graph: eagerly, a recurrent layer steps in Python, about
        ten times slower on every epoch's validation snippets.
        """
        predictor = cls.__new__(cls)
        predictor.engine, predictor.tokenizer, predictor.keras_model = "keras", tokenizer, model
        predictor.model = tf.function(model, reduce_retracing=True)
        return predictor

    def scores(self, texts: list[str], batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities [n, 3] and ratings on [-4, 4] [n]; a long text is read whole, in
        windows of ``max_length`` tokens (``SentimentServing``)."""
        probabilities, ratings = [np.zeros((0, len(LABELS)), np.float32)], [np.zeros(0)]
        for start in range(0, len(texts), batch_size):
            chunk = list(texts[start : start + batch_size])
            if self.engine == "savedmodel":
                out = self.serve(text=tf.constant(chunk))
                probabilities.append(out["probabilities"].numpy())
                ratings.append(out["rating"].numpy())
                continue
            ids, owners = self.tokenizer.encode_windows(chunk)
            out = self.model(ids, training=False)
            label, rating = np.asarray(out["label"]), np.asarray(out["rating"])
            probabilities.append(mean_over_windows(label, owners, ids, len(chunk)))
            ratings.append(mean_over_windows(rating, owners, ids, len(chunk))[:, 0] * 4.0)
        return np.concatenate(probabilities), np.concatenate(ratings).astype(np.float32)

    def outputs(self, inputs: list) -> np.ndarray:
        return self.scores(inputs)[0]
