"""Captioning on device: image files -> captions, without TensorFlow.

What an answer from ``encoder_<variant>.tflite`` and ``decoder_step_<variant>.tflite`` needs
on the host: the image decoding (Pillow, ``shared.preprocessing.image``), the caption
tokenizer (``vocabulary.json``), the decoding settings of ``config.json``, greedy or beam
decoding over the step model (``shared.runtime.step_decoder``) and the answer dicts. Imports
only NumPy, Pillow and ``ai_edge_litert`` (``shared.runtime``), so it runs where TensorFlow
is not installed. ``Captioner`` is the host side every engine shares (the Keras and
SavedModel predictor of ``apps.captioning.predictor`` is one too), and
``CaptioningApp.predict`` answers through the same ``answers``.

Example:
    >>> runtime = CaptioningRuntime("saved_models/captioning", variant="int8")
    >>> runtime.predict(["scene.png"])[0]["caption"]
    'a small red circle left of a large blue square'
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from collections.abc import Sequence

import numpy as np

from shared.decoding import Hypothesis
from shared.errors import UserError
from shared.preprocessing.image import load_image
from shared.preprocessing.text_units import UnitTokenizer
from shared.runtime.answers import answer_each
from shared.runtime.base import Runtime
from shared.runtime.step_decoder import (
    LiteRTStepDecoder,
    StepDecoder,
    teacher_forced_probabilities,
    teacher_forcing,
)

VOCABULARY_FILE = "vocabulary.json"
CONFIG_FILE = "config.json"
IMAGE_INPUT = "image"  # the encoder's input: uint8 pixels [1, 64, 64, 3]
CONTEXT_NAMES = ("regions",)  # the encoder output the decoder step attends over
IMAGE_SIZE = 64  # pixels a side: the scenes drawn, the model built and the images read
# Scenes the demo captions (one, one and three objects), drawn by the App into
# ``<data>/captioning_samples/scene_<seed>.png`` (``CaptioningApp.sample_inputs``).
SAMPLE_SEEDS = (3, 11, 42)


@dataclasses.dataclass(frozen=True)
class DecodingConfig:
    """What the host reads of a trained model's ``config.json``.

    The App's ``CaptioningConfig`` holds these fields and the training ones, but importing it
    brings in the training stack; the runtime reads only these.
    """

    max_caption_length: int  # units written before the caption is cut off
    beam_width: int  # hypotheses kept per step when beam search is asked for
    length_penalty: float  # GNMT alpha for ranking beams

    @classmethod
    def load(cls, path: str | pathlib.Path) -> DecodingConfig:
        payload = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
        return cls(**{field.name: payload[field.name] for field in dataclasses.fields(cls)})


@dataclasses.dataclass
class Caption:
    """One answer: the text, its token ids, and each written token's attention over regions."""

    text: str
    token_ids: list[int]
    attention: np.ndarray | None  # [tokens, 64]: one 8x8 map per written token
    log_prob: float | None = None


def check_image(path_or_bytes: str | bytes) -> np.ndarray:
    """The image as the encoder reads it (uint8 [64, 64, 3]), or a UserError naming what is
    wrong with the file."""
    return load_image(path_or_bytes, size=(IMAGE_SIZE, IMAGE_SIZE))


class Captioner(StepDecoder):
    """uint8 images [n, 64, 64, 3] -> captions over an engine's encoder and decoder step: the
    host side every engine shares (decoding in batches, the answers, the teacher-forced parity
    output).

    Subclasses set ``config`` (``max_caption_length``, ``length_penalty``: a
    ``DecodingConfig`` or the App's config) and ``tokenizer``, and run the graphs
    (``encode_inputs``, ``step_logits``).
    """

    config: DecodingConfig
    tokenizer: UnitTokenizer

    def encode(self, images: np.ndarray) -> dict:
        """Decoder inputs for each image: the regions and the initial states."""
        return self.encode_inputs(np.asarray(images, dtype=np.uint8))

    def caption(
        self,
        images: np.ndarray,
        beam_width: int = 1,
        length_penalty: float = 0.6,
        batch_size: int = 256,
    ) -> list[Caption]:
        """Greedy (`beam_width` 1) or beam-search captions of uint8 images [n, 64, 64, 3]."""
        images = np.asarray(images, dtype=np.uint8)
        results: list[Caption] = []
        for start in range(0, len(images), batch_size):
            results += self.caption_batch(
                images[start : start + batch_size], beam_width, length_penalty
            )
        return results

    def caption_batch(
        self, images: np.ndarray, beam_width: int, length_penalty: float
    ) -> list[Caption]:
        """`caption` of one batch."""
        hypotheses = self.decode(
            self.encode(images), self.config.max_caption_length, beam_width, length_penalty
        )
        return [self._answer(hypothesis) for hypothesis in hypotheses]

    def _answer(self, hypothesis: Hypothesis) -> Caption:
        return Caption(
            self.tokenizer.decode(hypothesis.tokens),
            hypothesis.tokens,
            hypothesis.attention,
            hypothesis.log_prob,
        )

    def teacher_forced_logits(self, images: np.ndarray, decoder_inputs: np.ndarray) -> np.ndarray:
        """Logits [n, time, vocabulary] of the captions fed one by one to the decoder step."""
        return self.stepped_logits_from(self.encode(images), decoder_inputs)

    def outputs(self, inputs: list) -> np.ndarray:
        """Teacher-forced next-token probabilities [n, max_caption_length + 1, vocabulary].

        `inputs` are (uint8 image, reference caption) pairs; positions after the reference's
        end are 0.
        """
        images = np.stack([image for image, _ in inputs]).astype(np.uint8)
        decoder_inputs, decoder_outputs = teacher_forcing(
            self.tokenizer, [caption for _, caption in inputs]
        )
        logits = self.teacher_forced_logits(images, decoder_inputs)
        return teacher_forced_probabilities(logits, decoder_outputs)


def answers(inputs: Sequence[str | bytes], captioner: Captioner) -> list[dict | UserError]:
    """One ``{"input", "caption"}`` per readable image from any engine's `captioner` (greedy),
    a UserError per bad one."""

    def answer(raws: list, images: list[np.ndarray]) -> list[dict]:
        captions = captioner.caption(np.stack(images))
        return [
            {"input": raw, "caption": caption.text}
            for raw, caption in zip(raws, captions, strict=True)
        ]

    return answer_each(inputs, check_image, answer)


def summary(answer: dict) -> str:
    """One short line for the demo table."""
    return answer["caption"]


class CaptioningRuntime(Captioner, LiteRTStepDecoder, Runtime):
    """``encoder_<variant>.tflite``, ``decoder_step_<variant>.tflite`` and the tokenizer:
    image files -> captions, greedy or beam search on the host."""

    task = "Image captioning (generated shape scenes; COCO or Flickr8k-style folders)"
    pattern = "one-to-many (CNN encoder, attentive GRU decoder)"
    default_data = "generated ShapeWorld-style scenes, 16k train, 5 captions each"
    metric = "bleu4"
    input_kind = "image"
    sample_files = tuple(f"captioning_samples/scene_{seed}.png" for seed in SAMPLE_SEEDS)
    attention_figure = "apps.captioning.figures:save_attention"

    def __init__(self, model_dir: str | pathlib.Path, variant: str = "fp32"):
        Runtime.__init__(self, model_dir, variant)
        LiteRTStepDecoder.__init__(
            self, self.tflite("encoder"), self.tflite("decoder_step"), IMAGE_INPUT, CONTEXT_NAMES
        )
        self.config = DecodingConfig.load(self.model_dir / CONFIG_FILE)
        self.tokenizer = UnitTokenizer.load(self.model_dir / VOCABULARY_FILE)

    def predict(self, inputs: list) -> list[dict | UserError]:
        return answers(inputs, self)

    def summary(self, answer: dict) -> str:
        return summary(answer)
