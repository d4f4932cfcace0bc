import numpy as np
import pytest

from apps.captioning import data, generator, other_renderer


def _nearest_colour(pixel: np.ndarray) -> str:
    return min(data.COLOURS, key=lambda name: np.linalg.norm(pixel - data.COLOURS[name]))


@pytest.mark.parametrize("look", other_renderer.LOOKS)
def test_each_object_is_drawn_in_its_colour_at_its_place(look):
    split = other_renderer.other_renderer_split(look, scenes=6)
    assert split["image"].shape == (6, data.IMAGE_SIZE, data.IMAGE_SIZE, 3)
    assert split["image"].dtype == np.uint8
    checked = 0
    for index, image in enumerate(split["image"]):
        scene = generator.split_scene("test", index)
        assert split["captions"][index] == scene.captions
        for obj in scene.objects:
            pixel = image[int(obj.y), int(obj.x)].astype(float)
            assert _nearest_colour(pixel) == obj.colour, (look, index, obj)
            checked += 1
        # The background (a corner no object covers) is not any object's colour.
        corner = image[0, 0].astype(float)
        assert all(np.linalg.norm(corner - data.COLOURS[o.colour]) > 40 for o in scene.objects)
    assert checked >= 6


def test_unknown_look_is_refused():
    with pytest.raises(ValueError, match="look"):
        other_renderer.draw_scene(
            generator.split_scene("test", 0), "sepia", np.random.default_rng(0)
        )
