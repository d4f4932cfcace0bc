"""Sentiment on device: raw texts -> label, probabilities and rating, without TensorFlow.

What an answer from ``model_<variant>.tflite`` needs on the host: the word tokenizer
(``vocabulary.json``), the windowed reading of a long text, the mean over its windows and
the answer dict. Imports only NumPy and ``ai_edge_litert`` (``shared.runtime``), so it runs
where TensorFlow is not installed; ``SentimentApp.predict`` gives every engine's answers
through the same ``answers``.

Example:
    >>> runtime = SentimentRuntime("saved_models/sentiment", variant="int8")
    >>> runtime.predict(["an utterly charming film"])[0]["label"]
    'positive'
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Sequence

import numpy as np

from shared.errors import UserError
from shared.preprocessing.text import WordTokenizer, mean_over_windows
from shared.runtime.answers import answer_each
from shared.runtime.answers import check_text as check_characters
from shared.runtime.base import Runtime
from shared.runtime.litert import LiteRTModel

LABELS = ("negative", "neutral", "positive")
VOCABULARY_FILE = "vocabulary.json"
MAX_INPUT_CHARACTERS = 20_000

Scores = Callable[[list[str]], tuple[np.ndarray, np.ndarray]]


def check_text(text: str) -> str:
    """The text to classify, or a UserError naming what is wrong with it."""
    return check_characters(text, MAX_INPUT_CHARACTERS)


def answers(inputs: Sequence[str], scores: Scores) -> list[dict | UserError]:
    """One answer per text from any engine's `scores` (texts -> probabilities [n, 3] and
    ratings [n]): label, its probability, every label's, and the rating on [-4, 4]."""

    def answer(raws: list[str], texts: list[str]) -> list[dict]:
        probabilities, ratings = scores(texts)
        result = []
        for raw, probs, rating in zip(raws, probabilities, ratings, strict=True):
            best = int(np.argmax(probs))
            result.append(
                {
                    "input": raw,
                    "label": LABELS[best],
                    "score": round(float(probs[best]), 4),
                    "probabilities": {
                        name: round(float(p), 4) for name, p in zip(LABELS, probs, strict=True)
                    },
                    "rating": round(float(rating), 3),
                }
            )
        return result

    return answer_each(inputs, check_text, answer)


def summary(answer: dict) -> str:
    """One short line for the demo table."""
    return f"{answer['label']} ({answer['score']:.2f}), rating {answer['rating']:+.2f}"


class SentimentRuntime(Runtime):
    """``model_<variant>.tflite`` and its tokenizer: raw texts -> class probabilities and rating."""

    task = "Sentiment analysis (negative / neutral / positive, and a rating)"
    pattern = "many-to-one (GRU over words)"
    default_data = "VADER ground truth, 23.7k human-rated snippets in 4 domains"
    metric = "f1_weighted"
    sample_inputs = (
        "an utterly charming film",
        "The battery died after two days and support never answered.",
        "The council will meet on Tuesday to discuss the budget.",
    )
    # The label each sample should get (the demo's "right?" column).
    sample_labels = {
        "an utterly charming film": "positive",
        "The battery died after two days and support never answered.": "negative",
        "The council will meet on Tuesday to discuss the budget.": "neutral",
    }

    def __init__(self, model_dir: str | pathlib.Path, variant: str = "fp32"):
        super().__init__(model_dir, variant)
        self.tokenizer = WordTokenizer.load(self.model_dir / VOCABULARY_FILE)
        self.runner = LiteRTModel(self.tflite(), num_threads=1)

    def scores(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities [n, 3] and ratings on [-4, 4] [n]. A long text is read whole, one
        window of ``max_length`` tokens per call, and gets the token-weighted mean."""
        if not texts:
            return np.zeros((0, len(LABELS)), np.float32), np.zeros(0, np.float32)
        ids, owners = self.tokenizer.encode_windows(texts)
        outs = [self.runner(token_ids=window[None, :]) for window in ids]
        label = np.concatenate([out["label"] for out in outs])
        rating = np.concatenate([out["rating"] for out in outs])
        probabilities = mean_over_windows(label, owners, ids, len(texts))
        ratings = mean_over_windows(rating, owners, ids, len(texts))[:, 0] * 4.0
        return probabilities, ratings.astype(np.float32)

    def outputs(self, inputs: list) -> np.ndarray:
        return self.scores(inputs)[0]

    def predict(self, inputs: list) -> list[dict | UserError]:
        return answers(inputs, self.scores)

    def summary(self, answer: dict) -> str:
        return summary(answer)
