"""Split hygiene: the same item must not sit in two splits.

A test figure measures generalisation only when no test item was seen in training. Two
texts that differ only in capitals, spacing or punctuation are the same item here, so
every comparison goes through `normalise_text` (or a key function an app passes, for
items that are not text: a voice, a sprite, a value).

Example:
    >>> normalise_text("  Hello,   WORLD! ")
    'hello world'
    >>> report = cross_split_overlap({"train": ["A b.", "c"], "test": ["a B", "d"]})
    >>> report["train/test"]["rows"], report["train/test"]["examples"]
    (1, ['a b'])
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Callable, Hashable, Iterable, Sequence

import numpy as np

SPLIT_ORDER = ("train", "validation", "test")


def normalise_text(text: str) -> str:
    """`text` with case, spacing, punctuation and symbols ignored (NFKC, casefolded)."""
    text = unicodedata.normalize("NFKC", str(text)).casefold()
    kept = [
        " " if unicodedata.category(char)[0] in "PSZC" else char  # punctuation, symbols, space
        for char in text
    ]
    return " ".join("".join(kept).split())


def first_occurrences(
    keys: Sequence[Hashable], normalise: Callable[[Hashable], Hashable] | None = normalise_text
) -> np.ndarray:
    """Sorted indices of the first row of every distinct (normalised) key: deduplicate before
    splitting, so no two splits can hold the same item."""
    seen: set = set()
    kept = []
    for index, key in enumerate(keys):
        norm = normalise(key) if normalise else key
        if norm not in seen:
            seen.add(norm)
            kept.append(index)
    return np.asarray(kept, dtype=int)


def cross_split_overlap(
    keys: dict[str, Iterable[Hashable]],
    normalise: Callable[[Hashable], Hashable] | None = normalise_text,
    examples: int = 5,
) -> dict[str, dict]:
    """For every pair of splits, how many rows of the later one share a key with the earlier.

    Args:
        keys: split name -> one key per row (a text, a transcript, a voice name ...). Pairs
            are named ``"earlier/later"`` in the order train, validation, test, then any
            other split (a shifted test set) in the order given.
        normalise: applied to every key first; None compares keys as they are.
        examples: how many shared (normalised) keys to list per pair.

    Returns:
        ``{"train/test": {"rows": rows of test whose key is in train, "distinct": distinct
        shared keys, "examples": [...]}, ...}``. All zeros means the splits are clean.
    """
    order = [name for name in SPLIT_ORDER if name in keys]
    order += [name for name in keys if name not in order]
    normalised = {
        name: [normalise(key) if normalise else key for key in keys[name]] for name in order
    }
    sets = {name: set(values) for name, values in normalised.items()}
    report = {}
    for earlier, later in itertools.combinations(order, 2):
        shared = sets[earlier] & sets[later]
        report[f"{earlier}/{later}"] = {
            "rows": sum(1 for key in normalised[later] if key in shared),
            "distinct": len(shared),
            "examples": sorted(shared, key=str)[:examples],
        }
    return report


def overlap_rows(report: dict[str, dict]) -> int:
    """Rows shared across splits in a `cross_split_overlap` report (0 when clean)."""
    return sum(entry["rows"] for entry in report.values())


def assert_no_overlap(report: dict[str, dict], what: str = "items") -> None:
    """Raise AssertionError naming each pair of splits that shares `what` (for tests)."""
    dirty = {pair: entry for pair, entry in report.items() if entry["rows"]}
    if dirty:
        details = "; ".join(
            f"{pair}: {entry['rows']} rows, e.g. {entry['examples'][:3]!r}"
            for pair, entry in dirty.items()
        )
        raise AssertionError(f"{what} shared across splits: {details}")
