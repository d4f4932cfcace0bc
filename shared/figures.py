"""PNG figures of a run, drawn with matplotlib (files only, no display): training curves for
every app, a confusion matrix for every classifier."""

from __future__ import annotations

import pathlib

import numpy as np

TRAINING_CURVES_FILE = "training_curves.png"
# Logged columns that are bookkeeping, not curves.
_NOT_CURVES = {"epoch", "seconds", "learning_rate", "lr"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    from matplotlib import pyplot as plt

    return plt


def training_curves(history: list[dict], path: pathlib.Path, title: str) -> pathlib.Path | None:
    """One panel per logged figure, training beside validation, epoch by epoch (from 1).

    `history` holds one row per epoch, as ``metrics.json``'s ``training.history`` does; a
    validation-only figure (``val_bleu``, a held-out engine's accuracy) gets a panel of its
    own. Returns `path`, or None when there is nothing to draw (no epoch).
    """
    if not history:
        return None
    names = list(dict.fromkeys(key for row in history for key in row))
    bases = [n for n in names if not n.startswith("val_") and n not in _NOT_CURVES]
    bases += [n[4:] for n in names if n.startswith("val_") and n[4:] not in names]
    if not bases:
        return None
    plt = _pyplot()
    columns = min(3, len(bases))
    rows = -(-len(bases) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    epochs = np.arange(1, len(history) + 1)
    for axis, base in zip(axes.flat, bases, strict=False):
        for name, style in ((base, "-"), (f"val_{base}", "--")):
            values = [row.get(name) for row in history]
            if any(isinstance(value, int | float) for value in values):
                shown = [np.nan if value is None else value for value in values]
                axis.plot(epochs, shown, style, marker="o", markersize=3, label=name)
        axis.set_title(base, fontsize=9)
        axis.set_xlabel("epoch")
        axis.legend(fontsize=7)
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[len(bases) :]:
        axis.axis("off")
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def write_confusion_matrix(
    matrix: np.ndarray, classes: list[str], path: pathlib.Path, title: str
) -> None:
    """A labelled confusion-matrix heat map (rows: true class, columns: predicted) as PNG."""
    plt = _pyplot()
    size = max(5.0, 0.5 * len(classes) + 2.0)
    figure, axes = plt.subplots(figsize=(size + 1.0, size))
    image = axes.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    ticks = np.arange(len(classes))
    axes.set_xticks(ticks, classes, rotation=45, ha="right")
    axes.set_yticks(ticks, classes)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    axes.set_title(title)
    if len(classes) <= 20:  # counts stay readable only on small matrices
        threshold = matrix.max() / 2 if matrix.size else 0
        for row in range(len(classes)):
            for column in range(len(classes)):
                axes.text(
                    column,
                    row,
                    str(int(matrix[row, column])),
                    ha="center",
                    va="center",
                    color="white" if matrix[row, column] > threshold else "black",
                    fontsize=8,
                )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
