"""Settings and small helpers every part of the bench shares."""

from __future__ import annotations

import math
import pathlib
import sys

PAGE = pathlib.Path("docs/bench.md")
"""The page whose block between `START` and `END` ``rnnapps bench`` rewrites."""


START = "<!-- bench:start -->"


END = "<!-- bench:end -->"


VARIANTS = ("fp32", "fp16", "int8")


ENGINES = ("keras", "savedmodel", *VARIANTS)


THREADS = (1, 2)


STEP_PREFIXES = ("step", "decoder_step")


SYNTHETIC_INPUTS = "synthetic (integers 0, floats N(0, 1))"


def log(message: str) -> None:
    print(f"[rnnapps] bench: {message}", file=sys.stderr, flush=True)


def settings(quick: bool) -> dict:
    """How hard to measure: ``quick`` is for the test, the default for docs/bench.md."""
    if quick:
        return {
            "quick": True,
            "runs": 20,
            "warmup": 3,
            "answer_runs": 5,
            "matmul_sizes": [256],
            "matmul_seconds": 0.2,
            "engine_memory": False,
            "train_steps": 5,
        }
    return {
        "quick": False,
        "runs": 200,  # the issue asks for at least 100 after warm-up
        "warmup": 20,
        "answer_runs": 50,
        # 256² fits in cache, 1024² is the classic peak test: the best of them is the limit.
        "matmul_sizes": [256, 512, 1024],
        "matmul_seconds": 1.0,
        "engine_memory": True,
        "train_steps": 30,
    }


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def number_text(value, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if is_number(value) else "–"


def headline_value(scores, key: str):
    """A baseline's `key`, at the top or in its ``test`` split."""
    if not isinstance(scores, dict):
        return None
    test = scores.get("test")
    return scores.get(key, test.get(key) if isinstance(test, dict) else None)
