"""Text generation on device: prompts -> continuations from the LiteRT step model, without
TensorFlow.

What an answer from ``model_<variant>.tflite`` needs on the host: the vocabulary
(``vocabulary.json``: characters, or a SentencePiece model read by ``sentencepiece``), the
checks of the prompt and of the sampling options, the loop that reads the prompt and draws
one id at a time (``shared.runtime.sampling``'s filters, a NumPy seeded generator), the
teacher-forced scoring in bits, and the answer dict. Imports only NumPy, ``sentencepiece`` and
``ai_edge_litert`` (``shared.runtime``), so it runs where TensorFlow is not installed;
``TextGenerationApp.predict`` gives every engine's answers through the same ``answers``, and
``data.py``, ``serving.py`` and ``predictor.py`` take the vocabularies and constants from here.

Example:
    >>> runtime = TextGenerationRuntime("saved_models/text_generation", variant="fp32")
    >>> runtime.predict(["The movie was"], length=40, seed=3)[0]["text"]
"""

from __future__ import annotations

import base64
import json
import pathlib
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from shared.errors import UserError
from shared.runtime.answers import answer_each
from shared.runtime.base import Runtime
from shared.runtime.litert import LiteRTModel
from shared.runtime.options import Option
from shared.runtime.sampling import filter_mask, resolve_strategy

BEGIN_ID = 0
UNKNOWN_ID = 1
VOCABULARY_FILE = "vocabulary.json"
MAX_PROMPT_CHARACTERS = 10_000
MAX_LENGTH = 20_000
MAX_TEMPERATURE = 10.0
# The sampling options' defaults, for every engine (``predict`` and ``generate``).
LENGTH = 200
TEMPERATURE = 0.8
TOP_K = 0
TOP_P = 0.95
SEED = 0
_SURROGATES = re.compile("[\ud800-\udfff]")

Generate = Callable[..., str]


# --- vocabularies ------------------------------------------------------------------------


class _Stream:
    """What both vocabularies share: documents and streams of ids around the begin token."""

    def encode(self, text: str) -> np.ndarray:
        raise NotImplementedError

    def encode_document(self, text: str) -> np.ndarray:
        """``<s> text <s>``: what the model reads and predicts for one document."""
        return np.concatenate([[BEGIN_ID], self.encode(text), [BEGIN_ID]]).astype(np.int32)

    def encode_stream(self, documents: Iterable[str]) -> np.ndarray:
        """All documents as one stream ``<s> doc <s> doc ... <s>``."""
        parts = [np.array([BEGIN_ID], np.int32)]
        for document in documents:
            parts += [self.encode(document), np.array([BEGIN_ID], np.int32)]
        return np.concatenate(parts)

    @property
    def id_texts(self) -> list[str]:
        """The text each id writes: "" for the begin token, U+FFFD for the unknown id."""
        raise NotImplementedError

    @property
    def size(self) -> int:
        """Number of ids, the begin and unknown tokens included."""
        return len(self.id_texts)

    def decode(self, ids: Iterable[int], begin: str = "", unknown: str = "\ufffd") -> str:
        """Text of ids; the begin token becomes ``begin`` and the unknown id ``unknown``."""
        table = [begin, unknown, *self.id_texts[2:]]
        return "".join(table[int(i)] for i in ids)


class CharVocabulary(_Stream):
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
    def id_texts(self) -> list[str]:
        return ["", "\ufffd", *self.characters]

    def encode(self, text: str) -> np.ndarray:
        """Ids [len(text)] of a text; characters outside the vocabulary become UNKNOWN_ID."""
        return np.fromiter(
            (self._ids.get(character, UNKNOWN_ID) for character in text), np.int32, len(text)
        )

    def to_json(self) -> str:
        return json.dumps(
            {"begin_id": BEGIN_ID, "unknown_id": UNKNOWN_ID, "characters": self.characters},
            ensure_ascii=True,
        )

    @classmethod
    def load(cls, path: pathlib.Path) -> CharVocabulary:
        return cls(json.loads(pathlib.Path(path).read_text(encoding="utf-8"))["characters"])


class SubwordVocabulary(_Stream):
    """Subword pieces <-> ids: a SentencePiece unigram model learnt from the training text.

    Id 0 is the begin token and id 1 the unknown id, as in ``CharVocabulary``. The model is
    trained with no normalisation, whitespace kept as written and no dummy space before a
    text, so ``decode(encode(text)) == text`` whenever every character of ``text`` was in the
    training text (U+2581, SentencePiece's space mark, excepted: it reads back as a space).
    The same model file tokenises on the host (the ``sentencepiece`` package) and inside the
    SavedModel (``tensorflow_text.SentencepieceTokenizer``).

    Args:
        model_proto: the serialised SentencePiece model.

    Example:
        >>> vocabulary = SubwordVocabulary.build(documents, size=1024)
        >>> vocabulary.decode(vocabulary.encode("The movie was")) == "The movie was"
        True
    """

    def __init__(self, model_proto: bytes):
        import sentencepiece  # only the subword option needs it

        self.model_proto = bytes(model_proto)
        self._processor = sentencepiece.SentencePieceProcessor(model_proto=self.model_proto)
        pieces = [self._processor.id_to_piece(i) for i in range(self._processor.get_piece_size())]
        if pieces[BEGIN_ID] != "<s>" or self._processor.unk_id() != UNKNOWN_ID:
            raise ValueError("the SentencePiece model must have <s> as id 0 and <unk> as id 1")
        self._id_texts = ["", "\ufffd", *(piece.replace("\u2581", " ") for piece in pieces[2:])]

    @classmethod
    def build(cls, documents: Iterable[str], size: int) -> SubwordVocabulary:
        """A unigram model of ``size`` pieces (the begin and unknown ids included)."""
        import io

        import sentencepiece

        documents = [_SURROGATES.sub("\ufffd", d) for d in documents if d]
        model = io.BytesIO()
        try:
            sentencepiece.SentencePieceTrainer.train(
                sentence_iterator=iter(documents),
                model_writer=model,
                vocab_size=size,
                model_type="unigram",
                normalization_rule_name="identity",
                remove_extra_whitespaces=False,
                add_dummy_prefix=False,
                character_coverage=1.0,
                split_digits=True,
                bos_id=BEGIN_ID,
                bos_piece="<s>",
                unk_id=UNKNOWN_ID,
                eos_id=-1,
                pad_id=-1,
                max_sentence_length=1 << 20,
                input_sentence_size=0,
                num_threads=1,  # the same model on every machine
                minloglevel=2,
            )
        except RuntimeError as error:  # "Vocabulary size too high (1024). Please set it ..."
            raise UserError(
                f"--set subword_vocabulary={size}: SentencePiece cannot learn it from this "
                f"training text ({str(error).splitlines()[-1].rpartition('] ')[2].strip()}); "
                "lower it or read characters (--set tokenizer=char)"
            ) from None
        return cls(model.getvalue())

    @property
    def id_texts(self) -> list[str]:
        return self._id_texts

    def encode(self, text: str) -> np.ndarray:
        """Ids of a text's pieces; characters the model does not know become UNKNOWN_ID."""
        return np.asarray(self._processor.encode(_SURROGATES.sub("\ufffd", text)), np.int32)

    def to_json(self) -> str:
        return json.dumps(
            {
                "begin_id": BEGIN_ID,
                "unknown_id": UNKNOWN_ID,
                "sentencepiece_model": base64.b64encode(self.model_proto).decode("ascii"),
            }
        )


def load_vocabulary(path: pathlib.Path) -> CharVocabulary | SubwordVocabulary:
    """The vocabulary a model was trained with, whichever kind its file holds."""
    saved = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
    if "sentencepiece_model" in saved:
        return SubwordVocabulary(base64.b64decode(saved["sentencepiece_model"]))
    return CharVocabulary(saved["characters"])


# --- answers ------------------------------------------------------------------------------


def check_options(length: int, temperature: float, top_k: int, top_p: float, seed: int) -> None:
    """Raise a UserError naming the first sampling option that is out of range."""
    if isinstance(length, bool) or not isinstance(length, int | np.integer):
        raise UserError(f"--length {length!r}: must be a whole number")
    if not 1 <= length <= MAX_LENGTH:
        raise UserError(f"--length {length}: must be between 1 and {MAX_LENGTH:,}")
    if not isinstance(temperature, int | float) or not 0.0 <= temperature <= MAX_TEMPERATURE:
        raise UserError(
            f"--temperature {temperature}: must be between 0 (greedy) and {MAX_TEMPERATURE:g}"
        )
    if isinstance(top_k, bool) or not isinstance(top_k, int | np.integer) or top_k < 0:
        raise UserError(f"--top-k {top_k!r}: must be a whole number >= 0 (0 keeps all)")
    if not isinstance(top_p, int | float) or not 0.0 < top_p <= 1.0:
        raise UserError(f"--top-p {top_p}: must be in (0, 1] (1 keeps all)")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise UserError(f"--seed {seed!r}: must be a whole number")
    if not 0 <= seed < 2**31:
        raise UserError(f"--seed {seed}: must be between 0 and 2**31 - 1")


def check_prompt(prompt: str) -> str:
    """The prompt to continue (lone surrogates from undecodable bytes become U+FFFD)."""
    if not isinstance(prompt, str):
        raise UserError(f"{prompt!r}: the prompt must be text")
    if len(prompt) > MAX_PROMPT_CHARACTERS:
        raise UserError(
            f"{prompt[:37] + '...'!r}: {len(prompt):,} characters, more than the "
            f"{MAX_PROMPT_CHARACTERS:,} allowed"
        )
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in prompt)


def answers(
    inputs: Sequence[str],
    generate: Generate,
    length: int = LENGTH,
    temperature: float = TEMPERATURE,
    top_k: int = TOP_K,
    top_p: float = TOP_P,
    seed: int = SEED,
) -> list[dict | UserError]:
    """Continue each prompt with any engine's `generate` (prompt, length, temperature, top_k,
    top_p, seed -> text): ``{"input", "text"}``, ``text`` being the continuation only.

    ``input`` is the prompt as read: undecodable bytes (lone surrogates) shown as U+FFFD.
    Bad options raise a UserError: they concern every input. A bad prompt costs only its
    own answer.
    """
    check_options(length, temperature, top_k, top_p, seed)

    def answer(raws: list[str], prompts: list[str]) -> list[dict]:
        return [
            {
                "input": prompt,
                "text": generate(prompt, length, float(temperature), top_k, top_p, seed),
            }
            for prompt in prompts
        ]

    return answer_each(inputs, check_prompt, answer)


def summary(answer: dict) -> str:
    """The prompt and its continuation, quoted, for the terminal and the demo table."""
    return repr(answer["input"] + answer["text"])


# --- sampling and scoring on the host -----------------------------------------------------


def draw_next(
    logits: np.ndarray, temperature: float, top_k: int, top_p: float, rng: np.random.Generator
) -> int:
    """One id from ``logits`` [vocabulary]: argmax at temperature 0, else a draw from the
    tokens ``shared.runtime.sampling.filter_mask`` keeps (temperature, then top-k, then top-p).

    The same distribution as ``shared.runtime.sampling.sample_next``, drawn by inverting the
    cumulative weights with one uniform number: 3x faster than ``rng.choice(p=...)`` and the
    double filter pass there, which matters at thousands of characters a second.
    """
    if temperature == 0:
        return int(np.argmax(logits))
    temperature, top_k, top_p = resolve_strategy("top_p", temperature, top_k, top_p)
    scaled = np.where(filter_mask(logits, temperature, top_k, top_p), logits / temperature, -np.inf)
    cumulative = np.cumsum(np.exp(scaled - np.max(scaled)))
    # The first id whose cumulative weight exceeds the uniform draw: never a zero-weight id.
    return int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities over the last axis, in float64."""
    shifted = np.asarray(logits, np.float64) - np.max(logits, axis=-1, keepdims=True)
    weights = np.exp(shifted)
    return weights / weights.sum(axis=-1, keepdims=True)


def target_bits(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """-log2 softmax(logits)[target] at every position; logits [..., vocabulary]."""
    logits = np.asarray(logits, np.float64)
    peak = np.max(logits, axis=-1, keepdims=True)
    log_normaliser = np.log(np.sum(np.exp(logits - peak), axis=-1)) + peak[..., 0]
    chosen = np.take_along_axis(logits, np.asarray(targets)[..., None], axis=-1)[..., 0]
    return (log_normaliser - chosen) / np.log(2.0)


def parity_outputs(
    vocabulary: CharVocabulary | SubwordVocabulary,
    teacher_forced_logits: Callable[[np.ndarray], np.ndarray],
    texts: list[str],
) -> np.ndarray:
    """Teacher-forced next-id probabilities over ``<s>`` and 24 characters of each text,
    stacked [positions, vocabulary]: what the parity check compares across engines."""
    rows = [
        softmax(teacher_forced_logits(vocabulary.encode_document(text[:24])[:-1])) for text in texts
    ]
    return np.concatenate(rows)


# The sampling options of ``predict`` (and of the CLI and the server); the server bounds one
# request's length and temperature tighter, so one request stays within its time limit.
OPTIONS = (
    Option(
        "length", "integer", "characters to generate", LENGTH, 1, MAX_LENGTH, serve_maximum=2000
    ),
    Option(
        "temperature",
        "number",
        "sampling temperature (0: greedy)",
        TEMPERATURE,
        0,
        MAX_TEMPERATURE,
        serve_maximum=5,
    ),
    Option(
        "top_k", "integer", "keep the k likeliest (0: all)", TOP_K, 0, 2**31 - 1, serve_maximum=1000
    ),
    Option("top_p", "number", "nucleus: keep the likeliest of this mass (1: all)", TOP_P, 0, 1),
    Option("seed", "integer", "sampling seed", SEED, 0, 2**31 - 1),
)


class TextGenerationRuntime(Runtime):
    """``model_<variant>.tflite`` (the step model) and the host loop around it.

    The step model takes one id (``token_id`` [1]) and the recurrent states (``states``
    [1, S, units]) and returns the next id's ``logits`` [1, vocabulary] and ``new_states``;
    ``generate`` reads the prompt through it and draws one id at a time.
    """

    task = "Text generation (bits per character on held-out text: lower is better)"
    pattern = "many-to-many training, one-to-many generation (stacked GRU/LSTM, stateful TBPTT)"
    default_data = (
        "VADER ground truth: 23.6k unique snippets (2.4 M characters) of reviews, news, tweets"
    )
    metric = "bits_per_character"
    sample_inputs = ("The movie was", "", "I love this phone because")
    options = OPTIONS

    def __init__(self, model_dir: str | pathlib.Path, variant: str = "fp32"):
        super().__init__(model_dir, variant)
        self.vocabulary = load_vocabulary(self.model_dir / VOCABULARY_FILE)
        self.runner = LiteRTModel(self.tflite(), num_threads=1)
        self.state_shape = self.runner.input_shape("states")[1:]  # (S, units)

    def zero_states(self, batch_size: int = 1) -> np.ndarray:
        return np.zeros((batch_size, *self.state_shape), np.float32)

    def step(self, token_id: int, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Logits [vocabulary] and new states after reading ``token_id``."""
        # The signature runner directly: LiteRTModel.__call__ re-casts every input, and at
        # ~100 us a character the host overhead matters as much as the model.
        out = self.runner.runner(token_id=np.array([token_id], np.int32), states=states)
        return out["logits"][0], out["new_states"]

    def teacher_forced_logits(self, token_ids: np.ndarray) -> np.ndarray:
        """Logits [time, vocabulary] after each id of ``token_ids``, from a zero state."""
        states, rows = self.zero_states(), []
        for token_id in token_ids:
            logits, states = self.step(int(token_id), states)
            rows.append(logits)
        return np.stack(rows)

    def document_bits(self, documents: list[np.ndarray]) -> tuple[float, int]:
        """Total -log2 P of every id after the first, each document from a zero state.

        Returns (bits, predicted ids). Each document is ``<s> text <s>``, so the ids predicted
        are the text's (characters or pieces) and the end of the document.
        """
        total, count = 0.0, 0
        for ids in documents:
            logits = self.teacher_forced_logits(ids[:-1])
            total += float(np.sum(target_bits(logits, ids[1:])))
            count += len(ids) - 1
        return total, count

    def generate(
        self,
        prompt: str,
        length: int = LENGTH,
        temperature: float = TEMPERATURE,
        top_k: int = TOP_K,
        top_p: float = TOP_P,
        seed: int = SEED,
        stop_at_end: bool = True,
    ) -> str:
        """The continuation of ``prompt`` (checked arguments; see ``answers``).

        Temperature 0 is greedy. The same seed gives the same text; the graph engines
        (stateless TF random) draw from another stream, so only greedy text is the same on
        every engine. ``stop_at_end`` False (for timing) keeps going past the end of a
        document, writing it as a new line.
        """
        states = self.zero_states()
        for token_id in self.vocabulary.encode_document(prompt)[:-1]:
            logits, states = self.step(int(token_id), states)
        rng = np.random.default_rng(seed)
        id_texts = ["\n", *self.vocabulary.id_texts[1:]]  # a new document starts a new line
        pieces, written = [], 0
        while written < length:
            logits = logits.copy()
            logits[UNKNOWN_ID] = -np.inf  # never write the unknown id
            token_id = draw_next(logits, temperature, top_k, top_p, rng)
            if token_id == BEGIN_ID and stop_at_end:
                break
            pieces.append(id_texts[token_id])
            written += len(pieces[-1])
            if written < length:
                logits, states = self.step(token_id, states)
        return "".join(pieces)[:length]

    def outputs(self, inputs: list) -> np.ndarray:
        return parity_outputs(self.vocabulary, self.teacher_forced_logits, inputs)

    def predict(
        self,
        inputs: list,
        length: int = LENGTH,
        temperature: float = TEMPERATURE,
        top_k: int = TOP_K,
        top_p: float = TOP_P,
        seed: int = SEED,
    ) -> list[dict | UserError]:
        return answers(inputs, self.generate, length, temperature, top_k, top_p, seed)

    def summary(self, answer: dict) -> str:
        return summary(answer)
