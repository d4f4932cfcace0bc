"""The Keras / SavedModel predictor: the same ``runtime.Composer`` (scoring, generation with
bar-keeping masks, beam search) over the graph's ``step`` and ``logits`` (LiteRT's is
``runtime.MusicRuntime``)."""

from __future__ import annotations

import math
import pathlib

import numpy as np
import tensorflow as tf

from apps.music import runtime
from apps.music.config import MusicConfig
from apps.music.serving import MusicServing
from shared.app import Predictor
from shared.config import load_config
from shared.engines import load_keras_model, load_saved_model
from shared.layers import state_count


class MusicPredictor(runtime.Composer, Predictor):
    """A trained melody model behind a graph engine.

    Engines: ``keras`` (model.keras, with the serving graphs built in memory) and
    ``savedmodel`` (its ``step`` and ``logits`` signatures).
    """

    def __init__(self, model_dir: pathlib.Path, engine: str):
        model_dir = pathlib.Path(model_dir)
        self.engine = engine
        config = load_config(MusicConfig, model_dir / "config.json")
        self.state_shape = (state_count(config.cell) * config.num_layers, config.units)
        self.key_relative = config.key_relative
        if engine == "keras":
            # Kept on self: a tf.function method holds only a weak reference to its module.
            self.serving = MusicServing(load_keras_model(model_dir), config)
            self._step, self._logits = self.serving.step, self.serving.logits
        elif engine == "savedmodel":
            self.loaded = load_saved_model(model_dir)
            self._step = self.loaded.signatures["step"]
            self._logits = self.loaded.signatures["logits"]
        else:
            raise ValueError(f"engine must be keras or savedmodel, got {engine!r}")

    def zero_states(self, batch_size: int = 1) -> np.ndarray:
        return np.zeros((batch_size, *self.state_shape), np.float32)

    def step(self, token_id: int, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = self._step(
            token_id=tf.constant([token_id], tf.int32), states=tf.constant(states, tf.float32)
        )
        return out["logits"].numpy()[0], out["new_states"].numpy()

    def sequence_logits(self, token_ids: np.ndarray, states: np.ndarray) -> tuple:
        """Logits [batch, time, 692] and the final states."""
        out = self._logits(
            token_ids=tf.constant(token_ids, tf.int32), states=tf.constant(states, tf.float32)
        )
        return out["logits"].numpy(), out["new_states"].numpy()

    def window_logits(self, token_ids: np.ndarray, states: np.ndarray) -> tuple:
        logits, states = self.sequence_logits(np.asarray(token_ids)[None, :], states)
        return logits[0], states

    def tune_bits(self, tunes, batch_size: int = 64) -> np.ndarray:
        """Bits of every tune's events after its start token, tunes of similar lengths
        batched and padded (padding comes after a tune: it changes none of its outputs)."""
        bits = np.zeros(len(tunes))
        order = sorted(range(len(tunes)), key=lambda i: len(tunes[i]))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            steps = max(len(tunes[i]) for i in rows) - 1
            inputs = np.zeros((len(rows), steps), np.int32)
            targets = np.zeros((len(rows), steps), np.int32)
            tables = [self.table(tunes[index][0]) for index in rows]
            for row, index in enumerate(rows):
                ids = np.asarray(tunes[index])
                inputs[row, : len(ids) - 1] = tables[row][ids[:-1]]
                targets[row, : len(ids) - 1] = ids[1:]
            logits, _ = self.sequence_logits(inputs, self.zero_states(len(rows)))
            for row, index in enumerate(rows):
                count = len(tunes[index]) - 1
                log_probs = self.log_probs(logits[row, :count], tables[row])  # [count, 692]
                chosen = log_probs[np.arange(count), targets[row, :count]]
                bits[index] = -float(chosen.sum()) / math.log(2.0)
        return bits
