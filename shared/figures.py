"""PNG figures of a run, drawn with matplotlib (files only, no display): training curves for
every app, a confusion matrix for every classifier (scikit-learn's display), and one metric
per group (domain, kind, class, held-out set) beside the baselines scored on the same groups.
``shared.workflow.draw_figures`` writes them beside ``metrics.json`` after evaluation."""

from __future__ import annotations

import math
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
    """A labelled confusion-matrix heat map (rows: true class, columns: predicted) as PNG,
    drawn by scikit-learn's ``ConfusionMatrixDisplay`` (counts written in the cells of
    matrices up to 20 classes; beyond, they stay unreadable)."""
    from sklearn.metrics import ConfusionMatrixDisplay

    plt = _pyplot()
    matrix = np.asarray(matrix)
    size = max(5.0, 0.5 * len(classes) + 2.0)
    figure, axes = plt.subplots(figsize=(size + 1.0, size))
    display = ConfusionMatrixDisplay(confusion_matrix=matrix, display_labels=list(classes))
    display.plot(
        ax=axes,
        cmap="Blues",
        xticks_rotation=45,
        values_format="d" if np.issubdtype(matrix.dtype, np.integer) else ".2g",
        include_values=len(classes) <= 20,
        colorbar=True,
    )
    for label in axes.get_xticklabels():
        label.set_horizontalalignment("right")
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    axes.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def scores_file(group: str) -> str:
    """The file name of the scores-by-`group` figure: ``scores_by_<group>.png``."""
    return f"scores_by_{group}.png"


def _finite(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def per_group(table, metric: str | None = None) -> dict[str, float]:
    """`metric` of every group of `table` that holds it as a number: ``{group: value}``.

    `table` maps a group to its number (``recall_per_class``) or to its scores
    (``by_domain``: ``{"tweets": {"f1_weighted": 0.83, ...}}``, read at `metric`).
    Anything else gives ``{}``.
    """
    values = {}
    for group, value in (table if isinstance(table, dict) else {}).items():
        if isinstance(value, dict):
            value = value.get(metric)
        if _finite(value):
            values[str(group)] = float(value)
    return values


def per_group_counts(table) -> dict[str, int]:
    """Each group's ``count`` where `table` (as in ``per_group``) holds one."""
    return {
        str(group): int(value["count"])
        for group, value in (table if isinstance(table, dict) else {}).items()
        if isinstance(value, dict) and _finite(value.get("count"))
    }


def scores_by_group(
    values: dict[str, float],
    path: pathlib.Path,
    title: str,
    metric: str,
    *,
    overall: float | None = None,
    overall_label: str = "overall",
    others: dict[str, dict[str, float]] | None = None,
    counts: dict[str, int] | None = None,
    label: str = "model",
    lower_is_better: bool = False,
) -> pathlib.Path | None:
    """One metric per group as horizontal bars, the model's beside each of `others`.

    Args:
        values: group -> the model's value (non-numbers are left out); the order is kept.
        path: the PNG to write.
        title: the figure's title.
        metric: the metric's name, for the axis.
        overall: the model's value over every group, drawn as a dashed line (None: no line).
        overall_label: what the line is ("overall", "test split").
        others: series name -> group -> value, each drawn beside the model's bar of the same
            group (a baseline scored on the same groups, another set); groups of their own
            and series without a value are left out.
        counts: group -> how many examples it holds, shown after its name.
        label: the model's series name in the legend.
        lower_is_better: said on the axis.

    Returns `path`, or None (nothing written) when no group has a value.
    """
    values = {group: float(v) for group, v in values.items() if _finite(v)}
    if not values:
        return None
    groups = list(values)
    series = {label: values}
    for name, row in (others or {}).items():
        kept = {group: float(row[group]) for group in groups if _finite(row.get(group))}
        if kept:
            series[name] = kept
    plt = _pyplot()
    height = 0.8 / len(series)
    rows = len(groups) * len(series)
    figure, axes = plt.subplots(
        figsize=(7.5, 1.6 + 0.28 * rows + 0.25 * len(groups)), layout="constrained"
    )
    shown = [v for row in series.values() for v in row.values()]
    if _finite(overall):
        shown.append(float(overall))
    span = max(shown) - min(0.0, min(shown)) or 1.0
    for index, (name, row) in enumerate(series.items()):
        offsets = [groups.index(g) - 0.4 + height * (index + 0.5) for g in row]
        bars = axes.barh(
            offsets,
            list(row.values()),
            height=height * 0.92,
            label=name,
            color=f"C{index}",
            alpha=1.0 if index == 0 else 0.75,
        )
        axes.bar_label(bars, labels=[f"{v:.3g}" for v in row.values()], padding=2, fontsize=7)
    if _finite(overall):
        axes.axvline(
            float(overall),
            color="black",
            linestyle="--",
            linewidth=1,
            label=f"{label}, {overall_label}: {float(overall):.3g}",
        )
    names = [
        f"{group} ({counts[group]:,})" if counts and group in counts else group for group in groups
    ]
    axes.set_yticks(range(len(groups)), names, fontsize=8)
    axes.invert_yaxis()  # the first group on top
    axes.set_xlim(min(0.0, min(shown)), max(shown) + 0.18 * span)
    axes.set_xlabel(f"{metric} ({'lower' if lower_is_better else 'higher'} is better)")
    axes.grid(axis="x", alpha=0.3)
    entries = len(series) + _finite(overall)
    # Below the axis, never over a bar.
    figure.legend(fontsize=7, loc="outside lower center", ncol=min(3, entries), frameon=False)
    axes.set_title(title, fontsize=10)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


TEST_SPLIT = "test split"


def _baseline_value(entry: dict, held_out: str | None, metric: str):
    """A baseline's `metric` on the test split (`held_out` None) or one held-out set: at its
    top level or under ``"test"``; under ``"held_out"`` or the set's own name."""
    if held_out is None:
        value = entry.get(metric)
        return value if _finite(value) else (entry.get("test") or {}).get(metric)
    value = ((entry.get("held_out") or {}).get(held_out) or {}).get(metric)
    if _finite(value):
        return value
    own = entry.get(held_out)
    return own.get(metric) if isinstance(own, dict) else None


def held_out_figure(
    metrics: dict,
    metric: str,
    path: pathlib.Path,
    title: str,
    lower_is_better: bool = False,
    skip: tuple[str, ...] = (),
) -> pathlib.Path | None:
    """`metric` on the test split and on every held-out set of a run's ``metrics.json``
    (``metrics.held_out``; a set scored in another metric, or named in `skip`, is left
    out), each baseline's beside it where it was scored on the same set.

    Returns `path`, or None (nothing written) when no held-out set holds `metric`.
    """
    scores = metrics.get("metrics") or {}
    values = {TEST_SPLIT: scores.get(metric)}
    counts = {TEST_SPLIT: scores.get("count")}
    for name, entry in (scores.get("held_out") or {}).items():
        if isinstance(entry, dict) and entry.get("metric", metric) == metric and name not in skip:
            values[name], counts[name] = entry.get(metric), entry.get("count")
    values = {group: value for group, value in values.items() if _finite(value)}
    if len(values) < 2 or TEST_SPLIT not in values:
        return None
    others = {}
    for name, entry in (metrics.get("baselines") or {}).items():
        if isinstance(entry, dict):
            others[name] = {
                group: _baseline_value(entry, None if group == TEST_SPLIT else group, metric)
                for group in values
            }
    return scores_by_group(
        values,
        path,
        title,
        metric,
        others=others,
        counts={group: int(n) for group, n in counts.items() if _finite(n)},
        lower_is_better=lower_is_better,
    )


def group_figure(
    metrics: dict,
    key: str,
    path: pathlib.Path,
    title: str,
    metric: str | None = None,
    *,
    axis: str | None = None,
    overall: str | None = None,
    extra: dict[str, dict[str, float]] | None = None,
    lower_is_better: bool = False,
) -> pathlib.Path | None:
    """The model's scores per group of one table of a run's ``metrics.json`` (`key` of
    ``metrics["metrics"]``: ``by_domain``, ``recall_per_class`` ...), read at `metric` when
    the groups hold scores, each baseline's same table beside it, and the model's `overall`
    figure (default `metric`) as a line.

    Args:
        metrics: the run's ``metrics.json``.
        key: the table's key in the model's test-split scores (and in each baseline's).
        path: the PNG to write.
        title: the figure's title.
        metric: the score read in each group (None: the groups hold numbers).
        axis: the axis label (default `metric`).
        overall: the key of the model's overall value drawn as a line (default `metric`).
        extra: more series drawn beside the model's (a held-out set's same table).
        lower_is_better: said on the axis.

    Returns `path`, or None (nothing written) when the table holds no number.
    """
    scores = metrics.get("metrics") or {}
    others = {}
    for name, entry in (metrics.get("baselines") or {}).items():
        if isinstance(entry, dict):
            others[name] = per_group(entry.get(key), metric)
    others.update(extra or {})
    return scores_by_group(
        per_group(scores.get(key), metric),
        path,
        title,
        axis or metric or key,
        overall=scores.get(overall or metric),
        overall_label="overall",
        others=others,
        counts=per_group_counts(scores.get(key)),
        lower_is_better=lower_is_better,
    )
