"""Next-token samplers on the host (NumPy): greedy, temperature, top-k and top-p.

The host loop that drives a LiteRT step model draws with these; ``shared.sampling`` holds their
graph twin (TensorFlow ops, stateless random) for a SavedModel ``generate`` signature inside a
``tf.while_loop``. Both apply the same filters, so they agree on which tokens may be drawn.
This module imports only NumPy, so it runs where TensorFlow is not installed.

Why not keras-hub samplers: they would fit a recurrent loop (the state can ride in their
``cache``), but they drive a whole fixed-length prompt buffer with a stateful seed generator and
do nothing for the numpy host loop, so a 100-line module beats adding keras-hub for this alone.

How the filters compose (``filter_mask`` and ``shared.sampling.tf_sample_next``): logits are
divided by the temperature; ``top_k > 0`` keeps the ``top_k`` largest (0 keeps all); then
``top_p < 1`` keeps the smallest set of the most likely remaining tokens whose probability
reaches ``top_p``. Tokens tied with the last one kept are kept too, so the cut never depends on
the sort's tie order. A strategy name is just a choice of these numbers (``resolve_strategy``).

Example:

    rng = np.random.default_rng(7)
    token = sample_next(logits, strategy="top_p", temperature=0.8, top_p=0.9, rng=rng)
"""

from __future__ import annotations

import numpy as np

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
