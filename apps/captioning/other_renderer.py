"""The test scenes drawn by another renderer (matplotlib), to measure how a model generalises.

The generator draws with Pillow; a user's pictures come from elsewhere. Here each test scene's
objects (same shapes, colours, sizes and places, so the same reference captions apply) are
drawn again by matplotlib, in two looks that our generator never produces exactly:

- ``pastel``: light, saturated backgrounds, matplotlib's "tab" colours, black edges;
- ``dark``: dark backgrounds, our palette's colours, no noise.

Both are saved as JPEG (quality 60) and decoded, as a web image would be. ``evaluate`` scores
the first 100 test scenes in both looks as its held-out set ``other_renderer``; for more:

    python -m apps.captioning.other_renderer saved_models/captioning --scenes 300
"""

from __future__ import annotations

import argparse
import io
import json
import pathlib

import numpy as np
from PIL import Image

from apps.captioning import data, generator

LOOKS = ("pastel", "dark")
# matplotlib's tab10 colours for our colour names (each is still nearest to its own name).
TAB_COLOURS = {
    "red": "#d62728",
    "green": "#2ca02c",
    "blue": "#1f77b4",
    "yellow": "#f5d000",
    "purple": "#9467bd",
    "cyan": "#17becf",
}


def draw_scene(scene: generator.Scene, look: str, rng: np.random.Generator) -> np.ndarray:
    """`scene`'s objects drawn by matplotlib in `look`: uint8 [64, 64, 3]."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import patches
    from matplotlib import pyplot as plt

    if look not in LOOKS:
        raise ValueError(f"look must be one of {LOOKS}, got {look!r}")
    size = data.IMAGE_SIZE
    figure = plt.figure(figsize=(1, 1), dpi=size)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(0, size)
    axes.set_ylim(size, 0)  # image coordinates: y points down
    axes.axis("off")
    pastel = look == "pastel"
    figure.patch.set_facecolor(
        rng.uniform(0.55, 0.95, size=3) if pastel else rng.uniform(0.08, 0.35, size=3)
    )
    for obj in scene.objects:
        colour = TAB_COLOURS[obj.colour] if pastel else np.asarray(data.COLOURS[obj.colour]) / 255
        patch = (
            patches.Polygon(generator.shape_corners(obj))
            if obj.shape != "circle"
            else patches.Circle((obj.x, obj.y), obj.radius)
        )
        patch.set_facecolor(colour)
        patch.set_edgecolor("black" if pastel else colour)
        patch.set_linewidth(0.6)
        axes.add_patch(patch)
    encoded = io.BytesIO()
    figure.savefig(encoded, format="jpeg", dpi=size, pil_kwargs={"quality": 60})
    plt.close(figure)
    return np.asarray(Image.open(encoded).convert("RGB").resize((size, size)))


def other_renderer_split(look: str, scenes: int, seed: int = 1234) -> dict:
    """The first `scenes` raw test scenes drawn in `look`, with their reference captions."""
    images, captions = [], []
    for index in range(scenes):
        scene = generator.split_scene("test", index, seed)
        images.append(draw_scene(scene, look, np.random.default_rng([seed, index, 11])))
        captions.append(scene.captions)
    return {"image": np.stack(images), "captions": captions}


def other_renderer_rows(test_indices, seed: int = 1234) -> dict:
    """The test scenes `test_indices` drawn in both looks, interleaved (scene 0 pastel, scene 0
    dark, scene 1 pastel ...): evaluate's held-out ``other_renderer`` set, in
    ``data.generate_rows``'s columns (``scene_index`` is the test scene's index)."""
    images, captions, indices, objects = [], [], [], []
    for index in test_indices:
        scene = generator.split_scene("test", int(index), seed)
        for look in LOOKS:
            images.append(draw_scene(scene, look, np.random.default_rng([seed, int(index), 11])))
            captions.append(scene.captions)
            indices.append(int(index))
            objects.append([list(triple) for triple in generator.object_set(scene.objects)])
    empty = np.empty((0, data.IMAGE_SIZE, data.IMAGE_SIZE, 3), np.uint8)
    return {
        "image": np.stack(images) if images else empty,
        "captions": captions,
        "scene_index": np.asarray(indices, dtype=np.int64),
        "objects": objects,
    }


def main(argv: list[str] | None = None) -> int:
    from apps.captioning.app import CaptioningApp

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", type=pathlib.Path)
    parser.add_argument("--scenes", type=int, default=300)
    parser.add_argument("--engine", default="litert", choices=["keras", "savedmodel", "litert"])
    parser.add_argument(
        "--save", type=pathlib.Path, help="also save the first 8 drawings of each look here"
    )
    args = parser.parse_args(argv)
    if args.scenes < 1:
        parser.error(f"--scenes {args.scenes}: must be at least 1")
    app = CaptioningApp()
    predictor = app.load_predictor(args.model_dir, args.engine)
    results = {}
    # The default corpus's test scenes (those evaluate scores), not the raw scene stream.
    test_rows = data.corpus_rows(data.DEFAULT_TRAIN_SIZE)["test"][: args.scenes]
    both = other_renderer_rows(test_rows)
    for look in ("ours", *LOOKS):
        if look == "ours":
            columns = data.generate_rows("test", test_rows)
        else:
            start = LOOKS.index(look)
            columns = {key: values[start :: len(LOOKS)] for key, values in both.items()}
            if args.save:
                strip = np.concatenate(list(columns["image"][:8]), axis=1)
                Image.fromarray(strip).save(args.save.with_name(f"{args.save.stem}_{look}.png"))
        scores = app.split_scores(predictor, columns, scene=True)
        results[look] = {
            key: round(value, 4) for key, value in scores.items() if isinstance(value, float)
        }
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
