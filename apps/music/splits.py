"""Train, validation and test by tune, with every copy and variant of a tune in one split.

A tune is often in the corpus more than once: the same melody transposed (two harmonisations
of one chorale melody in two keys), written in other note values (a reel in 2/4 with
sixteenths in Ryan's and in 4/4 with eighths in O'Neill's), in two collections, or as a
variant with other ornaments and rhythms (Essen's variant files) or with a section more or
less. Tunes are joined into one group when they share a key of any of three kinds
(``identity_keys``; union-find):

- ``copies``: ``events.canonical``, intervals and relative durations of the whole tune, so
  key, octave and note values do not matter;
- ``variants``: ``events.incipit``, the first 16 melodic intervals, repeated notes, rests
  and rhythm left out;
- ``passages``: every run of 16 sounding notes anywhere in the tune, each note as its
  interval from the note before and its duration over that note's (so neither key nor note
  values matter, in the tune as a whole or in the passage).

Measured on the default corpus (split_seed 1234): with copies and variants alone, a test
tune still shared up to 128 events in a row with a training tune, and 16 test tunes 60 or
more (Bach's bwv257 is a stretch of bwv178.7; Essen's boehme20 #65 is most of fink0 #272,
written in halved note values); with passages the longest is 39 events (median 16: the
formulae any two tunes share), and the largest group holds 13 tunes.

Groups, not tunes, are dealt to the splits: within each collection (the collection of a
group's first tune) the groups are shuffled with ``split_seed`` and dealt in order until
train holds 80% of the collection's tunes and validation 10%; test gets the rest. No key is
in two splits: ``overlap`` reports each kind through ``shared.data.overlap`` (all zeros when
clean) and ``check`` raises if not.

Example:
    splits = split_corpus(load_corpus().records)
    splits.info["counts"]["oneills"]["test"], overlap_rows(splits.info["overlap"]["copies"])
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from apps.music import events
from apps.music.corpus import Record
from apps.music.measures import RollingHash
from shared.data.overlap import assert_no_overlap, cross_split_overlap
from shared.data.splits import Splits

SPLIT_NAMES = ("train", "validation", "test")
KINDS = ("copies", "variants", "passages")
INCIPIT_STEPS = 16
PASSAGE_NOTES = 16


def _digest(value) -> str:
    return hashlib.sha1(repr(value).encode()).hexdigest()[:16]


def passage_codes(tune: events.Tune) -> np.ndarray:
    """One integer per sounding note: its interval from the note before (0 for the first,
    a rest its own code) and its duration over the note before's, packed into 48 bits."""
    codes = []
    pitch = duration = None
    for note in events.sounding(tune):
        if note.pitch is None:
            step = 255
        else:
            step = 128 if pitch is None else note.pitch - pitch + 128
            pitch = note.pitch
        ratio = note.duration / duration if duration is not None else Fraction(1)
        duration = note.duration
        top, bottom = min(ratio.numerator, 0xFFFF), min(ratio.denominator, 0xFFFF)
        codes.append((step << 32) | (top << 16) | bottom)
    return np.array(codes, dtype=np.uint64)


def identity_keys(tune: events.Tune) -> dict[str, list[str]]:
    """The tune's keys for duplicate detection, per kind (``KINDS``): one ``copies`` key, one
    ``variants`` key or none (a tune of fewer than 16 melodic intervals), and a ``passages``
    key per run of 16 sounding notes (none for a shorter tune)."""
    start = events.incipit(tune, INCIPIT_STEPS)
    codes = passage_codes(tune)
    passages: list[str] = []
    if len(codes) >= PASSAGE_NOTES:
        hashes = RollingHash(codes).windows(PASSAGE_NOTES)
        passages = sorted({format(int(h), "016x") for h in hashes})
    return {
        "copies": [_digest(events.canonical(tune))],
        "variants": [] if start is None else [_digest(start)],
        "passages": passages,
    }


def tune_groups(
    tunes: Sequence[events.Tune], keys: Sequence[dict[str, list[str]]] | None = None
) -> np.ndarray:
    """A group id per tune (the index of its group's first tune): tunes sharing a key of any
    kind, directly or through others, are one group. `keys`: the tunes' ``identity_keys``,
    if already computed."""
    keys = [identity_keys(t) for t in tunes] if keys is None else keys
    parent = list(range(len(tunes)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[tuple[str, str], int] = {}
    for index, tune_keys in enumerate(keys):
        for kind, values in tune_keys.items():
            for key in values:
                other = first.setdefault((kind, key), index)
                a, b = root(index), root(other)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    return np.array([root(i) for i in range(len(tunes))], dtype=int)


def assign(
    groups: np.ndarray,
    strata: Sequence[str],
    fractions: tuple[float, float] = (0.8, 0.1),
    seed: int = 1234,
) -> np.ndarray:
    """The split index (0 train, 1 validation, 2 test) of every row, whole groups at a time.

    A group's stratum is its first row's. Within a stratum the groups are shuffled (seeded)
    and dealt in order: a group goes to train while the rows dealt before it are under
    ``fractions[0]`` of the stratum's rows, then to validation under the sum of both
    fractions, then to test.
    """
    groups = np.asarray(groups)
    rng = np.random.default_rng(seed)
    part = np.full(len(groups), -1, dtype=int)
    members: dict[int, list[int]] = {}
    for index, group in enumerate(groups.tolist()):
        members.setdefault(group, []).append(index)
    by_stratum: dict[str, list[int]] = {}
    for group, rows in members.items():
        by_stratum.setdefault(strata[rows[0]], []).append(group)
    for stratum in sorted(by_stratum):
        stratum_groups = sorted(by_stratum[stratum])
        rng.shuffle(stratum_groups)
        total = sum(len(members[g]) for g in stratum_groups)
        dealt = 0
        for group in stratum_groups:
            share = dealt / total
            index = 0 if share < fractions[0] else 1 if share < fractions[0] + fractions[1] else 2
            part[members[group]] = index
            dealt += len(members[group])
    return part


def overlap(keys: dict[str, list[dict[str, list[str]]]]) -> dict[str, dict]:
    """``cross_split_overlap`` of each kind of identity key: split -> ``identity_keys`` of its
    tunes -> ``{kind: report}``. A report's rows are keys (a tune has many passages)."""
    return {
        kind: cross_split_overlap(
            {split: [key for k in rows for key in k[kind]] for split, rows in keys.items()},
            normalise=None,
        )
        for kind in KINDS
    }


def check(report: dict[str, dict]) -> None:
    """AssertionError naming the splits that share a tune (for tests and the training run)."""
    for kind, pairs in report.items():
        assert_no_overlap(pairs, what=f"tunes ({kind})")


def split_corpus(
    records: Sequence[Record],
    seed: int = 1234,
    fractions: tuple[float, float] = (0.8, 0.1),
    source: str = "default",
) -> Splits:
    """The corpus in three splits of columns ``events`` (ids), ``collection``, ``name``,
    ``group``; ``info``: ``overlap`` (see ``overlap``), ``counts`` (collection -> split ->
    tunes) and ``groups`` (how many, the largest, how many span collections)."""
    tunes = [r.tune for r in records]
    keys = [identity_keys(t) for t in tunes]
    groups = tune_groups(tunes, keys)
    part = assign(groups, [r.collection for r in records], fractions, seed)
    columns = []
    for index in range(3):
        rows = np.flatnonzero(part == index)
        columns.append(
            {
                "events": [events.encode(tunes[i]) for i in rows],
                "collection": [records[i].collection for i in rows],
                "name": [records[i].name for i in rows],
                "group": [int(groups[i]) for i in rows],
            }
        )
    splits = Splits(*columns, source=source)
    report = overlap(
        {
            name: [keys[i] for i in np.flatnonzero(part == index)]
            for index, name in enumerate(SPLIT_NAMES)
        }
    )
    counts: dict[str, dict[str, int]] = {}
    for record, index in zip(records, part, strict=True):
        counts.setdefault(record.collection, Counter())[SPLIT_NAMES[index]] += 1
    sizes = Counter(groups.tolist())
    collections_of: dict[int, set] = {}
    for record, group in zip(records, groups.tolist(), strict=True):
        collections_of.setdefault(group, set()).add(record.collection)
    splits.info.update(
        overlap=report,
        counts={c: {s: n.get(s, 0) for s in SPLIT_NAMES} for c, n in sorted(counts.items())},
        groups={
            "groups": len(sizes),
            "tunes_in_groups_of_two_or_more": sum(n for n in sizes.values() if n > 1),
            "largest": max(sizes.values()) if sizes else 0,
            "across_collections": sum(1 for c in collections_of.values() if len(c) > 1),
        },
    )
    return splits
