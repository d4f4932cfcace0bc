"""The default video corpus, generated offline: eight motions of sprites and handwritten
digits over still backgrounds, with held-out sprites, digits and speeds for the shifted test
sets (``apps/video/data.py`` caches, splits and loads it, and reads real videos).
"""

from __future__ import annotations

import colorsys
import functools
import json
import pathlib

import numpy as np
from PIL import Image, ImageDraw

from apps.video.runtime import FRAME_SIZE, NUM_FRAMES
from shared.data.overlap import cross_split_overlap

CLASSES = (
    "move_left",
    "move_right",
    "move_up",
    "move_down",
    "rotate_clockwise",
    "rotate_anticlockwise",
    "grow",
    "shrink",
)


SHAPES = ("triangle", "square", "cross", "pacman", "ell")  # plus real handwritten digits


# Held out by construction: sprites and speeds that training never shows.
HELD_OUT_SHAPES = ("arrow", "star", "tee")


HELD_OUT_DIGITS = (4, 7)  # every handwriting sample of these digits


UNSEEN_SET = "unseen_sprites_and_speeds"


# Motion rates are fractions of the training range of each class's speed (see `_speed`):
# training, validation and test draw from [0, 1] without the middle band, which only the
# unseen set draws from; the faster-motion set goes beyond the fastest training speed.
_UNSEEN_RATES = (0.35, 0.65)


_FASTER_RATES = (1.15, 1.5)


# The three small test sets beside the ordinary test split (``evaluate``'s "held_out").
HELD_OUT_SETS = {
    UNSEEN_SET: "held out by construction: shapes (arrow, star, tee) and digits (4, 7) training "
    "never shows, at speeds from a band training never shows (the middle 30% of each range)",
    "other_renderer": "shifted: the same motions drawn by matplotlib (anti-aliased vector "
    "shapes with outlines, typeset digits, gradient or checkerboard backgrounds, JPEG frames)",
    "faster_motion": "shifted: faster than any training clip (moves 2.7-3.2 px a frame against "
    "at most 2.5, turns 15-18 degrees a frame against 14, size ratios 4.3-5.1 against 4.0; "
    "the training renderer, unseen handwriting)",
}


# Bump when the renderer changes, so cached corpora are rebuilt.
GENERATOR_VERSION = "2"


SPLIT_CODES = {
    "train": 0,
    "validation": 1,
    "test": 2,
    UNSEEN_SET: 3,
    "other_renderer": 4,
    "faster_motion": 5,
}


_SPRITE_PIXELS = 48  # sprites are drawn once at this size and scaled/rotated per frame


def make_clip(class_name: str, seed: int, split: str = "test") -> np.ndarray:
    """One generated clip of `class_name`: uint8 ``[16, 64, 64, 3]``, fully set by `seed`.

    `split` picks the sprites, speeds and renderer that split draws from (``test``: the
    training shapes, handwriting kept for testing, the training speeds).
    """
    if class_name not in CLASSES:
        raise ValueError(f"class_name must be one of {CLASSES}, got {class_name!r}")
    _check_split(split)
    params = _draw_parameters(np.random.default_rng([seed, 0]), class_name, split)
    return _render(params, split, np.random.default_rng([seed, 1]))


def clip_parameters(split: str, index: int, seed: int = 1234) -> dict:
    """Everything that decides clip `index` of `split` but the pixel noise: JSON-ready.

    Cheap (no drawing), so split hygiene is checked on the parameters of a whole
    corpus in well under a second.
    """
    _check_split(split)
    rng = np.random.default_rng([seed, SPLIT_CODES[split], index, 0])
    return _draw_parameters(rng, CLASSES[index % len(CLASSES)], split)


def generate_split(split: str, count: int, seed: int = 1234) -> dict[str, np.ndarray]:
    """`count` clips of one split, classes in rotation so every class is equally common.

    Each clip has its own seeds derived from (seed, split, index), so a split is the
    same whatever its size. The module docstring says what each split draws from.
    """
    _check_split(split)
    frames = np.empty((count, NUM_FRAMES, FRAME_SIZE, FRAME_SIZE, 3), np.uint8)
    labels = np.arange(count, dtype=np.int64) % len(CLASSES)
    for index in range(count):
        params = clip_parameters(split, index, seed)
        noise = np.random.default_rng([seed, SPLIT_CODES[split], index, 1])
        frames[index] = _render(params, split, noise)
    return {"frames": frames, "label": labels, "length": np.full(count, NUM_FRAMES, np.int64)}


def clip_key(params: dict) -> str:
    """A clip's identity for split hygiene: its parameters (floats to 4 decimals), not its split."""

    def rounded(value):
        if isinstance(value, float):
            return round(value, 4)
        if isinstance(value, dict):
            return {key: rounded(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [rounded(item) for item in value]
        return value

    return json.dumps(rounded(params), sort_keys=True)


def held_out_sprites(split: str, params: dict) -> list[str]:
    """The sprites of one clip that no other split may show (for the sprite overlap check).

    Training and the unseen-sprites split count every sprite; validation, test and the
    faster-motion set count their handwriting (their shapes are the training shapes by
    design); the other renderer's vector shapes and typeset digits are its own.
    """
    sprites = [params["sprite"]]
    if params["distractor"] is not None:
        sprites.append(params["distractor"]["sprite"])
    if split in ("train", UNSEEN_SET):
        return sprites
    if split == "other_renderer":
        return []
    return [sprite for sprite in sprites if sprite.startswith("digit:")]


def split_overlap(parameters: dict[str, list[dict]]) -> dict[str, dict]:
    """Cross-split overlap of clips (their parameters) and of held-out sprites.

    Args:
        parameters: split name -> ``clip_parameters`` of each of its clips.

    Returns:
        ``{"clips": report, "sprites": report}``, ``shared.data.overlap`` reports: all
        zeros when no clip and no held-out sprite is in two splits.
    """
    return {
        "clips": cross_split_overlap(
            {split: [clip_key(p) for p in rows] for split, rows in parameters.items()},
            normalise=None,
        ),
        "sprites": cross_split_overlap(
            {
                split: [sprite for p in rows for sprite in held_out_sprites(split, p)]
                for split, rows in parameters.items()
            },
            normalise=None,
        ),
    }


def corpus_overlap(seed: int, train_size: int) -> dict[str, dict]:
    """``split_overlap`` of the generated corpus of `train_size` clips (a second for 2,400)."""
    return split_overlap(
        {
            split: [clip_parameters(split, index, seed) for index in range(count)]
            for split, count in split_sizes(train_size).items()
        }
    )


def split_sizes(train_size: int) -> dict[str, int]:
    """Clips per split: validation and test get train_size // 8 (64 to 400), the three held-out
    sets train_size // 15 (16 to 160: each engine scores them, so they stay small)."""
    evaluation = max(8 * len(CLASSES), min(400, train_size // 8))
    held_out = max(2 * len(CLASSES), min(160, train_size // 15))
    return {
        "train": train_size,
        "validation": evaluation,
        "test": evaluation,
        **{name: held_out for name in HELD_OUT_SETS},
    }


def write_sample_clip(path: str | pathlib.Path, class_name: str, seed: int = 0) -> pathlib.Path:
    """Write a generated clip a user can try (``rnnapps predict video PATH``); return its path.

    Writes H.264 .mp4 with PyAV (8 frames per second); a ``.gif`` path, or a machine
    without PyAV, gets an animated GIF instead (the suffix is changed to say so).
    """
    frames = make_clip(class_name, seed)
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import av
    except ImportError:
        av = None
    if path.suffix.lower() == ".gif" or av is None:
        path = path.with_suffix(".gif")
        pictures = [Image.fromarray(frame) for frame in frames]
        pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=125, loop=0)
        return path
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=8)
        stream.width, stream.height, stream.pix_fmt = FRAME_SIZE, FRAME_SIZE, "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": "15"}  # near-lossless: the sample should look like training
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _check_split(split: str) -> None:
    if split not in SPLIT_CODES:
        raise ValueError(f"split must be one of {list(SPLIT_CODES)}, got {split!r}")


@functools.cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 real 8x8 handwritten digits as float masks in [0, 1], and labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return (digits.images / 16.0).astype(np.float32), digits.target


@functools.cache
def _digit_pool(split: str) -> np.ndarray:
    """Indices of the handwriting samples a split draws from; no sample is in two pools.

    Training never sees the digits ``HELD_OUT_DIGITS`` (the unseen-sprites split draws
    only those) nor one sample in five of the others, which validation, test and the
    faster-motion set share out in turn.
    """
    labels = _digits()[1]
    index = np.arange(len(labels))
    seen = ~np.isin(labels, HELD_OUT_DIGITS)
    evaluation = index % 5 == 0
    if split == "train":
        return np.flatnonzero(seen & ~evaluation)
    if split == UNSEEN_SET:
        return np.flatnonzero(~seen)
    part = {"validation": 0, "test": 1, "faster_motion": 2}[split]
    return np.flatnonzero(seen & evaluation & (index // 5 % 3 == part))


@functools.cache
def _sprite_mask(sprite: str) -> Image.Image:
    """A 48x48 'L' mask of a sprite id (``shape:NAME`` or ``digit:SAMPLE``)."""
    kind, name = sprite.split(":")
    if kind == "shape":
        mask = Image.new("L", (_SPRITE_PIXELS, _SPRITE_PIXELS), 0)
        ImageDraw.Draw(mask).polygon(shape_polygon(name), fill=255)
        return mask
    if kind != "digit":
        raise ValueError(f"Pillow draws shapes and handwriting, not {sprite!r}")
    # Strokes touch the 8x8 border; a blank margin keeps them whole when the sprite turns.
    padded = np.pad(_digits()[0][int(name)], 1)
    small = Image.fromarray(np.clip(padded * 1.3 * 255.0, 0, 255).astype(np.uint8))
    return small.resize((_SPRITE_PIXELS, _SPRITE_PIXELS), Image.Resampling.BICUBIC)


def shape_polygon(name: str) -> list[tuple[float, float]]:
    """Corners of a shape in a 48x48 box (y down); every one shows its orientation when turned."""
    if name == "star":  # five points
        angles = np.deg2rad(-90.0 + 36.0 * np.arange(10))
        radii = np.where(np.arange(10) % 2 == 0, 20.0, 8.0)
        return [
            (24 + r * np.cos(a), 24 + r * np.sin(a)) for r, a in zip(radii, angles, strict=True)
        ]
    if name == "pacman":  # a disc with a mouth of 70 degrees (clockwise angles: y points down)
        angles = np.deg2rad(np.linspace(35.0, 325.0, 30))
        rim = [(23.5 + 19.75 * np.cos(a), 23.5 + 19.75 * np.sin(a)) for a in angles]
        return [(23.5, 23.5), *rim]
    try:
        return _POLYGONS[name]
    except KeyError:
        raise ValueError(f"unknown shape {name!r}") from None


_POLYGONS = {
    "triangle": [(24, 4), (44, 42), (4, 42)],
    "square": [(8, 8), (40, 8), (40, 40), (8, 40)],
    "cross": [(18, 4), (30, 4), (30, 18), (44, 18), (44, 30), (30, 30), (30, 44), (18, 44),
              (18, 30), (4, 30), (4, 18), (18, 18)],
    "ell": [(10, 4), (22, 4), (22, 32), (40, 32), (40, 44), (10, 44)],
    "arrow": [(4, 18), (26, 18), (26, 6), (44, 24), (26, 42), (26, 30), (4, 30)],
    "tee": [(4, 6), (44, 6), (44, 18), (30, 18), (30, 44), (18, 44), (18, 18), (4, 18)],
}  # fmt: skip


def _random_colour(rng: np.random.Generator) -> list[float]:
    hue, saturation, value = rng.random(), rng.uniform(0.5, 1.0), rng.uniform(0.75, 1.0)
    return [255.0 * channel for channel in colorsys.hsv_to_rgb(hue, saturation, value)]


def _draw_sprite(rng: np.random.Generator, split: str) -> str:
    # Half the objects are real handwritten digits (typeset ones for the other renderer).
    if rng.random() < 0.5:
        if split == "other_renderer":
            seen = [digit for digit in range(10) if digit not in HELD_OUT_DIGITS]
            return f"font:{seen[rng.integers(len(seen))]}"
        pool = _digit_pool(split)
        return f"digit:{pool[rng.integers(len(pool))]}"
    shapes = HELD_OUT_SHAPES if split == UNSEEN_SET else SHAPES
    return f"shape:{shapes[rng.integers(len(shapes))]}"


def _draw_rate(rng: np.random.Generator, split: str) -> float:
    """How fast the clip's motion is, as a fraction of the training range of its speed."""
    if split == UNSEEN_SET:
        return float(rng.uniform(*_UNSEEN_RATES))
    if split == "faster_motion":
        return float(rng.uniform(*_FASTER_RATES))
    low, high = _UNSEEN_RATES
    rate = rng.uniform(0.0, 1.0 - (high - low))
    return float(rate if rate < low else rate + (high - low))  # skip the held-out band


def _draw_parameters(rng: np.random.Generator, class_name: str, split: str) -> dict:
    kind = int(rng.integers(3))  # still, panning or flickering background
    background = {
        "kind": kind,
        "base": (rng.uniform(30.0, 170.0) + rng.normal(0.0, 10.0, size=3)).tolist(),
        "cells": int(rng.integers(3, 10)),
        "contrast": float(rng.uniform(5.0, 35.0)),
        # kind 1 pans the camera slowly (at most 0.8 px per frame, below any object speed).
        "velocity": rng.uniform(-0.8, 0.8, size=2).tolist() if kind == 1 else [0.0, 0.0],
        "offset": rng.uniform(-3.0, 3.0, size=2).tolist(),
    }
    distractor = None
    if rng.random() < 0.3:  # a still distractor: the model must find what moves
        distractor = {
            "sprite": _draw_sprite(rng, split),
            "x": float(rng.uniform(8.0, 56.0)),
            "y": float(rng.uniform(8.0, 56.0)),
            "size": float(rng.uniform(10.0, 20.0)),
            "angle": float(rng.uniform(0.0, 360.0)),
            "colour": _random_colour(rng),
        }
    return {
        "class": class_name,
        "sprite": _draw_sprite(rng, split),
        "colour": _random_colour(rng),
        "motion": _draw_motion(rng, class_name, _draw_rate(rng, split)),
        "background": background,
        "distractor": distractor,
        "noise": float(rng.uniform(0.0, 10.0)),  # sensor-like noise level
    }


def _draw_motion(rng: np.random.Generator, class_name: str, rate: float) -> dict:
    """The scalars of a trajectory (see `_trajectory`); `rate` 0..1 spans the training speeds."""
    motion = {
        "rate": rate,
        "angle": float(rng.uniform(0.0, 360.0)),
        # Every class drifts a little, so "moves" means clearly more than the drift.
        "drift": rng.uniform(-0.25, 0.25, size=2).tolist(),
    }
    if class_name.startswith("move_"):
        size = float(rng.uniform(12.0, 34.0))
        travel = _speed(class_name, rate) * (NUM_FRAMES - 1)
        low, high = size / 2 - 2.0, FRAME_SIZE - size / 2 + 2.0
        motion.update(
            size=size,
            start=float(rng.uniform(low, max(low, high - travel))),
            across=float(rng.uniform(low, high)),
        )
        return motion
    if class_name.startswith("rotate_"):
        size = float(rng.uniform(14.0, 36.0))
    else:
        size = float(rng.uniform(28.0, 44.0))  # the largest size of a growing/shrinking sprite
    margin = size / 2
    motion.update(
        size=size,
        x=float(rng.uniform(margin, FRAME_SIZE - margin)),
        y=float(rng.uniform(margin, FRAME_SIZE - margin)),
    )
    return motion


def _speed(class_name: str, rate: float) -> float:
    """Pixels a frame (moves), degrees a frame (turns) or the size ratio over the clip (grow,
    shrink) at `rate`; training draws rates in [0, 1] except the held-out band."""
    if class_name.startswith("move_"):
        return 1.2 + 1.3 * rate
    if class_name.startswith("rotate_"):
        return 6.0 + 8.0 * rate
    return 1.75 + 2.25 * rate


def _trajectory(class_name: str, motion: dict) -> dict[str, np.ndarray]:
    """Per-frame centre x, y (pixels), sprite size (pixels) and angle (degrees)."""
    steps = np.arange(NUM_FRAMES, dtype=np.float32)
    drift_x, drift_y = motion["drift"]
    speed = _speed(class_name, motion["rate"])
    angle = np.full(NUM_FRAMES, motion["angle"])
    size = np.full(NUM_FRAMES, motion["size"])
    if class_name.startswith("move_"):
        along = motion["start"] + speed * steps
        if class_name in ("move_left", "move_up"):
            along = FRAME_SIZE - along  # mirror the path: same spread of start points
        across = motion["across"] + drift_x * steps
        x, y = (along, across) if class_name in ("move_left", "move_right") else (across, along)
        return {"x": x, "y": y, "size": size, "angle": angle}
    if class_name.startswith("rotate_"):
        # Pillow turns anticlockwise for positive angles.
        turn = speed * steps
        angle = angle + (turn if class_name == "rotate_anticlockwise" else -turn)
    else:
        large, small = motion["size"], motion["size"] / speed
        first, last = (small, large) if class_name == "grow" else (large, small)
        size = first * (last / first) ** (steps / (NUM_FRAMES - 1))  # steady apparent growth
    x = motion["x"] + drift_x * steps
    y = motion["y"] + drift_y * steps
    return {"x": x, "y": y, "size": size, "angle": angle}


def _background(background: dict, rng: np.random.Generator) -> np.ndarray:
    """Float ``[16, 64, 64, 3]``: a still, panning or flickering unsaturated texture."""
    big = FRAME_SIZE + 32  # room to pan
    cells = background["cells"]
    grid = rng.uniform(-1.0, 1.0, size=(cells, cells)).astype(np.float32)
    clouds = np.asarray(Image.fromarray(grid).resize((big, big), Image.Resampling.BILINEAR))
    base = np.asarray(background["base"], np.float32)
    texture = base + background["contrast"] * clouds[..., None]  # [96, 96, 3]
    frames = np.empty((NUM_FRAMES, FRAME_SIZE, FRAME_SIZE, 3), np.float32)
    velocity = np.asarray(background["velocity"])
    # Centre the pan in the 96-pixel texture so the window never leaves it.
    origin = 16.0 - velocity * (NUM_FRAMES - 1) / 2 + np.asarray(background["offset"])
    for t in range(NUM_FRAMES):
        top, left = (origin + velocity * t + 0.5).astype(int)
        frames[t] = texture[top : top + FRAME_SIZE, left : left + FRAME_SIZE]
    if background["kind"] == 2:  # flicker: per-frame brightness changes
        frames += rng.normal(0.0, 8.0, size=(NUM_FRAMES, 1, 1, 1)).astype(np.float32)
    return frames


def _object_masks(mask: Image.Image, path: dict[str, np.ndarray]) -> np.ndarray:
    """Float ``[16, 64, 64]`` coverage of the sprite following `path`."""
    out = np.zeros((NUM_FRAMES, FRAME_SIZE, FRAME_SIZE), np.float32)
    for t in range(NUM_FRAMES):
        side = max(2, round(path["size"][t]))
        sprite = mask.resize((side, side), Image.Resampling.BILINEAR, reducing_gap=2.0)
        sprite = sprite.rotate(path["angle"][t] % 360.0, Image.Resampling.BILINEAR, expand=True)
        canvas = Image.new("L", (FRAME_SIZE, FRAME_SIZE), 0)
        left = round(path["x"][t] - sprite.width / 2)
        top = round(path["y"][t] - sprite.height / 2)
        canvas.paste(sprite, (left, top))
        out[t] = np.asarray(canvas, np.float32) / 255.0
    return out


def still_path(distractor: dict) -> dict[str, np.ndarray]:
    """The per-frame path of a still distractor."""
    return {
        key: np.full(NUM_FRAMES, distractor[key], np.float32) for key in ("x", "y", "size", "angle")
    }


def _render(params: dict, split: str, rng: np.random.Generator) -> np.ndarray:
    """The clip of `params`: uint8 ``[16, 64, 64, 3]``; `rng` draws only texture and noise."""
    if split == "other_renderer":
        from apps.video.other_renderer import render_clip

        return render_clip(params, rng)
    frames = _background(params["background"], rng)
    distractor = params["distractor"]
    if distractor is not None:
        coverage = _object_masks(_sprite_mask(distractor["sprite"]), still_path(distractor))
        frames += coverage[..., None] * (np.asarray(distractor["colour"], np.float32) - frames)
    path = _trajectory(params["class"], params["motion"])
    coverage = _object_masks(_sprite_mask(params["sprite"]), path)[..., None]
    frames += coverage * (np.asarray(params["colour"], np.float32) - frames)
    # Sensor-like brightness noise, fresh every frame (one value per pixel: cheap to draw).
    frames += params["noise"] * rng.standard_normal((*frames.shape[:3], 1), dtype=np.float32)
    return np.clip(frames + 0.5, 0, 255).astype(np.uint8)
