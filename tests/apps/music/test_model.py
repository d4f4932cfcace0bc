"""The model and its inference graphs: step by step equals the whole tune, the scoring window
equals the sequence model, the input pipeline pads, weighs and transposes as it says."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from apps.music import events  # noqa: E402
from apps.music.app import BUCKETS, MusicApp, _transpose  # noqa: E402
from apps.music.config import MusicConfig  # noqa: E402
from apps.music.data import shift_range, transpose_ids  # noqa: E402
from apps.music.export import (  # noqa: E402
    model_parts,
    sequence_model,
    step_model,
    window_model,
)
from apps.music.model import build_model  # noqa: E402
from shared.config import resolve_config  # noqa: E402
from shared.data.splits import Splits  # noqa: E402
from shared.errors import UserError  # noqa: E402


def tune_ids(seed: int, length: int) -> list[int]:
    """A start token and `length` random events (a model reads any ids)."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, events.FIRST_START_ID, length).tolist()
    return [events.start_id("G major", "6/8"), *ids]


@pytest.fixture(scope="module", params=[("gru", 1), ("lstm", 2)], ids=["gru", "lstm_x2"])
def trained(request):
    """A small model after a few updates (weights away from their initial values)."""
    cell, layers = request.param
    keras.utils.set_random_seed(3)
    config = MusicConfig(cell=cell, num_layers=layers, units=24, embedding_dim=8)
    model = build_model(config)
    batch = np.array([tune_ids(s, 40) for s in range(4)], np.int32)
    for _ in range(3):
        model.train_on_batch(batch[:, :-1], batch[:, 1:])
    return model, config


def test_stepping_one_event_at_a_time_equals_the_whole_tune(trained):
    model, config = trained
    ids = np.array(tune_ids(11, 90), np.int32)
    full = model.predict(ids[None, :], verbose=0)[0]  # [time, 692]
    parts = model_parts(model, config)
    step = step_model(parts)
    states = parts.zero_states()
    stepped = []
    for token in ids:
        out = step([np.array([token], np.int32), states])
        stepped.append(np.asarray(out["logits"])[0])
        states = np.asarray(out["new_states"])
    assert np.max(np.abs(np.stack(stepped) - full)) < 1e-4


def test_the_scoring_window_carries_its_states_into_the_next(trained):
    model, config = trained
    parts = model_parts(model, config)
    window = window_model(parts, window=16)
    ids = np.array(tune_ids(12, 47), np.int32)
    full = model.predict(ids[None, :], verbose=0)[0]
    states, rows = parts.zero_states(), []
    for offset in range(0, len(ids), 16):
        chunk = ids[offset : offset + 16]
        padded = np.zeros((1, 16), np.int32)
        padded[0, : len(chunk)] = chunk
        out = window([padded, states])
        rows.append(np.asarray(out["logits"])[0, : len(chunk)])
        states = np.asarray(out["new_states"])
    assert np.max(np.abs(np.concatenate(rows) - full)) < 1e-4
    sequence = sequence_model(parts)
    out = sequence([ids[None, :], parts.zero_states()])
    assert np.max(np.abs(np.asarray(out["logits"])[0] - full)) < 1e-4


def test_padding_after_a_tune_changes_none_of_its_outputs(trained):
    model, _ = trained
    ids = tune_ids(13, 30)
    alone = model.predict(np.array([ids], np.int32), verbose=0)[0]
    padded = model.predict(np.array([ids + [events.PAD_ID] * 25], np.int32), verbose=0)[0]
    assert np.max(np.abs(padded[: len(ids)] - alone)) < 1e-5


def test_the_pipeline_batches_whole_tunes_with_zero_weight_on_padding():
    config = resolve_config(
        MusicConfig, "quick", ["batch_size=4", "transpose=false", "key_relative=false"]
    )
    lengths = [20, 23, 25, 70, 75, 300, 600]
    tunes = [tune_ids(s, n) + [events.END_ID] for s, n in enumerate(lengths)]
    dataset = MusicApp()._dataset(config, tunes, training=False)
    seen = []
    for inputs, targets, weights in dataset:
        inputs, targets, weights = inputs.numpy(), targets.numpy(), weights.numpy()
        for row in range(len(inputs)):
            count = int(weights[row].sum())
            assert np.all(weights[row, :count] == 1) and np.all(weights[row, count:] == 0)
            assert np.all(inputs[row, count:] == 0) and np.all(targets[row, count:] == 0)
            seen.append((inputs[row, :count].tolist(), targets[row, :count].tolist()))
    expected = [
        (ids[: config.max_events + 1][:-1], ids[: config.max_events + 1][1:]) for ids in tunes
    ]
    assert sorted(seen) == sorted(expected)  # every tune once, the longest cut to max_events
    assert max(len(i) for i, _ in seen) == config.max_events and BUCKETS[-1] < config.max_events


def test_training_tunes_are_transposed_within_their_range_each_time_they_are_read(sample_tunes):
    config = resolve_config(
        MusicConfig, "quick", ["batch_size=1", "transpose=true", "key_relative=false"]
    )
    for tune in list(sample_tunes.values())[:4]:
        original = np.array(events.encode(tune))
        first_pitch = int(
            np.flatnonzero(
                (original >= events.FIRST_PITCH_ID) & (original < events.FIRST_DURATION_ID)
            )[0]
        )
        low, high = shift_range(original)
        dataset = MusicApp()._dataset(config, [original.tolist()], training=True)
        shifts = set()
        for _ in range(8):  # eight epochs: a shift drawn each time
            ((inputs, targets, _),) = list(dataset)
            ids = np.concatenate([inputs.numpy()[0], targets.numpy()[0, -1:]])
            shift = int(ids[first_pitch] - original[first_pitch])
            assert low <= shift <= high
            assert ids.tolist() == transpose_ids(original, shift).tolist()
            shifts.add(shift)
        assert len(shifts) > 2


def test_the_graph_transposition_is_the_host_one():
    ids = np.array(tune_ids(4, 60))
    ids[1:][ids[1:] >= events.FIRST_START_ID] = events.BAR_ID
    for shift in (-6, -1, 0, 5, 6):
        assert _transpose(ids, shift).numpy().tolist() == transpose_ids(ids, shift).tolist()


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("cell=transformer", "--set cell=transformer"),
        ("units=0", "--set units=0: must be at least 1"),
        ("max_events=8", "--set max_events=8: must be at least 16"),
        ("collections=essen,folk", "--set collections=essen,folk"),
        ("ngram_views=pitch", "--set ngram_views=pitch"),
        ("sample_top_p=0", "--set sample_top_p=0.0"),
        ("sample_temperature=0", "--set sample_temperature=0.0: must be in"),
        ("sample_temperature=11", "--set sample_temperature=11.0: must be in"),
        ("sample_top_p=1.5", "--set sample_top_p=1.5: must be in"),
    ],
)
def test_bad_settings_are_user_errors(setting, message):
    with pytest.raises(UserError, match=message):
        resolve_config(MusicConfig, "quick", [setting])


def test_a_folder_without_melodies_is_a_user_error(tmp_path):
    from apps.music.data import load_data
    from shared.data.sources import Source

    (tmp_path / "notes.txt").write_text("no tunes here")
    with pytest.raises(UserError, match="no MIDI, MusicXML or ABC files"):
        load_data(resolve_config(MusicConfig, "quick"), Source("file", str(tmp_path)))


def test_a_folder_of_abc_files_is_split_by_tune(tmp_path):
    from apps.music.data import load_data
    from shared.data.sources import Source

    rng = np.random.default_rng(0)
    for file_index in range(3):
        tunes = []
        for number in range(6):
            notes = " ".join("".join(rng.choice(list("CDEFGABcde"), 4)) + " |" for _ in range(4))
            tunes.append(f"X:{number + 1}\nT:t{file_index}{number}\nM:4/4\nL:1/4\nK:G\n{notes}]\n")
        (tmp_path / f"set{file_index}.abc").write_text("\n".join(tunes))
    splits = load_data(resolve_config(MusicConfig, "quick"), Source("file", str(tmp_path)))
    assert isinstance(splits, Splits)
    names = splits.train["name"] + splits.validation["name"] + splits.test["name"]
    assert len(names) == 18 and len(set(names)) == 18
    assert all(
        sum(r["rows"] for r in kind.values()) == 0 for kind in splits.info["overlap"].values()
    )


def test_a_key_relative_model_is_trained_on_its_own_ids(sample_tunes):
    from apps.music import runtime

    config = resolve_config(MusicConfig, "quick", ["batch_size=1", "key_relative=true"])
    tunes = [events.encode(t) for t in sample_tunes.values()][:5]
    seen = {}
    for inputs, targets, _ in MusicApp()._dataset(config, tunes, training=False):
        ids = np.concatenate([inputs.numpy()[0], targets.numpy()[0, -1:]])
        seen[len(ids)] = ids.tolist()
    for tune in tunes:
        assert seen[len(tune)] == runtime.internal_table(tune[0], True)[tune].tolist()
    model = build_model(config)
    assert model.output_shape[-1] == runtime.RELATIVE_SIZE == 703
