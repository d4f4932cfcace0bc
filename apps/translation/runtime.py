"""Translation on device: raw English texts -> translations, without TensorFlow.

What an answer from ``encoder_<variant>.tflite`` and ``decoder_step_<variant>.tflite`` needs
on the host: the unit tokenizers (``vocabulary.json``), the decoding settings of
``config.json``, greedy or beam decoding over the step model (``shared.runtime.step_decoder``),
the source units and attention of each translation, and the answer dicts. Imports only NumPy
and ``ai_edge_litert`` (``shared.runtime``), so it runs where TensorFlow is not installed.
``Translator`` is the host side every engine shares (the Keras and SavedModel predictor of
``apps.translation.predictor`` is one too), and ``TranslationApp.predict`` answers through the
same ``answers``.

Example:
    >>> runtime = TranslationRuntime("saved_models/translation", variant="int8")
    >>> runtime.predict(["two thousand and twenty-six"])[0]["translation"]
    'dos mil veintiséis'
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from collections.abc import Sequence

import numpy as np

from shared.decoding import Hypothesis
from shared.errors import UserError
from shared.preprocessing.text_units import OOV_ID, PAD_ID, UnitTokenizer
from shared.runtime.answers import answer_each
from shared.runtime.answers import check_text as check_characters
from shared.runtime.base import Runtime
from shared.runtime.options import Option
from shared.runtime.step_decoder import (
    LiteRTStepDecoder,
    StepDecoder,
    teacher_forced_probabilities,
    teacher_forcing,
)

VOCABULARY_FILE = "vocabulary.json"
CONFIG_FILE = "config.json"
MAX_INPUT_CHARACTERS = 2_000
SOURCE_INPUT = "source_ids"  # the encoder's input
CONTEXT_NAMES = ("encoder_outputs",)  # the encoder outputs the decoder step reads


@dataclasses.dataclass
class Tokenizers:
    """The source tokenizer (lower-cased, the model reads it) and the target one (marked)."""

    source: UnitTokenizer
    target: UnitTokenizer

    def to_json(self) -> str:
        return json.dumps(
            {
                "source": json.loads(self.source.to_json()),
                "target": json.loads(self.target.to_json()),
            },
            ensure_ascii=False,
        )

    @classmethod
    def load(cls, path: str | pathlib.Path) -> Tokenizers:
        payload = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
        return cls(UnitTokenizer(**payload["source"]), UnitTokenizer(**payload["target"]))

    def teacher_forcing(self, targets: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Decoder inputs (start + target) and outputs (target + end), [n, max_length + 1]."""
        return teacher_forcing(self.target, targets)


@dataclasses.dataclass(frozen=True)
class DecodingConfig:
    """What the host reads of a trained model's ``config.json``.

    The App's ``TranslationConfig`` holds these fields and the training ones, but importing
    it brings in the training stack; the runtime reads only these.
    """

    max_source_length: int  # units the encoder reads
    max_target_length: int  # units the decoder writes before it is cut off
    beam_width: int  # predict's default: hypotheses kept per step (1 = greedy)
    length_penalty: float  # GNMT alpha for ranking beams
    target_language: str

    @classmethod
    def load(cls, path: str | pathlib.Path) -> DecodingConfig:
        payload = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
        return cls(**{field.name: payload[field.name] for field in dataclasses.fields(cls)})


@dataclasses.dataclass
class Translation:
    """One answer: the text, its target token ids, the source units and the attention map."""

    text: str
    token_ids: list[int]
    source_units: list[str]
    attention: np.ndarray | None  # [target tokens, source units]
    log_prob: float | None = None


def check_text(text: str, tokenizer: UnitTokenizer) -> str:
    """The text to translate, or a UserError naming what is wrong with it."""
    check_characters(text, MAX_INPUT_CHARACTERS)
    shown = text if len(text) <= 40 else text[:37] + "..."
    units = len(tokenizer.units(text))
    if units > tokenizer.max_length:
        raise UserError(
            f"{shown!r}: {units} tokens, more than the {tokenizer.max_length} "
            "this model reads (max_source_length)"
        )
    return text


class Translator(StepDecoder):
    """Texts -> translations over an engine's encoder and decoder step: the host side every
    engine shares (tokenising, decoding in batches, the answer's units and attention, the
    teacher-forced parity output).

    Subclasses set ``config`` (``max_source_length``, ``max_target_length``, ``beam_width``,
    ``length_penalty``: a ``DecodingConfig`` or the App's config) and ``tokenizers``, and run
    the graphs (``encode_inputs``, ``step_logits``).
    """

    config: DecodingConfig
    tokenizers: Tokenizers

    def encode(self, texts: list[str]) -> dict:
        """Decoder inputs for each text: encoder outputs, source mask, initial states."""
        source_ids = self.tokenizers.source.encode(texts)
        # The mask is computed here, not taken from the encoder: the step model's own input.
        mask = (source_ids != PAD_ID).astype(np.float32)
        return self.encode_sources(texts, source_ids) | {"source_mask": mask}

    def encode_sources(self, texts: list[str], source_ids: np.ndarray) -> dict:
        """The encoder's decoder state of `texts` (tokenised as `source_ids`)."""
        return self.encode_inputs(source_ids)

    def translate(
        self,
        texts: Sequence[str],
        beam_width: int = 1,
        length_penalty: float = 0.6,
        batch_size: int = 256,
    ) -> list[Translation]:
        """Greedy (`beam_width` 1) or beam-search translations of `texts`."""
        results: list[Translation] = []
        for start in range(0, len(texts), batch_size):
            chunk = list(texts[start : start + batch_size])
            results += self.translate_batch(chunk, beam_width, length_penalty)
        return results

    def translate_batch(
        self, texts: list[str], beam_width: int, length_penalty: float
    ) -> list[Translation]:
        """`translate` of one batch."""
        hypotheses = self.decode(
            self.encode(texts), self.config.max_target_length, beam_width, length_penalty
        )
        return [self._answer(text, found) for text, found in zip(texts, hypotheses, strict=True)]

    def _answer(self, text: str, hypothesis: Hypothesis) -> Translation:
        return self.translation(
            text,
            self.tokenizers.target.decode(hypothesis.tokens),
            hypothesis.tokens,
            hypothesis.attention,
            hypothesis.log_prob,
        )

    def translation(
        self,
        source: str,
        text: str,
        token_ids: list[int],
        attention: np.ndarray | None,
        log_prob: float | None = None,
    ) -> Translation:
        """The answer to `source`: its units as the model reads them, the attention over them."""
        units = self.tokenizers.source.units(source)[: self.config.max_source_length]
        if attention is not None:
            attention = attention[:, : len(units)]
        return Translation(text, token_ids, units, attention, log_prob)

    def teacher_forced_logits(self, sources: list[str], decoder_inputs: np.ndarray) -> np.ndarray:
        """Logits [n, time, vocabulary] of the targets fed one by one to the decoder step."""
        return self.stepped_logits_from(self.encode(sources), decoder_inputs)

    def outputs(self, inputs: list) -> np.ndarray:
        """Teacher-forced next-token probabilities [n, max_target_length + 1, vocabulary].

        `inputs` are (source, reference) pairs; positions after the reference's end are 0.
        """
        sources = [source for source, _ in inputs]
        decoder_inputs, decoder_outputs = self.tokenizers.teacher_forcing(
            [target for _, target in inputs]
        )
        logits = self.teacher_forced_logits(sources, decoder_inputs)
        return teacher_forced_probabilities(logits, decoder_outputs)


def answers(
    inputs: Sequence[str],
    translator: Translator,
    beam_width: int | None = None,
    length_penalty: float | None = None,
) -> list[dict | UserError]:
    """One ``{"input", "translation"}`` per good input from any engine's `translator`, a
    UserError per bad one.

    Decodes with beam search of the model's configured width (greedy when it is 1), or
    `beam_width` / `length_penalty` when given. Source words the model has never seen are
    listed under ``unknown_words`` (they are read as "unknown", never a crash).
    """
    config = translator.config
    beam_width = config.beam_width if beam_width is None else beam_width
    length_penalty = config.length_penalty if length_penalty is None else length_penalty
    tokenizer = translator.tokenizers.source

    def answer(raws: list[str], texts: list[str]) -> list[dict]:
        translations = translator.translate(
            texts, beam_width=beam_width, length_penalty=length_penalty
        )
        result = []
        for raw, text, translation in zip(raws, texts, translations, strict=True):
            found = {"input": raw, "translation": translation.text}
            units = zip(tokenizer.units(text), tokenizer.ids(text), strict=True)
            unknown = [unit for unit, unit_id in units if unit_id == OOV_ID]
            if unknown:
                found["unknown_words"] = unknown
            result.append(found)
        return result

    return answer_each(inputs, lambda text: check_text(text, tokenizer), answer)


def summary(answer: dict) -> str:
    """One short line for the demo table."""
    return answer["translation"]


# The decoding options of ``predict`` (and of the CLI and the server); None keeps the
# model's own setting (its config's ``beam_width`` and ``length_penalty``).
OPTIONS = (
    Option("beam_width", "integer", "beam search width (1: greedy)", None, 1, 64, serve_maximum=16),
    Option("length_penalty", "number", "beam search length penalty (GNMT alpha)", None, 0, 5),
)


# The Spanish reference of each sample (num2words and Babel give the same, which a test
# checks): the demo's "right?" column.
SAMPLE_REFERENCES = {
    "two thousand and twenty-six": "dos mil veintiséis",
    "November 21, 2026": "21 de noviembre de 2026",
    "three hundred forty-two": "trescientos cuarenta y dos",
    "quarter past seven in the evening": "19:15",
    "$1,250.99": "mil doscientos cincuenta dólares con noventa y nueve centavos",
}


class TranslationRuntime(Translator, LiteRTStepDecoder, Runtime):
    """``encoder_<variant>.tflite``, ``decoder_step_<variant>.tflite`` and the tokenizers:
    raw English texts -> translations, greedy or beam search on the host."""

    task = "Machine translation (English numbers, dates, times, amounts -> Spanish)"
    pattern = "many-to-many, Tx != Ty (bidirectional GRU encoder, attentive GRU decoder)"
    default_data = "num2words + Babel parallel corpus, held-out values and date forms"
    metric = "bleu"
    sample_inputs = (
        "two thousand and twenty-six",
        "November 21, 2026",
        "three hundred forty-two",
        "quarter past seven in the evening",
        "$1,250.99",
    )
    options = OPTIONS
    attention_figure = "apps.translation.figures:save_attention"

    def __init__(self, model_dir: str | pathlib.Path, variant: str = "fp32"):
        Runtime.__init__(self, model_dir, variant)
        LiteRTStepDecoder.__init__(
            self, self.tflite("encoder"), self.tflite("decoder_step"), SOURCE_INPUT, CONTEXT_NAMES
        )
        self.config = DecodingConfig.load(self.model_dir / CONFIG_FILE)
        self.tokenizers = Tokenizers.load(self.model_dir / VOCABULARY_FILE)

    def predict(
        self, inputs: list, beam_width: int | None = None, length_penalty: float | None = None
    ) -> list[dict | UserError]:
        return answers(inputs, self, beam_width, length_penalty)

    def summary(self, answer: dict) -> str:
        return summary(answer)
