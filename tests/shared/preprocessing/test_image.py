import io

import numpy as np
import pytest
from PIL import Image

from shared.errors import UserError
from shared.preprocessing import image as image_module
from shared.preprocessing.image import load_image, resize_image


def _encode(picture: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt)
    return buffer.getvalue()


def test_rgb_png_is_resized_and_keeps_colour(tmp_path):
    picture = Image.new("RGB", (200, 100), (200, 30, 40))
    path = tmp_path / "red.png"
    picture.save(path)
    array = load_image(path, size=(32, 48))
    assert array.shape == (32, 48, 3) and array.dtype == np.uint8
    np.testing.assert_array_equal(array[16, 24], [200, 30, 40])


def test_size_is_height_then_width(tmp_path):
    picture = Image.new("RGB", (40, 20))
    picture.paste((255, 255, 255), (0, 0, 40, 10))  # top half white
    array = load_image(_encode(picture, "PNG"), size=None)
    assert array.shape == (20, 40, 3)
    assert array[0, 0, 0] == 255 and array[-1, 0, 0] == 0


@pytest.mark.parametrize("mode", ["L", "1", "P", "I;16", "CMYK"])
def test_other_modes_become_rgb(mode):
    if mode == "I;16":  # a real 16-bit image uses the full range
        picture = Image.fromarray(np.full((20, 20), 65535, np.uint16))
    else:
        picture = Image.new("RGB", (20, 20), (255, 255, 255)).convert(mode)
    fmt = "TIFF" if mode == "CMYK" else "PNG"
    array = load_image(_encode(picture, fmt), size=(8, 8))
    assert array.shape == (8, 8, 3)
    assert array.min() > 200  # white stays white, whatever the mode


def test_transparent_pixels_are_composed_over_white():
    picture = Image.new("RGBA", (10, 10), (0, 0, 0, 0))  # fully transparent black
    picture.putpixel((0, 0), (0, 0, 255, 255))
    array = load_image(_encode(picture, "PNG"), size=None)
    np.testing.assert_array_equal(array[5, 5], [255, 255, 255])
    np.testing.assert_array_equal(array[0, 0], [0, 0, 255])


def test_big_jpeg_is_downscaled(tmp_path):
    path = tmp_path / "big.jpg"
    Image.new("RGB", (3000, 2000), (10, 120, 240)).save(path, quality=90)
    array = load_image(path, size=(64, 64))
    assert array.shape == (64, 64, 3)
    assert np.abs(array.astype(int) - [10, 120, 240]).max() < 8


def test_decompression_bomb_is_refused(monkeypatch):
    monkeypatch.setattr(image_module, "MAX_PIXELS", 100)
    with pytest.raises(UserError, match=r"bomb\.png: image is 20x20 pixels"):
        load_image(_encode(Image.new("RGB", (20, 20)), "PNG"), name="bomb.png")


def test_missing_empty_and_not_an_image(tmp_path):
    with pytest.raises(UserError, match="nothing.png: no such file"):
        load_image(tmp_path / "nothing.png")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(UserError, match="empty.jpg: empty file"):
        load_image(empty)
    text = tmp_path / "notes.jpg"
    text.write_text("hello, not a picture\n")
    with pytest.raises(UserError, match="notes.jpg: not an image"):
        load_image(text)
    with pytest.raises(UserError, match="is a folder"):
        load_image(tmp_path)
    with pytest.raises(UserError, match="<bytes>: empty image data"):
        load_image(b"")


def test_truncated_image_is_a_user_error(tmp_path):
    noise = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    data = _encode(Image.fromarray(noise), "PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="cut.png: truncated or corrupt image"):
        load_image(path)
    jpeg = _encode(Image.fromarray(noise), "JPEG")
    with pytest.raises(UserError, match="truncated or corrupt"):
        load_image(jpeg[: len(jpeg) // 2], name="cut.jpg")


def test_message_is_one_line(tmp_path):
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(UserError) as info:
        load_image(tmp_path / "x.png")
    assert "\n" not in str(info.value) and "x.png" in str(info.value)


def test_resize_image():
    image = np.zeros((30, 50, 3), np.uint8)
    image[:, 25:] = 255
    small = resize_image(image, (10, 20))
    assert small.shape == (10, 20, 3)
    assert small[:, 0].max() == 0 and small[:, -1].min() == 255
    with pytest.raises(ValueError, match="image must have shape"):
        resize_image(np.zeros((4, 4)), (2, 2))
