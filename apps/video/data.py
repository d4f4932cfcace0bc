"""Video data: generated motion clips (default), UCF101 via TFDS, or a folder of videos per class.

The default source generates 16-frame 64x64 clips whose class is a motion, not a
look: an object (a Pillow shape, or one of scikit-learn's real 8x8 handwritten
digits upscaled) moves left, right, up or down, turns clockwise or anticlockwise,
grows or shrinks, over a still, panning or flickering noisy background. Start
positions, speeds, sizes, angles and colours are random for every class, so one
frame cannot tell the class: only the change across frames can.

Every source returns ``Splits`` with the columns ``frames`` (uint8
``[n, 16, 64, 64, 3]``), ``label`` (int) and ``length`` (real frames before the
zero padding of a short clip; 16 when the clip is long enough).
"""

from __future__ import annotations

import colorsys
import functools
import pathlib

import numpy as np
from PIL import Image, ImageDraw

from shared.data.cache import cached_splits
from shared.data.sources import load_source, load_tfds
from shared.data.splits import Splits, stratified_split
from shared.errors import UserError
from shared.preprocessing.image import resize_image

NUM_FRAMES = 16
FRAME_SIZE = 64
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
DEFAULT_TRAIN_SIZE = 2_400  # 300 clips per class; 16x64x64x3 bytes each, 470 MB in all
QUICK_TRAIN_SIZE = 64
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".ogv", ".gif")
# Bump when the renderer changes, so cached corpora are rebuilt.
GENERATOR_VERSION = "1"

_SPLIT_CODES = {"train": 0, "validation": 1, "test": 2}
_SPRITE_PIXELS = 48  # sprites are drawn once at this size and scaled/rotated per frame
_MAX_DECODED_FRAMES = 1024  # bounded memory for long videos (see load_video)


def load_data(
    source: str = "default",
    seed: int = 1234,
    size: int | None = None,
    quick: bool = False,
) -> Splits:
    """Train/validation/test splits of clips, labels and clip lengths.

    Args:
        source: ``default`` (generated motion clips), ``tfds:ucf101``, or a folder with
            one sub-folder of video files per class.
        seed: fixes the generated clips and any random split.
        size: the number of generated training clips (the generated evaluation splits
            get ``size // 8`` each, at most 400); for TFDS or files, at most this many
            videos are read per split.
        quick: a tiny corpus for tests and smoke runs (when `size` is not given).

    ``Splits.info["classes"]`` names the labels (``CLASSES`` for the default source).
    """
    return load_source(
        source,
        size,
        quick,
        app="video",
        rows="clips",
        train_sizes=(DEFAULT_TRAIN_SIZE, QUICK_TRAIN_SIZE),
        load_generated=lambda train_size: _load_generated(seed, train_size, cache=not quick),
        tfds_dataset="ucf101",
        load_tfds_dataset=lambda name, limit: _load_ucf101(name, seed, limit),
        load_files=lambda path, limit: _load_folder(path, seed, limit),
    )


# ---------------------------------------------------------------- generated clips


def make_clip(class_name: str, seed: int, held_out_digits: bool = False) -> np.ndarray:
    """One generated clip of `class_name`: uint8 ``[16, 64, 64, 3]``, fully set by `seed`.

    `held_out_digits` draws digits from the handwriting samples kept for evaluation.
    """
    if class_name not in CLASSES:
        raise ValueError(f"class_name must be one of {CLASSES}, got {class_name!r}")
    return _make_clip(np.random.default_rng(seed), class_name, held_out_digits)


def generate_split(split: str, count: int, seed: int = 1234) -> dict[str, np.ndarray]:
    """`count` clips of one split, classes in rotation so every class is equally common.

    Each clip has its own seed derived from (seed, split, index), so a split is
    the same whatever its size. Validation and test draw digits from handwriting
    samples that training never sees.
    """
    if split not in _SPLIT_CODES:
        raise ValueError(f"split must be one of {sorted(_SPLIT_CODES)}, got {split!r}")
    frames = np.empty((count, NUM_FRAMES, FRAME_SIZE, FRAME_SIZE, 3), np.uint8)
    labels = np.arange(count, dtype=np.int64) % len(CLASSES)
    for index in range(count):
        rng = np.random.default_rng([seed, _SPLIT_CODES[split], index])
        frames[index] = _make_clip(rng, CLASSES[labels[index]], split != "train")
    return {"frames": frames, "label": labels, "length": np.full(count, NUM_FRAMES, np.int64)}


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


def _eval_size(train_size: int) -> int:
    return max(len(CLASSES), min(400, train_size // 8))


def _load_generated(seed: int, train_size: int, cache: bool) -> Splits:
    sizes = {
        "train": train_size,
        "validation": _eval_size(train_size),
        "test": _eval_size(train_size),
    }
    info = {"classes": list(CLASSES)}
    splits = cached_splits(
        f"video_motions_v{GENERATOR_VERSION}_seed{seed}_n{train_size}",
        sizes,
        lambda split, count: generate_split(split, count, seed),
        ("frames", "label", "length"),
        cache=cache,
        version=GENERATOR_VERSION,
    )
    return Splits(
        train=splits["train"],
        validation=splits["validation"],
        test=splits["test"],
        source="default",
        info=info,
    )


@functools.cache
def _digit_images() -> np.ndarray:
    """scikit-learn's 1,797 real 8x8 handwritten digits as float masks in [0, 1]."""
    from sklearn.datasets import load_digits

    return (load_digits().images / 16.0).astype(np.float32)


@functools.cache
def _sprite_mask(kind: str) -> Image.Image:
    """A 48x48 'L' mask of a shape; every one shows its orientation when turned."""
    size = _SPRITE_PIXELS
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)
    if kind == "triangle":
        draw.polygon([(24, 4), (44, 42), (4, 42)], fill=255)
    elif kind == "square":
        draw.rectangle([8, 8, 39, 39], fill=255)
    elif kind == "cross":
        draw.polygon(
            [(18, 4), (30, 4), (30, 18), (44, 18), (44, 30), (30, 30), (30, 44), (18, 44),
             (18, 30), (4, 30), (4, 18), (18, 18)],
            fill=255,
        )  # fmt: skip
    elif kind == "pacman":
        draw.pieslice([4, 4, 43, 43], start=35, end=325, fill=255)
    elif kind == "ell":
        draw.polygon([(10, 4), (22, 4), (22, 32), (40, 32), (40, 44), (10, 44)], fill=255)
    else:
        raise ValueError(f"unknown sprite {kind!r}")
    return mask


def _digit_pool(held_out: bool) -> np.ndarray:
    """Indices of the digit samples for training, or of the one in five kept for evaluation."""
    # Validation/test see handwriting that training never saw.
    return np.flatnonzero((np.arange(len(_digit_images())) % 5 == 0) == held_out)


def _digit_mask(rng: np.random.Generator, held_out: bool) -> Image.Image:
    pool = _digit_pool(held_out)
    digit = _digit_images()[pool[rng.integers(len(pool))]]
    # Strokes touch the 8x8 border; a blank margin keeps them whole when the sprite turns.
    padded = np.pad(digit, 1)
    small = Image.fromarray(np.clip(padded * 1.3 * 255.0, 0, 255).astype(np.uint8))
    return small.resize((_SPRITE_PIXELS, _SPRITE_PIXELS), Image.Resampling.BICUBIC)


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    hue, saturation, value = rng.random(), rng.uniform(0.5, 1.0), rng.uniform(0.75, 1.0)
    return np.asarray(colorsys.hsv_to_rgb(hue, saturation, value), np.float32) * 255.0


def _trajectory(rng: np.random.Generator, class_name: str) -> dict[str, np.ndarray]:
    """Per-frame centre x, y (pixels), sprite size (pixels) and angle (degrees)."""
    steps = np.arange(NUM_FRAMES, dtype=np.float32)
    progress = steps / (NUM_FRAMES - 1)
    angle0 = rng.uniform(0.0, 360.0)
    # Every class drifts a little, so "moves" means clearly more than the drift.
    drift = rng.uniform(-0.25, 0.25, size=2)
    if class_name.startswith("move_"):
        size = np.full(NUM_FRAMES, rng.uniform(12.0, 34.0))
        speed = rng.uniform(1.2, 2.5)
        travel = speed * (NUM_FRAMES - 1)
        low, high = size[0] / 2 - 2.0, FRAME_SIZE - size[0] / 2 + 2.0
        start = rng.uniform(low, max(low, high - travel))
        across = rng.uniform(low, high)
        along = start + speed * steps
        if class_name in ("move_left", "move_up"):
            along = FRAME_SIZE - along  # mirror the path: same spread of start points
        across = across + drift[0] * steps
        x, y = (along, across) if class_name in ("move_left", "move_right") else (across, along)
        angle = np.full(NUM_FRAMES, angle0)
    else:
        if class_name.startswith("rotate_"):
            size = np.full(NUM_FRAMES, rng.uniform(14.0, 36.0))
            turn = rng.uniform(6.0, 14.0) * steps
            # Pillow turns anticlockwise for positive angles.
            angle = angle0 + (turn if class_name == "rotate_anticlockwise" else -turn)
        else:
            small, large = rng.uniform(10.0, 16.0), rng.uniform(28.0, 44.0)
            first, last = (small, large) if class_name == "grow" else (large, small)
            size = first * (last / first) ** progress  # geometric: steady apparent growth
            angle = np.full(NUM_FRAMES, angle0)
        margin = size.max() / 2
        x = rng.uniform(margin, FRAME_SIZE - margin) + drift[0] * steps
        y = rng.uniform(margin, FRAME_SIZE - margin) + drift[1] * steps
    return {"x": x, "y": y, "size": size, "angle": angle}


def _background(rng: np.random.Generator) -> np.ndarray:
    """Float ``[16, 64, 64, 3]``: a still, panning or flickering unsaturated texture."""
    big = FRAME_SIZE + 32  # room to pan
    base = rng.uniform(30.0, 170.0) + rng.normal(0.0, 10.0, size=3)
    cells = int(rng.integers(3, 10))
    grid = rng.uniform(-1.0, 1.0, size=(cells, cells)).astype(np.float32)
    clouds = np.asarray(Image.fromarray(grid).resize((big, big), Image.Resampling.BILINEAR))
    texture = base + rng.uniform(5.0, 35.0) * clouds[..., None]  # [96, 96, 3]
    kind = rng.integers(3)
    frames = np.empty((NUM_FRAMES, FRAME_SIZE, FRAME_SIZE, 3), np.float32)
    # kind 1 pans the camera slowly (at most 0.8 px per frame, below any object speed).
    velocity = rng.uniform(-0.8, 0.8, size=2) if kind == 1 else np.zeros(2)
    # Centre the pan in the 96-pixel texture so the window never leaves it.
    origin = 16.0 - velocity * (NUM_FRAMES - 1) / 2 + rng.uniform(-3.0, 3.0, size=2)
    for t in range(NUM_FRAMES):
        top, left = (origin + velocity * t + 0.5).astype(int)
        frames[t] = texture[top : top + FRAME_SIZE, left : left + FRAME_SIZE]
    if kind == 2:  # flicker: per-frame brightness changes
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


def _sprite(rng: np.random.Generator, held_out_digits: bool) -> Image.Image:
    # Half the objects are real handwritten digits, the rest drawn shapes.
    if rng.random() < 0.5:
        return _digit_mask(rng, held_out_digits)
    return _sprite_mask(SHAPES[rng.integers(len(SHAPES))])


def _make_clip(rng: np.random.Generator, class_name: str, held_out_digits: bool) -> np.ndarray:
    frames = _background(rng)
    if rng.random() < 0.3:
        # A still distractor: the model must find what moves, not what is there.
        still = {
            "x": np.full(NUM_FRAMES, rng.uniform(8.0, 56.0)),
            "y": np.full(NUM_FRAMES, rng.uniform(8.0, 56.0)),
            "size": np.full(NUM_FRAMES, rng.uniform(10.0, 20.0)),
            "angle": np.full(NUM_FRAMES, rng.uniform(0.0, 360.0)),
        }
        coverage = _object_masks(_sprite(rng, held_out_digits), still)[..., None]
        frames += coverage * (_random_colour(rng) - frames)
    path = _trajectory(rng, class_name)
    coverage = _object_masks(_sprite(rng, held_out_digits), path)[..., None]
    frames += coverage * (_random_colour(rng) - frames)
    # Sensor-like brightness noise, fresh every frame (one value per pixel: cheap to draw).
    noise_level = rng.uniform(0.0, 10.0)
    frames += noise_level * rng.standard_normal((*frames.shape[:3], 1), dtype=np.float32)
    return np.clip(frames + 0.5, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- real videos


def sample_frames(
    frames: np.ndarray,
    num_frames: int = NUM_FRAMES,
    size: tuple[int, int] = (FRAME_SIZE, FRAME_SIZE),
) -> tuple[np.ndarray, int]:
    """`num_frames` evenly spaced frames of ``[time, h, w, 3]``, resized, and the real count.

    A clip shorter than `num_frames` keeps all its frames and is padded with black
    frames at the end; the returned length says how many are real (for masking).
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must have shape [time, height, width, 3], got {frames.shape}")
    total = len(frames)
    if total >= num_frames:
        picked = np.linspace(0, total - 1, num_frames).round().astype(int)
        length = num_frames
    else:
        picked = np.arange(total)
        length = total
    out = np.zeros((num_frames, *size, 3), np.uint8)
    for slot, index in enumerate(picked):
        out[slot] = resize_image(frames[index], size)
    return out, length


def load_video(
    path: str | pathlib.Path,
    num_frames: int = NUM_FRAMES,
    size: tuple[int, int] = (FRAME_SIZE, FRAME_SIZE),
) -> tuple[np.ndarray, int]:
    """Decode a video file with PyAV: `num_frames` evenly spaced RGB frames and the real count.

    Frames are scaled to ``size = (height, width)`` while decoding, whatever the
    source size (odd sizes included). A long video is decimated on the fly so
    memory stays bounded without trusting the container's frame count.

    Raises:
        UserError: the file is missing, empty, not a video, or has no frames.
    """
    import av

    path = pathlib.Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file")
    if path.is_dir():
        raise UserError(f"{path}: is a folder, not a video file")
    if path.stat().st_size == 0:
        raise UserError(f"{path}: empty file")
    kept: list[np.ndarray] = []
    stride, index = 1, 0
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise UserError(f"{path}: has no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                if index % stride == 0:
                    kept.append(
                        frame.to_ndarray(
                            format="rgb24", width=size[1], height=size[0], interpolation="AREA"
                        )
                    )
                    if len(kept) >= _MAX_DECODED_FRAMES:
                        kept, stride = kept[::2], stride * 2
                index += 1
    except UserError:
        raise
    except (av.FFmpegError, ValueError, OSError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"{path}: not a readable video ({reason})") from error
    if not kept:
        raise UserError(f"{path}: video has no frames")
    return sample_frames(np.stack(kept), num_frames, size)


def _load_folder(root: pathlib.Path, seed: int, limit: int | None) -> Splits:
    """One sub-folder of videos per class (the UCF101 / Kinetics layout), split 80/10/10."""
    if not root.is_dir():
        raise UserError(f"{root}: expected a folder with one sub-folder of videos per class")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    files, labels = [], []
    for label, name in enumerate(classes):
        videos = sorted(
            p for p in (root / name).iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES
        )
        files += videos
        labels += [label] * len(videos)
    if len(classes) < 2 or not files:
        raise UserError(
            f"{root}: expected at least two sub-folders (one per class) holding video files "
            f"({', '.join(VIDEO_SUFFIXES)})"
        )
    index = {"file": np.arange(len(files)), "label": np.asarray(labels)}
    parts = stratified_split(index, index["label"], seed=seed)
    columns = {}
    for split, part in zip(("train", "validation", "test"), parts, strict=True):
        rows = part["file"][:limit] if limit is not None else part["file"]
        decoded = [load_video(files[row]) for row in rows]
        columns[split] = _clip_columns(decoded, [labels[row] for row in rows])
    return Splits(
        train=columns["train"],
        validation=columns["validation"],
        test=columns["test"],
        source=f"file:{root}",
        info={"classes": classes},
    )


def _clip_columns(
    decoded: list[tuple[np.ndarray, int]], labels: list[int]
) -> dict[str, np.ndarray]:
    empty = np.zeros((0, NUM_FRAMES, FRAME_SIZE, FRAME_SIZE, 3), np.uint8)
    return {
        "frames": np.stack([frames for frames, _ in decoded]) if decoded else empty,
        "label": np.asarray(labels, np.int64),
        "length": np.asarray([length for _, length in decoded], np.int64),
    }


def _load_ucf101(name: str, seed: int, limit: int | None) -> Splits:
    """UCF101 from TFDS (``train``/``test`` of split 1); validation is 10% of train per class."""
    import tensorflow_datasets as tfds

    datasets, info = load_tfds(name, split=["train", "test"], with_info=True)
    columns = []
    for dataset in datasets:
        if limit is not None:
            dataset = dataset.take(limit)
        decoded, labels = [], []
        for example in tfds.as_numpy(dataset):
            decoded.append(sample_frames(example["video"]))
            labels.append(int(example["label"]))
        if not decoded:
            raise UserError(f"tfds:{name}: a split is empty")
        columns.append(_clip_columns(decoded, labels))
    train_rows, test = columns
    train, validation, rest = stratified_split(train_rows, train_rows["label"], (0.9, 0.1), seed)
    # Rounding can leave a row or two per class outside both parts: they are training data.
    train = {column: np.concatenate([train[column], rest[column]]) for column in train}
    return Splits(
        train=train,
        validation=validation,
        test=test,
        source=f"tfds:{name}",
        info={"classes": list(info.features["label"].names)},
    )


def write_sample_clips(folder: str | pathlib.Path, seed: int = 0) -> list[pathlib.Path]:
    """One sample clip per class in `folder` (``<class>.mp4``), for ``rnnapps predict video``."""
    folder = pathlib.Path(folder)
    return [write_sample_clip(folder / f"{name}.mp4", name, seed) for name in CLASSES]


if __name__ == "__main__":
    # python -m apps.video.data FOLDER [SEED]: write one sample .mp4 per class to try.
    import sys

    if len(sys.argv) not in (2, 3):
        sys.exit("usage: python -m apps.video.data FOLDER [SEED]")
    for written in write_sample_clips(sys.argv[1], int(sys.argv[2]) if len(sys.argv) == 3 else 0):
        print(written)
