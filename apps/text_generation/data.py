"""Text generation data: documents of real text and a character vocabulary over them.

Sources (``--data``):

- ``default``: the 23.7k snippets of the VADER ground truth (movie and product reviews, New York
  Times editorials, tweets; see ``shared.data.vader``), one snippet per document. Duplicates
  are dropped before splitting, two snippets being the same when they differ only in case,
  spacing or punctuation (``shared.data.overlap.normalise_text``; 23,449 of 23,703 remain), and
  the documents are shuffled and split 80/10/10 (``split_seed``), so no validation or test
  snippet is a training snippet written differently.
- ``tfds:tiny_shakespeare`` (or any TFDS dataset with a ``text`` feature): its own
  train/validation/test splits, each cut into documents at blank lines (speeches); a validation
  or test document that an earlier split already holds (normalised) is dropped.
- ``file:PATH``: any UTF-8 text file, cut into documents at blank lines (paragraphs), or at line
  ends when it has fewer than 10 paragraphs, deduplicated the same way, then split 80/10/10 at
  random (``split_seed``).

Every source also gets the shifted test set ``sklearn_docs`` (``Splits.extra``, see
``read_sklearn_descriptions``): prose from another process than any training text.
Each ``Splits.info["overlap"]`` holds ``cross_split_overlap`` of the splits and that set.

Every split is a ``Splits`` column ``text``: a list of documents. The model reads the training
documents as one stream, ``<s> doc <s> doc <s> ...``: the begin token ``<s>`` (id 0) separates
documents, so the model learns where a snippet starts and ends, and an empty prompt starts from
it. The units of the stream are characters (``CharVocabulary``; characters seen fewer than
``min_count`` times in the training text share the unknown id 1) or subword pieces
(``SubwordVocabulary``, a SentencePiece model learnt from the training text). The
vocabularies live in ``runtime.py``: the device reads prompts with them too.
"""

from __future__ import annotations

import pathlib
import re

import numpy as np

from shared.data.overlap import cross_split_overlap, first_occurrences, normalise_text
from shared.data.sources import Source, load_tfds
from shared.data.splits import Splits
from shared.data.vader import read_vader
from shared.errors import UserError

MIN_DOCUMENTS = 10
_BLANK_LINES = re.compile(r"\n[ \t\r\f\v]*\n")
SHIFTED_SET = "sklearn_docs"  # the name of the shifted test set in Splits.extra and metrics


def load_data(source: Source, seed: int = 1234) -> Splits:
    """Column ``text`` (documents) of the train, validation and test splits of ``source``,
    the shifted set ``sklearn_docs`` in ``extra`` and the overlap report in ``info``.

    ``seed`` decides the data (which document lands in which split): pass ``split_seed``.
    """
    if source.kind == "default":
        splits = _random_split(_unique(read_vader()["text"]), seed, "vader")
    elif source.kind == "tfds":
        splits = load_tfds_text(source.value, seed)
    else:
        path = pathlib.Path(source.value)
        splits = _random_split(read_text_file(path), seed, f"file:{source.value}")
    splits.extra[SHIFTED_SET] = {"text": read_sklearn_descriptions()}
    splits.info["overlap"] = split_overlap(splits)
    return splits


def split_overlap(splits: Splits) -> dict:
    """``cross_split_overlap`` of the documents of every split and of the shifted sets."""
    parts = {part: getattr(splits, part)["text"] for part in ("train", "validation", "test")}
    return cross_split_overlap({**parts, **{k: v["text"] for k, v in splits.extra.items()}})


def _unique(documents: list[str]) -> list[str]:
    """Non-empty documents, each kept once: the first of those equal after normalising case,
    spacing and punctuation (``normalise_text``: "Great movie!" and "great movie" are one
    document, and so are "!" and "...", VADER's only snippets of punctuation alone)."""
    documents = [document.strip() for document in documents]
    documents = [document for document in documents if document]
    return [documents[i] for i in first_occurrences(documents)]


def _random_split(documents: list[str], seed: int, name: str) -> Splits:
    """Documents (already deduplicated) shuffled with ``seed`` and split 80/10/10."""
    if len(documents) < MIN_DOCUMENTS:
        raise UserError(
            f"{name}: only {len(documents)} documents; need at least {MIN_DOCUMENTS} to split"
        )
    order = np.random.default_rng(seed).permutation(len(documents))
    n_train = int(round(len(documents) * 0.8))
    n_validation = max(1, int(round(len(documents) * 0.1)))
    parts = np.split(order, [n_train, n_train + n_validation])
    # Kept in shuffled order: the first test documents are a random sample (see limit_characters).
    train, validation, test = ([documents[i] for i in part] for part in parts)
    return Splits({"text": train}, {"text": validation}, {"text": test}, source=name)


def split_documents(text: str) -> list[str]:
    """Paragraphs of a text (blank-line separated), or its lines if it has too few paragraphs."""
    text = text.replace("\r\n", "\n")
    documents = _unique(_BLANK_LINES.split(text))
    if len(documents) < MIN_DOCUMENTS:
        documents = _unique(text.split("\n"))
    return documents


def read_text_file(path: pathlib.Path) -> list[str]:
    """The documents of a UTF-8 text file (see ``split_documents``)."""
    if not path.is_file():
        raise UserError(f"{path}: not a file (text generation reads one UTF-8 text file)")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise UserError(f"{path}: not valid UTF-8 text (byte {error.start})") from None
    documents = split_documents(text)
    if len(documents) < MIN_DOCUMENTS:
        raise UserError(
            f"{path}: only {len(documents)} non-empty lines; need at least {MIN_DOCUMENTS}"
        )
    return documents


def load_tfds_text(name: str, seed: int = 1234) -> Splits:
    """A TFDS dataset with a ``text`` feature (tiny_shakespeare: one long text per split)."""
    names = ["train", "validation", "test"]
    try:
        loaded, info = load_tfds(name, split=names, with_info=True)
    except UserError:  # no validation split: carve one out of train below
        names = ["train", "test"]
        loaded, info = load_tfds(name, split=names, with_info=True)
    datasets = dict(zip(names, loaded, strict=True))
    if "text" not in set(info.features.keys()):
        raise UserError(f"tfds:{name}: has no 'text' feature to learn from")

    def documents(split: str) -> list[str]:
        found = []
        for example in datasets[split].as_numpy_iterator():
            found += split_documents(example["text"].decode("utf-8", errors="replace"))
        return found

    train = _unique(documents("train"))
    rng = np.random.default_rng(seed)
    held_out = {}
    for split in ("validation", "test"):
        if split in datasets:
            held_out[split] = _unique(documents(split))
        else:  # carve the missing split out of the training documents
            order = rng.permutation(len(train))
            cut = max(1, len(train) // 10)
            held_out[split] = [train[i] for i in np.sort(order[:cut])]
            train = [train[i] for i in np.sort(order[cut:])]
    # The dataset's own splits may share a document: it stays in the first split holding it.
    seen = {normalise_text(document) for document in train}
    for split in ("validation", "test"):
        held_out[split] = [d for d in held_out[split] if normalise_text(d) not in seen]
        seen.update(normalise_text(document) for document in held_out[split])
    if not train or not held_out["validation"] or not held_out["test"]:
        raise UserError(f"tfds:{name}: a split has no text")
    return Splits(
        {"text": train},
        {"text": held_out["validation"]},
        {"text": held_out["test"]},
        source=f"tfds:{name}",
    )


# reStructuredText markup of the scikit-learn descriptions, read as a reader sees it.
_RST_MARKUP = (
    (re.compile(r":[a-z:]+:`~?([^`<]*?)\s*(?:<[^>]*>)?`"), r"\1"),  # :func:`name` -> name
    (re.compile(r"``([^`]+)``"), r"\1"),  # ``literal``
    (re.compile(r"`([^`<]+?)\s*(?:<[^>]*>)?`_{1,2}"), r"\1"),  # `text <url>`__ -> text
    (re.compile(r"`([^`]+)`"), r"\1"),  # `interpreted`
    (re.compile(r"\*\*?([^*\s][^*]*?)\*\*?"), r"\1"),  # **strong**, *emphasis*
    (re.compile(r"\[(\d+)\]_"), r"[\1]"),  # citation [2]_
    (re.compile(r"::$"), ":"),  # "as follows::" introduces a code block
)


def read_sklearn_descriptions() -> list[str]:
    """The shifted test set: the prose paragraphs of scikit-learn's dataset descriptions.

    ``sklearn/datasets/descr/*.rst`` of the installed scikit-learn (pinned at 1.9.1, BSD 3-Clause
    licence; some paragraphs quote the UCI repository's descriptions): 80 paragraphs, 17,452
    characters, about the iris, wine, digits, 20 newsgroups, LFW ... datasets. Written by
    other people for another purpose than VADER's snippets of reviews, editorials and tweets:
    technical English with numbers, citations and names of functions. Each paragraph is one
    document, its hard-wrapped lines joined by spaces and its markup removed; headings,
    tables, code, field lists and lines of links are left out (a paragraph is kept when it
    has at least 8 words, is 80% letters and spaces and ends like a sentence).
    """
    import importlib.metadata

    try:
        distribution = importlib.metadata.distribution("scikit-learn")
    except importlib.metadata.PackageNotFoundError:
        raise UserError(
            "scikit-learn is not installed: the shifted test set is its dataset descriptions"
        ) from None
    files = sorted(
        str(f)
        for f in distribution.files or ()
        if str(f).startswith("sklearn/datasets/descr/") and str(f).endswith(".rst")
    )
    paragraphs = []
    for name in files:
        text = pathlib.Path(distribution.locate_file(name)).read_text(encoding="utf-8")
        for block in _BLANK_LINES.split(text):
            lines = [line.strip() for line in block.strip("\n").splitlines()]
            if not lines or set(lines[-1]) <= set("=-~^"):  # a heading or a table rule
                continue
            paragraph = " ".join(" ".join(lines).split())
            if paragraph.startswith(("..", ":", "=", "|", "+")) or ">>>" in paragraph:
                continue
            paragraph = paragraph.removeprefix("* ").removeprefix("- ")  # a list item
            for pattern, replacement in _RST_MARKUP:
                paragraph = pattern.sub(replacement, paragraph)
            prose = sum(c.isalpha() or c == " " for c in paragraph) / len(paragraph)
            if len(paragraph.split()) >= 8 and prose >= 0.8 and paragraph.endswith((".", ":", ")")):
                paragraphs.append(paragraph)
    if not paragraphs:
        raise UserError(f"scikit-learn {distribution.version}: no dataset descriptions found")
    return paragraphs


def limit_characters(documents: list[str], limit: int) -> list[str]:
    """The first documents holding about ``limit`` characters in all (0 keeps every one).

    A document longer than the whole budget is cut, so a one-document split still gets scored.
    """
    if limit <= 0:
        return list(documents)
    kept, total = [], 0
    for document in documents:
        if total >= limit:
            break
        kept.append(document[: limit - total] if not kept else document)
        total += len(kept[-1])
    return kept
