"""Host-side decoding loops over a step function: greedy and beam search.

Any autoregressive decoder (a translation decoder, a captioner) that runs as a step model on
device is driven the same way: the caller wraps one decoder step as

    step(tokens, state) -> (log_probs, new_state, attention)

where ``tokens`` is an int array [rows], ``state`` is an array or a list/tuple/dict of arrays
whose first dimension is rows, ``log_probs`` is [rows, vocabulary] (log-softmax of the logits)
and ``attention`` is [rows, source_positions] (or None when the decoder has no attention). The
rows are independent sentences for ``greedy_decode`` and the live hypotheses of one sentence
for ``beam_search``; a wrapper around a batch-1 LiteRT model simply loops over its rows.

Beam scores are the summed log-probabilities, ranked after dividing by the GNMT length penalty
``((5 + length) / 6) ** alpha`` (Wu et al., 2016): alpha 0 ranks by the raw sum, which favours
short outputs; larger alpha favours longer ones.

Example:

    hypotheses = beam_search(step, state, start_token=2, end_token=3, max_length=30,
                             beam_width=4, length_penalty=0.6)
    best = hypotheses[0].tokens
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

State = Any  # an array, or a list / tuple / dict of arrays, rows first
StepFunction = Callable[[np.ndarray, State], tuple[np.ndarray, State, np.ndarray | None]]


@dataclasses.dataclass
class Hypothesis:
    """One decoded output.

    Attributes:
        tokens: the output tokens, without the start and end tokens.
        log_prob: summed log-probability of the tokens (and of the end token when finished).
        attention: [len(tokens), source_positions] weights of each output token, or None.
        finished: True when the decoder chose the end token (False when cut at max_length).
        score: the ranking score (``log_prob`` over the length penalty).
    """

    tokens: list[int]
    log_prob: float
    attention: np.ndarray | None
    finished: bool
    score: float = 0.0


def map_state(function: Callable[[np.ndarray], np.ndarray], state: State) -> State:
    """Apply `function` to every array of a state (an array, list, tuple or dict)."""
    if isinstance(state, dict):
        return {key: map_state(function, value) for key, value in state.items()}
    if isinstance(state, list | tuple):
        return type(state)(map_state(function, value) for value in state)
    return function(np.asarray(state))


def length_penalty_factor(length: int, alpha: float) -> float:
    """GNMT length penalty: ((5 + length) / 6) ** alpha."""
    return ((5.0 + length) / 6.0) ** alpha


def _ban(log_probs: np.ndarray, banned_tokens: Sequence[int]) -> np.ndarray:
    log_probs = np.array(log_probs, dtype=np.float64)
    if banned_tokens:
        log_probs[:, list(banned_tokens)] = -np.inf
    return log_probs


def greedy_decode(
    step: StepFunction,
    state: State,
    start_tokens: Sequence[int] | np.ndarray,
    end_token: int,
    max_length: int,
    banned_tokens: Sequence[int] = (),
) -> list[Hypothesis]:
    """The most likely next token at every step, for a batch of independent rows.

    Args:
        step: the decoder step (see the module docstring).
        state: the initial decoder state, one row per output.
        start_tokens: [rows] first input tokens.
        end_token: the token that ends an output (not included in it).
        max_length: at most this many tokens per output (the end token not counted).
        banned_tokens: tokens never chosen (padding, the start token ...).

    Returns one Hypothesis per row.
    """
    if max_length < 1:
        raise ValueError(f"max_length must be >= 1, got {max_length}")
    tokens = np.asarray(start_tokens, dtype=np.int32).reshape(-1)
    rows = len(tokens)
    outputs: list[list[int]] = [[] for _ in range(rows)]
    attention: list[list[np.ndarray]] = [[] for _ in range(rows)]
    log_prob = np.zeros(rows)
    finished = np.zeros(rows, dtype=bool)
    cut = np.zeros(rows, dtype=bool)  # reached max_length without choosing the end token
    for _ in range(max_length + 1):  # the last step may only end an output
        log_probs, state, weights = step(tokens, state)
        log_probs = _ban(log_probs, banned_tokens)
        chosen = np.argmax(log_probs, axis=-1).astype(np.int32)
        for row in np.flatnonzero(~(finished | cut)):
            if chosen[row] == end_token:
                finished[row] = True
                log_prob[row] += log_probs[row, chosen[row]]
            elif len(outputs[row]) == max_length:
                cut[row] = True
            else:
                log_prob[row] += log_probs[row, chosen[row]]
                outputs[row].append(int(chosen[row]))
                if weights is not None:
                    attention[row].append(np.asarray(weights[row]))
        if (finished | cut).all():
            break
        tokens = np.where(finished | cut, end_token, chosen).astype(np.int32)
    return [
        Hypothesis(
            tokens=outputs[row],
            log_prob=float(log_prob[row]),
            attention=np.stack(attention[row]) if attention[row] else None,
            finished=bool(finished[row]),
            score=float(log_prob[row]),
        )
        for row in range(rows)
    ]


def _settled(
    finished: list[Hypothesis],
    live: list[tuple[list[int], float, list[np.ndarray]]],
    beam_width: int,
    max_length: int,
    length_penalty: float,
) -> bool:
    """True when no live beam can end above the `beam_width`-th finished hypothesis."""
    if len(finished) < beam_width:
        return False
    kept = sorted((h.score for h in finished), reverse=True)[beam_width - 1]
    # Scores are negative: the largest penalty (the longest output) is the most favourable.
    best_possible = max(log_prob for _, log_prob, _ in live) / length_penalty_factor(
        max_length + 1, length_penalty
    )
    return kept >= best_possible


def beam_search(
    step: StepFunction,
    state: State,
    start_token: int,
    end_token: int,
    max_length: int,
    beam_width: int = 4,
    length_penalty: float = 0.6,
    banned_tokens: Sequence[int] = (),
) -> list[Hypothesis]:
    """Beam search for one input; returns up to `beam_width` hypotheses, best first.

    Args:
        step: the decoder step (see the module docstring); called with up to `beam_width` rows.
        state: the initial decoder state of the one input, with a first dimension of 1.
        start_token, end_token, max_length, banned_tokens: as in ``greedy_decode``.
        beam_width: live hypotheses kept at every step (1 is greedy).
        length_penalty: the GNMT alpha (0 = rank by summed log-probability).

    Stops once `beam_width` hypotheses have ended and no live one can still outrank them (its
    log-probability can only fall, and its length penalty grow at most to that of
    `max_length`), or after `max_length` tokens (unfinished hypotheses then compete as they
    are). So the result is the same as running every beam to the end.
    """
    if beam_width < 1:
        raise ValueError(f"beam_width must be >= 1, got {beam_width}")
    if max_length < 1:
        raise ValueError(f"max_length must be >= 1, got {max_length}")
    if length_penalty < 0:
        raise ValueError(f"length_penalty must be >= 0, got {length_penalty}")

    def ranked(hypothesis: Hypothesis) -> Hypothesis:
        hypothesis.score = hypothesis.log_prob / length_penalty_factor(
            len(hypothesis.tokens) + int(hypothesis.finished), length_penalty
        )
        return hypothesis

    # Live beams: tokens, summed log-probability, attention rows; their states are rows of `state`.
    live: list[tuple[list[int], float, list[np.ndarray]]] = [([], 0.0, [])]
    tokens = np.asarray([start_token], dtype=np.int32)
    finished: list[Hypothesis] = []

    def stacked(rows_attention: list[np.ndarray]) -> np.ndarray | None:
        return np.stack(rows_attention) if rows_attention else None

    for length in range(max_length + 1):
        log_probs, state, weights = step(tokens, state)
        log_probs = _ban(log_probs, banned_tokens)
        if length == max_length:
            # No room for another token: a beam ends here if the end token is its best choice,
            # and is cut otherwise (as in greedy_decode).
            for row, (out, log_prob, rows_attention) in enumerate(live):
                ends = int(np.argmax(log_probs[row])) == end_token
                total = log_prob + (log_probs[row, end_token] if ends else 0.0)
                finished.append(
                    ranked(Hypothesis(out, float(total), stacked(rows_attention), ends))
                )
            break
        candidates = []  # (log_prob, parent row, token)
        for row, (_, log_prob, _) in enumerate(live):
            # 2 * width candidates per beam: enough even if `width` of them end here.
            best = np.argsort(-log_probs[row], kind="stable")[: 2 * beam_width]
            candidates += [(log_prob + log_probs[row, t], row, int(t)) for t in best]
        candidates.sort(key=lambda candidate: -candidate[0])
        next_live, parents = [], []
        for log_prob, row, token in candidates:
            if not np.isfinite(log_prob) or len(next_live) == beam_width:
                break
            out, _, rows_attention = live[row]
            if token == end_token:
                finished.append(
                    ranked(Hypothesis(list(out), float(log_prob), stacked(rows_attention), True))
                )
                continue
            weight_row = [] if weights is None else [np.asarray(weights[row])]
            next_live.append((out + [token], float(log_prob), rows_attention + weight_row))
            parents.append(row)
        if not next_live or _settled(finished, next_live, beam_width, max_length, length_penalty):
            break
        live = next_live
        parent_rows = np.asarray(parents)
        state = map_state(lambda array: array[parent_rows], state)  # noqa: B023
        tokens = np.asarray([out[-1] for out, _, _ in live], dtype=np.int32)
    finished.sort(key=lambda hypothesis: -hypothesis.score)
    return finished[:beam_width]
