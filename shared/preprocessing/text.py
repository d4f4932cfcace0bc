"""Host-side word tokenizer: the same rules as the in-graph ``TextVectorizer``.

LiteRT has no string ops, so on device the host turns text into token ids and
the ``.tflite`` starts from ids. The SavedModel does the same work in-graph
(``shared.layers.text_vectorizer``). Both follow these rules, which are written
so that Python's ``re`` and TensorFlow's RE2 agree on every input:

1. ASCII letters are lower-cased (other characters are left as they are).
2. Every run of characters that are not ASCII letters, digits, apostrophes or
   ASCII whitespace becomes a token of its own: punctuation and emoticons
   (``!!!``, ``:)``), emoji, accented letters.
3. Tokens are split on runs of ASCII whitespace.
4. (Optional, ``mark_caps``) a word written in capitals (two capital letters or more and no
   small letter: ``STOP``, ``DON'T``, not ``I`` or ``Stop``) is followed by the token
   :data:`CAPS_TOKEN`, which no text can produce, so shouting survives the lower-casing.

Ids: 0 is padding, 1 is out-of-vocabulary, the vocabulary starts at 2.
"""

from __future__ import annotations

import collections
import json
import pathlib
import re
from collections.abc import Iterable

import numpy as np

PAD_ID = 0
OOV_ID = 1
ASCII_SPACE = " \t\n\r\x0b\x0c"
# One pattern string serves both engines (RE2 and Python's re read it alike).
SPLIT_OFF_PATTERN = f"([^a-z0-9'{ASCII_SPACE}]+)"
# The same split before lower-casing (rule 4 reads the capitals of each word first).
CASED_SPLIT_OFF_PATTERN = f"([^A-Za-z0-9'{ASCII_SPACE}]+)"
SPACE_RUN_PATTERN = f"[{ASCII_SPACE}]+"
CAPS_PATTERN = "[A-Z0-9']*[A-Z][A-Z0-9']*[A-Z][A-Z0-9']*"  # a whole word: rule 4
CAPS_TOKEN = "<caps>"  # "<" and ">" are split off any text, so no text gives this token
_UPPER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_SPLIT_OFF = re.compile(SPLIT_OFF_PATTERN)
_CASED_SPLIT_OFF = re.compile(CASED_SPLIT_OFF_PATTERN)
_SPACE_RUN = re.compile(SPACE_RUN_PATTERN)
_CAPS = re.compile(CAPS_PATTERN)


def split_words(text: str, mark_caps: bool = False) -> list[str]:
    """The tokens of `text` by the rules in the module docstring.

    Example:
        >>> split_words("I said STOP!", mark_caps=True)
        ['i', 'said', 'stop', '<caps>', '!']
    """
    if not mark_caps:
        text = _SPLIT_OFF.sub(r" \1 ", text.translate(_UPPER))
        return [token for token in _SPACE_RUN.split(text) if token]
    tokens = []
    for token in _SPACE_RUN.split(_CASED_SPLIT_OFF.sub(r" \1 ", text)):
        if token:
            tokens.append(token.translate(_UPPER))
            if _CAPS.fullmatch(token):
                tokens.append(CAPS_TOKEN)
    return tokens


def build_vocabulary(
    texts: Iterable[str], max_tokens: int, min_count: int = 2, mark_caps: bool = False
) -> list[str]:
    """The most frequent tokens (ties broken alphabetically), at most `max_tokens`."""
    counts = collections.Counter(token for text in texts for token in split_words(text, mark_caps))
    # NUL cannot be a vocabulary entry (numpy strips it from strings); it stays unknown.
    ranked = sorted(
        (-count, token)
        for token, count in counts.items()
        if count >= min_count and "\x00" not in token
    )
    return [token for _, token in ranked[: max(0, max_tokens - 2)]]


def mean_over_windows(values: np.ndarray, owners: np.ndarray, ids: np.ndarray, count: int):
    """Per-window answers [windows, ...] -> per-text answers [count, ...]: each text's mean
    over its windows, weighted by the tokens in each (at least 1, for an empty text).

    Args:
        values: one answer per window (probabilities, a rating...).
        owners: the text of each window, as ``WordTokenizer.encode_windows`` returns.
        ids: the windows' token ids (0 is padding).
        count: number of texts.
    """
    values = np.asarray(values, dtype=np.float64)
    weights = np.maximum((np.asarray(ids) != PAD_ID).sum(axis=-1), 1).astype(np.float64)
    shape = (-1,) + (1,) * (values.ndim - 1)
    total = np.zeros((count,) + values.shape[1:])
    np.add.at(total, owners, values * weights.reshape(shape))
    return (total / np.bincount(owners, weights, minlength=count).reshape(shape)).astype(np.float32)


class WordTokenizer:
    """Text -> fixed-length int32 token ids, with the vocabulary as a sidecar file.

    Args:
        vocabulary: tokens in id order, starting at id 2.
        max_length: ids per text; longer texts are cut, shorter ones padded with 0.
        mark_caps: rule 4 of the module docstring.

    Example:
        >>> tokenizer = WordTokenizer(["good", "film"], max_length=4)
        >>> tokenizer.encode(["A good film!"]).tolist()
        [[1, 2, 3, 1]]
    """

    def __init__(self, vocabulary: list[str], max_length: int, mark_caps: bool = False):
        if max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {max_length}")
        self.vocabulary = list(vocabulary)
        self.max_length = int(max_length)
        self.mark_caps = bool(mark_caps)
        self._ids = {token: index + 2 for index, token in enumerate(self.vocabulary)}

    @property
    def vocabulary_size(self) -> int:
        return len(self.vocabulary) + 2

    def encode(self, texts: Iterable[str]) -> np.ndarray:
        """Texts -> ids [n, max_length]: each text's first `max_length` tokens."""
        texts = list(texts)
        ids = np.zeros((len(texts), self.max_length), dtype=np.int32)
        for row, text in enumerate(texts):
            tokens = self._token_ids(text)[: self.max_length]
            ids[row, : len(tokens)] = tokens
        return ids

    def encode_windows(self, texts: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        """Texts -> every token in windows of `max_length` ids, and the text of each window.

        A text of n tokens gives max(1, ceil(n / max_length)) windows, in order; the last is
        padded with 0. Returns ids [windows, max_length] (int32) and owners [windows], the
        index of the text each window is from. ``mean_over_windows`` combines the answers.

        Example:
            >>> ids, owners = WordTokenizer(["good"], max_length=2).encode_windows(["good good good", ""])
            >>> ids.tolist(), owners.tolist()
            ([[2, 2], [2, 0], [0, 0]], [0, 0, 1])
        """
        rows, owners = [], []
        for index, text in enumerate(texts):
            tokens = self._token_ids(text)
            for start in range(0, max(len(tokens), 1), self.max_length):
                window = tokens[start : start + self.max_length]
                rows.append(window + [PAD_ID] * (self.max_length - len(window)))
                owners.append(index)
        ids = np.asarray(rows, dtype=np.int32).reshape(-1, self.max_length)
        return ids, np.asarray(owners, dtype=np.int32)

    def _token_ids(self, text: str) -> list[int]:
        return [self._ids.get(token, OOV_ID) for token in split_words(text, self.mark_caps)]

    def to_json(self) -> str:
        """The sidecar file's content: vocabulary and length."""
        payload = {
            "vocabulary": self.vocabulary,
            "max_length": self.max_length,
            "mark_caps": self.mark_caps,
        }
        return json.dumps(payload, ensure_ascii=False)

    def save(self, path: str | pathlib.Path) -> None:
        pathlib.Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: str | pathlib.Path) -> WordTokenizer:
        payload = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
        return cls(payload["vocabulary"], payload["max_length"], payload.get("mark_caps", False))
