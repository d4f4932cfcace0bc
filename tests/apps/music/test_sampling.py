"""The sampling setting chosen on validation (apps/music/sampling.py), on synthetic tunes and
fake statistics where the answer is known; and the evaluation using the chosen setting."""

import json
import types
from fractions import Fraction as F

import numpy as np
import pytest

from apps.music import events, measures, sampling
from apps.music.config import MusicConfig
from apps.music.events import Note, Tune
from shared.config import load_config, resolve_config
from shared.data.splits import Splits

SPREAD = {
    "pitch_class_distance": {"median": 0.05, "low": 0.03, "high": 0.07},
    "in_key_share": {"median": 0.99, "low": 0.985, "high": 0.998},
    "duration_distance": {"median": 0.09, "low": 0.05, "high": 0.16},
    "interval_distance": {"median": 0.055, "low": 0.04, "high": 0.08},
}


def row(temperature, top_p, pitch, key, duration, interval):
    return {
        "temperature": temperature,
        "top_p": top_p,
        "statistics": {
            "pitch_class_distance": pitch,
            "in_key_share": key,
            "duration_distance": duration,
            "interval_distance": interval,
        },
    }


def test_the_setting_with_most_statistics_inside_their_spread_is_chosen():
    rows = [
        row(1.0, 1.0, 0.114, 0.974, 0.59, 0.073),  # interval inside only: 1
        row(0.9, 1.0, 0.020, 0.999, 0.30, 0.090),  # the smallest distance, but 0 inside
        row(0.8, 0.95, 0.065, 0.990, 0.20, 0.060),  # 3 inside
        row(0.8, 1.0, 0.050, 0.990, 0.10, 0.100),  # 3 inside, a smaller pitch-class distance
        row(0.7, 0.9, 0.040, 0.970, 0.30, 0.200),  # 1 inside
    ]
    assert [len(sampling.inside(r["statistics"], SPREAD)) for r in rows] == [1, 0, 3, 3, 1]
    chosen = sampling.choose(rows, SPREAD)
    assert (chosen["temperature"], chosen["top_p"]) == (0.8, 1.0)
    # Every row all inside beats the tie-break: the most inside comes first.
    rows.append(row(0.75, 0.9, 0.069, 0.986, 0.15, 0.05))
    assert sampling.choose(rows, SPREAD)["temperature"] == 0.75


def test_the_spread_bounds_count_as_inside():
    edges = row(1, 1, 0.03, 0.998, 0.16, 0.04)["statistics"]
    assert sampling.inside(edges, SPREAD) == list(sampling.CHOSEN_ON)
    just_out = {**edges, "pitch_class_distance": 0.0701, "in_key_share": 0.9849}
    assert sampling.inside(just_out, SPREAD) == ["duration_distance", "interval_distance"]
    with pytest.raises(ValueError, match="at least one setting"):
        sampling.choose([], SPREAD)


def test_rows_spread_evenly_over_the_split():
    assert sampling.spread_rows(10, 4) == [0, 3, 6, 9]
    assert sampling.spread_rows(1011, 32)[0] == 0 and sampling.spread_rows(1011, 32)[-1] == 1010
    assert len(set(sampling.spread_rows(1011, 32))) == 32
    assert sampling.spread_rows(3, 5) == [0, 0, 1, 2, 2]  # more tunes asked than rows: repeats
    with pytest.raises(ValueError):
        sampling.spread_rows(0, 4)


# --- a synthetic choice: validation tunes apart from the test tunes -------------------------


def melody(key, metre, rng, in_key=True):
    """Four bars of beats, each a quarter or two eighths, on the key's scale; or (not in_key)
    four bars of one long note each, off the scale."""
    scale = [p for p in range(60, 84) if events.in_key(p, key) == in_key]
    beats = int(events.bar_length(metre))
    bars = []
    for _ in range(4):
        if not in_key:
            bars.append([Note(int(rng.choice(scale)), F(beats))])
            continue
        bar = []
        for _ in range(beats):
            lengths = [F(1)] if rng.random() < 0.6 else [F(1, 2), F(1, 2)]
            bar += [Note(int(rng.choice(scale)), length) for length in lengths]
        bars.append(bar)
    return Tune(key, metre, bars)


class FakeComposer:
    """Real-looking tunes at temperatures up to 0.9, tunes off the key in long notes above;
    records every prompt and seed it is given."""

    def __init__(self):
        self.prompts, self.seeds, self.settings = [], [], []

    def compose(self, prompt, bars, temperature, top_p, seed, constrained, **_):
        self.prompts.append(list(prompt))
        self.seeds.append(seed)
        self.settings.append((temperature, top_p))
        key, metre = events.start_of(prompt[0])
        tune = melody(key, metre, np.random.default_rng(seed), in_key=temperature <= 0.9)
        return types.SimpleNamespace(tune=tune)


class Unreadable:
    """A split that fails any test that reads it."""

    def __getitem__(self, name):
        raise AssertionError(f"the test split was read ({name!r})")

    def __getattr__(self, name):
        raise AssertionError(f"the test split was read (.{name})")


def ids_of(tunes):
    return [events.encode(t) for t in tunes]


@pytest.fixture
def synthetic_splits():
    rng = np.random.default_rng(0)
    train = [melody("D major", "4/4", rng) for _ in range(40)]
    # Validation tunes in keys and metres no training tune has: their start tokens are theirs.
    validation = [melody(key, "3/4", rng) for key in ("E dorian", "B minor") for _ in range(6)]
    return Splits(
        train={"events": ids_of(train)},
        validation={"events": ids_of(validation)},
        test=Unreadable(),
    )


def quick_config(**changes):
    settings = [f"{name}={value}" for name, value in {"sample_tunes": 4, **changes}.items()]
    return resolve_config(MusicConfig, "quick", settings)


def test_the_choice_reads_validation_tunes_only_and_picks_the_real_looking_setting(
    synthetic_splits,
):
    composer = FakeComposer()
    config = quick_config()
    choice = sampling.choose_on_validation(
        composer, synthetic_splits, config, temperatures=(1.0, 0.85), top_ps=(1.0,), seeds=2
    )
    assert choice["chosen"] == {"temperature": 0.85, "top_p": 1.0}
    assert choice["chosen_on"] == "validation"
    good, bad = choice["grid"][1], choice["grid"][0]
    assert len(good["inside"]) > len(bad["inside"])
    assert bad["statistics"]["in_key_share"] == 0.0 and good["statistics"]["in_key_share"] == 1.0
    # Every tune was asked in the key and metre of a validation tune, spread over the split:
    # both keys of the validation tunes, none of the training tunes'.
    validation_starts = [ids[0] for ids in synthetic_splits.validation["events"]]
    asked = [prompt[0] for prompt in composer.prompts]
    assert all(prompt == [start] for prompt, start in zip(composer.prompts, asked, strict=True))
    assert set(asked) == set(validation_starts)
    assert len(asked) == 2 * 2 * config.sample_tunes  # settings x seeds x tunes
    # Each setting's sets are drawn with different seeds.
    assert composer.seeds[: 2 * config.sample_tunes] == list(range(2 * config.sample_tunes))
    # The spread is the validation tunes' (in key: every one of them is on its scale).
    assert choice["spread"]["in_key_share"]["low"] == 1.0


def test_the_spread_is_the_validation_tunes_against_the_training_tunes(synthetic_splits):
    """A choice whose spread came from other tunes (here: off-key ones as validation) picks
    otherwise: the spread is read from the split given as validation."""
    rng = np.random.default_rng(1)
    off_key = [melody("E dorian", "3/4", rng, in_key=False) for _ in range(12)]
    splits = Splits(
        train=synthetic_splits.train, validation={"events": ids_of(off_key)}, test=Unreadable()
    )
    choice = sampling.choose_on_validation(
        FakeComposer(), splits, quick_config(), temperatures=(1.0, 0.85), top_ps=(1.0,), seeds=1
    )
    assert choice["chosen"]["temperature"] == 1.0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--temperatures", "0,0.9"], "--temperatures 0.0,0.9: give temperatures in"),
        (["--temperatures", "warm"], "'warm': give numbers separated by commas"),
        (["--top-ps", "0.9,1.5"], "--top-ps 0.9,1.5: give top-p values in"),
        (["--top-ps", ""], "--top-ps : give top-p values in"),
        (["--seeds", "0"], "--seeds 0: must be a whole number of at least 1"),
    ],
)
def test_bad_grids_are_one_line_errors(arguments, message, tmp_path, capsys):
    assert sampling.main([str(tmp_path), *arguments]) == 2
    assert message in capsys.readouterr().err


def test_a_folder_without_a_model_is_a_one_line_error(tmp_path, capsys):
    assert sampling.main([str(tmp_path / "nothing")]) == 2
    assert "no trained music model here" in capsys.readouterr().err


def test_the_choice_is_written_beside_the_model_and_evaluation_samples_with_it(
    synthetic_splits, tmp_path
):
    pytest.importorskip("tensorflow")
    from apps.music.app import MusicApp

    config = quick_config(sample_temperature=1.0, sample_top_p=1.0)
    (tmp_path / "config.json").write_text(config.to_json())
    choice = sampling.choose_on_validation(
        FakeComposer(), synthetic_splits, config, temperatures=(1.0, 0.85), top_ps=(0.9,), seeds=1
    )
    sampling.write_choice(tmp_path, choice)
    saved = load_config(MusicConfig, tmp_path / "config.json")
    assert (saved.sample_temperature, saved.sample_top_p) == (0.85, 0.9)
    assert saved.units == config.units and saved.preset == "quick"  # the rest as it was
    written = json.loads((tmp_path / sampling.CHOICE_FILE).read_text())
    assert written["chosen"] == {"temperature": 0.85, "top_p": 0.9}
    assert "| **0.85** | **0.9** |" in sampling.markdown_table(written)

    # The evaluation's generated tunes are drawn with the config's setting, in the keys and
    # metres of the scored (test) tunes spread over them.
    rng = np.random.default_rng(2)
    test = [melody(key, "4/4", rng) for key in ("C major", "F major", "G minor") for _ in range(3)]
    splits = Splits(synthetic_splits.train, synthetic_splits.validation, {"events": ids_of(test)})
    composer = FakeComposer()
    generated = MusicApp().generated_statistics(composer, splits, saved)
    assert generated["temperature"] == 0.85 and generated["top_p"] == 0.9
    assert set(composer.settings) == {(0.85, 0.9)}
    first = [prompt[0] for prompt in composer.prompts[: saved.sample_tunes]]
    assert first == [ids_of(test)[row][0] for row in (0, 3, 5, 8)]  # spread_rows(9, 4)
    assert generated["constrained"]["in_key_share"] == 1.0


def test_measured_statistics_are_means_over_the_seeds():
    class Alternating(FakeComposer):
        """Off the key for the second set only."""

        def compose(self, prompt, bars, temperature, top_p, seed, constrained, **_):
            key, metre = events.start_of(prompt[0])
            rng = np.random.default_rng(seed)
            return types.SimpleNamespace(tune=melody(key, metre, rng, in_key=seed < 3))

    rng = np.random.default_rng(0)
    reference = measures.training_reference(ids_of([melody("D major", "4/4", rng)] * 4))
    starts = [events.start_id("G major", "4/4")] * 3
    rows = sampling.measure_grid(Alternating(), starts, reference, (1.0,), (1.0,), 4, 2)
    assert rows[0]["per_seed"]["in_key_share"] == [1.0, 0.0]
    assert rows[0]["statistics"]["in_key_share"] == 0.5
