"""Classification and correlation metrics, from scikit-learn and SciPy."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats
from sklearn import metrics as sk_metrics

# Metric names where lower is better: a ratio to a baseline below 1 is the win there.
LOWER_IS_BETTER_WORDS = ("bits_per_character", "perplexity", "wer", "cer", "loss", "error")


def classification_scores(
    y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[int]
) -> dict:
    """Accuracy, F1 weighted by class support, and macro-F1."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return {
        "accuracy": float(sk_metrics.accuracy_score(y_true, y_pred)),
        "f1_weighted": float(
            sk_metrics.f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0)
        ),
        "f1_macro": float(
            sk_metrics.f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
        ),
        "count": int(len(y_true)),
    }


def pearson_r(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Pearson's r over the pairs where both values are known; None if undefined."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    known = np.isfinite(x) & np.isfinite(y)
    if known.sum() < 3 or np.std(x[known]) == 0 or np.std(y[known]) == 0:
        return None
    return float(stats.pearsonr(x[known], y[known]).statistic)


def by_group(groups: Sequence[str], score: Callable[[np.ndarray], dict]) -> dict[str, dict]:
    """``score(row_indices)`` for every group, keyed by group name (sorted)."""
    groups = np.asarray(groups)
    return {str(g): score(np.flatnonzero(groups == g)) for g in sorted(set(groups.tolist()))}
