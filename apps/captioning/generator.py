"""The default captioning corpus, generated offline: scenes of coloured shapes on textured
backgrounds, each with five reference captions, and held-out colour-shape pairs for the
compositional test (``apps/captioning/data.py`` caches, splits and loads it, and reads
COCO or Flickr8k).
"""

from __future__ import annotations

import dataclasses
import functools
import io
import math
import pathlib
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from apps.captioning.runtime import IMAGE_SIZE
from shared.data.overlap import normalise_text

SHAPES = ("circle", "square", "triangle", "diamond", "cross")


# Saturated prototypes; backgrounds are kept unsaturated so objects always stand out.
COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 180, 60),
    "blue": (50, 90, 235),
    "yellow": (235, 215, 50),
    "purple": (150, 60, 205),
    "cyan": (50, 210, 220),
}


# Radius ranges in pixels at 64x64; the gap between them keeps "small" and "large" distinct.
SIZES = {"small": (5.5, 8.0), "large": (11.0, 14.0)}


# Shape-colour pairs never shown in train/validation/test; every shape and every colour
# still appears in training with other partners.
HELD_OUT_PAIRS = (
    ("green", "triangle"),
    ("red", "square"),
    ("blue", "circle"),
    ("yellow", "cross"),
    ("purple", "diamond"),
    ("cyan", "triangle"),
)


CAPTIONS_PER_IMAGE = 5


# Bump when the renderer or caption grammar changes, so cached corpora are rebuilt.
# 2: tinted backgrounds, colour shades, outlines, JPEG. 3: drawing has its own random stream
# (captions without drawing), no scene in two splits, the other renderer's scenes cached.
GENERATOR_VERSION = "3"


# The columns of a generated split (``generate_rows``).
COLUMNS = ("image", "captions", "scene_index", "objects")


# Test scenes the other renderer draws (each in both looks) for evaluate's held-out set.
OTHER_RENDERER_SCENES = 100


_SPLIT_CODES = {"train": 0, "validation": 1, "test": 2, "compositional": 3}


_SUPERSAMPLE = 2  # objects are drawn at 2x and downsampled: smooth, anti-aliased edges


_MIN_CONTRAST = 90.0  # least RGB distance between an object colour and its background's


@dataclasses.dataclass(frozen=True)
class SceneObject:
    """One object in a scene; ``x``, ``y`` is its centre in pixels of the 64x64 image."""

    shape: str
    colour: str
    size: str
    x: float
    y: float
    radius: float
    angle: float  # degrees of rotation jitter


@dataclasses.dataclass(frozen=True)
class Scene:
    """A generated image with its objects and reference captions."""

    image: np.ndarray | None  # uint8 [64, 64, 3]; None from ``scene_metadata``
    captions: list[str]
    objects: tuple[SceneObject, ...]


def make_scene(seed: int, compositional: bool = False) -> Scene:
    """One generated scene, fully determined by `seed`.

    With ``compositional=True`` the scene holds at least one pair from
    ``HELD_OUT_PAIRS``; otherwise it holds none of them.
    """
    return _make_scene(np.random.default_rng(seed), compositional)


def write_sample_image(
    path: str | pathlib.Path, seed: int = 0, compositional: bool = False
) -> list[str]:
    """Write a generated scene as a PNG a user can caption; return its reference captions."""
    scene = make_scene(seed, compositional)
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(scene.image).save(path)
    return scene.captions


def generate_split(split: str, count: int, seed: int = 1234) -> dict[str, object]:
    """The first `count` raw scenes of one split (``train``, ``validation``, ``test``,
    ``compositional``), before the cross-split deduplication of ``split_rows``.

    Each scene has its own seed derived from (seed, split, index), so a split is
    the same whatever its size or the order in which scenes are drawn.
    """
    return generate_rows(split, range(count), seed)


def generate_rows(split: str, indices, seed: int = 1234) -> dict[str, object]:
    """The scenes `indices` of one split: ``image``, ``captions``, ``scene_index`` (the index
    ``split_scene`` takes) and ``objects`` (``object_set`` of each, as lists)."""
    indices = list(indices)
    images = np.empty((len(indices), IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    captions: list[list[str]] = []
    objects: list[list[list[str]]] = []
    for row, index in enumerate(indices):
        scene = split_scene(split, index, seed)
        images[row] = scene.image
        captions.append(scene.captions)
        objects.append([list(triple) for triple in object_set(scene.objects)])
    return {
        "image": images,
        "captions": captions,
        "scene_index": np.asarray(indices, dtype=np.int64),
        "objects": objects,
    }


def split_scene(split: str, index: int, seed: int = 1234) -> Scene:
    """Scene `index` of a generated split, with its objects: row `index` of ``generate_split``."""
    return _make_scene(_scene_rng(split, index, seed), compositional=split == "compositional")


def scene_metadata(split: str, index: int, seed: int = 1234) -> Scene:
    """``split_scene`` without the drawing (``image`` is None): its objects and captions, fast."""
    return _make_scene(
        _scene_rng(split, index, seed), compositional=split == "compositional", draw=False
    )


def _scene_rng(split: str, index: int, seed: int) -> np.random.Generator:
    if split not in _SPLIT_CODES:
        raise ValueError(f"split must be one of {sorted(_SPLIT_CODES)}, got {split!r}")
    return np.random.default_rng([seed, _SPLIT_CODES[split], index])


def scene_key(captions: Sequence[str]) -> str:
    """What makes two scenes the same item: their normalised reference captions, as a set."""
    return "\n".join(sorted({normalise_text(caption) for caption in captions}))


def object_set(objects: Sequence[SceneObject]) -> tuple:
    """A scene's objects without their places: sorted (colour, shape, size) triples."""
    return tuple(sorted((obj.colour, obj.shape, obj.size) for obj in objects))


def split_rows(sizes: dict[str, int], seed: int = 1234) -> dict[str, list[int]]:
    """The scene indices of each split, no scene in two splits (nor twice in one).

    Splits are drawn in the order of `sizes` (train first): each takes its scenes 0, 1, 2 ...
    in turn, skipping any whose ``scene_key`` an earlier scene already has, until it holds
    its size. Uses ``scene_metadata`` only (about 0.2 ms a scene).
    """
    seen: set[str] = set()
    rows: dict[str, list[int]] = {}
    for split, count in sizes.items():
        kept: list[int] = []
        index = 0
        while len(kept) < count:
            if index >= 20 * count + 1000:
                raise RuntimeError(f"{split}: too few distinct scenes for {count} rows")
            key = scene_key(scene_metadata(split, index, seed).captions)
            if key not in seen:
                seen.add(key)
                kept.append(index)
            index += 1
        rows[split] = kept
    return rows


def corpus_rows(train_size: int, seed: int = 1234) -> dict[str, list[int]]:
    """``split_rows(split_sizes(train_size), seed)``, worked out once per process."""
    return {split: list(rows) for split, rows in _corpus_rows(train_size, seed).items()}


@functools.cache
def _corpus_rows(train_size: int, seed: int) -> dict[str, tuple[int, ...]]:
    return {split: tuple(rows) for split, rows in split_rows(split_sizes(train_size), seed).items()}


def split_sizes(train_size: int) -> dict[str, int]:
    """Scenes per generated split for `train_size` training scenes, in drawing order."""
    sizes = {"train": train_size}
    sizes.update(dict.fromkeys(("validation", "test", "compositional"), _eval_size(train_size)))
    return sizes


def _eval_size(train_size: int) -> int:
    return max(16, min(1000, train_size // 8))


def _make_scene(rng: np.random.Generator, compositional: bool, draw: bool = True) -> Scene:
    """A scene from `rng`; the drawing has its own stream, so the captions do not need it."""
    objects = _place_objects(rng, _choose_attributes(rng, compositional))
    draw_seed = int(rng.integers(2**63))
    captions = draw_captions(rng, objects)
    image = _render(np.random.default_rng(draw_seed), objects) if draw else None
    return Scene(image=image, captions=captions, objects=tuple(objects))


def _choose_attributes(rng: np.random.Generator, compositional: bool) -> list[tuple[str, str, str]]:
    """(colour, shape, size) for each object; no two objects share colour and shape."""
    held_out = set(HELD_OUT_PAIRS)
    all_pairs = [(colour, shape) for colour in COLOURS for shape in SHAPES]
    seen_pairs = [pair for pair in all_pairs if pair not in held_out]
    count = int(rng.choice([1, 2, 3], p=[0.25, 0.4, 0.35]))
    pairs: list[tuple[str, str]] = []
    if compositional:
        pairs.append(HELD_OUT_PAIRS[rng.integers(len(HELD_OUT_PAIRS))])
    pool = all_pairs if compositional else seen_pairs
    while len(pairs) < count:
        pair = pool[rng.integers(len(pool))]
        if pair not in pairs:
            pairs.append(pair)
    order = rng.permutation(len(pairs))
    sizes = list(SIZES)
    return [(*pairs[i], sizes[rng.integers(len(sizes))]) for i in order]


def _place_objects(
    rng: np.random.Generator, attributes: list[tuple[str, str, str]]
) -> list[SceneObject]:
    """Positions where no objects touch and every pair has one clear spatial relation."""
    for attempt in range(1000):
        # After many failures (three large objects rarely fit), shrink what was chosen large.
        if attempt == 500:
            attributes = [(colour, shape, "small") for colour, shape, _ in attributes]
        placed: list[SceneObject] = []
        for colour, shape, size in attributes:
            radius = float(rng.uniform(*SIZES[size]))
            low, high = radius + 1.0, IMAGE_SIZE - radius - 1.0
            x, y = (float(v) for v in rng.uniform(low, high, size=2))
            angle = float(rng.uniform(-12.0, 12.0))
            candidate = SceneObject(shape, colour, size, x, y, radius, angle)
            if all(_clearly_apart(candidate, other) for other in placed):
                placed.append(candidate)
            else:
                break
        if len(placed) == len(attributes):
            return placed
    raise RuntimeError("could not place scene objects; the size ranges are too large")


def _clearly_apart(a: SceneObject, b: SceneObject) -> bool:
    dx, dy = abs(a.x - b.x), abs(a.y - b.y)
    no_overlap = math.hypot(dx, dy) >= a.radius + b.radius + 3.0
    # One axis must dominate by a margin, so "left of" vs "above" is never a coin toss.
    clear_axis = max(dx, dy) >= 10.0 and abs(dx - dy) >= 5.0
    return no_overlap and clear_axis


def _render(rng: np.random.Generator, objects: list[SceneObject]) -> np.ndarray:
    """The scene as uint8 [64, 64, 3], drawn with what other renderers vary.

    A model that saw one renderer's exact look fails on another's (measured: the model of
    generator v1, grey-ish backgrounds and flat shapes, named exactly the right objects in 94%
    of its test scenes but in 37% of test scenes drawn by matplotlib on pastel backgrounds
    with outlines, ``other_renderer.py``), so the look varies per scene: tinted backgrounds,
    shades of each colour, outlines, JPEG.
    """
    background = _background(rng, [COLOURS[obj.colour] for obj in objects])
    scale = _SUPERSAMPLE
    layer = Image.new("RGBA", (IMAGE_SIZE * scale, IMAGE_SIZE * scale), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    outline = None
    if rng.random() < 0.3:  # a thin dark or light edge, as vector renderers draw by default
        shade = int(rng.choice([rng.integers(0, 60), rng.integers(200, 256)]))
        outline = (shade, shade, shade, 255)
    for obj in objects:
        base = np.asarray(COLOURS[obj.colour], np.float32)
        colour = base * rng.uniform(0.8, 1.1) + rng.normal(0.0, 16.0, size=3)
        fill = (*np.clip(colour, 0, 255).astype(int).tolist(), 255)
        _draw_shape(draw, obj, scale, tuple(fill), outline)
    layer = layer.reduce(scale)
    rgba = np.asarray(layer, np.float32) / 255.0
    alpha = rgba[..., 3:4]
    image = background * (1.0 - alpha) + rgba[..., :3] * 255.0 * alpha
    noise_level = rng.uniform(0.0, 10.0)
    image += rng.normal(0.0, noise_level, size=image.shape)
    image = np.clip(image + 0.5, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:  # photos and web images arrive JPEG-compressed
        encoded = io.BytesIO()
        Image.fromarray(image).save(encoded, format="JPEG", quality=int(rng.integers(35, 91)))
        image = np.asarray(Image.open(encoded).convert("RGB"))
    return image


def _draw_shape(
    draw: ImageDraw.ImageDraw,
    obj: SceneObject,
    scale: int,
    fill: tuple,
    outline: tuple | None = None,
) -> None:
    cx, cy, r = obj.x * scale, obj.y * scale, obj.radius * scale
    if obj.shape == "circle":
        # A little squash so circles are not pixel-identical.
        squash = 1.0 + 0.06 * math.sin(math.radians(obj.angle) * 7)
        draw.ellipse(
            [cx - r * squash, cy - r / squash, cx + r * squash, cy + r / squash],
            fill=fill,
            outline=outline,
            width=scale,
        )
        return
    draw.polygon(shape_corners(obj, scale), fill=fill, outline=outline, width=scale)


def shape_corners(obj: SceneObject, scale: int = 1) -> list[tuple[float, float]]:
    """The corners of a polygon shape (not a circle), rotated, in pixels of a `scale`x image."""
    cx, cy, r = obj.x * scale, obj.y * scale, obj.radius * scale
    if obj.shape == "square":
        half = r * 0.85
        points = [(-half, -half), (half, -half), (half, half), (-half, half)]
    elif obj.shape == "diamond":
        reach = r * 1.05
        points = [(0.0, -reach), (reach * 0.8, 0.0), (0.0, reach), (-reach * 0.8, 0.0)]
    elif obj.shape == "triangle":
        # Equilateral, pointing up, centred on its centroid.
        reach = r * 1.15
        points = [
            (reach * math.cos(math.radians(a)), -reach * math.sin(math.radians(a)))
            for a in (90, 210, 330)
        ]
    elif obj.shape == "cross":
        arm, width = r, r * 0.36
        points = [
            (-width, -arm), (width, -arm), (width, -width), (arm, -width),
            (arm, width), (width, width), (width, arm), (-width, arm),
            (-width, width), (-arm, width), (-arm, -width), (-width, -width),
        ]  # fmt: skip
    else:
        raise ValueError(f"unknown shape {obj.shape!r}")
    cos, sin = math.cos(math.radians(obj.angle)), math.sin(math.radians(obj.angle))
    return [(cx + px * cos - py * sin, cy + px * sin + py * cos) for px, py in points]


def _background(rng: np.random.Generator, object_colours: list[tuple]) -> np.ndarray:
    """A float [64, 64, 3] background: plain, gradient, clouds or stripes.

    Half the scenes have grey-ish backgrounds, half tinted ones (a muted hue), never so close
    to an object's colour that the object would vanish into it.
    """
    tinted = rng.random() < 0.5
    objects = np.asarray(object_colours, np.float32).reshape(-1, 3)

    def dull_colour() -> np.ndarray:
        for _ in range(20):
            tint = rng.normal(0.0, 45.0 if tinted else 10.0, size=3)
            colour = np.clip(rng.uniform(40.0, 200.0) + tint, 0.0, 255.0)
            if np.all(np.linalg.norm(objects - colour, axis=1) >= _MIN_CONTRAST):
                return colour
        return np.full(3, rng.uniform(40.0, 200.0))  # no tint fits: grey

    size = IMAGE_SIZE
    kind = rng.integers(4)
    if kind == 0:
        return np.broadcast_to(dull_colour(), (size, size, 3)).astype(np.float32)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
    if kind == 1:
        theta = rng.uniform(0, 2 * np.pi)
        ramp = (xs * np.cos(theta) + ys * np.sin(theta)) / (abs(np.cos(theta)) + abs(np.sin(theta)))
        ramp = (ramp - ramp.min())[..., None]
        return ((1 - ramp) * dull_colour() + ramp * dull_colour()).astype(np.float32)
    if kind == 2:
        # Smooth "clouds": a coarse random grid upsampled bilinearly.
        cells = int(rng.integers(3, 9))
        grid = rng.uniform(-1.0, 1.0, size=(cells, cells)).astype(np.float32)
        clouds = np.asarray(Image.fromarray(grid).resize((size, size), Image.Resampling.BILINEAR))
        return (dull_colour() + rng.uniform(10.0, 30.0) * clouds[..., None]).astype(np.float32)
    theta = rng.uniform(0, np.pi)
    frequency = rng.uniform(3.0, 10.0)
    stripes = np.sin(2 * np.pi * frequency * (xs * np.cos(theta) + ys * np.sin(theta)))
    return (dull_colour() + rng.uniform(8.0, 20.0) * stripes[..., None]).astype(np.float32)


def _noun_phrase(obj: SceneObject, with_size: bool, article: str = "a") -> str:
    words = [article] + ([obj.size] if with_size else []) + [obj.colour, obj.shape]
    if article == "a" and words[1][0] in "aeiou":
        words[0] = "an"
    return " ".join(words)


def _relation(a: SceneObject, b: SceneObject) -> str:
    """Where `a` is relative to `b`, along the dominant axis (image y points down)."""
    dx, dy = a.x - b.x, a.y - b.y
    if abs(dx) >= abs(dy):
        return "to the left of" if dx < 0 else "to the right of"
    return "above" if dy < 0 else "below"


def _region(obj: SceneObject) -> str:
    column = ("left", "", "right")[min(2, int(obj.x * 3 // IMAGE_SIZE))]
    row = ("top", "", "bottom")[min(2, int(obj.y * 3 // IMAGE_SIZE))]
    if not row and not column:
        return "in the middle"
    if row and column:
        return f"in the {row} {column}"
    return f"on the {column}" if column else f"at the {row}"


def draw_captions(rng: np.random.Generator, objects: Sequence[SceneObject]) -> list[str]:
    """CAPTIONS_PER_IMAGE distinct captions, at least two naming a spatial relation if any.

    A scene's references are one draw; another `rng` draws other wordings of the same facts.
    """

    def phrase(obj: SceneObject) -> str:
        return _noun_phrase(obj, with_size=bool(rng.random() < 0.5))

    def order() -> list[SceneObject]:
        return [objects[i] for i in rng.permutation(len(objects))]

    def relation_caption() -> str:
        if len(objects) == 2:
            a, b = order()
            return f"{phrase(a)} {_relation(a, b)} {phrase(b)}"
        a, b, c = order()
        # The third object is placed relative to one already named: "the red circle".
        anchor = (a, b)[rng.integers(2)]
        back = _noun_phrase(anchor, with_size=False, article="the")
        first = f"{phrase(a)} {_relation(a, b)} {phrase(b)}"
        return f"{first} and {phrase(c)} {_relation(c, anchor)} {back}"

    def listing_caption() -> str:
        phrases = [phrase(obj) for obj in order()]
        if len(phrases) == 1:
            opener = ("there is ", "")[rng.integers(2)]
            return (
                f"{opener}{phrases[0]} {_region(objects[0])}"
                if rng.random() < 0.6
                else opener + phrases[0]
            )
        listed = (
            " and ".join(phrases)
            if len(phrases) == 2
            else f"{phrases[0]}, {phrases[1]} and {phrases[2]}"
        )
        return ("there is ", "")[rng.integers(2)] + listed

    def partial_caption() -> str:
        # Real captions often describe part of a scene: one object, or one relation.
        a, b = order()[:2]
        return f"{phrase(a)} {_relation(a, b)} {phrase(b)}"

    makers = [listing_caption]
    if len(objects) >= 2:
        makers = [relation_caption, relation_caption, listing_caption]
        if len(objects) == 3:
            makers.append(partial_caption)
    captions: list[str] = []
    for _ in range(200):
        if len(captions) == CAPTIONS_PER_IMAGE:
            break
        # The first two captions of a multi-object scene always state a relation.
        maker = relation_caption if len(objects) >= 2 and len(captions) < 2 else None
        caption = (maker or makers[rng.integers(len(makers))])()
        if caption not in captions:
            captions.append(caption)
    while len(captions) < CAPTIONS_PER_IMAGE:  # a tiny grammar ran out of variants
        captions.append(captions[len(captions) % len(captions)])
    order_index = rng.permutation(len(captions))
    return [captions[i] for i in order_index]
