"""The Keras / SavedModel predictor: scoring and generation (LiteRT's is ``runtime.py``)."""

from __future__ import annotations

import pathlib

import numpy as np
import tensorflow as tf

from apps.text_generation.config import TextGenerationConfig
from apps.text_generation.runtime import (
    LENGTH,
    SEED,
    TEMPERATURE,
    TOP_K,
    TOP_P,
    VOCABULARY_FILE,
    SubwordVocabulary,
    load_vocabulary,
    parity_outputs,
    target_bits,
)
from apps.text_generation.serving import TextGenerationServing
from shared.app import Predictor
from shared.config import load_config
from shared.engines import load_keras_model, load_saved_model
from shared.layers import state_count

SCORING_WINDOW = 256  # positions per teacher-forced call when scoring long texts
SCORING_BATCH = 32  # documents per teacher-forced call


class TextGenerationPredictor(Predictor):
    """A trained language model behind a graph engine: scoring and generation.

    Engines: ``keras`` (model.keras, with the serving graphs built in memory) and
    ``savedmodel`` (its ``logits`` and ``generate`` signatures). The LiteRT engine is
    ``runtime.TextGenerationRuntime``, with the same methods.
    """

    def __init__(self, model_dir: pathlib.Path, engine: str):
        model_dir = pathlib.Path(model_dir)
        self.engine = engine
        self.vocabulary = load_vocabulary(model_dir / VOCABULARY_FILE)
        config = load_config(TextGenerationConfig, model_dir / "config.json")
        self.state_shape = (state_count(config.cell) * config.num_layers, config.units)
        if engine == "keras":
            model = load_keras_model(model_dir)
            # Kept on self: a tf.function method holds only a weak reference to its module.
            self.serving = TextGenerationServing(model, config, self.vocabulary)
            self._logits, self._generate = self.serving.logits, self.serving.generate
        elif engine == "savedmodel":
            if isinstance(self.vocabulary, SubwordVocabulary):
                import tensorflow_text  # noqa: F401  (registers the SentencePiece ops)
            self.loaded = load_saved_model(model_dir)
            self._logits = self.loaded.signatures["logits"]
            self._generate = self.loaded.signatures["generate"]
        else:
            raise ValueError(f"engine must be keras or savedmodel, got {engine!r}")

    def zero_states(self, batch_size: int = 1) -> np.ndarray:
        return np.zeros((batch_size, *self.state_shape), np.float32)

    def sequence_logits(self, token_ids: np.ndarray, states: np.ndarray) -> tuple:
        """Logits [batch, time, vocabulary] and final states."""
        out = self._logits(token_ids=tf.constant(token_ids, tf.int32), states=tf.constant(states))
        return out["logits"].numpy(), out["new_states"].numpy()

    def teacher_forced_logits(self, token_ids: np.ndarray) -> np.ndarray:
        """Logits [time, vocabulary] after each id of ``token_ids``, from a zero state."""
        return self.sequence_logits(np.asarray(token_ids)[None, :], self.zero_states())[0][0]

    def document_bits(self, documents: list[np.ndarray]) -> tuple[float, int]:
        """Total -log2 P of every id after the first, each document from a zero state.

        Returns (bits, predicted ids). Each document is ``<s> text <s>``, so the ids predicted
        are the text's (characters or pieces) and the end of the document.
        """
        total, count = 0.0, 0
        order = sorted(range(len(documents)), key=lambda i: -len(documents[i]))
        for start in range(0, len(order), SCORING_BATCH):
            batch = [documents[i] for i in order[start : start + SCORING_BATCH]]
            steps = max(len(ids) for ids in batch) - 1
            padded_length = -(-steps // SCORING_WINDOW) * SCORING_WINDOW
            inputs = np.zeros((len(batch), padded_length), np.int32)
            targets = np.zeros((len(batch), padded_length), np.int32)
            valid = np.zeros((len(batch), padded_length), bool)
            for row, ids in enumerate(batch):
                inputs[row, : len(ids) - 1] = ids[:-1]
                targets[row, : len(ids) - 1] = ids[1:]
                valid[row, : len(ids) - 1] = True
            states = self.zero_states(len(batch))
            for offset in range(0, padded_length, SCORING_WINDOW):
                window = slice(offset, offset + SCORING_WINDOW)
                logits, states = self.sequence_logits(inputs[:, window], states)
                bits = target_bits(logits, targets[:, window])
                total += float(np.sum(bits[valid[:, window]]))
            count += int(valid.sum())
        return total, count

    def generate(
        self,
        prompt: str,
        length: int = LENGTH,
        temperature: float = TEMPERATURE,
        top_k: int = TOP_K,
        top_p: float = TOP_P,
        seed: int = SEED,
    ) -> str:
        """The continuation of ``prompt`` (checked arguments; see ``runtime.answers``), the
        loop run in the graph. Temperature 0 is greedy. The same seed gives the same text on
        the same engine; the graph (stateless TF) and host (NumPy, LiteRT) random streams
        differ, so only greedy text is the same on every engine.
        """
        out = self._generate(
            prompt=tf.constant(prompt),
            length=tf.constant(length, tf.int32),
            temperature=tf.constant(temperature, tf.float32),
            seed=tf.constant(seed, tf.int32),
            top_k=tf.constant(top_k, tf.int32),
            top_p=tf.constant(top_p, tf.float32),
        )
        return out["text"].numpy().decode("utf-8")

    def outputs(self, inputs: list) -> np.ndarray:
        return parity_outputs(self.vocabulary, self.teacher_forced_logits, inputs)
