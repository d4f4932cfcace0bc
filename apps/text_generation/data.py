"""Text generation data: documents of real text and a character vocabulary over them.

Sources (``--data``):

- ``default``: the 23.7k snippets of the VADER ground truth (movie and product reviews, New York
  Times editorials, tweets; see ``shared.data.vader``), one snippet per document. Exact
  duplicates are dropped and the documents are shuffled and split 80/10/10 (seeded), so the
  validation and test text is text the model never saw.
- ``tfds:tiny_shakespeare`` (or any TFDS dataset with a ``text`` feature): its own
  train/validation/test splits, each cut into documents at blank lines (speeches).
- ``file:PATH``: any UTF-8 text file, cut into documents at blank lines (paragraphs), or at line
  ends when it has fewer than 10 paragraphs, then split 80/10/10 at random (seeded).

Every split is a ``Splits`` column ``text``: a list of documents. The model reads the training
documents as one stream, ``<s> doc <s> doc <s> ...``: the begin token ``<s>`` (id 0) separates
documents, so the model learns where a snippet starts and ends, and an empty prompt starts from
it. Characters seen fewer than ``min_count`` times in the training text share the unknown id 1.
"""

from __future__ import annotations

import json
import pathlib
import re
from collections import Counter
from collections.abc import Iterable

import numpy as np

from shared.data.sources import Source, load_tfds
from shared.data.splits import Splits
from shared.data.vader import read_vader
from shared.errors import UserError

BEGIN_ID = 0
UNKNOWN_ID = 1
MIN_DOCUMENTS = 10
_BLANK_LINES = re.compile(r"\n[ \t\r\f\v]*\n")


class CharVocabulary:
    """Characters <-> ids, with a begin/separator token (id 0) and an unknown id (1).

    Args:
        characters: the known characters in id order; they get ids 2, 3, ...

    Example:
        >>> vocabulary = CharVocabulary.build(["abba", "cab"], min_count=2)
        >>> vocabulary.encode("abc!").tolist()
        [2, 3, 4, 1]
    """

    def __init__(self, characters: Iterable[str]):
        self.characters = list(characters)
        for character in self.characters:
            if not isinstance(character, str) or len(character) != 1:
                raise ValueError(f"characters must be single characters, got {character!r}")
        self._ids = {character: index + 2 for index, character in enumerate(self.characters)}
        if len(self._ids) != len(self.characters):
            raise ValueError("characters must not repeat")

    @classmethod
    def build(cls, documents: Iterable[str], min_count: int = 2) -> CharVocabulary:
        """The characters seen at least ``min_count`` times, in code point order."""
        counts = Counter()
        for document in documents:
            counts.update(document)
        # Lone surrogates (from undecodable bytes) never become vocabulary entries.
        return cls(
            sorted(
                c for c, n in counts.items() if n >= min_count and not 0xD800 <= ord(c) <= 0xDFFF
            )
        )

    @property
    def size(self) -> int:
        """Number of ids: the characters plus the begin and unknown tokens."""
        return len(self.characters) + 2

    def encode(self, text: str) -> np.ndarray:
        """Ids [len(text)] of a text; characters outside the vocabulary become UNKNOWN_ID."""
        return np.fromiter(
            (self._ids.get(character, UNKNOWN_ID) for character in text), np.int32, len(text)
        )

    def encode_document(self, text: str) -> np.ndarray:
        """``<s> text <s>``: what the model reads and predicts for one document."""
        return np.concatenate([[BEGIN_ID], self.encode(text), [BEGIN_ID]]).astype(np.int32)

    def encode_stream(self, documents: Iterable[str]) -> np.ndarray:
        """All documents as one stream ``<s> doc <s> doc ... <s>``."""
        parts = [np.array([BEGIN_ID], np.int32)]
        for document in documents:
            parts += [self.encode(document), np.array([BEGIN_ID], np.int32)]
        return np.concatenate(parts)

    def decode(self, ids: Iterable[int], begin: str = "", unknown: str = "\ufffd") -> str:
        """Text of ids; the begin token becomes ``begin`` and the unknown id ``unknown``."""
        table = [begin, unknown, *self.characters]
        return "".join(table[int(i)] for i in ids)

    def to_json(self) -> str:
        return json.dumps(
            {"begin_id": BEGIN_ID, "unknown_id": UNKNOWN_ID, "characters": self.characters},
            ensure_ascii=True,
        )

    @classmethod
    def load(cls, path: pathlib.Path) -> CharVocabulary:
        return cls(json.loads(pathlib.Path(path).read_text(encoding="utf-8"))["characters"])


def load_data(source: Source, seed: int = 1234) -> Splits:
    """Column ``text`` (documents) of the train, validation and test splits of ``source``."""
    if source.kind == "default":
        return _random_split(_unique(read_vader()["text"]), seed, "vader")
    if source.kind == "tfds":
        return load_tfds_text(source.value, seed)
    return _random_split(read_text_file(pathlib.Path(source.value)), seed, f"file:{source.value}")


def _unique(documents: list[str]) -> list[str]:
    """Non-empty documents, exact duplicates dropped (so no test snippet is also in training)."""
    return [d for d in dict.fromkeys(document.strip() for document in documents) if d]


def _random_split(documents: list[str], seed: int, name: str) -> Splits:
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

    train = documents("train")
    rng = np.random.default_rng(seed)
    held_out = {}
    for split in ("validation", "test"):
        if split in datasets:
            held_out[split] = documents(split)
        else:  # carve the missing split out of the training documents
            order = rng.permutation(len(train))
            cut = max(1, len(train) // 10)
            held_out[split] = [train[i] for i in np.sort(order[:cut])]
            train = [train[i] for i in np.sort(order[cut:])]
    if not train or not held_out["validation"] or not held_out["test"]:
        raise UserError(f"tfds:{name}: a split has no text")
    return Splits(
        {"text": train},
        {"text": held_out["validation"]},
        {"text": held_out["test"]},
        source=f"tfds:{name}",
    )


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
