"""The host loop of an attentive step decoder: greedy and beam decoding, without TensorFlow.

Every app that writes tokens one at a time with attention (a translator, a captioner) exports
an encoder and a one-step decoder and drives them the same way; this module is the host side
of that, on NumPy alone. ``shared.step_decoder`` builds the graphs and runs them on Keras and
the SavedModel; here they run from their ``.tflite`` files.

- ``StepDecoder``: the loop over any engine's ``encode_inputs`` and ``step_logits``: one
  step, greedy or beam decoding (``shared.decoding``), teacher-forced stepping.
- ``LiteRTStepDecoder``: that loop over ``encoder_<variant>.tflite`` and
  ``decoder_step_<variant>.tflite`` (a batch of 1, so called once per row).
- The token ids the decoder reserves, teacher forcing and log-softmax helpers.

On the host a decoder state is a dict: ``"states"`` (the recurrent states, in the decoder's
``names`` order) and the context arrays (encoder outputs, image regions ...) keyed by the step
model's input names. The graphs' contract:

- encoder: one input -> the context arrays and one initial array per recurrent state.
- decoder step: ``previous_token``, the states and the context arrays -> ``logits``,
  ``new_<state>`` and ``attention``.

Example:

    decoder = LiteRTStepDecoder("encoder_fp32.tflite", "decoder_step_fp32.tflite",
                                encoder_input="image", context_names=("regions",))
    hypotheses = decoder.decode(decoder.encode_inputs(images), max_length=24, beam_width=3)
"""

from __future__ import annotations

import abc
import pathlib
from collections.abc import Sequence

import numpy as np

from shared.decoding import Hypothesis, State, beam_search, greedy_decode, map_state
from shared.preprocessing.text_units import PAD_ID, UnitTokenizer
from shared.runtime.litert import LiteRTModel

START, END = "<start>", "<end>"
RESERVED = (START, END)
START_ID, END_ID = 2, 3  # the reserved tokens follow pad (0) and unknown (1)
BANNED_IDS = (PAD_ID, START_ID)  # never written by the decoder

STATES = "states"  # the key of the recurrent states in a host decoder state
NEW = "new_"  # a step model's output ``new_<state>`` is its input ``<state>`` one step on


def teacher_forcing(tokenizer: UnitTokenizer, texts: Sequence[str]) -> tuple:
    """Decoder inputs (start + text) and targets (text + end), [n, max_length + 1]."""
    length = tokenizer.max_length + 1
    inputs = np.zeros((len(texts), length), dtype=np.int32)
    outputs = np.zeros((len(texts), length), dtype=np.int32)
    for row, text in enumerate(texts):
        ids = tokenizer.ids(text)[: tokenizer.max_length]
        inputs[row, : len(ids) + 1] = [START_ID, *ids]
        outputs[row, : len(ids) + 1] = [*ids, END_ID]
    return inputs, outputs


def written_length(token_ids: Sequence[int]) -> int:
    """How many tokens a graph-decoded row wrote before its end token (or padding)."""
    return next((i for i, t in enumerate(token_ids) if t in (END_ID, PAD_ID)), len(token_ids))


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log-probabilities over the last axis, in float64."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def teacher_forced_probabilities(logits: np.ndarray, decoder_outputs: np.ndarray) -> np.ndarray:
    """Next-token probabilities [n, time, vocabulary], 0 after each reference's end token."""
    probabilities = np.exp(log_softmax(logits))
    ended = decoder_outputs == END_ID
    real = np.cumsum(ended, axis=1) - ended == 0
    return (probabilities * real[..., None]).astype(np.float32)


def _row(state: State, row: int) -> State:
    """The decoder state of one input, as a batch of 1."""

    def take(array: np.ndarray) -> np.ndarray:
        return array[row : row + 1]

    return map_state(take, state)


class StepDecoder(abc.ABC):
    """An encoder and a decoder step behind one engine, decoded on the host.

    Subclasses run the two graphs (``encode_inputs``, ``step_logits``) and set ``names``,
    the recurrent states' names; this class loops them.
    """

    names: list[str]

    @abc.abstractmethod
    def encode_inputs(self, inputs: np.ndarray) -> dict:
        """The initial decoder state of every row of `inputs`: its context and its states."""

    @abc.abstractmethod
    def step_logits(self, tokens: np.ndarray, state: dict) -> tuple[np.ndarray, list, np.ndarray]:
        """One decoder step for every row: (logits, new recurrent states, attention)."""

    def step(self, tokens: np.ndarray, state: dict) -> tuple[np.ndarray, dict, np.ndarray]:
        """One decoder step for every row: (log-probabilities, new state, attention)."""
        logits, new_states, attention = self.step_logits(tokens, state)
        return log_softmax(logits), state | {STATES: new_states}, attention

    def decode(
        self, state: dict, max_length: int, beam_width: int = 1, length_penalty: float = 0.6
    ) -> list[Hypothesis]:
        """Greedy (`beam_width` 1) or beam-search output of every row of `state`, best only."""
        rows = len(state[STATES][0])
        if beam_width == 1:
            return greedy_decode(
                self.step,
                state,
                np.full(rows, START_ID),
                END_ID,
                max_length,
                banned_tokens=BANNED_IDS,
            )
        return [
            beam_search(
                self.step,
                _row(state, row),
                START_ID,
                END_ID,
                max_length,
                beam_width=beam_width,
                length_penalty=length_penalty,
                banned_tokens=BANNED_IDS,
            )[0]
            for row in range(rows)
        ]

    def stepped_logits_from(self, state: dict, decoder_inputs: np.ndarray) -> np.ndarray:
        """Logits [n, time, vocabulary] from the step model fed `decoder_inputs` one by one."""
        steps = []
        for position in range(decoder_inputs.shape[1]):
            step_logits, new_states, _ = self.step_logits(decoder_inputs[:, position], state)
            state = state | {STATES: new_states}
            steps.append(step_logits)
        return np.stack(steps, axis=1)


class LiteRTStepDecoder(StepDecoder):
    """The encoder and decoder step ``.tflite`` files, looped on the host.

    The files have a batch of 1, so each is called once per row. The recurrent states are
    the step model's inputs that come back as ``new_<name>`` outputs.

    Args:
        encoder: the encoder ``.tflite`` (path or bytes).
        step_model: the decoder step ``.tflite`` (path or bytes).
        encoder_input: the encoder's input name.
        context_names: the encoder outputs the step model takes as inputs.
    """

    def __init__(
        self,
        encoder: str | pathlib.Path | bytes,
        step_model: str | pathlib.Path | bytes,
        encoder_input: str,
        context_names: Sequence[str],
    ):
        self.encoder = LiteRTModel(encoder, num_threads=1)
        self.step_model = LiteRTModel(step_model, num_threads=1)
        self.encoder_input = encoder_input
        self.context_names = tuple(context_names)
        self.names = [
            name.removeprefix(NEW)
            for name in self.step_model.output_details
            if name.startswith(NEW)
        ]

    def encode_inputs(self, inputs: np.ndarray) -> dict:
        rows = [self.encoder(**{self.encoder_input: row[None]}) for row in inputs]
        out = {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}
        return {name: out[name] for name in self.context_names} | {
            STATES: [out[name] for name in self.names]
        }

    def step_logits(self, tokens: np.ndarray, state: dict) -> tuple[np.ndarray, list, np.ndarray]:
        tokens = np.asarray(tokens, dtype=np.int32)
        context = {name: value for name, value in state.items() if name != STATES}
        rows = []
        for row in range(len(tokens)):  # the .tflite has a batch of 1
            rows.append(
                self.step_model(
                    previous_token=tokens[row : row + 1],
                    **{name: value[row : row + 1] for name, value in context.items()},
                    **{n: s[row : row + 1] for n, s in zip(self.names, state[STATES], strict=True)},
                )
            )
        logits = np.concatenate([r["logits"] for r in rows])
        new_states = [np.concatenate([r[f"{NEW}{n}"] for r in rows]) for n in self.names]
        return logits, new_states, np.concatenate([r["attention"] for r in rows])
