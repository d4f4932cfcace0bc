"""Where a caption's words looked, drawn without TensorFlow (matplotlib, imported when
drawing: the ``serve`` and ``train`` extras bring it).

Works with any engine's predictor: the LiteRT runtime and the Keras or SavedModel one
share ``caption`` and ``tokenizer``. ``CaptioningApp.save_attention`` and the server
(``CaptioningRuntime.attention_figure``) both call ``save_attention``.
"""

from __future__ import annotations

import math
import pathlib

import numpy as np

from apps.captioning import runtime


def save_attention(predictor, image_path: str, out_path: str, dpi: int = 100) -> dict:
    """Caption one image and save it with each written word's attention overlaid.

    Returns the answer (``{"input", "caption"}``); raises UserError for a bad image.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    image = runtime.check_image(image_path)
    caption = predictor.caption(image[None])[0]
    words = predictor.tokenizer.display_tokens(caption.token_ids)
    panels = len(words) + 1
    columns = min(6, panels)
    rows = -(-panels // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(2.0 * columns, 2.2 * rows))
    axes = np.atleast_1d(axes).ravel()
    axes[0].imshow(image)
    axes[0].set_title("input", fontsize=9)
    for axis, word, weights in zip(axes[1:], words, caption.attention, strict=False):
        weights = np.asarray(weights)
        side = math.isqrt(weights.size)  # the feature map's regions: 8x8
        axis.imshow(image)
        axis.imshow(
            weights.reshape(side, side),
            cmap="inferno",
            alpha=0.6,
            extent=(-0.5, 63.5, 63.5, -0.5),
            interpolation="bilinear",
        )
        axis.set_title(word, fontsize=9)
    for axis in axes:
        axis.axis("off")
    figure.suptitle(caption.text, fontsize=10)
    figure.tight_layout()
    out = pathlib.Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=dpi)
    plt.close(figure)
    return {"input": image_path, "caption": caption.text}
