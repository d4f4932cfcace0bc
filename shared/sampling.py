"""Next-token samplers: greedy, temperature, top-k and top-p, on the host and in the graph.

The host version (numpy) serves the loop that drives a LiteRT step model; the graph version
(TensorFlow ops, stateless random) serves a SavedModel ``generate`` signature inside a
``tf.while_loop``. Both apply the same filters, so they agree on which tokens may be drawn.

Why not keras-hub samplers: they would fit a recurrent loop (the state can ride in their
``cache``), but they drive a whole fixed-length prompt buffer with a stateful seed generator and
do nothing for the numpy host loop, so a 100-line module beats adding keras-hub for this alone.

How the filters compose (``filter_mask`` and ``tf_sample_next``): logits are divided by the
temperature; ``top_k > 0`` keeps the ``top_k`` largest (0 keeps all); then ``top_p < 1`` keeps
the smallest set of the most likely remaining tokens whose probability reaches ``top_p``. Tokens
tied with the last one kept are kept too, so the cut never depends on the sort's tie order.
A strategy name is just a choice of these numbers (``resolve_strategy``).

Example:

    rng = np.random.default_rng(7)
    token = sample_next(logits, strategy="top_p", temperature=0.8, top_p=0.9, rng=rng)
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

STRATEGIES = ("greedy", "temperature", "top_k", "top_p")


def resolve_strategy(
    strategy: str, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0
) -> tuple[float, int, float]:
    """Checks the arguments and returns the ``(temperature, top_k, top_p)`` the strategy means.

    ``greedy`` becomes ``top_k=1``; ``temperature`` drops both cuts; ``top_k`` drops the top-p
    cut; ``top_p`` keeps both (a ``top_k > 0`` then pre-cuts, as in keras-hub's TopPSampler).
    The result is what ``tf_sample_next`` takes, so a host and a graph run can be matched.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    if isinstance(top_k, bool) or not isinstance(top_k, int | np.integer) or top_k < 0:
        raise ValueError(f"top_k must be an integer >= 0, got {top_k!r}")
    if not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {top_p!r}")
    if strategy == "greedy":
        return 1.0, 1, 1.0
    if not temperature > 0.0 or not np.isfinite(temperature):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    if strategy == "temperature":
        return float(temperature), 0, 1.0
    if strategy == "top_k":
        return float(temperature), int(top_k), 1.0
    return float(temperature), int(top_k), float(top_p)


def _as_vector(logits: np.ndarray) -> np.ndarray:
    vector = np.asarray(logits, dtype=np.float64)
    # A LiteRT step model returns [1, vocab]; accept it as [vocab].
    while vector.ndim > 1 and vector.shape[0] == 1:
        vector = vector[0]
    if vector.ndim != 1 or vector.size == 0:
        raise ValueError(f"logits must have shape [vocab] or [1, vocab], got {np.shape(logits)}")
    if np.isnan(vector).any() or np.isposinf(vector).any() or not np.isfinite(vector).any():
        raise ValueError("logits must not be NaN or +inf and need at least one finite value")
    return vector


def filter_mask(logits: np.ndarray, temperature: float, top_k: int, top_p: float) -> np.ndarray:
    """Returns a boolean mask [vocab] of the tokens that may be sampled (see module docstring)."""
    scaled = _as_vector(logits) / temperature
    descending = np.sort(scaled)[::-1]
    keep_count = descending.size if top_k <= 0 else min(top_k, descending.size)
    if top_p < 1.0:
        kept = descending[:keep_count]
        probabilities = np.exp(kept - kept[0])
        probabilities /= probabilities.sum()
        # Mass of the tokens strictly more likely than each one: keep while it is below top_p.
        mass_before = np.cumsum(probabilities) - probabilities
        keep_count = min(keep_count, max(1, int(np.sum(mass_before < top_p))))
    return scaled >= descending[keep_count - 1]


def token_probabilities(
    logits: np.ndarray, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0
) -> np.ndarray:
    """Returns the distribution [vocab] that sampling draws from: filtered and renormalised."""
    scaled = _as_vector(logits) / temperature
    mask = filter_mask(logits, temperature, top_k, top_p)
    weights = np.where(mask, np.exp(scaled - scaled[mask].max()), 0.0)
    return weights / weights.sum()


def sample_next(
    logits: np.ndarray,
    strategy: str = "top_p",
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    rng: np.random.Generator | None = None,
) -> int:
    """Draws the next token id from ``logits`` [vocab] (or [1, vocab]).

    ``greedy`` is the argmax (first on ties) and ignores the other arguments and ``rng``. Pass
    ``rng=np.random.default_rng(seed)`` for a reproducible sequence; None draws a fresh seed.
    """
    temperature, top_k, top_p = resolve_strategy(strategy, temperature, top_k, top_p)
    if strategy == "greedy":
        return int(np.argmax(_as_vector(logits)))
    rng = np.random.default_rng() if rng is None else rng
    probabilities = token_probabilities(logits, temperature, top_k, top_p)
    return int(rng.choice(probabilities.size, p=probabilities))


def tf_filter_mask(
    logits: tf.Tensor, temperature: tf.Tensor, top_k: tf.Tensor, top_p: tf.Tensor
) -> tf.Tensor:
    """Graph twin of ``filter_mask``: logits [batch, vocab] -> bool [batch, vocab].

    ``temperature``, ``top_k`` and ``top_p`` are scalars (Python numbers or tensors).
    """
    logits = tf.convert_to_tensor(logits, tf.float32)
    temperature = tf.convert_to_tensor(temperature, tf.float32)
    top_k = tf.cast(top_k, tf.int32)
    top_p = tf.convert_to_tensor(top_p, tf.float32)
    vocab_size = tf.shape(logits)[-1]
    scaled = logits / temperature  # [batch, vocab]
    descending = tf.sort(scaled, axis=-1, direction="DESCENDING")
    keep_count = tf.where(top_k > 0, tf.minimum(top_k, vocab_size), vocab_size)
    # Top-p over the top_k survivors; positions past keep_count get zero probability.
    positions = tf.range(vocab_size)[tf.newaxis, :]
    kept = tf.where(positions < keep_count, descending, -np.inf)
    probabilities = tf.nn.softmax(kept, axis=-1)
    mass_before = tf.cumsum(probabilities, axis=-1, exclusive=True)
    nucleus_count = tf.reduce_sum(tf.cast(mass_before < top_p, tf.int32), axis=-1)  # [batch]
    keep_count = tf.where(top_p < 1.0, tf.minimum(keep_count, nucleus_count), keep_count)
    keep_count = tf.maximum(keep_count, 1)
    threshold = tf.gather(descending, keep_count - 1, axis=-1, batch_dims=1)  # [batch]
    return scaled >= threshold[:, tf.newaxis]


def tf_sample_next(
    logits: tf.Tensor,
    temperature: tf.Tensor,
    top_k: tf.Tensor,
    top_p: tf.Tensor,
    seed: tf.Tensor,
) -> tf.Tensor:
    """Draws one token per row of ``logits`` [batch, vocab] in the graph; returns int32 [batch].

    Args:
        logits: float [batch, vocab].
        temperature: scalar; a value <= 0 means greedy (argmax), because a serving signature
            cannot raise a ValueError on its inputs the way ``resolve_strategy`` does.
        top_k: int scalar, 0 keeps all tokens, 1 is greedy.
        top_p: float scalar in (0, 1], 1 keeps all tokens. Not checked (an assert op would
            block loop optimisation); outside the range it acts as top-1 (<= 0) or keeps all.
        seed: int [2] for the stateless random ops. In a loop, give each step its own seed,
            e.g. ``tf.random.experimental.stateless_fold_in(seed, step)``.
    """
    logits = tf.convert_to_tensor(logits, tf.float32)
    temperature = tf.convert_to_tensor(temperature, tf.float32)
    greedy = tf.argmax(logits, axis=-1, output_type=tf.int32)
    # Keep the division finite on the greedy path; its draw is discarded below.
    safe_temperature = tf.where(temperature > 0.0, temperature, 1.0)
    mask = tf_filter_mask(logits, safe_temperature, top_k, top_p)
    masked = tf.where(mask, logits / safe_temperature, -np.inf)
    seed = tf.cast(seed, tf.int64)
    drawn = tf.random.stateless_categorical(masked, 1, seed=seed, dtype=tf.int32)[:, 0]
    return tf.where(temperature > 0.0, drawn, greedy)
