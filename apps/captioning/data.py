"""Captioning data: generated shape scenes (default), COCO captions via TFDS, or a Flickr8k folder.

The default source draws scenes in the spirit of the ShapeWorld benchmark: one to
three objects (a shape, a colour, a size) on a varied, noisy background, each
image with several reference captions naming the objects, their attributes and
their spatial relations. A compositional test split holds only scenes with a
shape-colour pair that never appears in training (``HELD_OUT_PAIRS``), so it
measures whether the model composes attributes rather than memorising pairs.

Split hygiene: a scene is the same item as another when their five reference captions are
the same after normalising case, spacing and punctuation (``scene_key``). The splits are
drawn in the order train, validation, test, compositional, and a scene whose key was already
drawn is skipped (``split_rows``), so no scene is in two splits. Scene keys come from each
scene's objects and captions alone (``scene_metadata``, no drawing), so this costs seconds at
the default size. The object sets themselves (colours, shapes, sizes) do recur across splits:
a one-object scene has only 48 of them; the compositional split is the one whose
colour-shape pairs training never shows.

Every source returns ``Splits`` with the columns ``image`` (uint8
``[n, 64, 64, 3]``) and ``captions`` (a list of lists of strings).
"""

from __future__ import annotations

import csv
import hashlib
import pathlib

import numpy as np

from apps.captioning.generator import (
    COLOURS,
    COLUMNS,
    GENERATOR_VERSION,
    HELD_OUT_PAIRS,
    OTHER_RENDERER_SCENES,
    SHAPES,
    SIZES,
    corpus_rows,
    generate_rows,
    scene_key,
    split_sizes,
)
from apps.captioning.runtime import IMAGE_SIZE
from shared.data.cache import cached_splits
from shared.data.overlap import cross_split_overlap
from shared.data.sources import load_source, load_tfds
from shared.data.splits import Splits, stratified_split
from shared.errors import UserError
from shared.preprocessing.image import load_image, resize_image

DEFAULT_TRAIN_SIZE = 16_000


QUICK_TRAIN_SIZE = 96


def load_data(
    source: str = "default",
    seed: int = 1234,
    size: int | None = None,
    quick: bool = False,
) -> Splits:
    """Train/validation/test splits of images and reference captions.

    Args:
        source: ``default`` (generated scenes), ``tfds:coco_captions``, or a folder /
            captions file in the Flickr8k layout (``image.jpg#0<TAB>caption``).
        seed: fixes the generated scenes and any random split (the app passes
            ``config.split_seed``).
        size: the number of generated training scenes (the generated evaluation splits
            get ``size // 8`` each, at most 1,000); for TFDS or files, at most this many
            examples are read per split.
        quick: a tiny corpus for tests and smoke runs (when `size` is not given).

    The default source also has ``extra["compositional"]``: test scenes that each
    hold a pair from ``HELD_OUT_PAIRS``, and ``extra["other_renderer"]``: the first
    test scenes drawn by matplotlib (``other_renderer.py``), each in both looks. Its
    ``info["overlap"]`` is the ``cross_split_overlap`` report of the scene keys (zero rows
    when clean), ``info["overlap_images"]`` the same for the pixels, and
    ``info["shared_object_sets"]`` how many scenes' object sets (colour, shape, size of
    each object) training also holds, which the grammar makes common (not an overlap).
    """
    return load_source(
        source,
        size,
        quick,
        app="captioning",
        rows="examples",
        train_sizes=(DEFAULT_TRAIN_SIZE, QUICK_TRAIN_SIZE),
        load_generated=lambda train_size: _load_generated(seed, train_size, cache=not quick),
        tfds_dataset="coco_captions",
        load_tfds_dataset=_load_coco,
        load_files=lambda path, limit: _load_flickr_layout(path, seed, limit),
    )


def _load_generated(seed: int, train_size: int, cache: bool) -> Splits:
    sizes = split_sizes(train_size)
    other_scenes = min(OTHER_RENDERER_SCENES, sizes["test"])
    rows: dict[str, list[int]] = {}

    def generate(split: str, count: int) -> dict:
        if not rows:
            rows.update(corpus_rows(train_size, seed))
        if split == "other_renderer":
            from apps.captioning.other_renderer import other_renderer_rows

            return other_renderer_rows(rows["test"][:other_scenes], seed)
        return generate_rows(split, rows[split], seed)

    splits = cached_splits(
        f"captioning_shapes_v{GENERATOR_VERSION}_seed{seed}_n{train_size}",
        {**sizes, "other_renderer": 2 * other_scenes},
        generate,
        COLUMNS,
        cache=cache,
        version=GENERATOR_VERSION,
    )
    order = ("train", "validation", "test", "compositional")
    info = {
        "shapes": list(SHAPES),
        "colours": list(COLOURS),
        "sizes": list(SIZES),
        "held_out_pairs": [list(pair) for pair in HELD_OUT_PAIRS],
        "overlap": cross_split_overlap(
            {split: [scene_key(c) for c in splits[split]["captions"]] for split in order},
            normalise=None,
        ),
        "overlap_images": cross_split_overlap(
            {
                split: [
                    hashlib.sha1(image.tobytes()).hexdigest() for image in splits[split]["image"]
                ]
                for split in order
            },
            normalise=None,
        ),
        "shared_object_sets": cross_split_overlap(
            {
                split: [tuple(map(tuple, objects)) for objects in splits[split]["objects"]]
                for split in order
            },
            normalise=None,
            examples=0,
        ),
    }
    return Splits(
        train=splits["train"],
        validation=splits["validation"],
        test=splits["test"],
        source="default",
        extra={
            "compositional": splits["compositional"],
            "other_renderer": splits["other_renderer"],
        },
        info=info,
    )


def _load_coco(name: str, limit: int | None) -> Splits:
    """COCO 2014 in the Karpathy splits (TFDS ``train``/``val``/``test``), images at 64x64."""
    import tensorflow_datasets as tfds

    columns = {}
    for split, tfds_split in (("train", "train"), ("validation", "val"), ("test", "test")):
        dataset = load_tfds(name, split=tfds_split)
        if limit is not None:
            dataset = dataset.take(limit)
        images, captions = [], []
        for example in tfds.as_numpy(dataset):
            images.append(resize_image(example["image"], (IMAGE_SIZE, IMAGE_SIZE)))
            texts = example["captions"]["text"]
            captions.append([text.decode("utf-8").strip() for text in texts])
        if not images:
            raise UserError(f"tfds:{name}: split {tfds_split!r} is empty")
        columns[split] = {"image": np.stack(images), "captions": captions}
    return Splits(
        train=columns["train"],
        validation=columns["validation"],
        test=columns["test"],
        source=f"tfds:{name}",
    )


_CAPTION_FILE_NAMES = (
    "Flickr8k.token.txt",
    "captions.txt",
    "captions.tsv",
    "results_20130124.token",
)


_IMAGE_FOLDER_NAMES = (
    "",
    "Images",
    "images",
    "Flicker8k_Dataset",
    "Flickr8k_Dataset",
    "flickr30k_images",
)


_SPLIT_FILE_NAMES = {
    "train": "Flickr_8k.trainImages.txt",
    "validation": "Flickr_8k.devImages.txt",
    "test": "Flickr_8k.testImages.txt",
}


def _load_flickr_layout(path: pathlib.Path, seed: int, limit: int | None) -> Splits:
    """A captions file (``image.jpg#0<TAB>caption`` lines) and a folder of images.

    `path` is the captions file or a folder holding it. The official Flickr8k
    split lists are used when present beside it; otherwise a seeded 80/10/10 split.
    """
    captions_file = _find_captions_file(path)
    by_image = _read_captions_file(captions_file)
    image_folder = _find_image_folder(captions_file.parent, next(iter(by_image)))
    names = list(by_image)
    split_names = _official_splits(captions_file.parent, set(names))
    if split_names is None:
        index = {"name": np.arange(len(names))}
        parts = stratified_split(index, np.zeros(len(names)), seed=seed)
        split_names = {
            split: [names[i] for i in part["name"]]
            for split, part in zip(("train", "validation", "test"), parts, strict=True)
        }
    columns = {}
    for split, members in split_names.items():
        members = members[:limit] if limit is not None else members
        images = [
            load_image(image_folder / name, size=(IMAGE_SIZE, IMAGE_SIZE)) for name in members
        ]
        empty = np.empty((0, IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
        columns[split] = {
            "image": np.stack(images) if images else empty,
            "captions": [by_image[name] for name in members],
        }
    return Splits(
        train=columns["train"],
        validation=columns["validation"],
        test=columns["test"],
        source=f"file:{path}",
        info={"image_folder": str(image_folder), "captions_file": str(captions_file)},
    )


def _find_captions_file(path: pathlib.Path) -> pathlib.Path:
    if path.is_file():
        return path
    for name in _CAPTION_FILE_NAMES:
        if (path / name).is_file():
            return path / name
    tokens = sorted(path.glob("*.token.txt"))
    if tokens:
        return tokens[0]
    raise UserError(
        f"{path}: no captions file found (expected Flickr8k.token.txt or captions.txt "
        "with lines 'image.jpg#0<TAB>caption')"
    )


def _read_captions_file(path: pathlib.Path) -> dict[str, list[str]]:
    """Image name -> its captions, in file order. Also reads the ``image,caption`` CSV variant."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise UserError(f"{path}: captions file is not UTF-8 text") from error
    lines = text.splitlines()
    by_image: dict[str, list[str]] = {}
    if lines and lines[0].strip().lower().replace(" ", "") == "image,caption":
        rows = csv.reader(lines[1:])
        entries = [(number + 2, row) for number, row in enumerate(rows) if row]
        for number, row in entries:
            if len(row) < 2:
                raise UserError(f"{path}:{number}: expected 'image,caption'")
            by_image.setdefault(row[0].strip(), []).append(",".join(row[1:]).strip())
    else:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            key, tab, caption = line.partition("\t")
            if not tab or not caption.strip():
                raise UserError(f"{path}:{number}: expected 'image.jpg#0<TAB>caption'")
            by_image.setdefault(key.split("#")[0].strip(), []).append(caption.strip())
    if not by_image:
        raise UserError(f"{path}: captions file has no captions")
    return by_image


def _find_image_folder(root: pathlib.Path, first_image: str) -> pathlib.Path:
    for name in _IMAGE_FOLDER_NAMES:
        if (root / name / first_image).is_file():
            return root / name
    raise UserError(
        f"{root}: image {first_image!r} from the captions file is not in this folder "
        f"or in any of {', '.join(n for n in _IMAGE_FOLDER_NAMES if n)}"
    )


def _official_splits(root: pathlib.Path, known: set[str]) -> dict[str, list[str]] | None:
    files = {split: root / name for split, name in _SPLIT_FILE_NAMES.items()}
    if not all(f.is_file() for f in files.values()):
        return None
    splits = {}
    for split, file in files.items():
        names = [line.strip() for line in file.read_text().splitlines() if line.strip()]
        # The official lists name a few images without captions; they cannot be used.
        splits[split] = [name for name in names if name in known]
    return splits
