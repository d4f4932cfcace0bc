"""Export graphs and predictors: an encoder and a decoder step, looped in-graph or on the host.

- SavedModel (``TranslationServing``): ``serving_default`` / ``translate`` take strings and
  return strings, with the greedy loop inside the graph (``tf.while_loop``); ``encode`` and
  ``decode_step`` expose the two halves for a host loop (beam search); ``teacher_forced`` and
  ``tokenize`` serve the parity and tokenizer checks.
- LiteRT: ``encoder_<variant>.tflite`` (source ids [1, max_source_length] -> encoder outputs and
  the decoder's initial state) and ``decoder_step_<variant>.tflite`` (previous token, state,
  encoder outputs, source mask -> logits, new state, attention weights), driven by
  ``shared.decoding`` on the host.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from apps.translation.config import TranslationConfig
from shared.app import Predictor
from shared.config import load_config
from shared.decoding import Hypothesis, beam_search, greedy_decode
from shared.layers import state_names
from shared.layers.unit_detokenizer import UnitDetokenizer
from shared.layers.unit_vectorizer import UnitVectorizer
from shared.litert import LiteRTModel
from shared.preprocessing.text_units import PAD_ID, UnitTokenizer

VOCABULARY_FILE = "vocabulary.json"
START, END = "<start>", "<end>"
RESERVED = (START, END)
START_ID, END_ID = 2, 3  # the reserved tokens follow pad (0) and unknown (1)
BANNED_IDS = (PAD_ID, START_ID)  # never written by the decoder


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
        length = self.target.max_length + 1
        inputs = np.zeros((len(targets), length), dtype=np.int32)
        outputs = np.zeros((len(targets), length), dtype=np.int32)
        for row, text in enumerate(targets):
            ids = self.target.ids(text)[: self.target.max_length]
            inputs[row, : len(ids) + 1] = [START_ID, *ids]
            outputs[row, : len(ids) + 1] = [*ids, END_ID]
        return inputs, outputs


def build_inference_models(
    model: keras.Model,
    config: TranslationConfig,
    batch_size: int | None = None,
    source_length: int | None = None,
) -> tuple[keras.Model, keras.Model]:
    """The encoder and the one-step decoder, sharing the trained model's layers.

    With ``batch_size=1`` and ``source_length=max_source_length`` every shape is static, which
    is what the LiteRT converter needs to emit builtin ops only.
    """
    names = state_names(config.cell)
    source_ids = keras.Input(
        batch_shape=(batch_size, source_length), dtype="int32", name="source_ids"
    )
    x = model.get_layer("source_embedding")(source_ids)  # [batch, source_time, embedding]
    encoded = model.get_layer("encoder")(x)
    forward, backward = encoded[1 : 1 + len(names)], encoded[1 + len(names) :]
    encoder_outputs = {"encoder_outputs": encoded[0]}
    for name, forward_state, backward_state in zip(names, forward, backward, strict=True):
        final = model.get_layer(f"final_{name}")([forward_state, backward_state])
        encoder_outputs[name] = model.get_layer(f"bridge_{name}")(final)  # [batch, units]
    encoder = keras.Model(source_ids, encoder_outputs, name="encoder")

    previous_token = keras.Input(batch_shape=(batch_size,), dtype="int32", name="previous_token")
    states = [
        keras.Input(batch_shape=(batch_size, config.decoder_units), name=name) for name in names
    ]
    values = keras.Input(
        batch_shape=(batch_size, source_length, 2 * config.encoder_units), name="encoder_outputs"
    )
    source_mask = keras.Input(batch_shape=(batch_size, source_length), name="source_mask")
    embedded = model.get_layer("target_embedding")(previous_token)  # [batch, embedding]
    cell = model.get_layer("decoder").cell
    output, new_states = cell(embedded, states if len(states) > 1 else states[0])
    new_states = list(new_states) if isinstance(new_states, list | tuple) else [new_states]
    query = ops.expand_dims(output, 1)  # [batch, 1, decoder_units]
    context, weights = model.get_layer("attention")(
        query, values, values_mask=source_mask, return_weights=True
    )
    combined = model.get_layer("context_and_query")([context, query])
    logits = model.get_layer("logits")(model.get_layer("combine")(combined))
    step_outputs = {"logits": ops.squeeze(logits, 1), "attention": ops.squeeze(weights, 1)}
    for name, state in zip(names, new_states, strict=True):
        step_outputs[f"new_{name}"] = state
    # A list, not a dict, of inputs: the LiteRT converter traces Keras 3 models from a flat
    # input signature (the tensors keep their names in the .tflite signature).
    step = keras.Model(
        [previous_token, *states, values, source_mask], step_outputs, name="decoder_step"
    )
    return encoder, step


class TranslationServing(tf.Module):
    """The SavedModel: strings in, strings out, greedy loop inside the graph."""

    def __init__(self, model: keras.Model, config: TranslationConfig, tokenizers: Tokenizers):
        super().__init__()
        self.model = model
        self.config = config
        self.names = state_names(config.cell)
        self.encoder, self.step = build_inference_models(
            model, config, source_length=config.max_source_length
        )
        self.vectorizer = UnitVectorizer(
            tokenizers.source.vocabulary,
            config.max_source_length,
            lowercase=True,
            name="vectorizer",
        )
        self.detokenizer = UnitDetokenizer(
            tokenizers.target.vocabulary, mark_attached=True, reserved=RESERVED, name="detokenizer"
        )
        ban = np.zeros(tokenizers.target.vocabulary_size, dtype=np.float32)
        ban[list(BANNED_IDS)] = -1e9
        self.ban = tf.constant(ban)
        text = tf.TensorSpec([None], tf.string, name="text")
        self.translate = tf.function(self._translate, input_signature=[text])
        self.tokenize = tf.function(self._tokenize, input_signature=[text])
        self.encode = tf.function(self._encode, input_signature=[text])
        self.teacher_forced = tf.function(
            self._teacher_forced,
            input_signature=[text, tf.TensorSpec([None, None], tf.int32, name="decoder_input_ids")],
        )
        packed = len(self.names) * config.decoder_units
        self.decode_step = tf.function(
            self._decode_step,
            input_signature=[
                tf.TensorSpec([None], tf.int32, name="previous_token"),
                tf.TensorSpec([None, packed], tf.float32, name="state"),
                tf.TensorSpec(
                    [None, config.max_source_length, 2 * config.encoder_units],
                    tf.float32,
                    name="encoder_outputs",
                ),
                tf.TensorSpec([None, config.max_source_length], tf.float32, name="source_mask"),
            ],
        )

    def signatures(self) -> dict:
        translate = self.translate.get_concrete_function()
        return {
            "serving_default": translate,
            "translate": translate,
            "tokenize": self.tokenize.get_concrete_function(),
            "encode": self.encode.get_concrete_function(),
            "decode_step": self.decode_step.get_concrete_function(),
            "teacher_forced": self.teacher_forced.get_concrete_function(),
        }

    def _tokenize(self, text):
        return {"source_ids": self.vectorizer(text)}

    def _encode(self, text):
        source_ids = self.vectorizer(text)
        encoded = self.encoder(source_ids, training=False)
        return {
            "source_ids": source_ids,
            "source_mask": tf.cast(source_ids != PAD_ID, tf.float32),
            "encoder_outputs": tf.identity(encoded["encoder_outputs"]),
            # States packed into one tensor, so the signature is the same for GRU and LSTM.
            "state": tf.concat([encoded[name] for name in self.names], axis=-1),
        }

    def _decode_step(self, previous_token, state, encoder_outputs, source_mask):
        states = tf.split(state, len(self.names), axis=-1)
        out = self.step([previous_token, *states, encoder_outputs, source_mask], training=False)
        return {
            "logits": out["logits"],
            "attention": out["attention"],
            "state": tf.concat([out[f"new_{name}"] for name in self.names], axis=-1),
        }

    def _teacher_forced(self, text, decoder_input_ids):
        source_ids = self.vectorizer(text)
        logits = self.model(
            {"source_ids": source_ids, "decoder_input_ids": decoder_input_ids}, training=False
        )
        return {"logits": logits}

    def _translate(self, text):
        source_ids = self.vectorizer(text)
        source_mask = tf.cast(source_ids != PAD_ID, tf.float32)
        encoded = self.encoder(source_ids, training=False)
        # tf.identity drops the Keras mask the encoder attaches (the step model takes the mask
        # as an explicit input instead).
        values = tf.identity(encoded["encoder_outputs"])
        batch = tf.shape(source_ids)[0]
        steps = self.config.max_target_length
        tokens = tf.fill([batch], tf.constant(START_ID, tf.int32))
        finished = tf.zeros([batch], tf.bool)
        states = tuple(encoded[name] for name in self.names)
        written = tf.TensorArray(tf.int32, size=steps)
        attention = tf.TensorArray(tf.float32, size=steps)

        def keep_going(index, tokens, finished, states, written, attention):
            return tf.logical_and(index < steps, tf.logical_not(tf.reduce_all(finished)))

        def body(index, tokens, finished, states, written, attention):
            out = self.step([tokens, *states, values, source_mask], training=False)
            chosen = tf.argmax(out["logits"] + self.ban, axis=-1, output_type=tf.int32)
            # Rows that already ended write padding (which the detokenizer writes as nothing).
            chosen = tf.where(finished, PAD_ID, chosen)
            finished = tf.logical_or(finished, tf.equal(chosen, END_ID))
            new_states = tuple(out[f"new_{name}"] for name in self.names)
            return (
                index + 1,
                tf.where(finished, END_ID, chosen),
                finished,
                new_states,
                written.write(index, chosen),
                attention.write(index, out["attention"]),
            )

        count, _, _, _, written, attention = tf.while_loop(
            keep_going,
            body,
            (tf.constant(0), tokens, finished, states, written, attention),
            maximum_iterations=steps,
        )
        token_ids = tf.transpose(written.stack(), [1, 0])  # [batch, steps taken]
        weights = tf.transpose(attention.stack(), [1, 0, 2])  # [batch, steps, source]
        return {
            "translation": self.detokenizer(token_ids),
            "token_ids": token_ids,
            "attention": weights,
            "source_ids": source_ids,
        }


def litert_models(model: keras.Model, config: TranslationConfig) -> dict[str, keras.Model]:
    """The batch-1, fixed-length encoder and decoder step that convert with builtin ops."""
    encoder, step = build_inference_models(
        model, config, batch_size=1, source_length=config.max_source_length
    )
    return {"encoder": encoder, "decoder_step": step}


@dataclasses.dataclass
class Translation:
    """One answer: the text, its target token ids, the source units and the attention map."""

    text: str
    token_ids: list[int]
    source_units: list[str]
    attention: np.ndarray | None  # [target tokens, source units]
    log_prob: float | None = None


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


class TranslationPredictor(Predictor):
    """Raw English texts -> translations, through one engine.

    ``keras`` and ``litert`` run the encoder once and loop the decoder step on the host
    (greedy or beam search); ``savedmodel`` runs greedy decoding inside its ``translate``
    signature and beam search over its ``encode`` / ``decode_step`` signatures.
    """

    def __init__(self, model_dir: pathlib.Path, engine: str, variant: str = "fp32"):
        model_dir = pathlib.Path(model_dir)
        self.engine = engine if engine != "litert" else f"litert-{variant}"
        self.config = load_config(TranslationConfig, model_dir / "config.json")
        self.tokenizers = Tokenizers.load(model_dir / VOCABULARY_FILE)
        self.names = state_names(self.config.cell)
        if engine == "keras":
            self.model = keras.saving.load_model(model_dir / "model.keras", safe_mode=True)
            encoder, step = build_inference_models(self.model, self.config)
            self._keras_encoder = tf.function(encoder, reduce_retracing=True)
            self._keras_step = tf.function(step, reduce_retracing=True)
        elif engine == "savedmodel":
            self.loaded = tf.saved_model.load(str(model_dir / "saved_model"))
            self.signatures = self.loaded.signatures
        elif engine == "litert":
            self.encoder = LiteRTModel(model_dir / f"encoder_{variant}.tflite", num_threads=1)
            self.step_model = LiteRTModel(
                model_dir / f"decoder_step_{variant}.tflite", num_threads=1
            )
        else:
            raise ValueError(f"engine must be keras, savedmodel or litert, got {engine!r}")

    # -- the two halves, batched -------------------------------------------------------------

    def encode(self, texts: list[str]) -> dict:
        """Decoder inputs for each text: encoder outputs, source mask, initial states."""
        source_ids = self.tokenizers.source.encode(texts)
        mask = (source_ids != PAD_ID).astype(np.float32)
        if self.engine == "keras":
            out = {k: np.asarray(v) for k, v in self._keras_encoder(source_ids).items()}
            states = [out[name] for name in self.names]
        elif self.engine == "savedmodel":
            out = {
                k: v.numpy() for k, v in self.signatures["encode"](text=tf.constant(texts)).items()
            }
            states = np.split(out["state"], len(self.names), axis=-1)
        else:
            rows = [self.encoder(source_ids=row[None, :]) for row in source_ids]
            out = {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}
            states = [out[name] for name in self.names]
        return {"encoder_outputs": out["encoder_outputs"], "source_mask": mask, "states": states}

    def step(self, tokens: np.ndarray, state: dict) -> tuple[np.ndarray, dict, np.ndarray]:
        """One decoder step for every row: (log-probabilities, new state, attention)."""
        logits, new_states, attention = self._step_logits(tokens, state)
        return _log_softmax(logits), state | {"states": new_states}, attention

    def _step_logits(self, tokens: np.ndarray, state: dict):
        tokens = np.asarray(tokens, dtype=np.int32)
        if self.engine == "keras":
            inputs = [tokens, *state["states"], state["encoder_outputs"], state["source_mask"]]
            out = {k: np.asarray(v) for k, v in self._keras_step(inputs).items()}
            return out["logits"], [out[f"new_{n}"] for n in self.names], out["attention"]
        if self.engine == "savedmodel":
            out = self.signatures["decode_step"](
                previous_token=tf.constant(tokens),
                state=tf.constant(np.concatenate(state["states"], axis=-1)),
                encoder_outputs=tf.constant(state["encoder_outputs"]),
                source_mask=tf.constant(state["source_mask"]),
            )
            new_states = np.split(out["state"].numpy(), len(self.names), axis=-1)
            return out["logits"].numpy(), new_states, out["attention"].numpy()
        rows = []
        for row in range(len(tokens)):  # the .tflite has a batch of 1
            rows.append(
                self.step_model(
                    previous_token=tokens[row : row + 1],
                    encoder_outputs=state["encoder_outputs"][row : row + 1],
                    source_mask=state["source_mask"][row : row + 1],
                    **{
                        n: s[row : row + 1]
                        for n, s in zip(self.names, state["states"], strict=True)
                    },
                )
            )
        logits = np.concatenate([r["logits"] for r in rows])
        new_states = [np.concatenate([r[f"new_{n}"] for r in rows]) for n in self.names]
        return logits, new_states, np.concatenate([r["attention"] for r in rows])

    # -- whole answers -----------------------------------------------------------------------

    def translate(
        self,
        texts: list[str],
        beam_width: int = 1,
        length_penalty: float = 0.6,
        batch_size: int = 256,
    ) -> list[Translation]:
        """Greedy (`beam_width` 1) or beam-search translations of `texts`."""
        results: list[Translation] = []
        for start in range(0, len(texts), batch_size):
            chunk = list(texts[start : start + batch_size])
            if self.engine == "savedmodel" and beam_width == 1:
                results += self._savedmodel_greedy(chunk)
                continue
            state = self.encode(chunk)
            if beam_width == 1:
                hypotheses = greedy_decode(
                    self.step,
                    state,
                    np.full(len(chunk), START_ID),
                    END_ID,
                    self.config.max_target_length,
                    banned_tokens=BANNED_IDS,
                )
            else:
                hypotheses = [
                    beam_search(
                        self.step,
                        {k: _row(v, row) for k, v in state.items()},
                        START_ID,
                        END_ID,
                        self.config.max_target_length,
                        beam_width=beam_width,
                        length_penalty=length_penalty,
                        banned_tokens=BANNED_IDS,
                    )[0]
                    for row in range(len(chunk))
                ]
            results += [self._answer(t, h) for t, h in zip(chunk, hypotheses, strict=True)]
        return results

    def _answer(self, text: str, hypothesis: Hypothesis) -> Translation:
        units = self.tokenizers.source.units(text)[: self.config.max_source_length]
        attention = hypothesis.attention
        if attention is not None:
            attention = attention[:, : len(units)]
        return Translation(
            self.tokenizers.target.decode(hypothesis.tokens),
            hypothesis.tokens,
            units,
            attention,
            hypothesis.log_prob,
        )

    def _savedmodel_greedy(self, texts: list[str]) -> list[Translation]:
        out = self.signatures["translate"](text=tf.constant(texts))
        answers = []
        for row, text in enumerate(texts):
            ids = out["token_ids"][row].numpy().tolist()
            length = next((i for i, t in enumerate(ids) if t in (END_ID, PAD_ID)), len(ids))
            units = self.tokenizers.source.units(text)[: self.config.max_source_length]
            answers.append(
                Translation(
                    out["translation"][row].numpy().decode("utf-8"),
                    ids[:length],
                    units,
                    out["attention"][row].numpy()[:length, : len(units)],
                )
            )
        return answers

    # -- parity ------------------------------------------------------------------------------

    def outputs(self, inputs: list) -> np.ndarray:
        """Teacher-forced next-token probabilities [n, max_target_length + 1, vocabulary].

        `inputs` are (source, reference) pairs; positions after the reference's end are 0.
        Keras and the SavedModel run the full-sequence model, LiteRT steps the decoder.
        """
        sources = [source for source, _ in inputs]
        decoder_inputs, decoder_outputs = self.tokenizers.teacher_forcing(
            [target for _, target in inputs]
        )
        if self.engine == "keras":
            logits = np.asarray(
                self.model(
                    {
                        "source_ids": self.tokenizers.source.encode(sources),
                        "decoder_input_ids": decoder_inputs,
                    },
                    training=False,
                )
            )
        elif self.engine == "savedmodel":
            logits = self.signatures["teacher_forced"](
                text=tf.constant(sources), decoder_input_ids=tf.constant(decoder_inputs)
            )["logits"].numpy()
        else:
            state = self.encode(sources)
            steps = []
            for position in range(decoder_inputs.shape[1]):
                step_logits, new_states, _ = self._step_logits(decoder_inputs[:, position], state)
                state = state | {"states": new_states}
                steps.append(step_logits)
            logits = np.stack(steps, axis=1)
        probabilities = np.exp(_log_softmax(logits))
        real = np.cumsum(decoder_outputs == END_ID, axis=1) - (decoder_outputs == END_ID) == 0
        return (probabilities * real[..., None]).astype(np.float32)


def _row(value, row: int):
    if isinstance(value, list):
        return [v[row : row + 1] for v in value]
    return value[row : row + 1]
