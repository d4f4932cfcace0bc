"""Sentiment data: the VADER ground truth (default), TFDS, or a CSV of text,label.

The default is the human-rated corpus of Hutto and Gilbert (ICWSM 2014),
shipped inside the ``vaderSentiment==3.3.2`` source distribution: 23,699
snippets in four domains, each with the mean of ~20 ratings on [-4, 4].
Labels follow the paper's 3-class protocol: the rating scaled to [-1, 1] is
positive above +0.05, negative below -0.05, neutral in between.

No text sits in two splits: texts are deduplicated after ``normalise_text`` (case, spacing
and punctuation ignored) before the stratified split, keeping each text's first row. The
VADER tweets hold the paper's own variants of one text ("Anger is ugly." ... "Anger is
UGLY!!!", rated for the effect of capitals and exclamation marks): one of them is kept.
``splits.info["overlap"]`` holds ``cross_split_overlap`` of the splits made.
"""

from __future__ import annotations

import csv
import importlib.resources
import pathlib

import numpy as np

from shared.data.overlap import cross_split_overlap, first_occurrences, normalise_text
from shared.data.sources import Source, load_tfds
from shared.data.splits import Splits, stratified_split, take
from shared.data.vader import rating_to_label, read_vader
from shared.errors import UserError

_LABEL_ALIASES = {
    "negative": 0, "neg": 0, "-1": 0,
    "neutral": 1, "neu": 1,
    "positive": 2, "pos": 2, "+1": 2,
}  # fmt: skip


def read_vader_lexicon() -> dict[str, float]:
    """VADER's 7,500 human-rated tokens (words, emoticons, slang) -> mean valence on [-4, 4].

    Read from the installed ``vaderSentiment`` package (a pinned dependency).
    """
    text = (importlib.resources.files("vaderSentiment") / "vader_lexicon.txt").read_text("utf-8")
    lexicon = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2:
            lexicon[parts[0]] = float(parts[1])
    return lexicon


def vader_compound(texts: list[str]) -> np.ndarray:
    """The VADER analyzer's compound score (in [-1, 1]) of each text, as float32."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    return np.array([analyzer.polarity_scores(t)["compound"] for t in texts], dtype=np.float32)


def load_data(source: Source, split_seed: int = 1234, threshold: float = 0.05) -> Splits:
    """Columns: ``text`` (str), ``label`` (0/1/2), ``rating`` (float, NaN if unknown), ``domain``.

    `split_seed` decides which rows land in which split (``BaseConfig.split_seed``).
    """
    if source.kind == "default":
        return split_columns(read_vader(threshold), split_seed, "vader")
    if source.kind == "tfds":
        return load_tfds_sentiment(source.value, split_seed)
    return split_columns(read_csv(pathlib.Path(source.value)), split_seed, f"file:{source.value}")


def split_columns(columns: dict, split_seed: int, name: str) -> Splits:
    """Deduplicate normalised texts, then split 80/10/10 stratified by domain x class."""
    kept = first_occurrences(columns["text"])
    if len(kept) < 10:
        raise UserError(
            f"{name}: only {len(kept)} distinct texts (ignoring case, spacing and punctuation); "
            "need at least 10 to split"
        )
    deduplicated = take(columns, kept)
    strata = [
        f"{d}/{label}"
        for d, label in zip(deduplicated["domain"], deduplicated["label"], strict=True)
    ]
    train, validation, test = stratified_split(deduplicated, strata, (0.8, 0.1), split_seed)
    splits = Splits(train, validation, test, source=name)
    splits.info["duplicates_dropped"] = len(columns["text"]) - len(kept)
    splits.info["overlap"] = split_overlap(splits)
    return splits


def split_overlap(splits: Splits) -> dict:
    """``cross_split_overlap`` of the splits' texts (normalised): all zeros when clean."""
    return cross_split_overlap(
        {part: getattr(splits, part)["text"] for part in ("train", "validation", "test")}
    )


def read_csv(path: pathlib.Path) -> dict:
    """A CSV with a header naming ``text`` and ``label`` columns (``domain`` optional).

    Labels are class names (negative/neutral/positive, or neg/neu/pos), or
    -1/0/1. A file whose labels are only 0 and 1 is read as negative/positive.
    """
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except UnicodeDecodeError:
        raise UserError(f"{path}: not valid UTF-8 text") from None
    except (OSError, csv.Error) as error:
        raise UserError(f"{path}: cannot read as CSV ({error})") from None
    if not rows or "text" not in rows[0] or "label" not in rows[0]:
        raise UserError(f"{path}: expected a header with 'text' and 'label' columns")
    raw = [str(row["label"] or "").strip().lower() for row in rows]
    binary = set(raw) <= {"0", "1"}
    labels = []
    for line, value in enumerate(raw, start=2):
        if binary:
            labels.append(0 if value == "0" else 2)
        elif value in _LABEL_ALIASES or value == "0" or value == "1":
            labels.append({"0": 1, "1": 2}.get(value, _LABEL_ALIASES.get(value)))
        else:
            raise UserError(
                f"{path}:{line}: unknown label {value!r} (use negative/neutral/positive)"
            )
    texts = [str(row["text"] or "") for row in rows]
    if any(not t.strip() for t in texts):
        line = 2 + next(i for i, t in enumerate(texts) if not t.strip())
        raise UserError(f"{path}:{line}: empty text")
    if len(rows) < 10:
        raise UserError(f"{path}: only {len(rows)} rows; need at least 10 to split")
    return {
        "text": texts,
        "label": np.asarray(labels, dtype=np.int32),
        "rating": np.full(len(rows), np.nan, dtype=np.float32),
        "domain": [str(row.get("domain") or path.stem) for row in rows],
    }


def load_tfds_sentiment(name: str, split_seed: int = 1234) -> Splits:
    """A TFDS text-classification dataset with (text, label) and neg/pos label names."""
    (train, test), info = load_tfds(
        name, split=["train", "test"], as_supervised=True, with_info=True
    )
    label_feature = info.features[info.supervised_keys[1]]
    mapping = []
    for label_name in label_feature.names:
        key = label_name.lower()[:3]
        if key not in ("neg", "neu", "pos"):
            raise UserError(f"tfds:{name}: label {label_name!r} is not negative/neutral/positive")
        mapping.append(_LABEL_ALIASES[key])

    def columns(dataset) -> dict:
        texts, labels = [], []
        for text, label in dataset.as_numpy_iterator():
            texts.append(text.decode("utf-8", errors="replace"))
            labels.append(mapping[int(label)])
        return {
            "text": texts,
            "label": np.asarray(labels, dtype=np.int32),
            "rating": np.full(len(texts), np.nan, dtype=np.float32),
            "domain": [name] * len(texts),
        }

    test_columns = columns(test)
    # The dataset's own test split stays whole; training keeps each text once, and none
    # that the test split holds.
    train_columns = columns(train)
    in_test = {normalise_text(text) for text in test_columns["text"]}
    kept = [
        index
        for index in first_occurrences(train_columns["text"])
        if normalise_text(train_columns["text"][index]) not in in_test
    ]
    dropped = len(train_columns["text"]) - len(kept)
    if len(kept) < 2:
        raise UserError(f"tfds:{name}: fewer than 2 training texts that the test split lacks")
    train_columns = take(train_columns, np.asarray(kept, dtype=int))
    rng = np.random.default_rng(split_seed)
    order = rng.permutation(len(train_columns["text"]))
    cut = max(1, len(order) // 10)
    splits = Splits(
        train=take(train_columns, np.sort(order[cut:])),
        validation=take(train_columns, np.sort(order[:cut])),
        test=test_columns,
        source=f"tfds:{name}",
    )
    splits.info["duplicates_dropped"] = dropped
    splits.info["overlap"] = split_overlap(splits)
    return splits


LONG_TEXTS_PER_DOMAIN = 100


def long_texts(
    test: dict, split_seed: int, threshold: float = 0.05, per_domain: int = LONG_TEXTS_PER_DOMAIN
) -> dict:
    """A shifted test set: texts as long as whole reviews, made from `test` snippets.

    Each text joins 4 to 8 test snippets of one domain in a random order; its rating is
    their mean human rating and its label follows from that (the paper's protocol). Training
    reads single snippets (99% under 48 tokens); these run to about 100 tokens, so the model
    reads them in several windows. Every snippet is from the test split, so no part of these
    texts was seen in training. Empty when the ratings are unknown (a CSV, TFDS).
    """
    rating = np.asarray(test["rating"], dtype=np.float64)
    columns: dict = {"text": [], "rating": [], "domain": []}
    if len(rating) and np.isfinite(rating).all():
        rng = np.random.default_rng(split_seed)
        domains = np.asarray(test["domain"])
        for domain in sorted(set(domains.tolist())):
            rows = np.flatnonzero(domains == domain)
            if len(rows) < 4:
                continue
            for _ in range(per_domain):
                size = int(rng.integers(4, min(8, len(rows)) + 1))
                chosen = rng.choice(rows, size, replace=False)
                columns["text"].append(" ".join(test["text"][i] for i in chosen))
                columns["rating"].append(float(rating[chosen].mean()))
                columns["domain"].append(domain)
    columns["rating"] = np.asarray(columns["rating"], dtype=np.float32)
    columns["label"] = rating_to_label(columns["rating"], threshold)
    return columns
