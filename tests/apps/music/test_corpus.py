"""The corpus: what ships in the music21 wheel, real tunes parsed, and what is dropped and why."""

import json
from collections import Counter
from fractions import Fraction

import pytest

from apps.music import corpus, events


def raw(bars, metre="4/4", key=None, collection="oneills", **extra):
    """A raw record as the cache keeps it: bars of [midi or None, "n/d", "t" or ""]."""
    key = {"tonic": 0, "mode": "major", "sharps": 0, "changes": 0} if key is None else key
    return {
        "collection": collection,
        "metres": [metre],
        "metre_fields": 1,
        "key": key,
        "bars": bars,
        "file": "x.abc",
        "number": 1,
        **extra,
    }


BAR = [[60, "1", ""], [62, "1", ""], [64, "1", ""], [65, "1", ""]]


def test_the_wheel_holds_the_four_collections():
    root = corpus.music21_corpus_root()
    files = {name: len(corpus.collection_files(c, root)) for name, c in corpus.COLLECTIONS.items()}
    assert files == {"essen": 31, "oneills": 39, "ryans": 1059, "chorales": 413}
    assert (root / "essenFolksong" / "license.txt").is_file()
    assert (root / "license.txt").is_file()


def test_abc_files_split_into_tunes_with_the_file_header(tmp_path):
    path = tmp_path / "two.abc"
    path.write_text("%abc\nL:1/8\n\nX:1\nT:One\nK:G\nGABc|\n\nX: 7\nT:Two\nK:D\ndefg|\n")
    tunes = corpus.abc_tunes(path)
    assert [number for number, _ in tunes] == [1, 7]
    assert tunes[1][1].startswith("X: 7\nL:1/8\nT:Two")
    assert corpus.metre_fields("X:1\nM:6/8\nK:G\nGAB|[M:3/4]c|\n") == 2


def test_real_tunes_of_every_collection_are_read(sample_corpus, sample_tunes):
    assert {r.collection for r in sample_corpus.records} == set(corpus.COLLECTIONS)
    assert sum(sample_corpus.parsed.values()) == 13
    for name, tune in sample_tunes.items():
        assert events.bars_valid(tune), name
        assert len(events.encode(tune)) > 20, name
    hildebrand = sample_tunes["essenFolksong/altdeu10.abc#1"]
    assert (hildebrand.key, hildebrand.metre) == ("G minor", "4/2")  # Essen: K: is the tonic
    assert hildebrand.bars[0] == (events.Note(67, 2),)  # the pickup
    assert sample_tunes["bach/bwv11.6.mxl"].metre == "3/4"
    assert sample_tunes["bach/bwv277.krn"].key == "C major"  # from the final bass note
    # The horn part of bwv1.6 stands above the soprano: the soprano is taken.
    assert max(x.pitch for x in sample_tunes["bach/bwv1.6.mxl"].notes if x.pitch) <= 81
    # Triplets are in the vocabulary: O'Neill's 2 writes (3(A2G2F2) with L:1/16.
    assert Fraction(1, 3) in {x.duration for x in sample_tunes["oneills1850/0001-0050.abc#2"].notes}
    changes = sample_corpus.changes
    assert changes["ryans"]["chords reduced to their top note"] > 0
    assert changes["ryans"]["grace notes left out"] > 0
    assert changes["oneills"]["short bars joined across a section end"] > 0


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"collection": "oneills", "error": "AbcTranslateException: bad"}, "parse_error"),
        ({"collection": "chorales", "error": "no soprano part"}, "no_melody"),
        (raw([BAR], metre=None) | {"metres": []}, "no_metre"),
        (raw([BAR]) | {"metre_fields": 2}, "metre_changes"),
        (raw([BAR], metre="5/4"), "unknown_metre"),
        (raw([BAR], key={"tonic": 7, "mode": "lydian", "sharps": 2}), "unknown_key"),
        (raw([BAR], key={"sharps": 5}), "unknown_key"),
        (raw([[[60, "1/5", ""]] * 5 + [[62, "3", ""]], BAR]), "duration"),
        (raw([BAR, [[100, "4", ""]]]), "pitch_range"),
        (raw([BAR, [[60, "2", ""]], BAR, BAR]), "irregular_bars"),
        (raw([BAR]), "too_short"),
    ],
)
def test_what_cannot_be_represented_is_dropped_with_its_reason(record, reason):
    assert reason in corpus.DROP_REASONS
    with pytest.raises(corpus.Dropped) as dropped:
        corpus.to_tune(record)
    assert dropped.value.reason == reason


def test_drops_are_counted_per_collection_and_reason():
    rows = {
        "oneills": [raw([BAR, BAR]), raw([BAR], metre="5/4"), raw([BAR], metre="5/4")],
        "ryans": [{"collection": "ryans", "error": "x", "file": "y.abc", "number": 1}],
    }
    result = corpus.convert(rows)
    assert result.kept("oneills") == 1 and result.parsed == {"oneills": 3, "ryans": 1}
    assert result.dropped == {
        "oneills": Counter(unknown_metre=2),
        "ryans": Counter(parse_error=1),
    }


def test_a_section_end_and_the_next_pickup_become_one_bar():
    # | 4 beats | 3 beats :|: 1 beat | 4 beats |: the short pair is one bar of 4.
    tune = corpus.to_tune(raw([BAR, BAR[:3], BAR[3:], BAR]))
    assert [len(bar) for bar in tune.bars] == [4, 4, 4]
    assert events.bars_valid(tune)


def test_ties_join_inside_a_bar_and_stay_across_bar_lines():
    bars = [
        [[60, "1", "t"], [60, "1", ""], [62, "1", ""], [64, "1", "t"]],
        [[64, "1", ""], [65, "1", "t"], [67, "2", ""]],  # a tie between two pitches: a slur
    ]
    tune = corpus.to_tune(raw(bars + [BAR]))
    assert tune.bars[0][0] == events.Note(60, 2)  # joined
    assert tune.bars[0][-1].tied and not tune.bars[1][0].tied  # kept over the bar line
    assert not tune.bars[1][1].tied  # 65 -> 67 is no tie


def test_odd_durations_become_tied_notes():
    tune = corpus.to_tune(raw([[[60, "5/4", ""], [62, "11/4", ""]], BAR]))
    assert tune.bars[0] == (
        events.Note(60, 1, True),
        events.Note(60, 0.25),
        events.Note(62, 2, True),
        events.Note(62, 0.75),
    )


def test_essen_keys_name_the_tonic_and_the_third_picks_the_mode():
    minor_third = [[[60, "1", ""], [63, "2", ""], [67, "1", ""]], [[62, "1", ""], [60, "3", ""]]]
    key = {"tonic": 0, "mode": "major", "sharps": 0, "changes": 0}
    assert corpus.to_tune(raw(minor_third * 2, key=key, collection="essen")).key == "C minor"
    assert corpus.to_tune(raw([BAR, BAR], key=key, collection="essen")).key == "C major"


def test_the_cached_corpus_when_it_was_parsed_here():
    folder = corpus.cached_corpus_folder()
    if folder is None:
        pytest.skip(
            "the corpus is not parsed here yet (data/music_corpus): "
            "python -m apps.music.corpus parses it in 5-8 minutes"
        )
    info = json.loads((folder / "parse.json").read_text())
    assert info["tunes"] == {"essen": 8514, "oneills": 2009, "ryans": 1059, "chorales": 413}


def test_parsing_in_two_processes_gives_the_same_records(sample_raw):
    """The corpus is parsed by one process per core: the same records, in the same order."""
    wanted = {(row["file"], row["number"]) for rows in sample_raw.values() for row in rows}
    records, seconds = corpus.parse_collections(
        progress=False, select=lambda item: (item.file, item.number) in wanted, workers=2
    )
    assert records == sample_raw
    assert set(seconds) == set(sample_raw)
