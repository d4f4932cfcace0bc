"""Images from files or bytes into fixed-size uint8 RGB arrays, with Pillow.

Every problem a user can cause (missing file, empty file, not an image, a
truncated download, a decompression bomb) becomes a one-line UserError naming
the input, so the CLI can report it and carry on with the next input.
"""

from __future__ import annotations

import io
import os
import pathlib
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from shared.errors import UserError

# Refuse anything larger than this many pixels before decoding it: a 100-megapixel
# photo is already far beyond a real camera image, and decoding a crafted
# "decompression bomb" header would otherwise allocate gigabytes.
MAX_PIXELS = 100_000_000

_HIGH_BIT_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")


def load_image(
    path_or_bytes: str | os.PathLike | bytes,
    size: tuple[int, int] | None = (64, 64),
    name: str | None = None,
) -> np.ndarray:
    """Read an image as uint8 RGB ``[height, width, 3]``, resized to `size`.

    Args:
        path_or_bytes: a file path, or the encoded bytes of an image file.
        size: ``(height, width)`` of the result, or None to keep the image's own
            size. The image is stretched to it (no crop), so nothing is cut off.
        name: how to name the input in error messages (defaults to the path, or
            ``<bytes>``).

    Grayscale, palette, CMYK and 16-bit images become RGB; transparent images
    are composed over white; the EXIF orientation is applied.

    Raises:
        UserError: the input is missing, empty, not an image, truncated or too big.
    """
    if size is not None and (len(size) != 2 or min(size) < 1):
        raise ValueError(f"size must be (height, width) with positive values, got {size!r}")
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        label = name or "<bytes>"
        data = bytes(path_or_bytes)
        if not data:
            raise UserError(f"{label}: empty image data")
        stream: io.BufferedIOBase | pathlib.Path = io.BytesIO(data)
    else:
        path = pathlib.Path(path_or_bytes)
        label = name or str(path)
        if not path.exists():
            raise UserError(f"{label}: no such file")
        if path.is_dir():
            raise UserError(f"{label}: is a folder, not an image file")
        if path.stat().st_size == 0:
            raise UserError(f"{label}: empty file")
        stream = path

    try:
        with warnings.catch_warnings():
            # Pillow warns before it errors on big images; our own limit decides.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(stream) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise UserError(
                        f"{label}: image is {width}x{height} pixels, more than the "
                        f"{MAX_PIXELS:,} allowed"
                    )
                if size is not None:
                    # JPEG can decode at 1/2, 1/4 or 1/8 scale directly: cheap for big photos.
                    image.draft("RGB", (size[1], size[0]))
                image.load()
                rgb = _to_rgb(ImageOps.exif_transpose(image))
    except UserError:
        raise
    except Image.DecompressionBombError as error:
        raise UserError(f"{label}: image is too large to decode safely ({error})") from error
    except UnidentifiedImageError as error:
        raise UserError(f"{label}: not an image (or an unsupported image format)") from error
    except (OSError, SyntaxError, ValueError) as error:
        # Pillow reports truncated and corrupt files as OSError / SyntaxError.
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"{label}: truncated or corrupt image ({reason})") from error

    if size is not None and rgb.size != (size[1], size[0]):
        # reducing_gap first shrinks by an integer factor (fast), then resamples properly.
        rgb = rgb.resize((size[1], size[0]), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(rgb, dtype=np.uint8).copy()


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a uint8 ``[height, width, 3]`` array to ``size = (height, width)``.

    Uses the same resampling as `load_image`, so arrays from TFDS or video frames
    are treated like image files.
    """
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"image must have shape [height, width, 3], got {image.shape}")
    if image.shape[:2] == tuple(size):
        return np.asarray(image, dtype=np.uint8)
    picture = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8))
    picture = picture.resize((size[1], size[0]), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(picture, dtype=np.uint8)


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode to RGB: alpha over white, 16-bit and float rescaled to 0-255."""
    if image.mode == "RGB":
        return image
    if image.mode in _HIGH_BIT_MODES:
        values = np.asarray(image, dtype=np.float32)
        peak = float(values.max()) if values.size else 0.0
        if image.mode == "F":
            top = 1.0 if peak <= 1.0 else peak  # float images are usually in [0, 1]
        else:
            top = 65535.0 if peak > 255 else 255.0  # 16-bit data, or 8-bit data in a wide mode
        gray = np.clip(values / top * 255.0, 0, 255).astype(np.uint8)
        return Image.fromarray(gray).convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        # Transparent pixels can hold any colour; compose over white as viewers do.
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")
