"""Tune statistics on hand-made tunes, and the longest shared run against brute force."""

from fractions import Fraction as F

import numpy as np
import pytest

from apps.music import events, measures
from apps.music.events import Note, Tune


def tune(key, pitches, duration=1, metre="4/4"):
    """Bars of 4/4 quarter notes (or `duration`) of `pitches`; None is a rest."""
    notes = [Note(p, F(duration)) for p in pitches]
    per_bar = int(events.bar_length(metre) / F(duration))
    return Tune(key, metre, [notes[i : i + per_bar] for i in range(0, len(notes), per_bar)])


SCALE = tune("C major", [60, 62, 64, 65, 67, 69, 71, 72])  # up the C major scale
ODD = tune("G major", [67, 68, 66, None, 67, 74, 62, 61])  # G, G#, F#, rest, G, D, D, C#


def test_pitch_classes_are_counted_from_the_tonic():
    histogram = measures.pitch_class_histogram([SCALE])
    np.testing.assert_allclose(histogram[[0, 2, 4, 5, 7, 9, 11]], [2 / 8] + [1 / 8] * 6)
    # In G: G G# F# G D D C# -> 0, 1, 11, 0, 7, 7, 6.
    odd = measures.pitch_class_histogram([ODD])
    np.testing.assert_allclose(odd[[0, 1, 6, 7, 11]], np.array([2, 1, 1, 2, 1]) / 7)
    assert measures.pitch_class_histogram([events.transpose(SCALE, 5)]) == pytest.approx(histogram)


def test_intervals_skip_rests_and_clip_large_leaps():
    assert measures.intervals(ODD) == [1, -2, 1, 7, -12, -1]
    histogram = measures.interval_histogram([ODD, tune("C major", [48, 84, 60, 61])])
    assert histogram.sum() == pytest.approx(1)
    assert histogram[measures.MAX_INTERVAL + 12] == pytest.approx(1 / 9)  # +36, clipped
    assert histogram[measures.MAX_INTERVAL - 12] == pytest.approx(2 / 9)  # -12 and -24


def test_durations_and_distances():
    quarters = measures.duration_histogram([SCALE])
    assert quarters[events.DURATION_INDEX[F(1)]] == 1
    halves = measures.duration_histogram([tune("C major", [60, 62, 64, 65], duration=2)])
    assert measures.distance(quarters, quarters) == 0
    assert measures.distance(quarters, halves) == 1
    assert measures.distance([1, 1, 0], [0, 1, 1]) == pytest.approx(0.5)


def test_in_key_share_and_the_final_note():
    assert measures.in_key_share(SCALE) == 1 and measures.ends_on_tonic(SCALE)
    assert measures.in_key_share(ODD) == pytest.approx(5 / 7)  # G# and C# are not in G major
    assert not measures.ends_on_tonic(ODD)
    assert measures.ends_on_tonic(tune("A minor", [69, 71, 72, 57, None]))  # a rest at the end


def brute_force_longest(ids, training):
    best = 0
    for t in training:
        for i in range(len(ids)):
            for j in range(len(t)):
                k = 0
                while i + k < len(ids) and j + k < len(t) and ids[i + k] == t[j + k]:
                    k += 1
                best = max(best, k)
    return best


def test_the_longest_shared_run_matches_brute_force():
    rng = np.random.default_rng(0)
    training = [rng.integers(0, 4, size=rng.integers(1, 40)).tolist() for _ in range(30)]
    index = measures.RunIndex(training)
    for _ in range(40):
        ids = rng.integers(0, 4, size=rng.integers(0, 30)).tolist()
        assert index.longest(ids) == brute_force_longest(ids, training)


def test_a_run_never_crosses_from_one_training_tune_into_the_next():
    index = measures.RunIndex([[1, 2, 3], [4, 5, 6]])
    assert index.longest([2, 3, 4, 5]) == 2
    assert index.longest([1, 2, 3]) == 3
    assert index.longest([7, 8]) == 0
    assert index.longest([]) == 0


def test_statistics_of_generated_tunes_beside_the_training_tunes():
    copied = tune("C major", [60, 62, 64, 65, 67, 69, 71, 72])
    stats = measures.tune_statistics([copied, ODD], [SCALE])
    assert stats["longest_shared_run"]["max"] == len(events.encode(SCALE)) - 1
    assert stats["longest_shared_run"]["each"][0] == stats["longest_shared_run"]["max"]
    assert stats["training"]["in_key_share"] == 1 and stats["training"]["ends_on_tonic"] == 1
    assert stats["generated"]["ends_on_tonic"] == 0.5
    assert stats["generated"]["bars_valid"] == 1
    assert 0 < stats["pitch_class_distance"] < 1
    same = measures.tune_statistics([SCALE], [SCALE])
    assert same["pitch_class_distance"] == same["interval_distance"] == 0
