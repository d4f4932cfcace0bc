"""Video data: generated motion clips (default), UCF101 via TFDS, or a folder of videos per class.

The default source generates 16-frame 64x64 clips whose class is a motion, not a
look: an object (a Pillow shape, or one of scikit-learn's real 8x8 handwritten
digits upscaled) moves left, right, up or down, turns clockwise or anticlockwise,
grows or shrinks, over a still, panning or flickering noisy background. Start
positions, speeds, sizes, angles and colours are random for every class, so one
frame cannot tell the class: only the change across frames can.

What each generated split draws from (the split hygiene test checks it on the
default corpus):

- train: the shapes of ``SHAPES``; handwriting of every digit but ``HELD_OUT_DIGITS``,
  four samples in five; motion rates in [0, 1] of each class's speed range, without
  the middle band (0.35-0.65);
- validation, test: the same shapes and rates; handwriting training never sees (the
  fifth samples, shared out between validation, test and the faster-motion set);
- ``unseen_sprites_and_speeds``: only ``HELD_OUT_SHAPES`` and ``HELD_OUT_DIGITS``,
  only rates from the middle band: held out by construction;
- ``other_renderer``: training's shapes and rates drawn by matplotlib
  (``other_renderer.py``), with typeset digits: a shifted renderer;
- ``faster_motion``: the training renderer at rates 1.15-1.5, beyond training's.

Every source returns ``Splits`` with the columns ``frames`` (uint8
``[n, 16, 64, 64, 3]``), ``label`` (int) and ``length`` (real frames before the
zero padding of a short clip; 16 when the clip is long enough).

Reading one video file (``load_video``, ``sample_frames``) is what predicting needs too,
so it lives in the TensorFlow-free ``runtime.py``, with ``NUM_FRAMES`` and ``FRAME_SIZE``.
"""

from __future__ import annotations

import pathlib

import numpy as np

from apps.video.generator import (
    CLASSES,
    GENERATOR_VERSION,
    HELD_OUT_SETS,
    corpus_overlap,
    generate_split,
    split_sizes,
    write_sample_clip,
)
from apps.video.runtime import FRAME_SIZE, NUM_FRAMES, load_video, sample_frames
from shared.data.cache import cached_splits
from shared.data.sources import load_source, load_tfds
from shared.data.splits import Splits, stratified_split
from shared.errors import UserError

DEFAULT_TRAIN_SIZE = 2_400  # 300 clips per class; 16x64x64x3 bytes each, 470 MB in all


QUICK_TRAIN_SIZE = 128


VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".ogv", ".gif")


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
        seed: fixes the generated clips and any random split (the config's ``split_seed``).
        size: the number of generated training clips (see ``split_sizes`` for the others);
            for TFDS or files, at most this many videos are read per split.
        quick: a tiny corpus for tests and smoke runs (when `size` is not given).

    ``Splits.info["classes"]`` names the labels (``CLASSES`` for the default source). The
    default source also has the three small sets of ``HELD_OUT_SETS`` in ``Splits.extra``
    (descriptions in ``info["held_out"]``) and its split hygiene report in
    ``info["overlap"]`` (``split_overlap``: all zeros).
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


def _load_generated(seed: int, train_size: int, cache: bool) -> Splits:
    sizes = split_sizes(train_size)
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
        extra={name: splits[name] for name in HELD_OUT_SETS},
        info={
            "classes": list(CLASSES),
            "held_out": dict(HELD_OUT_SETS),
            "overlap": corpus_overlap(seed, train_size),
        },
    )


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
