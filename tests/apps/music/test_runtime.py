"""The host side of generation, without a trained model: keys and metres, the bar-keeping
grammar, the sampler, beam search over a step function, and answers to bad inputs."""

import base64
from fractions import Fraction as F

import numpy as np
import pytest

from apps.music import events, runtime
from apps.music.data import shift_range, transpose_ids
from shared.errors import UserError
from shared.runtime.sampling import filter_mask


class RandomComposer(runtime.Composer):
    """A stand-in model: logits drawn from a seeded generator, whatever it reads. Generation
    must stay well formed whatever the model says."""

    def __init__(self, seed=0, favour=None):
        self.rng = np.random.default_rng(seed)
        self.favour = favour or {}

    def zero_states(self):
        return np.zeros((1, 1, 2), np.float32)

    def step(self, token_id, states):
        logits = self.rng.normal(0.0, 3.0, runtime.VOCABULARY_SIZE).astype(np.float32)
        for token, boost in self.favour.items():
            logits[token] += boost
        return logits, states + 1


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("G", "G major"),
        ("Em", "E minor"),
        ("d dorian", "D dorian"),
        ("F# minor", "F# minor"),
        ("Gb", "F# major"),
        ("A mix", "A mixolydian"),
        ("Bb major", "Bb major"),
    ],
)
def test_keys_are_read_as_users_write_them(text, key):
    assert runtime.parse_key(text) == key


@pytest.mark.parametrize("text", ["H", "G lydian", "", "Gx", "12"])
def test_an_unknown_key_is_a_user_error_naming_it(text):
    with pytest.raises(UserError, match="unknown key"):
        runtime.parse_key(text)


def test_metres_outside_the_vocabulary_are_user_errors():
    assert runtime.parse_metre(" 6/8 ") == "6/8"
    for metre in ("7/8", "12/8", "six-eight"):
        with pytest.raises(UserError, match=f"metre '{metre}': unknown metre"):
            runtime.parse_metre(metre)


def test_every_key_choice_of_the_option_is_readable():
    assert len({runtime.parse_key(choice) for choice in runtime.KEY_CHOICES}) == 48
    assert runtime.KEY_CHOICES[:3] == ("C", "Cm", "C major") and len(runtime.KEY_CHOICES) == 72


@pytest.mark.parametrize("metre", ["6/8", "3/4", "4/4", "9/8", "3/2"])
@pytest.mark.parametrize("seed", range(4))
def test_constrained_generation_keeps_every_bar_valid_whatever_the_model_says(metre, seed):
    composer = RandomComposer(seed, favour={events.TIE_ID: 2.0, events.ID["d1/6"]: 3.0})
    composition = composer.compose([events.start_id("D major", metre)], bars=12, seed=seed)
    tune = composition.tune
    assert events.bars_valid(tune), runtime_bars(tune)
    assert 1 <= len(tune.bars) <= 12 and composition.ended
    # The last bar is full or holds the rest of the pickup's bar.
    sums, full = runtime_bars(tune), events.bar_length(metre)
    assert len(sums) == 1 or sums[-1] == full or sums[0] + sums[-1] == full, sums
    # What was drawn is a strict event sequence: it decodes without skipping anything.
    assert events.decode(composition.ids) == tune
    # Ties join notes of one pitch only.
    notes = tune.notes
    for note, following in zip(notes, notes[1:], strict=False):
        if note.tied:
            assert following.pitch == note.pitch


def runtime_bars(tune):
    return [sum((n.duration for n in bar), F(0)) for bar in tune.bars]


def test_unconstrained_generation_takes_what_the_model_draws():
    composer = RandomComposer(3)
    tunes = [
        composer.compose(
            [events.start_id("G major", "6/8")], bars=8, seed=s, constrained=False
        ).tune
        for s in range(5)
    ]
    # Random logits almost never write valid bars: the mask is what makes them valid.
    assert sum(events.bars_valid(t) for t in tunes) < 5


def test_min_bars_keeps_the_tune_going():
    composer = RandomComposer(1, favour={events.END_ID: 6.0})
    short = composer.compose([events.start_id("C major", "2/4")], bars=20, seed=0).tune
    longer = composer.compose([events.start_id("C major", "2/4")], bars=20, min_bars=20).tune
    assert len(short.bars) < 5 and len(longer.bars) == 20 and events.bars_valid(longer)


def test_a_continuation_keeps_the_given_melody_and_its_bars():
    given = events.Tune(
        "A minor",
        "3/4",
        [[events.Note(69, F(1))], [events.Note(72, F(2)), events.Note(71, F(1), tied=True)]],
    )
    prompt = events.encode(given)
    composition = RandomComposer(2).compose(prompt, bars=4, seed=1)
    assert composition.ids[: len(prompt) - 1] == prompt[:-1]
    assert composition.given == len(prompt) - 1
    tune = composition.tune
    assert tune.bars[0] == given.bars[0] and events.bars_valid(tune)
    # The tie at the end of the given melody holds into the next bar's first note.
    assert tune.bars[2][0].pitch == 71
    assert len(tune.bars) <= 2 + 4


def test_beam_search_keeps_bars_valid_and_finds_the_likelier_tune():
    composer = RandomComposer(5)
    start = [events.start_id("E minor", "4/4")]
    best = composer.compose(start, bars=4, beam=4)
    assert events.bars_valid(best.tune) and best.ended


def test_the_sampler_draws_only_what_filter_mask_keeps():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, runtime.VOCABULARY_SIZE)
    candidates = np.arange(5, 60)
    for top_k, top_p in ((0, 0.7), (5, 1.0), (10, 0.5), (0, 1.0)):
        kept = set(candidates[filter_mask(logits[candidates], 0.8, top_k, top_p)].tolist())
        draws = {runtime.draw(logits, candidates, 0.8, top_k, top_p, rng) for _ in range(400)}
        assert draws <= kept, (top_k, top_p)
        if top_k or top_p < 1.0:  # a few events kept: 400 draws find every one
            assert draws == kept and len(kept) < 20, (top_k, top_p)
    assert (
        runtime.draw(logits, candidates, 0.0, 0, 1.0, rng)
        == candidates[np.argmax(logits[candidates])]
    )


def test_transposing_ids_is_transposing_the_tune(sample_tunes):
    for tune in sample_tunes.values():
        ids = np.array(events.encode(tune))
        low, high = shift_range(ids)
        assert low <= 0 <= high
        for shift in (low, -1, 0, 3, high):
            expected = events.encode(events.transpose(tune, shift))
            assert transpose_ids(ids, shift).tolist() == expected


def test_bad_options_and_inputs_fail_alone():
    composer = RandomComposer(0)
    answers = runtime.answers(["new", "", "K:G\n"], composer, key="D", metre="6/8", bars=4)
    assert answers[0]["key"] == "D major" and answers[0]["metre"] == "6/8"
    assert answers[0]["bars_valid"] and answers[1]["bars_valid"]
    assert answers[0]["bars"] == answers[1]["bars"] == 4  # as long as asked, bars kept
    assert answers[0]["tokens"][0] == "<start D major 6/8>"
    assert isinstance(answers[2], UserError)
    assert answers[0]["summary"].startswith("D major, 6/8, ") and "wav" not in answers[0]
    (heard,) = runtime.answers(["new"], composer, key="Em", bars=2, wav=True)
    wav = base64.b64decode(heard["wav"])
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE" and len(wav) > 1000
    for options, message in (
        (dict(key="H"), "unknown key"),
        (dict(metre="7/8"), "unknown metre"),
        (dict(bars=0), "--bars 0"),
        (dict(beam=99), "--beam 99"),
        (dict(temperature=-1.0), "--temperature"),
    ):
        with pytest.raises(UserError, match=message):
            runtime.answers(["new"], composer, **options)


def test_an_answer_is_written_in_the_format_its_suffix_names(tmp_path):
    from apps.music import render

    (answer,) = runtime.answers(["new"], RandomComposer(4), key="A minor", metre="3/4", bars=4)
    tune = runtime.tune_of(answer)
    for suffix in (".musicxml", ".abc"):  # random rhythms may come back tied otherwise
        read = render.read_melody(str(runtime.write_answer(answer, tmp_path / f"tune{suffix}")))
        assert events.sounding(read) == events.sounding(tune), suffix
    heard = render.read_melody(str(runtime.write_answer(answer, tmp_path / "tune.mid")))
    assert (heard.key, heard.metre) == (tune.key, tune.metre)
    assert [n.pitch for n in events.sounding(heard)] == [n.pitch for n in events.sounding(tune)]
    assert runtime.write_answer(answer, tmp_path / "tune.wav").read_bytes()[:4] == b"RIFF"
    with pytest.raises(UserError, match="tune.mp3"):
        runtime.write_answer(answer, tmp_path / "tune.mp3")


def test_the_key_relative_ids_are_one_to_one_and_shared_across_keys(sample_tunes):
    for row in runtime.INTERNAL:
        assert len(set(row.tolist())) == runtime.VOCABULARY_SIZE  # one to one
        assert row.max() < runtime.RELATIVE_SIZE and row[events.PAD_ID] == events.PAD_ID
    tune = next(t for t in sample_tunes.values() if t.key == "G major")
    ids = np.array(events.encode(tune))
    # G, F#, Ab and A all move up to the C above (+5, +6, +4, +3): the same relative pitches;
    # E would move down to the C below, an octave apart.
    for shift in (-1, 1, 2):
        moved = np.array(events.encode(events.transpose(tune, shift)))
        relative = runtime.internal_table(moved[0], True)[moved]
        assert relative[1:].tolist() == runtime.internal_table(ids[0], True)[ids][1:].tolist()
        assert relative[0] != runtime.internal_table(ids[0], True)[ids[0]]  # the key is kept
    assert runtime.internal_table(ids[0], False).tolist() == list(range(692))


class RelativeComposer(RandomComposer):
    """A key-relative stand-in: 703 logits (pitches 43..102), what it reads recorded."""

    key_relative = True

    def __init__(self, seed=0):
        super().__init__(seed)
        self.read = []

    def step(self, token_id, states):
        self.read.append(token_id)
        logits = self.rng.normal(0.0, 3.0, runtime.RELATIVE_SIZE).astype(np.float32)
        return logits, states


def test_a_key_relative_model_reads_its_own_ids_and_writes_events():
    composer = RelativeComposer(1)
    start = events.start_id("F# minor", "3/4")  # tonic 6: shift -6, pitches move up 6
    composition = composer.compose([start], bars=6, seed=2)
    table = runtime.internal_table(start, True)
    assert composer.read == [int(table[t]) for t in composition.ids[:-1]]
    assert events.bars_valid(composition.tune) and composition.tune.key == "F# minor"
    # Scoring: the events' log-probabilities, the mass of unreachable pitches left out.
    log_probs = composer.teacher_forced_log_probs(composition.ids[:-1])
    assert log_probs.shape == (len(composition.ids) - 1, 692)
    assert np.all(np.exp(log_probs).sum(axis=1) < 1.0)
    bits = composer.tune_bits([composition.ids])
    assert bits.shape == (1,) and 0 < bits[0] < np.inf
