"""The neutral threshold that training sets on validation data (``neutral_log_shift``)."""

import numpy as np

from apps.sentiment.app import NEUTRAL_SHIFTS, neutral_log_shift


def scores_for(labels, rng, neutral_scale):
    """Probabilities that rank well but give neutral `neutral_scale` of its fair share."""
    probabilities = rng.dirichlet(np.ones(3), size=len(labels)) * 0.5
    probabilities[np.arange(len(labels)), labels] += 0.5
    probabilities[:, 1] *= neutral_scale
    return probabilities / probabilities.sum(axis=1, keepdims=True)


def test_a_model_shy_of_neutral_gets_a_positive_shift_that_scores_better():
    rng = np.random.default_rng(0)
    labels = rng.choice(3, size=600, p=[0.4, 0.2, 0.4])
    probabilities = scores_for(labels, rng, neutral_scale=0.25)
    shift, before, after = neutral_log_shift(probabilities, labels, ["nyt"] * 600)
    assert 0.5 <= shift <= 2.0  # log(1 / 0.25) = 1.39 undoes the scale
    assert after > before + 0.05


def test_a_calibrated_model_keeps_a_shift_near_zero():
    rng = np.random.default_rng(1)
    labels = rng.choice(3, size=600, p=[0.4, 0.2, 0.4])
    shift, before, after = neutral_log_shift(scores_for(labels, rng, 1.0), labels, ["a"] * 600)
    assert abs(shift) <= 0.3
    assert after >= before


def test_data_with_no_neutral_text_never_answers_neutral():
    rng = np.random.default_rng(2)
    labels = rng.choice([0, 2], size=400)
    probabilities = scores_for(labels, rng, 1.0)
    probabilities[:50, 1] = 0.9  # some texts look neutral, but no text is
    shift, _, after = neutral_log_shift(probabilities, labels, ["imdb"] * 400)
    assert shift < 0
    shifted = np.log(probabilities)
    shifted[:, 1] += shift
    assert (shifted.argmax(axis=1) != 1).all()
    assert after == 1.0


def test_each_domain_counts_the_same_however_big():
    rng = np.random.default_rng(3)
    # A big domain with no neutral text and a small one that is half neutral: scored by
    # rows, the big one would keep neutral out; averaged over domains, the small one counts.
    big = rng.choice([0, 2], size=2000)
    small = rng.choice(3, size=200, p=[0.25, 0.5, 0.25])
    labels = np.concatenate([big, small])
    probabilities = scores_for(labels, rng, 0.3)
    domains = ["movies"] * 2000 + ["nyt"] * 200
    shift, before, after = neutral_log_shift(probabilities, labels, domains)
    assert shift > 0
    assert after > before
    assert shift in NEUTRAL_SHIFTS
