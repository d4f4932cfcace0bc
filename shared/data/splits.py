"""Fixed, seeded train/validation/test splits shared by every app."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

Columns = dict[str, Any]  # column name -> list or numpy array, all the same length


@dataclasses.dataclass
class Splits:
    """The three splits of one data source, plus any extra test splits.

    Each split is a dict of equally long columns (lists or numpy arrays), so an
    app decides its own columns (``text``/``label``, ``audio``/``label`` ...).
    ``extra`` holds further named test splits (a compositional split, say).
    """

    train: Columns
    validation: Columns
    test: Columns
    source: str = "default"
    extra: dict[str, Columns] = dataclasses.field(default_factory=dict)
    info: dict[str, Any] = dataclasses.field(default_factory=dict)


def num_rows(columns: Columns) -> int:
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1:
        raise ValueError(f"columns have different lengths: {sorted(lengths)}")
    return lengths.pop()


def take(columns: Columns, indices: np.ndarray) -> Columns:
    """Rows `indices` of every column, keeping each column's type."""
    out = {}
    for name, values in columns.items():
        if isinstance(values, np.ndarray):
            out[name] = values[indices]
        else:
            out[name] = [values[i] for i in indices]
    return out


def stratified_split(
    columns: Columns,
    strata: np.ndarray | list,
    fractions: tuple[float, float] = (0.8, 0.1),
    seed: int = 1234,
) -> tuple[Columns, Columns, Columns]:
    """Split rows into train/validation/test with every stratum in proportion.

    Deterministic for a given seed and row order, so every run and every
    engine sees the same test split.
    """
    strata = np.asarray(strata)
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[], [], []]
    for stratum in sorted(set(strata.tolist())):
        rows = np.flatnonzero(strata == stratum)
        rng.shuffle(rows)
        n_train = int(round(len(rows) * fractions[0]))
        n_val = int(round(len(rows) * fractions[1]))
        parts[0].extend(rows[:n_train])
        parts[1].extend(rows[n_train : n_train + n_val])
        parts[2].extend(rows[n_train + n_val :])
    return tuple(take(columns, np.sort(np.asarray(p, dtype=int))) for p in parts)


def limit_rows(splits: Splits, seed: int, train_limit: int = 0, test_limit: int = 0) -> Splits:
    """Keep at most `train_limit` training and `test_limit` test rows (0 keeps all).

    A seeded random subset in original order, for the quick presets; the same
    seed always keeps the same rows.
    """
    rng = np.random.default_rng(seed)
    for part, limit in (("train", train_limit), ("test", test_limit)):
        columns = getattr(splits, part)
        rows = num_rows(columns)
        if limit and rows > limit:
            setattr(splits, part, take(columns, np.sort(rng.choice(rows, limit, replace=False))))
    return splits
