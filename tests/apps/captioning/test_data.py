import re

import numpy as np
import pytest
from PIL import Image

from apps.captioning import data, generator
from shared.data.cache import folder_is_complete
from shared.errors import UserError
from shared.preprocessing.image import load_image

_PAIR = re.compile(rf"({'|'.join(data.COLOURS)}) ({'|'.join(data.SHAPES)})")


def _pairs(captions: list[str]) -> set[tuple[str, str]]:
    return {match for caption in captions for match in _PAIR.findall(caption)}


@pytest.fixture(scope="module")
def quick_splits():
    return data.load_data(quick=True)


def test_quick_splits_have_the_documented_columns(quick_splits):
    splits = quick_splits
    assert splits.train["image"].shape == (data.QUICK_TRAIN_SIZE, 64, 64, 3)
    assert splits.train["image"].dtype == np.uint8
    for columns in (splits.train, splits.validation, splits.test, splits.extra["compositional"]):
        assert len(columns["captions"]) == len(columns["image"]) > 0
        for captions in columns["captions"]:
            assert len(captions) == generator.CAPTIONS_PER_IMAGE
            assert all(isinstance(c, str) and c for c in captions)
    # Images really differ (varied backgrounds and objects), not one template.
    assert len({image.tobytes() for image in splits.train["image"]}) == data.QUICK_TRAIN_SIZE


def test_held_out_pairs_only_in_the_compositional_split(quick_splits):
    held_out = set(data.HELD_OUT_PAIRS)
    for columns in (quick_splits.train, quick_splits.validation, quick_splits.test):
        for captions in columns["captions"]:
            assert not _pairs(captions) & held_out, captions
    for captions in quick_splits.extra["compositional"]["captions"]:
        assert _pairs(captions) & held_out, captions
    # Every shape and colour is still seen in training, just not in those pairs.
    train_pairs = set().union(*(_pairs(c) for c in quick_splits.train["captions"]))
    assert {colour for colour, _ in train_pairs} == set(data.COLOURS)
    assert {shape for _, shape in train_pairs} == set(data.SHAPES)


def test_captions_describe_the_rendered_objects():
    relations_checked = 0
    for seed in range(40):
        scene = generator.make_scene(seed)
        assert _pairs(scene.captions) == {(o.colour, o.shape) for o in scene.objects}
        for obj in scene.objects:
            # The object's colour is at its centre (the noise and jitter are bounded).
            pixel = scene.image[int(obj.y), int(obj.x)].astype(int)
            assert np.abs(pixel - data.COLOURS[obj.colour]).max() < 90, (seed, obj)
        by_name = {f"{o.colour} {o.shape}": o for o in scene.objects}
        for caption in scene.captions:
            for first, relation, second in re.findall(
                r"(\w+ \w+) (to the left of|to the right of|above|below) "
                r"(?:a |the )?(?:small |large )?(\w+ \w+)",
                caption,
            ):
                a, b = by_name[first], by_name[second]
                expected = {
                    "to the left of": a.x < b.x,
                    "to the right of": a.x > b.x,
                    "above": a.y < b.y,
                    "below": a.y > b.y,
                }[relation]
                assert expected, (caption, a, b)
                relations_checked += 1
        for caption in scene.captions:
            for size, colour_shape in re.findall(r"(small|large) (\w+ \w+)", caption):
                assert by_name[colour_shape].size == size
    assert relations_checked > 50


def test_generation_is_seeded_and_prefix_stable():
    first = generator.generate_split("test", 3, seed=7)
    again = generator.generate_split("test", 5, seed=7)
    other = generator.generate_split("test", 3, seed=8)
    np.testing.assert_array_equal(first["image"], again["image"][:3])
    assert first["captions"] == again["captions"][:3]
    assert not np.array_equal(first["image"], other["image"])


def test_default_corpus_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNAPPS_DATA", str(tmp_path))
    splits = data.load_data(size=24, seed=3)
    folders = list(tmp_path.glob("captioning_shapes_*"))
    assert len(folders) == 1 and folder_is_complete(folders[0], data.GENERATOR_VERSION)
    assert len(splits.train["image"]) == 24 and len(splits.test["image"]) == 16
    again = data.load_data(size=24, seed=3)
    np.testing.assert_array_equal(splits.train["image"], again.train["image"])
    assert splits.extra["compositional"]["captions"] == again.extra["compositional"]["captions"]


def test_write_sample_image(tmp_path):
    captions = generator.write_sample_image(tmp_path / "scene.png", seed=5)
    image = load_image(tmp_path / "scene.png")
    np.testing.assert_array_equal(image, generator.make_scene(5).image)
    assert captions == generator.make_scene(5).captions


def test_relation_words():
    left = generator.SceneObject("circle", "red", "small", 10, 30, 6, 0)
    right = generator.SceneObject("square", "blue", "small", 50, 34, 6, 0)
    top = generator.SceneObject("cross", "cyan", "small", 12, 5, 6, 0)
    assert generator._relation(left, right) == "to the left of"
    assert generator._relation(right, left) == "to the right of"
    assert generator._relation(top, left) == "above"
    assert generator._relation(left, top) == "below"


def test_tfds_coco_captions_with_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=4):
        splits = data.load_data("tfds:coco_captions", size=3)
    assert splits.train["image"].shape == (3, 64, 64, 3)
    assert splits.test["image"].dtype == np.uint8
    assert all(isinstance(c, str) for captions in splits.validation["captions"] for c in captions)
    assert splits.source == "tfds:coco_captions"
    with pytest.raises(UserError, match="coco_captions only"):
        data.load_data("tfds:mnist")


def _flickr_folder(root, count=10):
    images = root / "Images"
    images.mkdir(parents=True)
    lines = []
    for index in range(count):
        Image.new("RGB", (30 + index, 20), (index * 20, 0, 0)).save(images / f"im{index}.jpg")
        for number in range(2):
            lines.append(f"im{index}.jpg#{number}\tcaption {number} of image {index}")
    (root / "Flickr8k.token.txt").write_text("\n".join(lines) + "\n")
    return root


def test_flickr_layout_folder(tmp_path):
    root = _flickr_folder(tmp_path / "flickr")
    splits = data.load_data(str(root), seed=0)
    sizes = [len(s["image"]) for s in (splits.train, splits.validation, splits.test)]
    assert sum(sizes) == 10 and sizes[0] == 8
    for columns in (splits.train, splits.validation, splits.test):
        for image, captions in zip(columns["image"], columns["captions"], strict=True):
            index = int(captions[0].split()[-1])
            assert captions == [f"caption 0 of image {index}", f"caption 1 of image {index}"]
            assert abs(int(image[32, 32, 0]) - index * 20) < 12  # the right picture
    # The official split lists win when they are present.
    (root / "Flickr_8k.trainImages.txt").write_text("im0.jpg\nim1.jpg\nim2.jpg\n")
    (root / "Flickr_8k.devImages.txt").write_text("im3.jpg\n")
    (root / "Flickr_8k.testImages.txt").write_text("im4.jpg\nmissing.jpg\n")
    splits = data.load_data(str(root / "Flickr8k.token.txt"))
    assert [c[0][-1] for c in splits.train["captions"]] == ["0", "1", "2"]
    assert [c[0][-1] for c in splits.test["captions"]] == ["4"]


def test_flickr_layout_errors(tmp_path):
    root = _flickr_folder(tmp_path / "flickr", count=3)
    (root / "Images" / "im1.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(UserError, match=r"im1\.jpg: not an image"):
        data.load_data(str(root))
    bad = tmp_path / "bad.txt"
    bad.write_text("im0.jpg#0\tfine\nno tab on this line\n")
    with pytest.raises(UserError, match=r"bad\.txt:2: expected"):
        data.load_data(str(bad))
    (tmp_path / "empty_folder").mkdir()
    with pytest.raises(UserError, match="no captions file"):
        data.load_data(str(tmp_path / "empty_folder"))
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    (lonely / "captions.txt").write_text("image,caption\nghost.jpg,a ghost\n")
    with pytest.raises(UserError, match="'ghost.jpg' from the captions file is not in"):
        data.load_data(str(lonely))
