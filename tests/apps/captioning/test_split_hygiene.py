"""No scene in two splits, at the default corpus size; the compositional split really unseen."""

import numpy as np
import pytest

from apps.captioning import data, generator
from shared.data.overlap import assert_no_overlap, cross_split_overlap


@pytest.fixture(scope="module")
def default_rows():
    """The default corpus's scene indices and metadata (no drawing: about 12 s in all)."""
    rows = data.corpus_rows(data.DEFAULT_TRAIN_SIZE, seed=1234)
    scenes = {
        split: [generator.scene_metadata(split, index, seed=1234) for index in indices]
        for split, indices in rows.items()
    }
    return rows, scenes


def test_default_corpus_has_no_scene_in_two_splits(default_rows):
    rows, scenes = default_rows
    assert {split: len(indices) for split, indices in rows.items()} == {
        "train": 16000,
        "validation": 1000,
        "test": 1000,
        "compositional": 1000,
    }
    keys = {split: [s.captions for s in items] for split, items in scenes.items()}
    # The caption sets, compared after normalising case, spacing and punctuation.
    report = cross_split_overlap(keys, normalise=data.scene_key)
    assert_no_overlap(report, what="scenes (normalised reference sets)")
    # Without the deduplication, raw scenes do collide: the check has something to catch.
    raw = {
        split: [generator.scene_metadata(split, i).captions for i in range(len(indices))]
        for split, indices in rows.items()
        if split in ("validation", "test")
    }
    raw["train"] = keys["train"]
    assert cross_split_overlap(raw, normalise=data.scene_key)["train/test"]["rows"] > 0


def test_default_compositional_pairs_are_never_in_training(default_rows):
    _, scenes = default_rows
    held_out = set(data.HELD_OUT_PAIRS)
    pairs = {
        split: [{(o.colour, o.shape) for o in s.objects} for s in items]
        for split, items in scenes.items()
    }
    seen = set().union(*pairs["train"], *pairs["validation"], *pairs["test"])
    assert not seen & held_out
    assert all(scene_pairs & held_out for scene_pairs in pairs["compositional"])
    # Every colour and every shape is still seen in training, with other partners.
    assert {c for c, _ in seen} == set(data.COLOURS) and {s for _, s in seen} == set(data.SHAPES)
    # The captions say the same: no held-out pair is named in any training reference.
    named = {
        (colour, shape)
        for s in scenes["train"]
        for caption in s.captions
        for colour, shape in zip(caption.split(), caption.split()[1:], strict=False)
    }
    assert not named & held_out


def test_a_planted_duplicate_is_caught_and_skipped(monkeypatch):
    train = [generator.scene_metadata("train", i).captions for i in range(50)]
    test = [generator.scene_metadata("test", i).captions for i in range(10)]
    clean = cross_split_overlap({"train": train, "test": test}, normalise=data.scene_key)
    assert_no_overlap(clean)
    # Training scene 7's references, shuffled, in capitals and with extra punctuation.
    planted = [c.upper() + "." for c in reversed(train[7])]
    report = cross_split_overlap(
        {"train": train, "test": [*test, planted]}, normalise=data.scene_key
    )
    assert report["train/test"]["rows"] == 1
    with pytest.raises(AssertionError, match="train/test: 1 rows"):
        assert_no_overlap(report)

    # split_rows skips a test scene that repeats a training scene.
    original = generator.scene_metadata

    def with_duplicate(split, index, seed=1234):
        if split == "test" and index == 2:
            return original("train", 7, seed)
        return original(split, index, seed)

    monkeypatch.setattr(generator, "scene_metadata", with_duplicate)
    rows = generator.split_rows({"train": 50, "test": 5}, seed=1234)
    assert rows["train"][7] == 7 and 2 not in rows["test"] and len(rows["test"]) == 5


def test_load_data_reports_its_overlap_and_uses_the_deduplicated_rows():
    splits = data.load_data(quick=True)
    for key in ("overlap", "overlap_images"):
        assert set(splits.info[key]) >= {"train/test", "train/validation", "train/compositional"}
        assert all(entry["rows"] == 0 for entry in splits.info[key].values())
    rows = generator.split_rows(data.split_sizes(data.QUICK_TRAIN_SIZE))
    for split in ("train", "validation", "test"):
        columns = getattr(splits, split)
        assert list(columns["scene_index"]) == rows[split]
        first = generator.split_scene(split, rows[split][-1])
        np.testing.assert_array_equal(columns["image"][-1], first.image)
    other = splits.extra["other_renderer"]
    assert list(other["scene_index"][:4]) == [rows["test"][0]] * 2 + [rows["test"][1]] * 2
    assert other["captions"][0] == splits.test["captions"][0]
    # Object sets do recur across splits (the grammar has few); reported, not an overlap.
    assert splits.info["shared_object_sets"]["train/test"]["rows"] >= 0


def test_split_seed_decides_the_scenes():
    a = generator.split_rows({"train": 5, "test": 3}, seed=1)
    b = generator.split_rows({"train": 5, "test": 3}, seed=1)
    assert a == b
    first = generator.scene_metadata("test", 0, seed=1).captions
    assert first != generator.scene_metadata("test", 0, seed=2).captions
