"""The anomaly threshold: best F1 on validation, within a false-alarm budget."""

import numpy as np

from apps.forecasting.app import MAX_FALSE_ALARM_RATE, choose_threshold
from apps.forecasting.measures import best_threshold


def test_a_weak_score_does_not_get_a_flag_everything_threshold():
    rng = np.random.default_rng(0)
    labels = np.zeros(1000, bool)
    labels[:300] = True  # a third anomalous: flagging everything is best F1 (0.5)
    scores = rng.normal(size=1000) + 0.2 * labels  # barely separates them
    unconstrained = best_threshold(labels, scores)
    assert (scores >= unconstrained).mean() > 0.9  # the trap: nearly everything flagged
    threshold = choose_threshold(labels, scores)
    false_alarms = (scores[~labels] >= threshold).mean()
    assert false_alarms <= MAX_FALSE_ALARM_RATE

    # Of the thresholds within the budget it is the best F1 (checked against a brute force).
    def f1(t):
        flags = scores >= t
        tp = (flags & labels).sum()
        return 2 * tp / (flags.sum() + labels.sum())

    allowed = [
        t for t in np.unique(scores) if (scores[~labels] >= t).mean() <= MAX_FALSE_ALARM_RATE
    ]
    assert f1(threshold) >= max(f1(t) for t in allowed) - 1e-12


def test_a_clean_separation_keeps_the_best_f1_threshold():
    labels = np.array([0] * 200 + [1] * 10, bool)
    scores = np.concatenate([np.linspace(0, 1, 200), np.linspace(5, 6, 10)])
    threshold = choose_threshold(labels, scores)
    assert 1.0 < threshold <= 5.0
    assert ((scores >= threshold) == labels).all()
