"""Splits by tune: every copy and variant of a tune in one split, and the overlap check."""

import dataclasses
from fractions import Fraction as F

import numpy as np
import pytest

from apps.music import events, splits
from apps.music.corpus import Record, cached_corpus_folder, load_corpus
from apps.music.events import Note, Tune
from shared.data.overlap import overlap_rows


def random_tune(rng, notes=24, metre="4/4"):
    """A tune of random pitches and quarter and half notes, whole bars of 4/4."""
    bars, bar, left = [], [], 4
    while len([n for b in bars for n in b]) + len(bar) < notes or bar:
        duration = 2 if left >= 2 and rng.random() < 0.3 else 1
        bar.append(Note(int(rng.integers(60, 80)), F(duration)))
        left -= duration
        if left == 0:
            bars.append(bar)
            bar, left = [], 4
    return Tune("C major", metre, bars)


def records_of(tunes, collection="essen"):
    return [Record(collection, f"{collection}.abc", i, "", t) for i, t in enumerate(tunes)]


@pytest.fixture(scope="module")
def planted():
    """200 random tunes, a transposed copy of tune 7 in another collection written in
    halved note values, and a variant of tune 11 (another rhythm, a repeated note)."""
    rng = np.random.default_rng(0)
    tunes = [random_tune(rng) for _ in range(200)]
    copy = events.transpose(tunes[7], 5)
    copy = Tune(
        copy.key,
        "2/4",
        [[dataclasses.replace(n, duration=n.duration / 2) for n in b] for b in copy.bars],
    )
    first = tunes[11].bars[0]
    half = first[0].duration / 2
    variant_bar = [Note(first[0].pitch, half), Note(first[0].pitch, half), *first[1:]]
    variant = Tune("C major", "4/4", [variant_bar, *tunes[11].bars[1:]])
    return records_of(tunes) + records_of([copy], "ryans") + records_of([variant], "oneills")


def test_copies_and_variants_are_grouped(planted):
    tunes = [r.tune for r in planted]
    assert events.canonical(tunes[200]) == events.canonical(tunes[7])
    assert events.canonical(tunes[201]) != events.canonical(tunes[11])
    groups = splits.tune_groups(tunes)
    assert groups[200] == groups[7] and groups[201] == groups[11]
    assert len(set(groups.tolist())) == 200


def test_a_long_shared_passage_groups_two_tunes_that_start_apart():
    rng = np.random.default_rng(5)
    a, b, c = (random_tune(rng, notes=24) for _ in range(3))
    # b's first bars, then 17 notes of a's middle (two octaves down: 16 intervals from its
    # first note), then c's last bars.
    middle = [dataclasses.replace(x, pitch=x.pitch - 24) for x in a.notes[4:21]]
    notes = b.notes[:8] + middle + c.notes[-8:]
    joined = Tune("C major", "4/4", [notes])
    assert events.incipit(joined) != events.incipit(a)
    assert splits.tune_groups([a, joined, b]).tolist() == [0, 0, 2]
    shorter = Tune("C major", "4/4", [middle[:15]])
    assert splits.tune_groups([a, shorter]).tolist() == [0, 1]


@pytest.mark.parametrize("seed", [1234, 1, 2])
def test_a_planted_transposed_copy_lands_in_its_originals_split(planted, seed):
    result = splits.split_corpus(planted, seed=seed)
    where = {}
    for name in splits.SPLIT_NAMES:
        part = getattr(result, name)
        for collection, number in zip(part["collection"], part["name"], strict=True):
            where[(collection, number)] = name
    assert where[("ryans", "ryans.abc#0")] == where[("essen", "essen.abc#7")]
    assert where[("oneills", "oneills.abc#0")] == where[("essen", "essen.abc#11")]
    for kind in splits.KINDS:
        assert overlap_rows(result.info["overlap"][kind]) == 0
    splits.check(result.info["overlap"])
    counts = result.info["counts"]["essen"]
    assert abs(counts["train"] - 160) <= 2 and abs(counts["validation"] - 20) <= 2


def test_the_overlap_check_fails_when_a_copy_is_forced_across_splits(planted):
    keys = [splits.identity_keys(r.tune) for r in planted]
    forced = {"train": keys[:150], "validation": keys[150:175], "test": [*keys[175:200], keys[200]]}
    report = splits.overlap(forced)
    assert report["copies"]["train/test"]["rows"] == 1
    with pytest.raises(AssertionError, match="copies.*train/test"):
        splits.check(report)


def test_groups_are_dealt_whole_with_the_fractions_per_stratum():
    groups = np.array([0, 0, 0, 3, 4, 5, 6, 7, 8, 9, 10, 11])
    strata = ["a"] * 12
    for seed in range(10):
        part = splits.assign(groups, strata, (0.5, 0.25), seed=seed)
        assert len(set(part[:3].tolist())) == 1  # the group of three stays together
        assert np.array_equal(part, splits.assign(groups, strata, (0.5, 0.25), seed=seed))
        train, validation, test = np.bincount(part, minlength=3).tolist()
        assert 6 <= train <= 8 and validation >= 1 and test >= 1


def test_the_same_tune_in_two_real_collections_stays_in_one_split(sample_corpus):
    """O'Neill's "Biddy from Limerick" (D major) is Ryan's "Limerick Jig" (F major); Essen's
    "Nun danket alle Gott" is Bach's chorale bwv79.3 with other rhythms."""
    by_name = {r.name: r for r in sample_corpus.records}
    biddy = by_name["oneills1850/1136-1175.abc#1161"]
    limerick = by_name["ryansMammoth/LimerickJig.abc#1"]
    assert (biddy.tune.key, limerick.tune.key) == ("D major", "F major")
    assert events.canonical(biddy.tune) == events.canonical(limerick.tune)
    nun = by_name["essenFolksong/erk30.abc#628"]
    chorale = by_name["bach/bwv79.3.mxl"]
    assert events.incipit(nun.tune) == events.incipit(chorale.tune)
    records = sample_corpus.records
    for seed in range(6):
        result = splits.split_corpus(records, seed=seed)
        splits.check(result.info["overlap"])
        split_of = {
            name: split for split in splits.SPLIT_NAMES for name in getattr(result, split)["name"]
        }
        assert split_of[biddy.name] == split_of[limerick.name]
        assert split_of[nun.name] == split_of[chorale.name]


def test_the_default_corpus_splits_clean():
    if cached_corpus_folder() is None:
        pytest.skip(
            "the corpus is not parsed here yet (data/music_corpus): "
            "python -m apps.music.corpus parses it in 5-8 minutes"
        )
    result = splits.split_corpus(load_corpus(progress=False).records)
    splits.check(result.info["overlap"])
    counts = result.info["counts"]
    assert set(counts) == {"essen", "oneills", "ryans", "chorales"}
    for collection, parts in counts.items():
        total = sum(parts.values())
        assert abs(parts["train"] / total - 0.8) < 0.03, collection
    assert result.info["groups"]["across_collections"] > 50
