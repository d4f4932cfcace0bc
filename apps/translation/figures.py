"""The attention map of a translation, drawn without TensorFlow (matplotlib, imported when
drawing: the ``serve`` and ``train`` extras bring it).

Works with any engine's predictor: the LiteRT runtime and the Keras or SavedModel one
share ``translate``, ``tokenizers`` and ``config``. ``TranslationApp.save_attention`` and
the server (``TranslationRuntime.attention_figure``) both call ``save_attention``.
"""

from __future__ import annotations

import pathlib

import numpy as np

from apps.translation import runtime


def save_attention(
    predictor, text: str, path: str | pathlib.Path, beam_width: int | None = None
) -> pathlib.Path:
    """Translate `text` and save its attention map (source units x target units) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    text = runtime.check_text(text, predictor.tokenizers.source)
    width = predictor.config.beam_width if beam_width is None else beam_width
    translation = predictor.translate(
        [text], beam_width=width, length_penalty=predictor.config.length_penalty
    )[0]
    target_labels = predictor.tokenizers.target.display_tokens(translation.token_ids)
    weights = translation.attention
    if weights is None or not len(target_labels):
        weights = np.zeros((1, max(1, len(translation.source_units))))
        target_labels = ["(empty)"]
    figure, axes = plt.subplots(
        figsize=(2.5 + 0.45 * weights.shape[1], 2.5 + 0.4 * weights.shape[0])
    )
    image = axes.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    axes.set_xticks(range(len(translation.source_units)))
    axes.set_xticklabels(translation.source_units, rotation=60, ha="right")
    axes.set_yticks(range(len(target_labels)))
    axes.set_yticklabels(target_labels)
    axes.set_xlabel("source (English)")
    axes.set_ylabel(f"translation ({predictor.config.target_language})")
    axes.set_title(f"{text}\n-> {translation.text}", fontsize=9)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    figure.tight_layout()
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
