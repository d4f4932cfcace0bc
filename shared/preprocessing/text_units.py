"""Host-side unit tokenizer for generated text: single digits, single symbols, letter runs.

A translation or captioning model writes text token by token, so it needs a tokenizer that
(a) generalises to numbers it never saw, (b) can be undone exactly. These rules give both:

1. (Optional) ASCII letters are lower-cased; other characters are left as they are.
2. Every ASCII digit, every ASCII punctuation mark and every character of ``SYMBOLS`` (common
   non-ASCII punctuation and currency signs) is a unit of its own: ``19:30`` is
   ``1 9 : 3 0``, so any number is spelled with ten digit units.
3. Units are separated by runs of whitespace (every character Python's ``str.isspace`` knows).
4. Whatever is left (ASCII letters, accented letters, any other script, emoji) forms runs:
   ``sábado`` is one unit.

With ``mark_attached`` (the side a model writes), a unit written without whitespace before it
carries the WordPiece continuation prefix ``##``, so ``"21, 2026"`` is
``2 ##1 ##, 2 ##0 ##2 ##6`` and ``decode`` restores the text exactly (up to runs of whitespace,
which become one space).

The in-graph twins are ``shared.layers.UnitVectorizer`` (text -> ids, for a SavedModel that takes
strings) and ``shared.layers.UnitDetokenizer`` (ids -> text). The patterns below are written so
Python's ``re`` and TensorFlow's RE2 read them alike: only literal characters and escaped ASCII
punctuation inside character classes.

Ids: 0 is padding, 1 is unknown, then the ``reserved`` tokens (a start and an end token, say),
then the vocabulary.
"""

from __future__ import annotations

import collections
import json
import pathlib
import re
import string
from collections.abc import Iterable, Sequence

import numpy as np

PAD_ID = 0
OOV_ID = 1
UNKNOWN_TEXT = "<unk>"
ATTACHED_PREFIX = "##"
# Every character str.isspace() accepts, so no unit ever contains whitespace.
SPACES = "".join(chr(code) for code in range(0x3001) if chr(code).isspace())
# Non-ASCII marks that should stand alone like ASCII punctuation does.
SYMBOLS = "¡¿«»‹›‘’‚“”„–—…·•°§¶€£¥¢₹₽₩"
_ESCAPED_PUNCTUATION = "".join("\\" + mark for mark in string.punctuation)
# One pattern string serves both engines (RE2 and Python's re read it alike).
SPLIT_OFF_PATTERN = f"([0-9]|[{_ESCAPED_PUNCTUATION}{SYMBOLS}])"
SPACE_RUN_PATTERN = f"[{SPACES}]+"
_UNIT_PATTERN = (
    f"[0-9]|[{_ESCAPED_PUNCTUATION}{SYMBOLS}]|[^0-9{_ESCAPED_PUNCTUATION}{SYMBOLS}{SPACES}]+"
)
_UPPER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_SPLIT_OFF = re.compile(SPLIT_OFF_PATTERN)
_SPACE_RUN = re.compile(SPACE_RUN_PATTERN)
_SPACED_UNIT = re.compile(f"([{SPACES}]*)({_UNIT_PATTERN})")


def split_units(text: str, lowercase: bool = False, mark_attached: bool = False) -> list[str]:
    """The units of `text` by the rules in the module docstring.

    Example:
        >>> split_units("Nov 21, 2026", lowercase=True)
        ['nov', '2', '1', ',', '2', '0', '2', '6']
        >>> split_units("21, 2026", mark_attached=True)
        ['2', '##1', '##,', '2', '##0', '##2', '##6']
    """
    if lowercase:
        text = text.translate(_UPPER)
    if not mark_attached:
        # The same two substitutions the in-graph vectorizer makes.
        spaced = _SPLIT_OFF.sub(r" \1 ", text)
        return [unit for unit in _SPACE_RUN.split(spaced) if unit]
    units = []
    for position, (space, unit) in enumerate(_SPACED_UNIT.findall(text)):
        attached = position > 0 and not space
        units.append(ATTACHED_PREFIX + unit if attached else unit)
    return units


def join_units(units: Iterable[str]) -> str:
    """Undo ``split_units(..., mark_attached=True)``: the text, with single spaces."""
    pieces = [unit_piece(unit) for unit in units]
    return "".join(pieces).removeprefix(" ")


def unit_piece(unit: str) -> str:
    """How one marked unit is written after the text before it."""
    if unit.startswith(ATTACHED_PREFIX):
        return unit[len(ATTACHED_PREFIX) :]
    return " " + unit


def build_unit_vocabulary(
    texts: Iterable[str],
    max_tokens: int,
    min_count: int = 1,
    lowercase: bool = False,
    mark_attached: bool = False,
    reserved: Sequence[str] = (),
) -> list[str]:
    """The most frequent units (ties alphabetical), leaving room for pad, unknown and reserved.

    Args:
        texts: the training texts.
        max_tokens: the whole id space: vocabulary + pad + unknown + reserved.
        min_count: rarer units stay unknown.
        lowercase, mark_attached: as in ``split_units``.
        reserved: tokens that get ids before the vocabulary (and are never in it).
    """
    counts = collections.Counter(
        unit for text in texts for unit in split_units(text, lowercase, mark_attached)
    )
    # NUL cannot be a vocabulary entry (numpy strips it from strings); it stays unknown.
    ranked = sorted(
        (-count, unit)
        for unit, count in counts.items()
        if count >= min_count and "\x00" not in unit and unit not in reserved
    )
    return [unit for _, unit in ranked[: max(0, max_tokens - 2 - len(reserved))]]


class UnitTokenizer:
    """Text <-> int32 unit ids, with the vocabulary as a sidecar file.

    Args:
        vocabulary: units in id order, starting after pad, unknown and `reserved`.
        max_length: ids per text in ``encode``; longer texts are cut, shorter ones padded.
        lowercase: lower-case ASCII letters first (for a side the model reads).
        mark_attached: mark units written without a space before them (for a side the model
            writes, so ``decode`` can restore the text).
        reserved: special tokens with ids 2, 3, ... (e.g. ``("<start>", "<end>")``).

    Example:
        >>> tokenizer = UnitTokenizer(["de", "1", "2"], max_length=6, lowercase=True)
        >>> tokenizer.encode(["12 DE mayo"]).tolist()
        [[3, 4, 2, 1, 0, 0]]
    """

    def __init__(
        self,
        vocabulary: Sequence[str],
        max_length: int,
        lowercase: bool = False,
        mark_attached: bool = False,
        reserved: Sequence[str] = (),
    ):
        if max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {max_length}")
        self.vocabulary = list(vocabulary)
        self.max_length = int(max_length)
        self.lowercase = bool(lowercase)
        self.mark_attached = bool(mark_attached)
        self.reserved = list(reserved)
        self.tokens = ["", UNKNOWN_TEXT, *self.reserved, *self.vocabulary]
        self._ids = {unit: index for index, unit in enumerate(self.tokens) if index >= 2}

    @property
    def vocabulary_size(self) -> int:
        return len(self.tokens)

    def reserved_id(self, token: str) -> int:
        return 2 + self.reserved.index(token)

    def units(self, text: str) -> list[str]:
        return split_units(text, self.lowercase, self.mark_attached)

    def ids(self, text: str) -> list[int]:
        """Every unit's id, neither cut nor padded."""
        return [
            self._ids.get(unit, OOV_ID) if unit not in self.reserved else OOV_ID
            for unit in self.units(text)
        ]

    def encode(self, texts: Iterable[str]) -> np.ndarray:
        """[len(texts), max_length] int32 ids, cut and padded with 0."""
        texts = list(texts)
        ids = np.zeros((len(texts), self.max_length), dtype=np.int32)
        for row, text in enumerate(texts):
            found = self.ids(text)[: self.max_length]
            ids[row, : len(found)] = found
        return ids

    def pieces(self) -> list[str]:
        """What each id adds to the text: nothing for pad and reserved ids."""
        pieces = ["", " " + UNKNOWN_TEXT] + [""] * len(self.reserved)
        for unit in self.vocabulary:
            pieces.append(unit_piece(unit) if self.mark_attached else " " + unit)
        return pieces

    def decode(self, ids: Iterable[int]) -> str:
        """The text of `ids`; pad and reserved ids write nothing, unknown writes ``<unk>``."""
        pieces = self.pieces()
        return "".join(pieces[int(i)] for i in ids).removeprefix(" ")

    def display_tokens(self, ids: Iterable[int]) -> list[str]:
        """Readable labels of `ids` (for an attention map): units without their marks."""
        labels = []
        for i in ids:
            token = self.tokens[int(i)] or "<pad>"
            labels.append(token.removeprefix(ATTACHED_PREFIX) if self.mark_attached else token)
        return labels

    def to_json(self) -> str:
        """The sidecar file's content."""
        payload = {
            "vocabulary": self.vocabulary,
            "max_length": self.max_length,
            "lowercase": self.lowercase,
            "mark_attached": self.mark_attached,
            "reserved": self.reserved,
        }
        return json.dumps(payload, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> UnitTokenizer:
        return cls(**json.loads(text))

    def save(self, path: str | pathlib.Path) -> None:
        pathlib.Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: str | pathlib.Path) -> UnitTokenizer:
        return cls.from_json(pathlib.Path(path).read_text(encoding="utf-8"))
