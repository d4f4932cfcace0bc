"""An attentive RNN decoder exported as an encoder and a one-step decoder: its graphs, and
the Keras and SavedModel engines.

Every app that writes tokens one at a time with attention (a translator, a captioner) exports
the same pair of graphs and drives them the same way; this module is the TensorFlow side of
that common part. The host loop (greedy and beam decoding, the LiteRT engine, the reserved
token ids) is ``shared.runtime.step_decoder``, which needs no TensorFlow.

- ``decoder_step_inputs`` and ``decoder_step_outputs`` build one step of the trained decoder
  inside a Keras graph; ``decode_step_signature``, ``pack_states`` and
  ``packed_step_outputs`` give it the SavedModel's packed-state signature.
- ``graph_greedy_decode`` is the greedy loop inside a SavedModel (``tf.while_loop``).
- ``StepDecoderPredictor`` runs the encoder once and loops the step model on the host
  (``shared.runtime.step_decoder.StepDecoder``) over Keras or the SavedModel.

The graphs' contract, which the apps' ``build_inference_models`` and serving modules follow:

- encoder: one input -> the step model's per-input *context* arrays (encoder outputs,
  image regions ...) and one initial array per recurrent state (``state_names(cell)``).
  SavedModel signature ``encode``: the context arrays and the states packed as ``state``.
- decoder step: ``previous_token``, the states and the context arrays -> ``logits``,
  ``new_<state>`` and ``attention``. SavedModel signature ``decode_step``: ``previous_token``,
  the packed ``state`` and the context arrays -> ``logits``, ``state`` and ``attention``.

Example:

    predictor = StepDecoderPredictor(model_dir, "keras", names, build, "image",
                                     context_names=("regions",))
    state = predictor.encode_inputs(images)
    hypotheses = predictor.decode(state, max_length=24, beam_width=3)
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from shared.engines import load_keras_model, load_saved_model
from shared.preprocessing.text_units import PAD_ID
from shared.runtime.base import Predictor
from shared.runtime.step_decoder import BANNED_IDS, END_ID, START_ID, STATES, StepDecoder


def decoder_step_inputs(
    batch_size: int | None, units: int, state_names: Sequence[str]
) -> tuple[keras.KerasTensor, list[keras.KerasTensor]]:
    """The step model's ``previous_token`` [batch] and state [batch, units] inputs."""
    previous_token = keras.Input(batch_shape=(batch_size,), dtype="int32", name="previous_token")
    states = [keras.Input(batch_shape=(batch_size, units), name=name) for name in state_names]
    return previous_token, states


def decode_step_signature(
    state_names: Sequence[str], units: int, *context: tf.TensorSpec
) -> list[tf.TensorSpec]:
    """The SavedModel ``decode_step`` inputs: previous token, packed state, the `context`."""
    packed = len(state_names) * units
    return [
        tf.TensorSpec([None], tf.int32, name="previous_token"),
        tf.TensorSpec([None, packed], tf.float32, name="state"),
        *context,
    ]


def pack_states(tensors: dict, state_names: Sequence[str], prefix: str = "") -> tf.Tensor:
    """The states ``<prefix><name>`` of `tensors` concatenated into one [batch, n * units].

    One packed tensor keeps a SavedModel signature the same for GRU (one state) and LSTM (two).
    """
    return tf.concat([tensors[f"{prefix}{name}"] for name in state_names], axis=-1)


def packed_step_outputs(step_outputs: dict, state_names: Sequence[str]) -> dict:
    """A step model's outputs for the SavedModel ``decode_step``: the new states packed."""
    return {
        "logits": step_outputs["logits"],
        "attention": step_outputs["attention"],
        "state": pack_states(step_outputs, state_names, prefix="new_"),
    }


def decoder_step_outputs(
    model: keras.Model,
    embedded,
    states: list,
    state_names: Sequence[str],
    values,
    values_mask=None,
) -> dict:
    """One step of a trained attentive decoder, inside a Keras graph.

    The trained `model` names its layers ``decoder`` (an RNN), ``attention``,
    ``context_and_query``, ``combine`` and ``logits``; the step reuses them, so it shares
    their weights.

    Args:
        model: the trained training model.
        embedded: the previous token's embedding, [batch, embedding].
        states: the recurrent state inputs, one per name of `state_names`.
        state_names: the names of the states (``new_<name>`` are the outputs).
        values: what the decoder attends over, [batch, positions, features].
        values_mask: [batch, positions], 1 where a position is real; None when all are.

    Returns the step outputs: ``logits`` [batch, vocabulary], ``attention``
    [batch, positions] and ``new_<name>`` for every state.
    """
    cell = model.get_layer("decoder").cell
    output, new_states = cell(embedded, states if len(states) > 1 else states[0])
    new_states = list(new_states) if isinstance(new_states, list | tuple) else [new_states]
    query = ops.expand_dims(output, 1)  # [batch, 1, decoder_units]
    mask = {} if values_mask is None else {"values_mask": values_mask}
    context, weights = model.get_layer("attention")(query, values, return_weights=True, **mask)
    combined = model.get_layer("context_and_query")([context, query])
    logits = model.get_layer("logits")(model.get_layer("combine")(combined))
    step_outputs = {"logits": ops.squeeze(logits, 1), "attention": ops.squeeze(weights, 1)}
    for name, state in zip(state_names, new_states, strict=True):
        step_outputs[f"new_{name}"] = state
    return step_outputs


def banned_logits(vocabulary_size: int) -> tf.Tensor:
    """[vocabulary] 0, and -1e9 at the banned tokens: added to logits so they are never chosen."""
    ban = np.zeros(vocabulary_size, dtype=np.float32)
    ban[list(BANNED_IDS)] = -1e9
    return tf.constant(ban)


def graph_greedy_decode(
    step: Callable[[tf.Tensor, tuple], dict],
    initial_states: tuple,
    state_names: Sequence[str],
    batch,
    steps: int,
    ban: tf.Tensor,
    end_at_last_step: bool,
) -> tuple[tf.Tensor, tf.Tensor]:
    """The greedy loop inside a graph (``tf.while_loop``), for a SavedModel signature.

    Args:
        step: (previous tokens [batch], states) -> the step model's outputs (``logits``,
            ``attention``, ``new_<state>``), with the context already bound.
        initial_states: the recurrent states, in `state_names` order.
        state_names: the states' names (the step returns ``new_<name>``).
        batch: the number of rows (a scalar tensor).
        steps: at most this many steps.
        ban: ``banned_logits`` of the vocabulary.
        end_at_last_step: write the end token at the last step whatever the logits say, as
            ``shared.decoding.greedy_decode`` does (then `steps` leaves room for it).

    Returns the token ids [batch, steps taken] (padding after a row's end token) and the
    attention weights [batch, steps taken, positions].
    """
    tokens = tf.fill([batch], tf.constant(START_ID, tf.int32))
    finished = tf.zeros([batch], tf.bool)
    states = tuple(initial_states)
    written = tf.TensorArray(tf.int32, size=steps)
    attention = tf.TensorArray(tf.float32, size=steps)

    def keep_going(index, tokens, finished, states, written, attention):
        return tf.logical_and(index < steps, tf.logical_not(tf.reduce_all(finished)))

    def body(index, tokens, finished, states, written, attention):
        out = step(tokens, states)
        chosen = tf.argmax(out["logits"] + ban, axis=-1, output_type=tf.int32)
        if end_at_last_step:
            chosen = tf.where(index == steps - 1, END_ID, chosen)
        # Rows that already ended write padding (which the detokenizer writes as nothing).
        chosen = tf.where(finished, PAD_ID, chosen)
        finished = tf.logical_or(finished, tf.equal(chosen, END_ID))
        new_states = tuple(out[f"new_{name}"] for name in state_names)
        return (
            index + 1,
            tf.where(finished, END_ID, chosen),
            finished,
            new_states,
            written.write(index, chosen),
            attention.write(index, out["attention"]),
        )

    _, _, _, _, written, attention = tf.while_loop(
        keep_going,
        body,
        (tf.constant(0), tokens, finished, states, written, attention),
        maximum_iterations=steps,
    )
    token_ids = tf.transpose(written.stack(), [1, 0])  # [batch, steps taken]
    weights = tf.transpose(attention.stack(), [1, 0, 2])  # [batch, steps, positions]
    return token_ids, weights


class StepDecoderPredictor(StepDecoder, Predictor):
    """An exported encoder and decoder step behind Keras or the SavedModel, decoded on the host.

    ``keras`` runs the encoder once and loops the decoder step on the host; ``savedmodel``
    does the same over its ``encode`` / ``decode_step`` signatures. (The LiteRT engine is
    ``shared.runtime.step_decoder.LiteRTStepDecoder``, without TensorFlow.)

    Args:
        model_dir: holds ``model.keras`` and ``saved_model/``.
        engine: ``keras`` or ``savedmodel``.
        state_names: the recurrent states' names (``shared.layers.state_names(cell)``).
        build_inference_models: trained model -> (encoder, decoder step), for ``keras``.
        encoder_input: the encoder's input name (of the ``encode`` signature).
        context_names: the encoder outputs the step model takes as inputs.
    """

    def __init__(
        self,
        model_dir: pathlib.Path,
        engine: str,
        state_names: Sequence[str],
        build_inference_models: Callable[[keras.Model], tuple[keras.Model, keras.Model]],
        encoder_input: str,
        context_names: Sequence[str],
    ):
        model_dir = pathlib.Path(model_dir)
        self.engine = engine
        self.names = list(state_names)
        self.encoder_input = encoder_input
        self.context_names = tuple(context_names)
        if engine == "keras":
            self._use_keras_model(load_keras_model(model_dir), build_inference_models)
        elif engine == "savedmodel":
            self.loaded = load_saved_model(model_dir)
            self.signatures = self.loaded.signatures
        else:
            raise ValueError(f"engine must be keras or savedmodel, got {engine!r}")

    @classmethod
    def over_model(
        cls,
        model: keras.Model,
        state_names: Sequence[str],
        build_inference_models: Callable[[keras.Model], tuple[keras.Model, keras.Model]],
        encoder_input: str,
        context_names: Sequence[str],
    ):
        """The ``keras`` engine over `model` in memory (the one being trained), not a folder's
        ``model.keras``; the arguments as for the constructor. Its encoder and step model share
        `model`'s layers, so it follows the weights as they train. A subclass sets its own
        attributes (config, tokenizer) on what this returns."""
        predictor = cls.__new__(cls)
        predictor.engine = "keras"
        predictor.names = list(state_names)
        predictor.encoder_input = encoder_input
        predictor.context_names = tuple(context_names)
        predictor._use_keras_model(model, build_inference_models)
        return predictor

    def _use_keras_model(
        self,
        model: keras.Model,
        build_inference_models: Callable[[keras.Model], tuple[keras.Model, keras.Model]],
    ) -> None:
        self.model = model
        encoder, step = build_inference_models(model)
        self._keras_encoder = tf.function(encoder, reduce_retracing=True)
        self._keras_step = tf.function(step, reduce_retracing=True)
        # A step model built from a list of inputs is called with a list, in its order.
        self._keras_step_input_names = (
            None if isinstance(step.input, dict) else [tensor.name for tensor in step.inputs]
        )

    def encode_inputs(self, inputs: np.ndarray, signature_inputs: dict | None = None) -> dict:
        """The initial decoder state of every row of `inputs`: its context and its states.

        Args:
            inputs: the encoder's input, rows first.
            signature_inputs: keyword inputs of the SavedModel's ``encode`` signature, when
                they are not ``{encoder_input: inputs}`` (raw text, say).
        """
        if self.engine == "keras":
            out = {k: np.asarray(v) for k, v in self._keras_encoder(inputs).items()}
            states = [out[name] for name in self.names]
        else:
            if signature_inputs is None:
                signature_inputs = {self.encoder_input: inputs}
            out = {k: v.numpy() for k, v in self.signatures["encode"](**signature_inputs).items()}
            states = np.split(out["state"], len(self.names), axis=-1)
        return {name: out[name] for name in self.context_names} | {STATES: states}

    def step_logits(self, tokens: np.ndarray, state: dict) -> tuple[np.ndarray, list, np.ndarray]:
        """One decoder step for every row: (logits, new recurrent states, attention)."""
        tokens = np.asarray(tokens, dtype=np.int32)
        context = {name: value for name, value in state.items() if name != STATES}
        if self.engine == "keras":
            named = (
                {"previous_token": tokens}
                | context
                | dict(zip(self.names, state[STATES], strict=True))
            )
            inputs = named
            if self._keras_step_input_names is not None:
                inputs = [named[name] for name in self._keras_step_input_names]
            out = {k: np.asarray(v) for k, v in self._keras_step(inputs).items()}
            return out["logits"], [out[f"new_{n}"] for n in self.names], out["attention"]
        out = self.signatures["decode_step"](
            previous_token=tf.constant(tokens),
            state=tf.constant(np.concatenate(state[STATES], axis=-1)),
            **{name: tf.constant(value) for name, value in context.items()},
        )
        new_states = np.split(out["state"].numpy(), len(self.names), axis=-1)
        return out["logits"].numpy(), new_states, out["attention"].numpy()
