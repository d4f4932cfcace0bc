"""LiteRT models: their inputs, latency on 1 and 2 threads, and peak memory (fresh processes)."""

from __future__ import annotations

import json
import os
import pathlib
import pickle
import subprocess
import sys
import tempfile

import numpy as np

from apps.bench.common import STEP_PREFIXES, SYNTHETIC_INPUTS, VARIANTS


def synthetic_inputs(runner, seed: int = 0) -> dict[str, np.ndarray]:
    """Inputs of the signature's shapes and dtypes: integers 0 (a valid id), floats N(0, 1)."""
    rng = np.random.default_rng(seed)
    inputs = {}
    for name in runner.input_names:
        shape, dtype = runner.input_shape(name), np.dtype(runner.input_dtype(name))
        if np.issubdtype(dtype, np.floating):
            inputs[name] = rng.standard_normal(shape).astype(dtype)
        else:
            inputs[name] = np.zeros(shape, dtype=dtype)
    return inputs


def model_inputs(app, path: pathlib.Path, predictor, splits) -> tuple[dict, str]:
    """The inputs to time `path` on, and where they came from."""
    from shared.runtime.litert import LiteRTModel

    runner = LiteRTModel(path, num_threads=1)
    if path.name.startswith("model_"):
        try:
            inputs = app.latency_inputs(predictor, splits)
        except NotImplementedError:
            # Apps that time a host loop override App.latency instead of latency_inputs.
            inputs = None
        if inputs is not None and set(inputs) == set(runner.input_names):
            return {k: np.asarray(v) for k, v in inputs.items()}, "app.latency_inputs"
    return synthetic_inputs(runner), SYNTHETIC_INPUTS


def is_step_model(path: pathlib.Path) -> bool:
    """True for a model called once per time step: named ``step*`` / ``decoder_step*``, or
    one that takes a recurrent state and returns the next (names containing "state")."""
    from shared.runtime.litert import LiteRTModel

    if path.name.startswith(STEP_PREFIXES):
        return True
    runner = LiteRTModel(path, num_threads=1)
    return any("state" in name for name in runner.input_names) and any(
        "state" in name for name in runner.output_details
    )


def litert_latency(path: pathlib.Path, inputs: dict, threads: int, runs: int, warmup: int) -> dict:
    """p50 and p90 of one call, in ms, on a fresh interpreter with `threads` threads."""
    from shared.runtime.litert import LiteRTModel

    return LiteRTModel(path, num_threads=threads).latency_ms(inputs, runs=runs, warmup=warmup)


# Memory probes run in a fresh interpreter process so one model's memory is not another's:
# the resident set before loading (Python, the runtime, the inputs) and its high-water mark
# after loading and calling. Linux /proc; elsewhere ru_maxrss for both.
_STATUS = """
import resource

def status(key):
    try:
        for line in open("/proc/self/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
"""


_LITERT_MEMORY_PROBE = """
import json, sys
import numpy as np
from ai_edge_litert.interpreter import Interpreter

inputs = dict(np.load(sys.argv[2]))
before = status("VmRSS")
runner = Interpreter(model_path=sys.argv[1], num_threads=1).get_signature_runner()
for _ in range(int(sys.argv[3])):
    runner(**inputs)
peak = status("VmHWM")
print(json.dumps({"peak_rss_bytes": peak, "inference_bytes": peak - before}))
"""


# The same for a whole engine behind the app's own predictor: after TensorFlow and the
# app are imported, load the predictor and answer one test input.
_ENGINE_MEMORY_PROBE = """
import json, pathlib, pickle, sys
from apps import registry
import tensorflow

app = registry.get_app(sys.argv[1])
with open(sys.argv[5], "rb") as file:
    inputs = pickle.load(file)
before = status("VmRSS")
predictor = app.load_predictor(pathlib.Path(sys.argv[2]), sys.argv[3], sys.argv[4])
for _ in range(3):
    predictor.outputs(inputs)
peak = status("VmHWM")
print(json.dumps({"peak_rss_bytes": peak, "inference_bytes": peak - before}))
"""


def _probe(code: str, arguments: list[str]) -> dict:
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    completed = subprocess.run(
        [sys.executable, "-c", _STATUS + code, *arguments],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"memory probe {arguments} failed:\n{completed.stderr[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def litert_memory(path: pathlib.Path, inputs: dict, calls: int = 10) -> dict:
    """Peak resident memory of loading `path` and calling it, in a fresh process.

    ``inference_bytes`` is the high-water mark (VmHWM) minus the resident set just
    before loading the model, so the interpreter's arena, the model file and the
    outputs count but Python and the LiteRT library do not; ``peak_rss_bytes`` is the
    whole process's peak.
    """
    with tempfile.TemporaryDirectory() as folder:
        saved = pathlib.Path(folder) / "inputs.npz"
        np.savez(saved, **inputs)
        return _probe(_LITERT_MEMORY_PROBE, [str(path), str(saved), str(calls)])


def engine_memory(app, model_dir: pathlib.Path, engine: str, raw_inputs: list) -> dict:
    """Peak memory of loading the app's predictor for `engine` and answering `raw_inputs`."""
    kind, variant = ("litert", engine) if engine in VARIANTS else (engine, "fp32")
    with tempfile.TemporaryDirectory() as folder:
        saved = pathlib.Path(folder) / "inputs.pickle"
        saved.write_bytes(pickle.dumps(raw_inputs))
        return _probe(_ENGINE_MEMORY_PROBE, [app.name, str(model_dir), kind, variant, str(saved)])


def directory_bytes(path: pathlib.Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
