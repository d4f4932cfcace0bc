"""Export graphs and predictors, built from the trained layers.

- ``step_model``: one id (a character or a subword piece) and the recurrent states in, next-id
  logits and the new states out. This is the LiteRT model (``model_<variant>.tflite``): the host
  loop in ``runtime.TextGenerationRuntime`` drives it one id at a time, without TensorFlow.
- ``sequence_model``: a whole sequence of ids and the initial states in, logits at every
  position and the final states out (teacher forcing), for scoring and for priming a prompt.
- ``TextGenerationServing``: the SavedModel. ``generate`` (also ``serving_default``) takes the
  prompt string and the sampling knobs and runs the whole loop in the graph
  (``tf.while_loop``); ``logits`` is the sequence model; ``encode`` shows the ids.

Every recurrent state travels as one tensor ``states`` [batch, state_count, units]: layer by
layer, ``h`` then ``c`` for an LSTM, the one state of every other cell (``h`` for a GRU, the
fed-back output for a Jordan cell). The graphs share the training model's embedding, cells and
output layer, so they compute the same function with the same weights.
"""

from __future__ import annotations

import dataclasses
import pathlib

import keras
import numpy as np
import tensorflow as tf

from apps.text_generation.config import TextGenerationConfig
from apps.text_generation.model import recurrent_layer_names
from apps.text_generation.runtime import (
    BEGIN_ID,
    LENGTH,
    SEED,
    TEMPERATURE,
    TOP_K,
    TOP_P,
    UNKNOWN_ID,
    VOCABULARY_FILE,
    CharVocabulary,
    SubwordVocabulary,
    load_vocabulary,
    parity_outputs,
    target_bits,
)
from shared.app import Predictor
from shared.config import load_config
from shared.engines import load_keras_model, load_saved_model
from shared.layers import state_count
from shared.sampling import tf_sample_next

SCORING_WINDOW = 256  # positions per teacher-forced call when scoring long texts
SCORING_BATCH = 32  # documents per teacher-forced call


@dataclasses.dataclass
class ModelParts:
    """The trained layers the inference graphs reuse (weights shared, not copied)."""

    embedding: keras.layers.Layer
    cells: list[keras.layers.Layer]
    logits: keras.layers.Layer
    states_per_cell: int
    units: int
    vocabulary_size: int

    @property
    def state_count(self) -> int:
        return self.states_per_cell * len(self.cells)

    def zero_states(self, batch_size: int = 1) -> np.ndarray:
        return np.zeros((batch_size, self.state_count, self.units), np.float32)


def model_parts(model: keras.Model, config: TextGenerationConfig) -> ModelParts:
    logits = model.get_layer("logits")
    return ModelParts(
        embedding=model.get_layer("embedding"),
        cells=[model.get_layer(name).cell for name in recurrent_layer_names(config)],
        logits=logits,
        states_per_cell=state_count(config.cell),
        units=config.units,
        vocabulary_size=int(logits.units),
    )


def _split_states(parts: ModelParts, states) -> list[list]:
    """[batch, state_count, units] -> per cell, its list of [batch, units] states."""
    per_cell = parts.states_per_cell
    return [
        [states[:, index * per_cell + offset] for offset in range(per_cell)]
        for index in range(len(parts.cells))
    ]


def step(parts: ModelParts, token_ids, states):
    """One step: ids [batch] and states -> logits [batch, vocabulary] and new states."""
    x = parts.embedding(token_ids)  # [batch, embedding]
    new_states = []
    for cell, cell_states in zip(parts.cells, _split_states(parts, states), strict=True):
        x, cell_new = cell(x, cell_states, training=False)  # [batch, units]
        new_states += list(cell_new) if isinstance(cell_new, list | tuple) else [cell_new]
    return parts.logits(x), keras.ops.stack(new_states, axis=1)


def step_model(parts: ModelParts) -> keras.Model:
    """The batch-1 step model for LiteRT: builtin ops only (FULLY_CONNECTED, LOGISTIC, ...)."""
    token_id = keras.Input(batch_shape=(1,), dtype="int32", name="token_id")
    states = keras.Input(batch_shape=(1, parts.state_count, parts.units), name="states")
    logits, new_states = step(parts, token_id, states)
    return keras.Model(
        [token_id, states], {"logits": logits, "new_states": new_states}, name="step"
    )


def sequence_model(parts: ModelParts) -> keras.Model:
    """Teacher forcing: ids [batch, time] and initial states -> logits [batch, time, vocab]."""
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    states = keras.Input(shape=(parts.state_count, parts.units), name="states")
    x = parts.embedding(token_ids)  # [batch, time, embedding]
    new_states = []
    for index, (cell, cell_states) in enumerate(
        zip(parts.cells, _split_states(parts, states), strict=True)
    ):
        rnn = keras.layers.RNN(
            cell, return_sequences=True, return_state=True, name=f"sequence_{index + 1}"
        )
        x, *cell_new = rnn(x, initial_state=cell_states)  # x: [batch, time, units]
        new_states += cell_new
    logits = parts.logits(x)  # [batch, time, vocabulary]
    return keras.Model(
        [token_ids, states],
        {"logits": logits, "new_states": keras.ops.stack(new_states, axis=1)},
        name="sequence",
    )


class TextGenerationServing(tf.Module):
    """The SavedModel: ``generate`` (= ``serving_default``), ``logits`` and ``encode``.

    Args:
        model: the trained model (its layers are reused).
        config: its config.
        vocabulary: the vocabulary it was trained with. Subword pieces are tokenised in the
            graph by ``tensorflow_text`` from the same SentencePiece model as on the host, so
            loading this SavedModel needs ``import tensorflow_text`` first.

    ``generate(prompt, length, temperature, seed, top_k, top_p) -> {"text"}``: the prompt is
    read after the begin token, then ids are drawn until they write ``length`` characters, the
    text being cut there (``temperature`` 0 is greedy; ``top_k`` 0 and ``top_p`` 1 keep every
    id); the loop stops early when the model ends the document (draws the begin token). The
    unknown id is never drawn.

    Example:
        >>> serving = TextGenerationServing(model, config, vocabulary)
        >>> serving.generate(prompt="The movie was", length=100, temperature=0.8, seed=0,
        ...                  top_k=0, top_p=0.95)["text"]
    """

    def __init__(
        self,
        model: keras.Model,
        config: TextGenerationConfig,
        vocabulary: CharVocabulary | SubwordVocabulary,
    ):
        super().__init__()
        self.model = model
        self.parts = model_parts(model, config)
        self.sequence = sequence_model(self.parts)
        if isinstance(vocabulary, SubwordVocabulary):
            import tensorflow_text  # registers the SentencePiece ops

            self.pieces = tensorflow_text.SentencepieceTokenizer(
                model=vocabulary.model_proto, out_type=tf.int32
            )
        else:
            codepoints = tf.constant([ord(c) for c in vocabulary.characters], tf.int32)
            self.table = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    codepoints, tf.range(2, vocabulary.size, dtype=tf.int32)
                ),
                default_value=UNKNOWN_ID,
            )
        self.id_text = tf.constant(vocabulary.id_texts)
        self.id_length = tf.constant([len(text) for text in vocabulary.id_texts], tf.int32)
        self.unknown = tf.one_hot(UNKNOWN_ID, vocabulary.size, on_value=True, off_value=False)

    def _encode(self, text):
        # Invalid UTF-8 becomes U+FFFD, which no vocabulary holds: the unknown id.
        if hasattr(self, "pieces"):
            valid = tf.strings.unicode_transcode(text, "UTF-8", "UTF-8", errors="replace")
            ids = self.pieces.tokenize(valid)
        else:
            codepoints = tf.strings.unicode_decode(text, "UTF-8", errors="replace")
            ids = self.table.lookup(codepoints)
        return tf.concat([[BEGIN_ID], ids], axis=0)  # [1 + ids]

    @tf.function(input_signature=[tf.TensorSpec([], tf.string, name="text")])
    def encode(self, text):
        return {"token_ids": self._encode(text)}

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None], tf.int32, name="token_ids"),
            tf.TensorSpec([None, None, None], tf.float32, name="states"),
        ]
    )
    def logits(self, token_ids, states):
        return self.sequence([token_ids, states], training=False)

    @tf.function(
        input_signature=[
            tf.TensorSpec([], tf.string, name="prompt"),
            tf.TensorSpec([], tf.int32, name="length"),
            tf.TensorSpec([], tf.float32, name="temperature"),
            tf.TensorSpec([], tf.int32, name="seed"),
            tf.TensorSpec([], tf.int32, name="top_k"),
            tf.TensorSpec([], tf.float32, name="top_p"),
        ]
    )
    def generate(self, prompt, length, temperature, seed, top_k, top_p):
        prompt_ids = self._encode(prompt)[tf.newaxis, :]  # [1, 1 + characters]
        zeros = tf.zeros([1, self.parts.state_count, self.parts.units])
        primed = self.sequence([prompt_ids, zeros], training=False)
        seed_pair = tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])

        def keep_going(index, written, done, logits, states, tokens):
            return tf.logical_and(written < length, tf.logical_not(done))

        def draw(index, written, done, logits, states, tokens):
            allowed = tf.where(self.unknown[tf.newaxis, :], -np.inf, logits)  # [1, vocabulary]
            step_seed = tf.random.experimental.stateless_fold_in(seed_pair, index)
            token = tf_sample_next(allowed, temperature, top_k, top_p, step_seed)  # [1]
            logits, states = step(self.parts, token, states)
            written += tf.gather(self.id_length, token[0])
            tokens = tokens.write(index, token[0])
            return index + 1, written, token[0] == BEGIN_ID, logits, states, tokens

        count, _, done, _, _, tokens = tf.while_loop(
            keep_going,
            draw,
            (
                tf.constant(0),
                tf.constant(0),
                tf.constant(False),
                primed["logits"][:, -1, :],
                primed["new_states"],
                tf.TensorArray(tf.int32, size=0, dynamic_size=True, element_shape=[]),
            ),
        )
        drawn = tokens.stack()[: count - tf.cast(done, tf.int32)]  # the end token is not text
        text = tf.strings.reduce_join(tf.gather(self.id_text, drawn))
        return {"text": tf.strings.substr(text, 0, length, unit="UTF8_CHAR")}


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
