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


def anomaly_set(rng, shift: float, normal: int = 400, anomalous: int = 20) -> dict:
    """One set of one series: normal points N(0, 1), anomalies N(shift, 1)."""
    labels = np.r_[np.zeros(normal, bool), np.ones(anomalous, bool)]
    scores = np.abs(rng.normal(size=len(labels)) + shift * labels)
    return {"series": (scores, labels)}


def test_the_false_alarm_limit_is_the_one_that_carries_to_other_sets():
    """Anomalies barely above the noise: a 1% limit keeps the threshold above most of them,
    and on sets it was not chosen on, a looser limit finds more of them. The limit is
    picked by cross-validation over the sets, and the threshold then flags at most that
    share of all the sets' normal points."""
    from apps.forecasting.app import FALSE_ALARM_LIMITS, choose_threshold_by_sets, stack_scored

    rng = np.random.default_rng(3)
    sets = [anomaly_set(rng, 1.5) for _ in range(6)]
    threshold, choice = choose_threshold_by_sets(sets)
    held = {float(k): v for k, v in choice["cross_validated_f1"].items()}
    assert set(held) == set(FALSE_ALARM_LIMITS)
    best = max(held.values())
    assert choice["false_alarm_limit"] == min(k for k, v in held.items() if v >= best - 1e-3)
    assert held[choice["false_alarm_limit"]] > held[0.01]  # a looser limit carried better
    labels, scores = stack_scored(sets)
    assert threshold == choose_threshold(labels, scores, choice["false_alarm_limit"])
    assert (scores[~labels] >= threshold).mean() <= choice["false_alarm_limit"]


def test_a_clean_score_keeps_the_strictest_limit_and_one_set_the_default():
    from apps.forecasting.app import choose_threshold_by_sets

    rng = np.random.default_rng(4)
    sets = [anomaly_set(rng, 30.0) for _ in range(4)]  # every limit separates them all
    threshold, choice = choose_threshold_by_sets(sets)
    assert choice["false_alarm_limit"] == 0.01 and 5 < threshold < 28
    _, alone = choose_threshold_by_sets(sets[:1])
    assert alone == {"false_alarm_limit": MAX_FALSE_ALARM_RATE, "cross_validated_f1": {}}
