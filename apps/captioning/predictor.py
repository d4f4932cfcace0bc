"""The Keras / SavedModel predictor (``CaptionPredictor``; LiteRT's is ``runtime.py``).

Its host loop (greedy or beam search) comes from ``shared.step_decoder.StepDecoderPredictor``.
"""

from __future__ import annotations

import pathlib

import keras
import numpy as np
import tensorflow as tf

from apps.captioning.config import CaptioningConfig
from apps.captioning.export import build_inference_models
from apps.captioning.runtime import (
    CONTEXT_NAMES,
    IMAGE_INPUT,
    VOCABULARY_FILE,
    Caption,
    Captioner,
)
from shared.config import load_config
from shared.layers import state_names
from shared.preprocessing.text_units import UnitTokenizer
from shared.runtime.step_decoder import written_length
from shared.step_decoder import StepDecoderPredictor


class CaptionPredictor(Captioner, StepDecoderPredictor):
    """uint8 images [n, 64, 64, 3] -> captions, through Keras or the SavedModel (the LiteRT
    engine is ``apps.captioning.runtime.CaptioningRuntime``, without TensorFlow).

    ``keras`` runs the encoder once and loops the decoder step on the host (greedy or beam
    search); ``savedmodel`` runs greedy decoding inside its ``caption_pixels`` signature and
    beam search over its ``encode`` / ``decode_step`` signatures.
    """

    def __init__(self, model_dir: pathlib.Path, engine: str):
        if engine not in ("keras", "savedmodel"):
            raise ValueError(f"engine must be keras or savedmodel here, got {engine!r}")
        model_dir = pathlib.Path(model_dir)
        self.config = load_config(CaptioningConfig, model_dir / "config.json")
        self.tokenizer = UnitTokenizer.load(model_dir / VOCABULARY_FILE)
        super().__init__(
            model_dir,
            engine,
            state_names(self.config.cell),
            lambda model: build_inference_models(model, self.config),
            encoder_input=IMAGE_INPUT,
            context_names=CONTEXT_NAMES,
        )

    @classmethod
    def from_model(
        cls, model: keras.Model, config: CaptioningConfig, tokenizer: UnitTokenizer
    ) -> CaptionPredictor:
        """The ``keras`` engine over a model in memory (the one being trained), not a folder.

        Its encoder and step model share `model`'s layers, so it follows the weights as they
        train: the per-epoch BLEU-4 decodes exactly as ``evaluate`` does after training.
        """
        predictor = cls.over_model(
            model,
            state_names(config.cell),
            lambda model: build_inference_models(model, config),
            encoder_input=IMAGE_INPUT,
            context_names=CONTEXT_NAMES,
        )
        predictor.config, predictor.tokenizer = config, tokenizer
        return predictor

    def caption_batch(
        self, images: np.ndarray, beam_width: int, length_penalty: float
    ) -> list[Caption]:
        if self.engine != "savedmodel" or beam_width != 1:
            return super().caption_batch(images, beam_width, length_penalty)
        return _graph_captions(self.signatures["caption_pixels"](image=tf.constant(images)))

    def caption_bytes(self, encoded_images: list[bytes]) -> list[Caption]:
        """Greedy captions of encoded image files through ``serving_default`` (SavedModel only)."""
        if self.engine != "savedmodel":
            raise ValueError("caption_bytes needs the savedmodel engine")
        out = self.signatures["serving_default"](image_bytes=tf.constant(encoded_images))
        return _graph_captions(out)

    def teacher_forced_logits(self, images: np.ndarray, decoder_inputs: np.ndarray) -> np.ndarray:
        """The full-sequence model's logits (Keras, or the SavedModel's ``teacher_forced``)."""
        if self.engine == "keras":
            return np.asarray(
                self.model({"image": images, "decoder_input_ids": decoder_inputs}, training=False)
            )
        return self.signatures["teacher_forced"](
            image=tf.constant(images), decoder_input_ids=tf.constant(decoder_inputs)
        )["logits"].numpy()


def _graph_captions(out: dict) -> list[Caption]:
    answers = []
    for row in range(int(out["caption"].shape[0])):
        ids = out["token_ids"][row].numpy().tolist()
        length = written_length(ids)
        answers.append(
            Caption(
                out["caption"][row].numpy().decode("utf-8"),
                ids[:length],
                out["attention"][row].numpy()[:length],
            )
        )
    return answers
