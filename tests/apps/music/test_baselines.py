"""The Kneser-Ney n-gram over events: a hand-computed case, tune-by-tune scoring, tuning."""

import math
from fractions import Fraction as F

import numpy as np
import pytest

from apps.music import baselines, events
from apps.music.events import Note, Tune

A, B, C = 60, 61, 62  # any event ids


def test_bits_match_a_hand_computed_kneser_ney_bigram():
    # Training events A B A B, order 2, discount D = 0.5; outcomes A, B and one unknown (3).
    # Unigram level (continuation counts: A follows B once, B follows A once; 2 in all):
    #   P1(A) = P1(B) = (1 - 0.5) / 2 + 0.5 * 2 / 2 * 1/3 = 5/12,  P1(unknown) = 1/6.
    # Bigram level (raw counts): after A, B twice; after B, A once.
    #   P(B | A) = (2 - 0.5) / 2 + 0.5 * 1 / 2 * 5/12 = 41/48
    #   P(A | B) = (1 - 0.5) / 1 + 0.5 * 1 / 1 * 5/12 = 17/24
    #   P(C | A) = 0.5 * 1 / 2 * 1/6 = 1/24              (C never seen: the unknown's share)
    model = baselines.fit([[A, B, A, B]], order=2, discount=0.5)
    bits = baselines.tune_bits(model, [[A, B, A], [B, A], [A, C]])
    expected = [
        -math.log2(41 / 48) - math.log2(17 / 24),  # B | A, then A | B (A is given)
        -math.log2(17 / 24),  # the second tune starts afresh: A | B only
        -math.log2(1 / 24),
    ]
    np.testing.assert_allclose(bits, expected, rtol=1e-12)
    assert baselines.bits_per_event(model, [[A, B, A], [B, A]]) == pytest.approx(
        sum(expected[:2]) / 3
    )


def test_scoring_tunes_together_equals_scoring_each_alone():
    rng = np.random.default_rng(0)
    train = [rng.integers(5, 30, size=rng.integers(5, 40)).tolist() for _ in range(50)]
    tunes = [rng.integers(5, 32, size=rng.integers(2, 30)).tolist() for _ in range(20)]
    model = baselines.fit(train, order=4, discount=0.8)
    together = baselines.tune_bits(model, tunes)
    for tune, bits in zip(tunes, together, strict=True):
        text = baselines.event_text(tune)
        char_model = model.model
        alone = char_model.bits_per_character(text) * len(text) + math.log2(
            char_model.prob(text[0], "")
        )
        assert bits == pytest.approx(alone, rel=1e-9, abs=1e-9)


def sequences(rng, count, dependent):
    """Tunes of 60 events over ids 10..12 after a start id; with `dependent`, each event is
    fixed by the ones 3 and 4 before it (an order-5 model predicts it), else independent."""
    out = []
    for _ in range(count):
        x = list(rng.integers(0, 3, size=4))
        for _ in range(56):
            x.append((x[-3] + x[-4]) % 3 if dependent else int(rng.integers(0, 3)))
        out.append([500] + [10 + int(v) for v in x])
    return out


@pytest.mark.parametrize(("dependent", "lowest", "highest"), [(True, 5, 8), (False, 1, 2)])
def test_tuning_picks_the_order_the_data_needs(dependent, lowest, highest):
    rng = np.random.default_rng(1)
    train, validation = sequences(rng, 150, dependent), sequences(rng, 40, dependent)
    tuned = baselines.tune_ngram(train, validation, orders=(1, 2, 3, 5, 8), discounts=(0.5, 0.9))
    assert lowest <= tuned["order"] <= highest
    assert set(tuned["grid"]["absolute"]) == {"1", "2", "3", "5", "8"}
    best = min(bits for row in tuned["grid"]["absolute"].values() for bits in row.values())
    assert tuned["validation"] == pytest.approx(best, abs=1e-4)
    if dependent:  # only the first four events are random: 4 * log2(3) bits over 60
        assert tuned["validation"] < 0.5
    else:
        assert tuned["validation"] == pytest.approx(np.log2(3), abs=0.05)


def motif_tunes(rng, count):
    """Tunes made of four fixed motifs in a random key (tonic and pitches moved together)."""
    motifs = [[0, 2, 4, 5], [7, 5, 4, 2], [4, 4, 2, 0], [0, 7, 4, 0]]
    out = []
    for _ in range(count):
        tonic = int(rng.integers(0, 12))
        bars = [
            [Note(60 + tonic + step, F(1)) for step in motifs[int(rng.integers(0, 4))]]
            for _ in range(8)
        ]
        out.append(events.encode(Tune(events.key_name(tonic, "major"), "4/4", bars)))
    return out


def test_the_key_relative_view_keeps_the_events_and_pools_the_keys():
    rng = np.random.default_rng(2)
    tune = events.decode(motif_tunes(rng, 1)[0])
    up = events.transpose(tune, 2 - tune.tonic)  # the tune in D
    down = events.transpose(up, -2)  # and in C
    relative = baselines.event_text(events.encode(up), "key_relative")
    assert relative == baselines.event_text(events.encode(down), "key_relative")
    assert baselines.event_text(events.encode(up)) != baselines.event_text(events.encode(down))
    assert len(relative) == len(events.encode(up))
    train, validation = motif_tunes(rng, 60), motif_tunes(rng, 20)
    tuned = baselines.tune_ngram(
        train, validation, orders=(2, 5), discounts=(0.8,), views=baselines.VIEWS
    )
    assert tuned["view"] == "key_relative"
    assert tuned["grid"]["key_relative"]["5"]["0.8"] < tuned["grid"]["absolute"]["5"]["0.8"]
    assert baselines.bits_per_event(tuned["model"], validation) == pytest.approx(
        tuned["validation"]
    )
