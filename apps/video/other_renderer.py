"""The ``other_renderer`` test set: generated motions drawn by matplotlib instead of Pillow.

A user's clips come from cameras and other programs, not from our generator. This set
keeps everything that makes a clip's class (the trajectory, its speeds and sizes, the
still distractor) and changes how it looks, in ways training never shows:

- shapes are anti-aliased vector paths with a dark outline (Pillow fills a mask);
- digits are typeset (DejaVu Sans Bold), not handwritten;
- backgrounds are a linear gradient or a coarse checkerboard (not a cloudy texture),
  still or panning, with no sensor noise;
- every frame goes through JPEG at quality 70, as a decoded video frame would.
"""

from __future__ import annotations

import functools
import io

import numpy as np
from PIL import Image

from apps.video import data, generator


@functools.cache
def sprite_path(sprite: str):
    """A matplotlib ``Path`` of a sprite id in the generator's 48x48 box (y down)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.path import Path
    from matplotlib.textpath import TextPath

    kind, name = sprite.split(":")
    if kind == "shape":
        return Path(np.asarray(generator.shape_polygon(name), float), closed=False)
    if kind != "font":
        raise ValueError(f"the other renderer draws shapes and typeset digits, not {sprite!r}")
    glyph = TextPath(
        (0, 0), name, size=40, prop=FontProperties(family="DejaVu Sans", weight="bold")
    )
    vertices = glyph.vertices.copy()
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    scale = 40.0 / max(high - low)  # the glyph's longer side spans 40 of the 48 pixels
    vertices = (vertices - (low + high) / 2) * scale * np.array([1.0, -1.0]) + 24.0  # y down
    return Path(vertices, glyph.codes)


def _background_image(background: dict, rng: np.random.Generator) -> np.ndarray:
    """Float [96, 96, 3] in [0, 1]: a gradient (still, flickering kinds) or a checkerboard."""
    big = data.FRAME_SIZE + 32
    base = np.asarray(background["base"]) / 255.0
    contrast = background["contrast"] / 255.0
    if background["kind"] == 1:
        cell = int(background["cells"]) * 2 + 6  # 12-24 pixel squares
        rows, columns = np.indices((big, big)) // cell
        pattern = np.where((rows + columns) % 2 == 0, 1.0, -1.0)
    else:
        direction = rng.uniform(0.0, 2.0 * np.pi)
        ys, xs = np.indices((big, big)) / big - 0.5
        pattern = 2.0 * (xs * np.cos(direction) + ys * np.sin(direction))
    image = base + contrast * pattern[..., None] * rng.uniform(0.6, 1.4, size=3)
    return np.clip(image, 0.0, 1.0)


def render_clip(params: dict, rng: np.random.Generator) -> np.ndarray:
    """The clip of ``generator.clip_parameters`` `params`, drawn by matplotlib: uint8 [16, 64, 64, 3]."""
    from matplotlib import patches, transforms
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    size = data.FRAME_SIZE
    figure = Figure(figsize=(1, 1), dpi=size)
    canvas = FigureCanvasAgg(figure)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(0, size)
    axes.set_ylim(size, 0)  # image coordinates: y points down
    axes.axis("off")
    background = params["background"]
    texture = axes.imshow(_background_image(background, rng), interpolation="bilinear")
    velocity = np.asarray(background["velocity"])
    origin = -16.0 + velocity * (data.NUM_FRAMES - 1) / 2 - np.asarray(background["offset"])

    def placed(sprite: str, colour, path: dict) -> tuple:
        rgb = np.asarray(colour) / 255.0
        patch = patches.PathPatch(
            sprite_path(sprite), facecolor=rgb, edgecolor=rgb * 0.35, linewidth=0.8
        )
        axes.add_patch(patch)
        return patch, path

    drawn = []
    if params["distractor"] is not None:
        distractor = params["distractor"]
        drawn.append(
            placed(distractor["sprite"], distractor["colour"], generator.still_path(distractor))
        )
    trajectory = generator._trajectory(params["class"], params["motion"])
    drawn.append(placed(params["sprite"], params["colour"], trajectory))
    frames = np.empty((data.NUM_FRAMES, size, size, 3), np.uint8)
    for t in range(data.NUM_FRAMES):
        left, top = origin - velocity * t
        texture.set_extent((left, left + size + 32, top + size + 32, top))
        for patch, path in drawn:
            # Matplotlib turns clockwise on screen for positive angles here (y points down),
            # Pillow anticlockwise: the minus keeps the generator's sense of rotation.
            placement = (
                transforms.Affine2D()
                .translate(-24.0, -24.0)
                .scale(path["size"][t] / 48.0)
                .rotate_deg(-float(path["angle"][t]))
                .translate(float(path["x"][t]), float(path["y"][t]))
            )
            patch.set_transform(placement + axes.transData)
        canvas.draw()
        picture = Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3])
        encoded = io.BytesIO()
        picture.save(encoded, format="JPEG", quality=70)
        frames[t] = np.asarray(Image.open(encoded).convert("RGB"))
    return frames
