"""The Keras / SavedModel predictor (``TranslationPredictor``; LiteRT's is ``runtime.py``)."""

from __future__ import annotations

import pathlib

import keras
import numpy as np
import tensorflow as tf

from apps.translation.config import TranslationConfig
from apps.translation.export import build_inference_models
from apps.translation.runtime import (
    CONTEXT_NAMES,
    SOURCE_INPUT,
    VOCABULARY_FILE,
    Tokenizers,
    Translation,
    Translator,
)
from shared.config import load_config
from shared.layers import state_names
from shared.runtime.step_decoder import written_length
from shared.step_decoder import StepDecoderPredictor


class TranslationPredictor(Translator, StepDecoderPredictor):
    """Raw English texts -> translations, through Keras or the SavedModel (the LiteRT engine is
    ``apps.translation.runtime.TranslationRuntime``, without TensorFlow).

    ``keras`` runs the encoder once and loops the decoder step on the host (greedy or beam
    search); ``savedmodel`` runs greedy decoding inside its ``translate`` signature and beam
    search over its ``encode`` / ``decode_step`` signatures.
    """

    def __init__(self, model_dir: pathlib.Path, engine: str):
        if engine not in ("keras", "savedmodel"):
            raise ValueError(f"engine must be keras or savedmodel here, got {engine!r}")
        model_dir = pathlib.Path(model_dir)
        self.config = load_config(TranslationConfig, model_dir / "config.json")
        self.tokenizers = Tokenizers.load(model_dir / VOCABULARY_FILE)
        super().__init__(
            model_dir,
            engine,
            state_names(self.config.cell),
            lambda model: build_inference_models(model, self.config),
            encoder_input=SOURCE_INPUT,
            context_names=CONTEXT_NAMES,
        )

    @classmethod
    def from_model(
        cls, model: keras.Model, config: TranslationConfig, tokenizers: Tokenizers
    ) -> TranslationPredictor:
        """The ``keras`` engine over a model in memory (the one being trained), not a folder.

        Its encoder and step model share `model`'s layers, so it follows the weights as they
        train: the per-epoch BLEU decodes exactly as ``evaluate`` does after training.
        """
        predictor = cls.over_model(
            model,
            state_names(config.cell),
            lambda model: build_inference_models(model, config),
            encoder_input=SOURCE_INPUT,
            context_names=CONTEXT_NAMES,
        )
        predictor.config, predictor.tokenizers = config, tokenizers
        return predictor

    def encode_sources(self, texts: list[str], source_ids: np.ndarray) -> dict:
        # The SavedModel's ``encode`` signature tokenises the raw text itself.
        return self.encode_inputs(source_ids, {"text": tf.constant(texts)})

    def translate_batch(
        self, texts: list[str], beam_width: int, length_penalty: float
    ) -> list[Translation]:
        if self.engine != "savedmodel" or beam_width != 1:
            return super().translate_batch(texts, beam_width, length_penalty)
        out = self.signatures["translate"](text=tf.constant(texts))
        answers = []
        for row, text in enumerate(texts):
            ids = out["token_ids"][row].numpy().tolist()
            length = written_length(ids)
            answers.append(
                self.translation(
                    text,
                    out["translation"][row].numpy().decode("utf-8"),
                    ids[:length],
                    out["attention"][row].numpy()[:length],
                )
            )
        return answers

    def teacher_forced_logits(self, sources: list[str], decoder_inputs: np.ndarray) -> np.ndarray:
        """The full-sequence model's logits (Keras, or the SavedModel's ``teacher_forced``)."""
        if self.engine == "keras":
            return np.asarray(
                self.model(
                    {
                        "source_ids": self.tokenizers.source.encode(sources),
                        "decoder_input_ids": decoder_inputs,
                    },
                    training=False,
                )
            )
        return self.signatures["teacher_forced"](
            text=tf.constant(sources), decoder_input_ids=tf.constant(decoder_inputs)
        )["logits"].numpy()
