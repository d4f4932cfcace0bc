"""The on-device runner: LiteRT models over ``ai_edge_litert.interpreter``."""

from __future__ import annotations

import contextlib
import os
import pathlib
import sys
import time

import numpy as np
from ai_edge_litert.interpreter import Interpreter


@contextlib.contextmanager
def _native_stderr_silenced():
    """File descriptor 2 points to /dev/null inside (Python exceptions still surface)."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class LiteRTModel:
    """One ``.tflite`` model, called through its ``serving_default`` signature.

    Args:
        model: path to a ``.tflite`` file, or its bytes.
        num_threads: interpreter threads (1 matches a small device core).

    Call arguments:
        **inputs: numpy arrays keyed by the signature's input names.

    Returns a dict of numpy arrays keyed by the signature's output names.

    Example:
        >>> runner = LiteRTModel("saved_models/sentiment/model_fp32.tflite")
        >>> runner(token_ids=ids)["label"]
    """

    def __init__(self, model: str | pathlib.Path | bytes, num_threads: int = 1):
        if isinstance(model, bytes):
            self.interpreter = Interpreter(model_content=model, num_threads=num_threads)
            self.size_bytes = len(model)
        else:
            self.interpreter = Interpreter(model_path=str(model), num_threads=num_threads)
            self.size_bytes = pathlib.Path(model).stat().st_size
        self.runner = self.interpreter.get_signature_runner()
        details = self.runner.get_input_details()
        self.input_details = details
        self.output_details = self.runner.get_output_details()
        # The first call applies the XNNPACK delegate, whose native code prints an INFO line
        # on stderr: make that call here, on zeros, with the line kept off the terminal.
        zeros = {
            name: np.zeros(detail["shape"], detail["dtype"]) for name, detail in details.items()
        }
        with _native_stderr_silenced():
            self.runner(**zeros)

    @property
    def input_names(self) -> list[str]:
        return list(self.input_details)

    def input_shape(self, name: str) -> tuple[int, ...]:
        return tuple(int(d) for d in self.input_details[name]["shape"])

    def input_dtype(self, name: str):
        return self.input_details[name]["dtype"]

    def __call__(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        cast = {
            name: np.asarray(value, dtype=self.input_details[name]["dtype"])
            for name, value in inputs.items()
        }
        return {name: np.array(value) for name, value in self.runner(**cast).items()}

    def latency_ms(self, inputs: dict[str, np.ndarray], runs: int = 200, warmup: int = 10) -> dict:
        """Median and 90th percentile wall time of one call, in milliseconds."""
        for _ in range(warmup):
            self(**inputs)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            self(**inputs)
            times.append((time.perf_counter() - start) * 1000.0)
        return {
            "latency_ms_p50": float(np.percentile(times, 50)),
            "latency_ms_p90": float(np.percentile(times, 90)),
        }
