"""The caption baselines: nearest neighbour, constant caption, sixth reference."""

import numpy as np
import pytest

from apps.captioning import baselines, data
from apps.captioning.config import CaptioningConfig
from shared.config import resolve_config
from shared.data.splits import Splits


@pytest.fixture(scope="module")
def splits():
    return data.load_data(quick=True)


@pytest.mark.parametrize("kind", baselines.NN_FEATURES)
def test_features_are_unit_length_and_find_the_same_image(splits, kind):
    train = baselines.image_features(splits.train["image"], kind)
    assert np.allclose(np.linalg.norm(train, axis=1), 1.0, atol=1e-5)
    # Queried with training images, the nearest training image is itself: its caption wins.
    captions = baselines.nearest_captions(train, splits.train["captions"], train[:5], 1)
    assert all(c in refs for c, refs in zip(captions, splits.train["captions"][:5], strict=True))


def test_feature_kinds_are_checked():
    with pytest.raises(ValueError, match="unknown feature"):
        baselines.image_features(np.zeros((1, 64, 64, 3), np.uint8), "edges8")


def test_consensus_caption_is_the_one_most_like_the_others():
    candidates = ["a red circle", "a small red circle", "a blue square below a red circle", "x"]
    assert baselines.consensus_caption(candidates) == "a red circle"
    assert baselines.consensus_caption(["only"]) == "only"


def test_constant_caption_is_chosen_on_validation():
    train = [["there is a red circle", "there is a blue square"], ["there is a red circle"]]
    validation = [["there is a blue square", "a blue square"]] * 3
    chosen = baselines.constant_caption(train, validation)
    # Not the most frequent training caption: the one that scores best on validation.
    assert chosen["chosen"]["caption"] == "there is a blue square"
    assert chosen["validation_bleu4"] == pytest.approx(1.0)


def test_all_baselines_score_the_test_split_the_way_the_model_is(splits):
    config = resolve_config(CaptioningConfig, "quick")
    results = baselines.all_baselines(splits, config)
    assert set(results) == {
        "sixth_reference",
        "nearest_neighbour",
        "constant_caption",
        "reference_vs_other_references",
    }
    # A sixth grammar caption of the true objects names them; it is not one of the five.
    sixth = results["sixth_reference"]
    assert sixth["test"]["object_precision"] == 1.0 and sixth["test"]["count"] == 16
    assert sixth["compositional"]["bleu4"] > 0.5
    neighbour = results["nearest_neighbour"]
    assert neighbour["tuned_on"] == "validation"
    best = max(neighbour["validation_bleu4"], key=neighbour["validation_bleu4"].get)
    assert (
        best == f"{neighbour['chosen']['feature']}, {neighbour['chosen']['neighbours']} neighbours"
    )
    assert set(neighbour) >= {"test", "compositional", "other_renderer"}
    reference = results["reference_vs_other_references"]
    assert "test" not in reference  # scored against four references: no five-reference figure
    assert reference["references_2_to_5"]["test"]["bleu1"] > 0.8


def test_other_sources_get_the_baselines_that_need_no_scene(splits):
    config = resolve_config(CaptioningConfig, "quick")
    plain = Splits(train=splits.train, validation=splits.validation, test=splits.test)
    results = baselines.all_baselines(plain, config)  # COCO or a Flickr folder: no scene facts
    assert set(results) == {
        "nearest_neighbour",
        "constant_caption",
        "reference_vs_other_references",
    }
    assert "attribute_exact_match" not in results["nearest_neighbour"]["test"]
    empty = {name: values[:0] for name, values in splits.validation.items()}
    tiny = Splits(train=splits.train, validation=empty, test=splits.test)
    assert set(baselines.all_baselines(tiny, config)) == {"reference_vs_other_references"}
    # More neighbours than training images: all of them.
    features = baselines.image_features(splits.train["image"][:3], "pixels8")
    assert len(baselines.nearest_captions(features, splits.train["captions"][:3], features, 5)) == 3
