"""Translation data: sentence pairs with ``source``, ``target`` and ``kind`` columns
(and ``held_out`` in the default corpus).

Three sources (``--data``):

``default``
    A parallel corpus rendered offline by ``num2words`` and ``Babel``: the same value written
    in English and in the target language (Spanish by default, French or German on request),
    as cardinals, ordinals, years, dates, times of day and currency amounts, e.g.
    ``three hundred and forty-two`` -> ``trescientos cuarenta y dos`` or
    ``November 21, 2026`` -> ``21 de noviembre de 2026``. The English side comes in several
    forms (digits or words, with or without "and", US or British dates, "7:30 pm" or
    "half past seven in the evening", capitalisation) but each English string has exactly one
    translation. The validation and test splits hold values the training split never shows:
    numbers, day-month pairs, times and amounts drawn from held-out buckets by the value
    alone, so a number held out is held out as a cardinal, an ordinal, a year, a date's year
    and an amount alike; and date forms held out for some months. A ``held_out`` column says
    why each validation and test pair is held out (``value``, ``form``, ``value+form``). No
    two pairs share a normalised source (case, spacing, punctuation ignored), no normalised
    target is in two splits (``info["overlap"]`` is the check), and every target word (see
    ``words``) of validation and test occurs in training; dropped rows are counted in
    ``info``. ``info["other_phrasings"]`` is a shifted test set: held-out test values phrased
    by another process than the generator's ("7:15pm", "twenty-one hundred hours").
``tfds:NAME``
    A TFDS translation dataset loaded with ``as_supervised=True``, e.g.
    ``tfds:ted_hrlr_translate/pt_to_en`` (Portuguese to English TED talks).
``file:PATH`` or a bare path
    A tab-separated file of pairs in the Tatoeba/Anki layout,
    ``source<TAB>target[<TAB>attribution]``, split 80/10/10 with every translation of one
    source sentence kept in the same split.
"""

from __future__ import annotations

import json
import pathlib
import re

import numpy as np

from apps.translation.generator import (  # noqa: F401  (KINDS, words: used through this module)
    CORPUS_VERSION,
    KINDS,
    LANGUAGES,
    MIN_SIZE,
    OTHER_PHRASINGS,
    SPLIT_FRACTIONS,
    SPLIT_NAMES,
    corpus_overlap,
    generate_corpus,
    words,
)
from shared.data.cache import cached_folder
from shared.data.sources import load_tfds, parse_source
from shared.data.splits import Columns, Splits, take
from shared.errors import UserError


def load_data(
    source: str = "default", target_language: str = "es", seed: int = 1234, size: int = 30000
) -> Splits:
    """Load translation pairs as Splits with ``source``, ``target`` and ``kind`` columns.

    `target_language` and `size` (the total number of generated pairs, before the few dropped
    for unseen target words) apply to the default corpus only; TFDS datasets and files are
    loaded whole, in the direction they are written. The default corpus is generated once per
    (target_language, seed, size) and cached under the data folder.
    """
    parsed = parse_source(source)
    if parsed.kind == "default":
        return _load_default(target_language, seed, size)
    if parsed.kind == "tfds":
        return _load_tfds(parsed.value)
    return _load_pairs_file(pathlib.Path(parsed.value), seed)


def _load_default(target_language: str, seed: int, size: int) -> Splits:
    if target_language not in LANGUAGES:
        raise UserError(
            f"target_language {target_language!r}: not one of {', '.join(sorted(LANGUAGES))}"
        )
    if size < MIN_SIZE:
        raise UserError(f"size {size}: the default corpus needs at least {MIN_SIZE} pairs")

    def build(folder: pathlib.Path) -> None:
        corpus = generate_corpus(target_language, seed, size)
        (folder / "corpus.json").write_text(json.dumps(corpus, ensure_ascii=False))

    # Generating 60,000 pairs takes about 8 s; train, evaluate and bench each load the data.
    name = f"translation/default-{target_language}-seed{seed}-size{size}"
    folder = cached_folder(name, build, version=CORPUS_VERSION)
    corpus = json.loads((folder / "corpus.json").read_text())
    info = {**corpus["info"], OTHER_PHRASINGS: corpus[OTHER_PHRASINGS]}
    return Splits(
        train=corpus["train"],
        validation=corpus["validation"],
        test=corpus["test"],
        source="default",
        info=info,
    )


def _load_tfds(name: str) -> Splits:
    import tensorflow_datasets as tfds

    datasets = load_tfds(name, split=list(SPLIT_NAMES), as_supervised=True)
    columns = []
    for dataset in datasets:
        sources, targets = [], []
        for source, target in tfds.as_numpy(dataset):
            sources.append(source.decode("utf-8"))
            targets.append(target.decode("utf-8"))
        columns.append({"source": sources, "target": targets, "kind": ["sentence"] * len(sources)})
    info = {"kinds": ["sentence"]}
    # TED configs are named "pt_to_en": record the direction when the name says it.
    direction = re.search(r"/([a-z]+)_to_([a-z]+)$", name)
    if direction:
        info.update(source_language=direction.group(1), target_language=direction.group(2))
    return Splits(*columns, source=f"tfds:{name}", info=info)


def read_pairs_file(path: pathlib.Path) -> Columns:
    """Read ``source<TAB>target[<TAB>attribution]`` lines; blank lines are skipped.

    Raises UserError naming the file and line for a line with the wrong number of fields, an
    empty source or target, or bytes that are not UTF-8.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise UserError(f"{path}: expected a tab-separated file of sentence pairs, not a folder")
    sources, targets = [], []
    with open(path, "rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8-sig" if line_number == 1 else "utf-8")
            except UnicodeDecodeError as error:
                raise UserError(f"{path}:{line_number}: not UTF-8 text ({error.reason})") from None
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) not in (2, 3):
                raise UserError(
                    f"{path}:{line_number}: expected 'source<TAB>target[<TAB>attribution]', "
                    f"found {len(fields)} tab-separated field(s)"
                )
            source, target = fields[0].strip(), fields[1].strip()
            if not source or not target:
                raise UserError(
                    f"{path}:{line_number}: empty {'source' if not source else 'target'}"
                )
            sources.append(source)
            targets.append(target)
    return {"source": sources, "target": targets, "kind": ["sentence"] * len(sources)}


def _load_pairs_file(path: pathlib.Path, seed: int) -> Splits:
    columns = read_pairs_file(path)
    distinct = sorted(set(columns["source"]))
    if len(distinct) < 3:
        raise UserError(
            f"{path}: found {len(distinct)} distinct source sentence(s), need at least 3 to split"
        )
    # Split by source sentence: Tatoeba lists one sentence with several translations, and a
    # sentence seen in training must not be scored in test.
    order = np.random.default_rng(seed).permutation(len(distinct))
    n_train = max(1, int(round(len(distinct) * SPLIT_FRACTIONS[0])))
    n_validation = max(1, int(round(len(distinct) * SPLIT_FRACTIONS[1])))
    n_train = min(n_train, len(distinct) - n_validation - 1)
    split_of_source = {}
    for rank, index in enumerate(order):
        split_of_source[distinct[index]] = (
            0 if rank < n_train else 1 if rank < n_train + n_validation else 2
        )
    parts = [
        np.asarray(
            [i for i, s in enumerate(columns["source"]) if split_of_source[s] == part], dtype=int
        )
        for part in range(3)
    ]
    splits = [take(columns, indices) for indices in parts]
    return Splits(*splits, source=f"file:{path}", info={"kinds": ["sentence"]})
