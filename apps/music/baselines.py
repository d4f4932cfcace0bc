"""The n-gram a melody model has to beat: interpolated Kneser-Ney over events, in bits per event.

The text-generation app's character model (``shared.char_ngram.CharNgramModel``: plain
interpolated Kneser-Ney, one discount, counted with NumPy) is generic over symbols, so events
are written as characters, one code point per event id (``event_text``), and it is reused as
it is. Every tune is scored on its own, as the network will score it: from its start token
(given, not predicted: it is the key and metre the tune is conditioned on) through its
``<end>``. To score thousands of tunes in one NumPy pass they are joined with a separator the
model never saw; every context that contains it is unseen, so each order whose context would
reach into the tune before falls back to the lower ones, exactly as if each tune were scored
alone (a test pins this against scoring them one by one).

Two views of the same events are tried (``event_text``): as they are, and moved to the
nearest C by the shift their start token fixes, so that a phrase learnt in G counts in D too
(the invariance the network gets from transposition augmentation). On a development parse of
the corpus the key-relative view scored 1.887 validation bits per event at order 16 against
2.010 as they are and 1.910 with the training tunes in all twelve keys (12 times the data and
the time), so augmentation is not among the choices.

``tune_ngram`` fits one model per view and order on the training tunes and scores every
discount of a grid on the validation tunes; ``ngram_baseline`` then scores the best triple,
once, on the test tunes.

Example:
    result = ngram_baseline(splits)             # splits from apps.music.splits.split_corpus
    result["chosen"], result["test"]["bits_per_event"]
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence

import numpy as np

from apps.music import events
from shared.char_ngram import CharNgramModel

ORDERS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32)
DISCOUNTS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0)
VIEWS = ("absolute", "key_relative")
_OFFSET = 0x100  # event id -> code point: above Latin-1, far below the surrogates
_SEPARATOR = chr(_OFFSET + len(events.VOCABULARY))  # never an event: unseen in training
_RELATIVE = _OFFSET + len(events.VOCABULARY) + 1 - (events.LOWEST - 6)  # + a shifted pitch


def event_text(ids: Sequence[int], view: str = "absolute") -> str:
    """Events as a string, one character per event.

    ``absolute``: each event id as it is. ``key_relative``: the tune moved to the nearest C
    (by -6..+5 semitones, which its start token fixes), so that tunes in every key share
    their counts: the start token loses its tonic (``<start C major 6/8>`` for any major 6/8
    tune) and pitch ``p`` is written as ``p - shift`` (pitches may pass the vocabulary's
    range here). Given the start token this is one-to-one, so the events keep their
    probabilities: bits over either view are bits over the same events.
    """
    if view == "absolute":
        return "".join(chr(_OFFSET + int(i)) for i in ids)
    if view != "key_relative":
        raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
    key, metre = events.start_of(int(ids[0]))
    tonic, mode = events.key_parts(key)
    shift = (tonic + 6) % 12 - 6
    out = [chr(_OFFSET + events.start_id(events.key_name(0, mode), metre))]
    for token in ids[1:]:
        token = int(token)
        if events.is_pitch(token):
            out.append(chr(_RELATIVE + token - events.FIRST_PITCH_ID + events.LOWEST - shift))
        else:
            out.append(chr(_OFFSET + token))
    return "".join(out)


@dataclasses.dataclass
class EventNgram:
    """A character n-gram over the events written in `view` (see ``event_text``)."""

    model: CharNgramModel
    view: str = "absolute"


def fit(
    train: Sequence[Sequence[int]], order: int, discount: float = 0.75, view: str = "absolute"
) -> EventNgram:
    """A Kneser-Ney model of `order` over the training tunes' events, one stream."""
    text = "".join(event_text(t, view) for t in train)
    return EventNgram(CharNgramModel(order, discount).fit(text), view)


def tune_bits(ngram: EventNgram, tunes: Sequence[Sequence[int]]) -> np.ndarray:
    """Bits of every tune's events after its start token (one float per tune)."""
    if not tunes:
        return np.zeros(0)
    text = _SEPARATOR.join(event_text(t, ngram.view) for t in tunes)
    # The model's per-position log-probabilities (shared.char_ngram has no public name for
    # them; CharNgramModel.bits_per_character is their mean).
    log2 = ngram.model._log2_probabilities(ngram.model._encode(text))
    lengths = np.array([len(t) for t in tunes])
    starts = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]])
    scored = np.ones(len(text), dtype=bool)
    scored[starts] = False  # start tokens: given
    scored[starts[1:] - 1] = False  # separators
    owner = np.repeat(np.arange(len(tunes)), lengths + 1)[: len(text)]
    return -np.bincount(owner[scored], log2[scored], minlength=len(tunes))


def bits_per_event(ngram: EventNgram, tunes: Sequence[Sequence[int]]) -> float:
    """Mean bits of the events after each tune's start token, over all the tunes."""
    predicted = sum(len(t) - 1 for t in tunes)
    return float(tune_bits(ngram, tunes).sum() / predicted)


def tune_ngram(
    train: Sequence[Sequence[int]],
    validation: Sequence[Sequence[int]],
    orders: Sequence[int] = ORDERS,
    discounts: Sequence[float] = DISCOUNTS,
    views: Sequence[str] = ("absolute",),
) -> dict:
    """The (view, order, discount) with the fewest validation bits per event.

    One model per view and order is fitted on the training tunes; its discounts are all
    scored on the validation tunes with those counts (``CharNgramModel`` applies the discount
    when scoring). Returns ``{"model" (fitted, with the chosen discount), "view", "order",
    "discount", "validation" (its bits per event), "grid" (view -> order -> discount ->
    bits), "seconds"}``; nothing else is read.
    """
    started = time.perf_counter()
    grid: dict[str, dict[str, dict[str, float]]] = {}
    best = None
    for view in views:
        grid[view] = {}
        for order in sorted(set(orders)):
            ngram = fit(train, order, view=view)
            grid[view][str(order)] = {}
            for discount in sorted(set(discounts)):
                ngram.model.discount = float(discount)
                bits = bits_per_event(ngram, validation)
                grid[view][str(order)][f"{discount:g}"] = round(bits, 4)
                if best is None or bits < best[0]:
                    best = (bits, view, order, float(discount), ngram)
    bits, view, order, discount, model = best
    model.model.discount = discount
    return dict(
        model=model, view=view, order=order, discount=discount, validation=bits, grid=grid,
        seconds=time.perf_counter() - started,
    )  # fmt: skip


def ngram_baseline(
    splits,
    orders: Sequence[int] = ORDERS,
    discounts: Sequence[float] = DISCOUNTS,
    views: Sequence[str] = VIEWS,
) -> dict:
    """The Kneser-Ney n-gram tuned on validation (view, order, discount), scored once on test
    (overall and per collection), beside a unigram (event frequencies: no context at all)."""
    train, validation = splits.train["events"], splits.validation["events"]
    test, collections = splits.test["events"], splits.test["collection"]
    tuned = tune_ngram(train, validation, orders, discounts, views)
    per_tune = tune_bits(tuned["model"], test)
    predicted = np.array([len(t) - 1 for t in test])
    by_collection = {}
    for name in sorted(set(collections)):
        rows = np.array([c == name for c in collections])
        by_collection[name] = round(float(per_tune[rows].sum() / predicted[rows].sum()), 4)
    unigram = fit(train, 1)
    return {
        "description": "interpolated Kneser-Ney n-gram over events (shared.char_ngram), "
        "fitted on the training tunes; order and discount chosen on validation",
        "chosen": {"view": tuned["view"], "order": tuned["order"], "discount": tuned["discount"]},
        "validation": {"bits_per_event": round(tuned["validation"], 4), "grid": tuned["grid"]},
        "test": {
            "bits_per_event": round(float(per_tune.sum() / predicted.sum()), 4),
            "by_collection": by_collection,
            "events": int(predicted.sum()),
            "tunes": len(test),
        },
        "unigram_test_bits_per_event": round(bits_per_event(unigram, test), 4),
        "tuning_seconds": round(tuned["seconds"], 1),
    }


def main() -> None:
    """Tune the n-gram on the default corpus's splits and print its figures (JSON)."""
    from apps.music.corpus import load_corpus
    from apps.music.splits import split_corpus

    splits = split_corpus(load_corpus().records)
    result = ngram_baseline(splits)
    print(json.dumps({"counts": splits.info["counts"], **result}, indent=1))


if __name__ == "__main__":
    main()
