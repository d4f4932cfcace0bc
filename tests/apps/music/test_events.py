"""The event vocabulary: encoding round trips, bars, transposition, canonical forms."""

from fractions import Fraction as F

import pytest

from apps.music import events
from apps.music.events import Note, Tune


def n(pitch, duration, tied=False):
    return Note(pitch, F(duration), tied)


# A 3/4 tune with a pickup, a rest, a tie over a bar line, triplets and a short last bar.
TUNE = Tune(
    "D minor",
    "3/4",
    [
        [n(57, 1)],
        [n(62, "3/2"), n(64, "1/2"), n(65, 1, tied=True)],
        [n(65, 1), n(None, "1/2"), n(64, "1/6"), n(65, "1/6"), n(67, "1/6"), n(69, 1)],
        [n(62, 2)],
    ],
)


def test_the_vocabulary_is_fixed_and_every_start_token_names_its_key_and_metre():
    assert len(events.VOCABULARY) == len(set(events.VOCABULARY))
    assert events.VOCABULARY[0] == events.PAD
    assert len(events.VOCABULARY) == 5 + 49 + len(events.DURATIONS) + 12 * 4 * len(events.METRES)
    for token in range(events.FIRST_START_ID, len(events.VOCABULARY)):
        key, metre = events.start_of(token)
        assert events.start_id(key, metre) == token
        assert events.VOCABULARY[token] == f"<start {key} {metre}>"


def test_a_tune_round_trips_through_its_events():
    ids = events.encode(TUNE)
    assert events.names(ids)[:6] == ["<start D minor 3/4>", "p57", "d1", "|", "p62", "d3/2"]
    assert events.names(ids).count("tie") == 1 and events.names(ids).count("|") == 3
    assert ids[-1] == events.END_ID
    assert events.decode(ids) == TUNE


def test_real_tunes_round_trip(sample_tunes):
    assert len(sample_tunes) >= 10
    for name, tune in sample_tunes.items():
        assert events.decode(events.encode(tune)) == tune, name


@pytest.mark.parametrize(
    ("tokens", "error"),
    [
        (["p60", "d1", "<end>"], "start token"),
        (["<start C major 4/4>", "p60", "<end>"], "without its duration"),
        (["<start C major 4/4>", "d1", "<end>"], "without a pitch"),
        (["<start C major 4/4>", "p60", "d1"], "ends with <end>"),
        (["<start C major 4/4>", "tie", "<end>"], "tie after no note"),
        (["<start C major 4/4>", "<end>", "p60", "d1"], "after <end>"),
    ],
)
def test_strict_decoding_refuses_what_is_out_of_place(tokens, error):
    with pytest.raises(ValueError, match=error):
        events.decode([events.ID[t] for t in tokens])


def test_lenient_decoding_keeps_what_makes_sense():
    tokens = ["<pad>", "p60", "d1", "d1", "p62", "p64", "d2", "|", "rest", "d1", "<end>", "p70"]
    tune = events.decode([events.ID[t] for t in tokens], strict=False)
    assert tune.key == "C major" and tune.metre == "4/4"
    assert tune.bars == ((n(60, 1), n(64, 2)), (n(None, 1),))


def test_encode_names_what_the_vocabulary_cannot_hold():
    with pytest.raises(ValueError, match="pitch 30"):
        events.encode(Tune("C major", "4/4", [[n(30, 1)]]))
    with pytest.raises(ValueError, match="duration 1/5"):
        events.encode(Tune("C major", "4/4", [[n(60, "1/5")]]))
    with pytest.raises(ValueError, match="metre"):
        events.encode(Tune("C major", "5/4", [[n(60, 1)]]))
    with pytest.raises(ValueError, match="key"):
        events.encode(Tune("C lydian", "4/4", [[n(60, 1)]]))


def test_bars_are_valid_with_a_pickup_and_a_short_last_bar():
    assert events.bars_valid(TUNE)
    full_bars = Tune("C major", "6/8", [[n(60, "3/2"), n(62, "3/2")], [n(64, 3)]])
    assert events.bars_valid(full_bars)
    assert events.bars_valid(Tune("C major", "4/4", [[n(60, 1)]]))  # one short bar


@pytest.mark.parametrize(
    "bars",
    [
        [[n(60, 1)], [n(60, 2)], [n(60, 3)], [n(60, 1)]],  # a short bar inside the tune
        [[n(60, 3)], [n(60, 3), n(62, 1)], [n(60, 3)]],  # a bar longer than the metre
        [[n(60, 4)], [n(60, 3)]],  # a pickup longer than the metre
        [[n(60, 3)], [], [n(60, 3)]],  # an empty bar
        [],  # no bars at all
    ],
)
def test_bars_are_invalid(bars):
    assert not events.bars_valid(Tune("C major", "3/4", bars))


def test_transposition_moves_the_key_and_every_pitch():
    up = events.transpose(TUNE, 3)
    assert up.key == "F minor"
    assert [x.pitch for x in up.notes] == [x.pitch and x.pitch + 3 for x in TUNE.notes]
    assert events.transpose(Tune("B major", "4/4", [[n(71, 4)]]), 1).key == "C major"
    assert events.transpose(Tune("C dorian", "4/4", [[n(60, 4)]]), -1).key == "B dorian"
    assert events.transpose(up, -3) == TUNE
    # The shifts that keep a tune between C3 and C7.
    wide = Tune("C major", "4/4", [[n(50, 2), n(94, 2)]])
    assert events.transpositions(wide) == [-2, -1, 0, 1, 2]


def test_canonical_forms_ignore_key_octave_and_note_values():
    key = events.canonical(TUNE)
    assert events.canonical(events.transpose(TUNE, 5)) == key
    assert events.canonical(events.transpose(TUNE, -12)) == key
    doubled = Tune(
        TUNE.key,
        "3/2",
        [[Note(x.pitch, x.duration * 2, x.tied) for x in bar] for bar in TUNE.bars],
    )
    assert events.canonical(doubled) == key
    # One other note, or the tie split into two sounds, is another tune.
    changed = Tune(TUNE.key, TUNE.metre, [*TUNE.bars[:3], [n(61, 2)]])
    assert events.canonical(changed) != key
    untied = Tune(
        TUNE.key, TUNE.metre, [TUNE.bars[0], [*TUNE.bars[1][:2], n(65, 1)], *TUNE.bars[2:]]
    )
    assert events.canonical(untied) != key


def test_sounding_joins_tied_notes_across_bar_lines():
    heard = events.sounding(TUNE)
    assert heard[3] == n(65, 2)
    assert len(heard) == len(TUNE.notes) - 1


def test_incipit_skips_repeated_notes_rests_and_rhythm():
    a = Tune("C major", "4/4", [[n(60, 1), n(62, 1), n(64, 1), n(65, 1)], [n(67, 4)]])
    b = Tune(
        "C major",
        "4/4",
        [[n(60, 2), n(60, 1), n(62, 1)], [n(None, 1), n(64, 1), n(65, 1), n(67, 1)]],
    )
    assert events.incipit(a, 4) == events.incipit(b, 4) == (2, 2, 1, 2)
    assert events.incipit(a, 5) is None


def test_odd_durations_split_into_tied_vocabulary_durations():
    assert events.split_duration(F(1)) == [F(1)]
    assert events.split_duration(F(5, 4)) == [F(1), F(1, 4)]
    assert events.split_duration(F(12)) == [F(8), F(4)]
    assert events.split_duration(F(5, 6)) == [F(1, 2), F(1, 3)]
    assert events.split_duration(F(1, 5)) is None
    assert events.split_duration(F(1, 12)) is None


def test_notes_in_the_key():
    assert events.in_key(66, "G major") and not events.in_key(65, "G major")
    assert events.in_key(65, "G mixolydian")
    assert events.in_key(68, "A minor")  # the leading note


@pytest.mark.parametrize("module", ["apps.music.events", "apps.music.synth", "apps.music.measures"])
def test_the_device_side_modules_need_only_the_base_install(module):
    from tests.test_layers import RUNTIME_PACKAGES, runtime_imports

    needed = runtime_imports(module)
    assert set(needed) <= RUNTIME_PACKAGES, needed
