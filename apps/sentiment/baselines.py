"""Non-RNN references: the VADER analyzer (untuned) and TF-IDF n-grams tuned on validation.

The TF-IDF baseline's knobs (the n-gram range, the logistic regression's regularisation C
and class weighting; the ridge regression's alpha for the rating) are chosen on the
validation split by the headline metric, weighted F1 (Pearson r for the rating); the test
split is then read once, with the chosen knobs. VADER has no knobs: it is the untuned
reference of the issue.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from apps.sentiment import data as sentiment_data
from shared.data.vader import rating_to_label
from shared.metrics import classification_scores, pearson_r

# Tried on validation (the grid's n-gram lengths and C values are the config's
# `tfidf_ngrams` and `tfidf_c_values`). "balanced" weighs the rare neutral class up, as the
# RNN's neutral threshold does.
CLASS_WEIGHTS = (None, "balanced")
RIDGE_ALPHAS = (0.3, 1.0, 3.0, 10.0)


@dataclasses.dataclass
class TfidfBaseline:
    """A fitted TF-IDF + logistic regression (label) + ridge (rating), and how it was chosen."""

    vectorizer: object
    classifier: object
    regressor: object | None
    chosen: dict
    validation: dict

    def predict(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Labels (0/1/2) and ratings on [-4, 4] (NaN when trained without ratings)."""
        features = self.vectorizer.transform(texts)
        labels = self.classifier.predict(features)
        if self.regressor is None:
            return labels, np.full(len(texts), np.nan)
        return labels, self.regressor.predict(features)


def tune_tfidf(
    train: dict, validation: dict, ngrams: tuple[int, ...], c_values: tuple[float, ...]
) -> TfidfBaseline:
    """TF-IDF n-grams with logistic regression, every knob chosen on `validation`: word
    1- to n-grams for each n of `ngrams`, each C of `c_values`, with and without class
    weights.

    Ties (within 1e-9) go to the earlier entry of the grid: fewer n-grams, a smaller C.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, Ridge

    train_labels = np.asarray(train["label"])
    validation_labels = np.asarray(validation["label"])
    best = None
    grid = []
    for ngram_range in [(1, n) for n in ngrams]:
        vectorizer = TfidfVectorizer(ngram_range=ngram_range, min_df=2, sublinear_tf=True)
        train_features = vectorizer.fit_transform(train["text"])
        validation_features = vectorizer.transform(validation["text"])
        for class_weight, c_value in itertools.product(CLASS_WEIGHTS, c_values):
            classifier = LogisticRegression(
                max_iter=2000, C=c_value, class_weight=class_weight
            ).fit(train_features, train_labels)
            scores = classification_scores(
                validation_labels, classifier.predict(validation_features), labels=[0, 1, 2]
            )
            knobs = {"ngram_range": list(ngram_range), "C": c_value, "class_weight": class_weight}
            grid.append({**knobs, "f1_weighted": round(scores["f1_weighted"], 4)})
            if best is None or scores["f1_weighted"] > best[0] + 1e-9:
                best = (scores["f1_weighted"], knobs, vectorizer, classifier, train_features)
    score, knobs, vectorizer, classifier, train_features = best

    regressor = None
    train_rating = np.asarray(train["rating"], dtype=float)
    known = np.isfinite(train_rating)
    if known.any():
        validation_features = vectorizer.transform(validation["text"])
        validation_rating = np.asarray(validation["rating"], dtype=float)
        best_r = None
        for alpha in RIDGE_ALPHAS:
            candidate = Ridge(alpha=alpha).fit(train_features[known], train_rating[known])
            r = pearson_r(candidate.predict(validation_features), validation_rating)
            if best_r is None or (r is not None and r > best_r + 1e-9):
                best_r, regressor, knobs["ridge_alpha"] = (
                    (r if r is not None else -1.0),
                    candidate,
                    alpha,
                )
    return TfidfBaseline(
        vectorizer,
        classifier,
        regressor,
        chosen=knobs,
        validation={"f1_weighted": round(score, 4), "count": len(validation_labels), "grid": grid},
    )


def vader_scores(texts: list[str], threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """VADER's labels (by the paper's protocol) and its compound score on [-4, 4]."""
    compound = sentiment_data.vader_compound(texts).astype(np.float64) * 4.0
    return rating_to_label(compound, threshold), compound
