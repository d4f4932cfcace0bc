"""The app's own pieces that need no trained model: the shuffled-image control's input."""

import numpy as np

from apps.captioning.app import shuffle_images


def test_shuffle_images_moves_every_image_to_another_row():
    images = np.arange(10 * 2 * 2 * 3, dtype=np.uint8).reshape(10, 2, 2, 3)
    shuffled = shuffle_images(images, seed=7)
    assert not any(np.array_equal(a, b) for a, b in zip(images, shuffled, strict=True))
    # The same images, only moved: the control changes which scene an image belongs to.
    assert sorted(map(bytes, shuffled)) == sorted(map(bytes, images))
    np.testing.assert_array_equal(shuffle_images(images, seed=7), shuffled)
