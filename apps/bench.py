"""``rnnapps bench``: every trained app's quality, speed, size, memory and cost, in one run.

For each app trained in ``saved_models/APP`` (the others get one "not trained" line):

- **Quality**: the app's own ``evaluate`` on its test split through every engine
  (Keras, SavedModel, LiteRT fp32 / fp16 / int8), re-measured now, with the
  ``baselines`` the training run scored on the same split, and the app's controls
  (``App.controls``: video's shuffled frames) as measured now, as ratios
  (ours on LiteRT fp32 / baseline).
- **Every ``*_{variant}.tflite``**: size; latency (median and 90th percentile of
  ``runs`` calls after ``warmup`` calls) on 1 and 2 interpreter threads; floating-point
  operations of one call counted from the flatbuffer (see :class:`FlopCounter`); the
  achieved GFLOP/s (FLOPs / median latency) as a fraction of the machine's
  matrix-multiply throughput on as many threads, measured in the same run (see
  :func:`machine_limits`); peak memory (see :func:`litert_memory`). A model named
  ``step*`` / ``decoder_step*``, or one that takes and returns a recurrent state, runs
  once per time step (streaming, decoding), so its latency is the cost of one step.
- **Inputs**: ``model_<variant>.tflite`` is timed on ``App.latency_inputs`` (one real
  test example) when the app provides it; every other model on synthetic inputs of its
  signature's shapes and dtypes (integers zero, floats drawn from N(0, 1)). The graphs
  have static shapes and fixed loop counts, so their work does not depend on the values.
- **Whole answers**: ``App.latency`` per variant (1 thread): the app's own on-device
  answer, e.g. a greedy decode looping the step model.
- **Per engine**: the size on disk and the peak memory of loading the app's predictor
  and answering one test input, each in a fresh subprocess (skipped with ``quick``).
- **Training**: examples per second and wall time of the recorded run (``metrics.json``);
  from its per-epoch history, the time to reach the app's ``QualityTarget`` on the
  validation split, a Keras metric or one the app logs itself (``App.epoch_metrics``: BLEU,
  weighted F1) (see :func:`time_to_target`) and to its best validation loss (see
  :func:`time_to_best`); with ``train=True`` a short measured run of the trained config
  that splits each step into waiting for the ``tf.data`` iterator and computing.

Writes ``bench/results.json`` and regenerates the README block between
:data:`START` and :data:`END`.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import pickle
import platform
import subprocess
import sys
import tempfile
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from shared.metrics import LOWER_IS_BETTER_WORDS as LOWER_IS_BETTER

if TYPE_CHECKING:  # shared.app imports TensorFlow, which the bench loads only when it runs
    from shared.app import QualityTarget

START = "<!-- bench:start -->"
END = "<!-- bench:end -->"
VARIANTS = ("fp32", "fp16", "int8")
ENGINES = ("keras", "savedmodel", *VARIANTS)
THREADS = (1, 2)
STEP_PREFIXES = ("step", "decoder_step")
SYNTHETIC_INPUTS = "synthetic (integers 0, floats N(0, 1))"


def log(message: str) -> None:
    print(f"[rnnapps] bench: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Settings


def settings(quick: bool) -> dict:
    """How hard to measure: ``quick`` is for the test, the default for the README."""
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


# ---------------------------------------------------------------------------
# The machine


def machine_description() -> dict:
    """CPU model, core count and memory of this machine (Linux /proc, else platform)."""
    cpu_model = platform.processor() or platform.machine()
    cpuinfo = pathlib.Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    memory_bytes = None
    meminfo = pathlib.Path("/proc/meminfo")
    if meminfo.is_file():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_bytes = int(line.split()[1]) * 1024
    return {
        "cpu_model": cpu_model,
        "cores": os.cpu_count(),
        "cores_available": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "memory_bytes": memory_bytes,
        "platform": platform.platform(),
        "load_average_start": _load_average(),  # other work sharing the cores
    }


def matmul_throughput(threads: int, size: int = 1024, seconds: float = 2.0) -> dict:
    """Measured float32 matrix-matrix and matrix-vector GFLOP/s on `threads` BLAS threads.

    NumPy's BLAS (OpenBLAS) with its thread pool limited by threadpoolctl. The
    matrix-matrix figure is the machine's practical compute limit; the matrix-vector
    one (batch-1 work, bound by memory bandwidth) shows why small recurrent models sit
    far below it. Medians over repeated calls for about `seconds` each.
    """
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    left = rng.standard_normal((size, size), dtype=np.float32)
    right = rng.standard_normal((size, size), dtype=np.float32)
    vector = rng.standard_normal(size, dtype=np.float32)

    def median_seconds(call) -> float:
        call()  # warm-up: page the operands in, start the thread pool
        times = []
        started = time.perf_counter()
        while len(times) < 5 or time.perf_counter() - started < seconds:
            begin = time.perf_counter()
            call()
            times.append(time.perf_counter() - begin)
        return float(np.median(times))

    with threadpool_limits(limits=threads, user_api="blas"):
        matmul = median_seconds(lambda: left @ right)
        matvec = median_seconds(lambda: left @ vector)
    return {
        "matmul_gflops": 2.0 * size**3 / matmul / 1e9,
        "matvec_gflops": 2.0 * size**2 / matvec / 1e9,
        "size": size,
    }


# ---------------------------------------------------------------------------
# Floating-point operations of a .tflite, from the flatbuffer

# Ops that multiply-accumulate: 2 FLOPs per multiply-add.
MATMUL_OPS = (
    "FULLY_CONNECTED",
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "CONV_3D",
    "TRANSPOSE_CONV",
    "BATCH_MATMUL",
    "UNIDIRECTIONAL_SEQUENCE_LSTM",
)
# fmt: off
# Arithmetic counted as 1 FLOP per output element.
ELEMENTWISE_OPS = frozenset([
    "ADD", "SUB", "MUL", "DIV", "LOGISTIC", "TANH", "EXP", "LOG", "SQRT", "RSQRT", "SQUARE",
    "SQUARED_DIFFERENCE", "POW", "MAXIMUM", "MINIMUM", "RELU", "RELU6", "RELU_N1_TO_1",
    "RELU_0_TO_1", "LEAKY_RELU", "PRELU", "HARD_SWISH", "GELU", "ELU", "NEG", "ABS", "SOFTMAX",
    "LOG_SOFTMAX", "FLOOR_DIV", "FLOOR_MOD", "SIN", "COS", "SIGN", "L2_NORMALIZATION", "CUMSUM",
    "ADD_N", "COMPLEX_ABS",
])
# Reductions and pools counted as 1 FLOP per input element.
REDUCTION_OPS = frozenset([
    "SUM", "MEAN", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD", "AVERAGE_POOL_2D", "MAX_POOL_2D",
    "L2_POOL_2D",
])
# Data movement, comparisons and control: no floating-point arithmetic.
MOVEMENT_OPS = frozenset([
    "RESHAPE", "CONCATENATION", "GATHER", "GATHER_ND", "STRIDED_SLICE", "SLICE", "SPLIT",
    "SPLIT_V", "PACK", "UNPACK", "TRANSPOSE", "CAST", "QUANTIZE", "DEQUANTIZE", "SELECT",
    "SELECT_V2", "EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL",
    "LOGICAL_AND", "LOGICAL_OR", "LOGICAL_NOT", "REVERSE_V2", "EXPAND_DIMS", "SQUEEZE", "SHAPE",
    "FILL", "ZEROS_LIKE", "ONES_LIKE", "TILE", "BROADCAST_TO", "BROADCAST_ARGS", "PAD", "PADV2",
    "MIRROR_PAD", "ARG_MAX", "ARG_MIN", "ONE_HOT", "RANGE", "WHERE", "TOPK_V2", "REDUCE_ANY",
    "REDUCE_ALL", "SCATTER_ND", "EMBEDDING_LOOKUP", "DEPTH_TO_SPACE", "SPACE_TO_DEPTH",
    "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "WHILE", "IF", "CALL_ONCE", "VAR_HANDLE",
    "READ_VARIABLE", "ASSIGN_VARIABLE", "RANDOM_UNIFORM", "RANDOM_STANDARD_NORMAL", "MULTINOMIAL",
    "FLOOR", "CEIL", "ROUND", "DYNAMIC_UPDATE_SLICE", "REAL", "IMAG",
])
# fmt: on
COMPARISONS = ("LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL")


class FlopCounter:
    """Floating-point operations of one call of a ``.tflite`` model, read from its flatbuffer.

    Multiply-accumulate ops (``FULLY_CONNECTED``, ``CONV_2D``, ``DEPTHWISE_CONV_2D``,
    ``BATCH_MATMUL`` ...) count 2 FLOPs per multiply-add, from the static tensor shapes;
    element-wise arithmetic counts 1 per output element, reductions 1 per input element;
    data movement counts nothing. A ``WHILE`` loop counts its body times its trip count,
    read from the loop condition: ``LESS(counter, bound)`` where ``bound`` is a constant
    and the counter's start (a constant WHILE input) and step (``ADD(counter, constant)``
    in the body) are known. Keras recurrent layers convert to exactly such loops with
    ``bound`` = the fixed time dimension. If no condition can be read, the trip count is
    the leading dimension of the loop's time-major inputs and the loop is marked so.
    Quantised variants do the same multiply-adds (in int8 or after dequantising), so they
    count the same.

    Args:
        content: the ``.tflite`` flatbuffer bytes.

    Example:
        >>> counter = FlopCounter(pathlib.Path("model_fp32.tflite").read_bytes())
        >>> counter.count()["flops"]
    """

    def __init__(self, content: bytes):
        from ai_edge_litert import schema_py_generated as schema

        self.schema = schema
        self.model = schema.ModelT.InitFromPackedBuf(bytearray(content), 0)
        builtin_names = {
            value: key
            for key, value in vars(schema.BuiltinOperator).items()
            if not key.startswith("_")
        }
        self.op_names = [
            builtin_names.get(max(code.builtinCode, code.deprecatedBuiltinCode), "UNKNOWN")
            for code in self.model.operatorCodes
        ]
        self.type_names = {
            value: key for key, value in vars(schema.TensorType).items() if not key.startswith("_")
        }
        self.loops: list[dict] = []
        self.uncounted: set[str] = set()

    def count(self) -> dict:
        """FLOPs of one call of the main subgraph: total, multiply-add part, loops found."""
        self.loops, self.uncounted = [], set()
        matmul, other = self._subgraph_flops(0)
        return {
            "flops": int(matmul + other),
            "flops_matmul": int(matmul),
            "loops": self.loops,
            "uncounted_ops": sorted(self.uncounted),
        }

    # -- tensors --

    def _shape(self, subgraph, index: int) -> list[int]:
        tensor = subgraph.tensors[index]
        shape = [] if tensor.shape is None else [int(d) for d in tensor.shape]
        if any(d < 0 for d in shape):
            raise ValueError(
                f"tensor {tensor.name!r} has a dynamic shape {shape}: the bench counts FLOPs "
                "of fixed-shape models only"
            )
        return shape

    def _elements(self, subgraph, index: int) -> int:
        return math.prod(self._shape(subgraph, index))

    def _constant(self, subgraph, index: int) -> np.ndarray | None:
        """The value of a constant tensor (one with buffer data), else None."""
        if index < 0:
            return None
        tensor = subgraph.tensors[index]
        buffer = self.model.buffers[tensor.buffer]
        if buffer is None or buffer.data is None or len(buffer.data) == 0:
            return None
        dtype = {
            "INT32": np.int32,
            "INT64": np.int64,
            "INT16": np.int16,
            "INT8": np.int8,
            "UINT8": np.uint8,
            "FLOAT32": np.float32,
        }.get(self.type_names.get(tensor.type))
        if dtype is None:
            return None
        return np.frombuffer(bytes(bytearray(buffer.data)), dtype=dtype)

    # -- operators --

    def _subgraph_flops(self, index: int) -> tuple[float, float]:
        subgraph = self.model.subgraphs[index]
        matmul = other = 0.0
        for op in subgraph.operators:
            name = self.op_names[op.opcodeIndex]
            if name in MATMUL_OPS:
                matmul += 2.0 * self._multiply_adds(subgraph, op, name)
                if name in ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D") and (
                    len(op.inputs) > 2 and op.inputs[2] >= 0
                ):
                    other += self._elements(subgraph, op.outputs[0])  # the bias add
            elif name in ELEMENTWISE_OPS:
                other += self._elements(subgraph, op.outputs[0])
            elif name in REDUCTION_OPS:
                other += self._elements(subgraph, op.inputs[0])
            elif name == "RFFT2D":
                # The usual estimate of a real FFT of length n: 2.5 n log2(n) FLOPs.
                shape = self._shape(subgraph, op.inputs[0])
                length = shape[-1]
                other += math.prod(shape[:-1]) * 2.5 * length * math.log2(max(length, 2))
            elif name == "WHILE":
                trips = self._trip_count(index, op)
                body_matmul, body_other = self._subgraph_flops(op.builtinOptions.bodySubgraphIndex)
                matmul += trips * body_matmul
                other += trips * body_other
            elif name == "IF":
                branches = [
                    self._subgraph_flops(op.builtinOptions.thenSubgraphIndex),
                    self._subgraph_flops(op.builtinOptions.elseSubgraphIndex),
                ]
                costlier = max(branches, key=sum)
                matmul += costlier[0]
                other += costlier[1]
            elif name not in MOVEMENT_OPS:
                self.uncounted.add(name)
        return matmul, other

    def _multiply_adds(self, subgraph, op, name: str) -> int:
        output = self._elements(subgraph, op.outputs[0])
        if name == "FULLY_CONNECTED":
            return output * self._shape(subgraph, op.inputs[1])[-1]  # weights [units, inputs]
        if name == "CONV_2D":
            _, height, width, channels = self._shape(subgraph, op.inputs[1])  # [out, h, w, in]
            return output * height * width * channels
        if name == "DEPTHWISE_CONV_2D":
            _, height, width, _ = self._shape(subgraph, op.inputs[1])  # [1, h, w, out]
            return output * height * width
        if name == "CONV_3D":
            depth, height, width, channels, _ = self._shape(subgraph, op.inputs[1])
            return output * depth * height * width * channels
        if name == "TRANSPOSE_CONV":
            out_channels, height, width, _ = self._shape(subgraph, op.inputs[1])
            return self._elements(subgraph, op.inputs[2]) * height * width * out_channels
        if name == "BATCH_MATMUL":
            left = self._shape(subgraph, op.inputs[0])
            adjoint = bool(getattr(op.builtinOptions, "adjX", False))
            return output * (left[-2] if adjoint else left[-1])
        # UNIDIRECTIONAL_SEQUENCE_LSTM: input [batch, time, features] (or time-major);
        # inputs 1-4 are the input weights [units, features], 5-8 the recurrent [units, units].
        features = self._shape(subgraph, op.inputs[0])[-1]
        steps = self._elements(subgraph, op.inputs[0]) // features
        weights = [i for i in op.inputs[1:9] if i >= 0]
        return steps * sum(self._elements(subgraph, i) for i in weights)

    # -- loops --

    def _trip_count(self, parent_index: int, op) -> int:
        parent = self.model.subgraphs[parent_index]
        options = op.builtinOptions
        condition = self.model.subgraphs[options.condSubgraphIndex]
        body = self.model.subgraphs[options.bodySubgraphIndex]
        condition_inputs = [int(i) for i in condition.inputs]

        def value(index: int) -> np.ndarray | None:
            constant = self._constant(condition, index)
            if constant is None and index in condition_inputs:
                constant = self._constant(parent, op.inputs[condition_inputs.index(index)])
            return constant

        counts = []
        for condition_op in condition.operators:
            name = self.op_names[condition_op.opcodeIndex]
            if name not in COMPARISONS:
                continue
            counter, bound_index = (int(i) for i in condition_op.inputs[:2])
            if name.startswith("GREATER"):  # bound > counter is counter < bound
                counter, bound_index = bound_index, counter
            if counter not in condition_inputs:
                continue
            position = condition_inputs.index(counter)
            bound = value(bound_index)
            start = self._constant(parent, op.inputs[position])
            step = self._loop_step(body, position)
            if bound is None or start is None or step is None or bound.size != 1 or start.size != 1:
                continue
            span = float(bound[0]) - float(start[0])
            inclusive = name in ("LESS_EQUAL", "GREATER_EQUAL")
            trips = math.floor(span / step) + 1 if inclusive else math.ceil(span / step)
            counts.append(max(int(trips), 0))
        loop_name = body.name.decode() if isinstance(body.name, bytes) else str(body.name)
        if counts:
            trips, source = min(counts), "loop condition"  # the conditions are AND-ed
        else:
            # Keras hands a recurrent loop its inputs time-major: [time, batch, features].
            leading = [
                self._shape(parent, int(i))[0]
                for i in op.inputs
                if i >= 0 and len(self._shape(parent, int(i))) >= 3
            ]
            trips, source = (max(leading), "time dimension") if leading else (1, "unknown")
        self.loops.append({"body": loop_name, "trip_count": trips, "source": source})
        return trips

    def _loop_step(self, body, position: int) -> float | None:
        """The constant a loop body adds to loop variable `position` each iteration."""
        output = int(body.outputs[position])
        loop_input = int(body.inputs[position])
        for op in body.operators:
            if int(op.outputs[0]) != output or self.op_names[op.opcodeIndex] != "ADD":
                continue
            first, second = (int(i) for i in op.inputs[:2])
            other = second if first == loop_input else first if second == loop_input else None
            constant = self._constant(body, other) if other is not None else None
            if constant is not None and constant.size == 1 and constant[0] != 0:
                return float(constant[0])
        return None


def count_flops(path: pathlib.Path) -> dict:
    """FLOPs of one call of the ``.tflite`` at `path` (see :class:`FlopCounter`)."""
    return FlopCounter(pathlib.Path(path).read_bytes()).count()


# ---------------------------------------------------------------------------
# LiteRT models: inputs, latency, memory


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


def _directory_bytes(path: pathlib.Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# ---------------------------------------------------------------------------
# One app


def is_trained(model_dir: pathlib.Path) -> bool:
    return (model_dir / "metrics.json").is_file() and (model_dir / "config.json").is_file()


def baseline_ratios(ours: dict, baselines: dict) -> dict:
    """Each baseline's scores and, for every scalar metric both have, ours / baseline.

    A baseline scored per split (``{"test": {...}, "other": {...}}``) is compared on
    its ``test`` scores, the split our figures come from.
    """
    result = {}
    for name, scores in baselines.items():
        if not isinstance(scores, dict):
            result[name] = {"metrics": scores, "ratio": {}}
            continue
        test_scores = scores.get("test") if isinstance(scores.get("test"), dict) else {}
        ratios = {}
        for key, value in {**test_scores, **scores}.items():
            mine = ours.get(key)
            if key == "count" or not _is_number(value) or not _is_number(mine):
                continue
            if value != 0:
                ratios[key] = mine / value
        result[name] = {"metrics": scores, "ratio": ratios}
    return result


def strongest_baseline(baselines: dict, key: str, lower_is_better: bool) -> str | None:
    """The name of the baseline with the best `key` (the one the README compares with)."""
    scored = {
        name: _headline(entry["metrics"], key)
        for name, entry in baselines.items()
        if _is_number(_headline(entry["metrics"], key))
    }
    if not scored:
        return None
    pick = min if lower_is_better else max
    return pick(scored, key=scored.get)


def with_controls(app, quality: dict, recorded: dict) -> dict:
    """The baselines the training run scored, then the app's controls as scored now on fp32.

    A control is the model itself on altered input (``App.controls``), so its figure is the
    one this bench just measured, beside the headline metric it stands in for.
    """
    baselines = dict(recorded.get("baselines", {}))
    for name, key in app.controls.items():
        if _is_number(quality["fp32"].get(key)):
            baselines[name] = {app.metric: quality["fp32"][key]}
    return baselines


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def bench_app(app, model_dir: pathlib.Path, options: dict) -> dict:
    """Every figure of one trained app (see the module docstring)."""
    from shared.config import load_config
    from shared.data.sources import parse_source
    from shared.data.splits import num_rows

    recorded = json.loads((model_dir / "metrics.json").read_text())
    config = load_config(app.config_class, model_dir / "config.json")
    log(f"{app.name}: loading the test split ({recorded.get('source', 'default')})")
    splits = app.load_data(config, parse_source(recorded.get("source", "default")))
    app.restore_state(model_dir, config, splits)  # as `rnnapps export` does

    result: dict[str, Any] = {
        "status": "benchmarked",
        "model_dir": str(model_dir),
        "data": recorded.get("data"),
        "source": recorded.get("source"),
        "preset": recorded.get("preset"),
        "metric": app.metric,
        "metric_lower_is_better": bool(getattr(app, "lower_is_better", False))
        or any(word in app.metric for word in LOWER_IS_BETTER),
        "trained": recorded.get("date"),
    }

    # Quality through every engine, now, on the same split.
    predictors, quality, evaluation_seconds = {}, {}, {}
    for engine in ENGINES:
        kind, variant = ("litert", engine) if engine in VARIANTS else (engine, "fp32")
        predictors[engine] = app.load_predictor(model_dir, kind, variant)
        log(f"{app.name}: evaluating {engine}")
        started = time.perf_counter()
        quality[engine] = app.evaluate(predictors[engine], splits, config)
        evaluation_seconds[engine] = time.perf_counter() - started
    result["quality"] = quality
    result["evaluation_seconds"] = evaluation_seconds
    result["baselines"] = baseline_ratios(quality["fp32"], with_controls(app, quality, recorded))
    result["strongest_baseline"] = strongest_baseline(
        result["baselines"], app.metric, result["metric_lower_is_better"]
    )

    # Each engine as a whole: size, the app's own on-device answer, peak memory.
    raw_inputs = app.parity_inputs(splits, 1) if options["engine_memory"] else None
    engines = {}
    for engine in ENGINES:
        if engine == "keras":
            size = _directory_bytes(model_dir / "model.keras")
        elif engine == "savedmodel":
            size = _directory_bytes(model_dir / "saved_model")
        else:
            size = sum(p.stat().st_size for p in model_dir.glob(f"*_{engine}.tflite"))
        figures: dict[str, Any] = {"size_bytes": size}
        if engine in VARIANTS:
            log(f"{app.name}: timing a whole answer on LiteRT {engine}")
            figures["answer_latency"] = app.latency(
                model_dir, engine, predictors[engine], splits, options["answer_runs"]
            )
        if raw_inputs is not None:
            log(f"{app.name}: peak memory of the {engine} engine")
            figures["memory"] = engine_memory(app, model_dir, engine, raw_inputs)
        engines[engine] = figures
    result["engines"] = engines

    # Every .tflite: latency at 1 and 2 threads, FLOPs, fraction of the machine's limit.
    models = {}
    for variant in VARIANTS:
        for path in sorted(model_dir.glob(f"*_{variant}.tflite")):
            name = path.name[: -len(f"_{variant}.tflite")]
            inputs, origin = model_inputs(app, path, predictors[variant], splits)
            flops = count_flops(path)
            figures = {
                "model": name,
                "variant": variant,
                "per_step": is_step_model(path),
                "size_bytes": path.stat().st_size,
                "inputs": origin,
                **flops,
                "latency": {},
                "gflops_per_second": {},
            }
            for threads in THREADS:
                log(f"{app.name}: timing {path.name} on {threads} thread(s)")
                timing = litert_latency(path, inputs, threads, options["runs"], options["warmup"])
                figures["latency"][str(threads)] = timing
                figures["gflops_per_second"][str(threads)] = (
                    flops["flops"] / (timing["latency_ms_p50"] / 1000.0) / 1e9
                )
            figures["memory"] = litert_memory(path, inputs)
            models[path.name] = figures
    result["models"] = models

    training = dict(recorded.get("training", {}))
    examples = num_rows(splits.train)
    training["train_examples"] = examples
    if training.get("seconds") and training.get("epochs_run"):
        # The recorded wall time includes loading data, validation and early stopping.
        training["examples_per_second"] = examples * training["epochs_run"] / training["seconds"]
    # Absent in runs recorded before per-epoch times; metrics.json keeps it, results.json need not.
    history = training.pop("history", None)
    training["time_to_target"] = time_to_target(history, app.run_quality_target(recorded))
    training["time_to_best"] = time_to_best(history)
    result["training"] = training
    if options.get("train"):
        result["training"]["measured"] = measure_training(app, config, splits, options)
    return result


def time_to_target(history: list[dict] | None, target: QualityTarget | None) -> dict:
    """When a run first met its validation `target`: the wall time at the end of that epoch.

    Args:
        history: the run's ``training.history`` rows (``epoch`` 0-based, ``seconds`` since
            training began, the logged metrics), or None for a run recorded without it.
        target: the app's target with an absolute goal (``App.run_quality_target``), or None.

    Returns:
        ``status``: ``"reached"``, ``"not reached"``, or why there is no figure (``"no
        target"``, ``"no history"``, ``"metric not logged"``); ``seconds`` (None unless
        reached) and ``epochs`` (epochs trained when first met); the target's ``metric``,
        ``goal``, ``mode`` and ``note``; ``best`` and ``best_epochs``, the best value the
        run logged and when.
    """
    if target is None:
        return {"status": "no target", "seconds": None}
    described = {
        "metric": target.metric,
        "goal": target.goal,
        "mode": target.mode,
        "note": target.note,
        "seconds": None,
    }
    if not history:
        return {"status": "no history", **described}
    column = target.column(history)
    rows = sorted(
        (row for row in history if column and _is_number(row.get(column))),
        key=lambda row: row["epoch"],
    )
    if not rows:
        return {"status": "metric not logged", **described}
    described["metric"] = column
    pick = max if target.mode == "max" else min
    best = pick(rows, key=lambda row: row[column])  # the first of equal values
    described |= {"best": best[column], "best_epochs": best["epoch"] + 1}
    for row in rows:
        if target.is_met(row[column]):
            return {
                **described,
                "status": "reached",
                "seconds": row.get("seconds"),
                "epochs": row["epoch"] + 1,
            }
    return {"status": "not reached", **described}


def time_to_best(history: list[dict] | None) -> dict | None:
    """The epoch of the lowest ``val_loss``: the weights a run keeps. None without a history.

    Training checkpoints only strict improvements, so among equal losses the first counts.
    Returns its ``seconds`` (since training began), ``epochs`` (trained by then) and ``val_loss``.
    """
    rows = sorted(
        (row for row in history or [] if _is_number(row.get("val_loss"))),
        key=lambda row: row["epoch"],
    )
    if not rows:
        return None
    best = min(rows, key=lambda row: row["val_loss"])
    return {
        "seconds": best.get("seconds"),
        "epochs": best["epoch"] + 1,
        "val_loss": best["val_loss"],
    }


def measure_training(app, config, splits, options: dict) -> dict:
    """A few training steps of the trained config: how long each waits for input.

    Builds the app's model afresh and its training ``tf.data`` pipeline, then times
    ``next(iterator)`` (input wait, left after prefetching) and ``train_on_batch``
    (compute) separately, after warm-up steps that trace the graph.
    """
    import tensorflow as tf

    from shared.training import set_seeds

    set_seeds(config.seed)
    model = app.build_model(config, splits)
    train_data, _ = app.make_datasets(config, splits)
    iterator = iter(train_data.repeat())
    warmup, steps = 3, options["train_steps"]
    waiting = computing = 0.0
    examples = 0
    for index in range(warmup + steps):
        started = time.perf_counter()
        batch = next(iterator)
        fetched = time.perf_counter()
        features, targets, *weights = batch
        model.train_on_batch(features, targets, sample_weight=weights[0] if weights else None)
        finished = time.perf_counter()
        if index >= warmup:
            waiting += fetched - started
            computing += finished - fetched
            examples += int(tf.nest.flatten(features)[0].shape[0])
    return {
        "steps": steps,
        "batch_size": config.batch_size,
        "examples_per_second": examples / (waiting + computing),
        "step_ms": 1000.0 * (waiting + computing) / steps,
        "input_wait_share": waiting / (waiting + computing),
    }


# ---------------------------------------------------------------------------
# The whole run and its outputs


def run(
    app_names: list[str],
    models_dir: pathlib.Path,
    quick: bool = False,
    train: bool = False,
) -> dict:
    """Bench `app_names` (all registered apps when empty); returns the results dict."""
    import datetime

    from apps import registry
    from shared.workflow import versions

    names = app_names or registry.names()
    for name in names:
        registry.check_name(name)
    options = {**settings(quick), "train": train}
    log("measuring the machine's matrix-multiply throughput")
    measurements = measure_throughput(options, "before")
    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine_description(),
        "versions": versions(),
        "settings": options,
        "machine_limit": {},
        "apps": {},
    }
    for name in names:
        app = registry.get_app(name)
        model_dir = pathlib.Path(models_dir) / name
        if not is_trained(model_dir):
            message = f"{name}: not trained ({model_dir} has no metrics.json); skipped"
            log(message)
            results["apps"][name] = {
                "status": "not trained",
                "message": f"{message} (run: rnnapps train {name})",
            }
            continue
        results["apps"][name] = bench_app(app, model_dir, options)
    # Measured after the apps too: the machine is shared, so bracket the run.
    log("measuring the matrix-multiply throughput again")
    measurements += measure_throughput(options, "after")
    results["machine"]["load_average_end"] = _load_average()
    results["machine_limit"] = machine_limits(measurements)
    for app_results in results["apps"].values():
        for figures in app_results.get("models", {}).values():
            figures["fraction_of_matmul_peak"] = {
                threads: achieved / results["machine_limit"][threads]["matmul_gflops"]
                for threads, achieved in figures["gflops_per_second"].items()
            }
    return results


def measure_throughput(options: dict, when: str) -> list[dict]:
    """Matrix-multiply and matrix-vector throughput at every size and thread count."""
    return [
        {
            "when": when,
            "threads": threads,
            **matmul_throughput(threads, size, options["matmul_seconds"]),
        }
        for size in options["matmul_sizes"]
        for threads in THREADS
    ]


def machine_limits(measurements: list[dict]) -> dict:
    """Per thread count t: the best median GFLOP/s measured on at most t threads.

    At most, not exactly: a program given two threads may use one, and on a shared
    machine a two-thread measurement can fall below the one-thread one.
    """
    limits = {}
    for threads in THREADS:
        usable = [m for m in measurements if m["threads"] <= threads]
        best = max(usable, key=lambda m: m["matmul_gflops"])
        limits[str(threads)] = {
            "matmul_gflops": best["matmul_gflops"],
            "matmul_size": best["size"],
            "matmul_threads": best["threads"],
            "matvec_gflops": max(m["matvec_gflops"] for m in usable),
            "measurements": [m for m in measurements if m["threads"] == threads],
        }
    return limits


def _load_average() -> list[float] | None:
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def _number(value, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if _is_number(value) else "–"


def _headline(scores, key: str):
    """A baseline's `key`, at the top or in its ``test`` split."""
    if not isinstance(scores, dict):
        return None
    test = scores.get("test")
    return scores.get(key, test.get(key) if isinstance(test, dict) else None)


def _loads(machine: dict) -> str:
    values = [machine.get("load_average_start"), machine.get("load_average_end")]
    shown = [f"{v[0]:.1f}" for v in values if v]
    return " → ".join(shown) if shown else "unknown"


def _megabytes(value) -> str:
    return f"{value / 1e6:.2f} MB" if _is_number(value) else "–"


def _when(entry: dict) -> str:
    """``"812 s (epoch 7)"``: an epoch's time since training began, epochs counted from 1."""
    if _is_number(entry.get("seconds")):
        return f"{entry['seconds']:.0f} s (epoch {entry['epochs']})"
    return f"epoch {entry['epochs']}"


def _target_cells(entry: dict | None) -> tuple[str, str]:
    """The validation target and the time to reach it, as two table cells."""
    if not entry or entry["status"] == "no target":
        return "–", "–"
    sign = "≥" if entry["mode"] == "max" else "≤"
    target = f"{entry['metric']} {sign} {entry['goal']:.3f}"
    if entry["status"] == "reached":
        return target, _when(entry)
    if entry["status"] == "not reached":
        return target, f"not reached (best {entry['best']:.3f})"
    return target, "–"  # no history, or the metric is not in it


def results_markdown(results: dict) -> str:
    """The README's benchmark block, generated from ``results.json``."""
    machine = results["machine"]
    limit = results["machine_limit"]
    options = results["settings"]
    memory = machine.get("memory_bytes")
    lines = [
        f"Measured {results['date']} by `rnnapps bench` on {machine['cpu_model']} "
        f"({machine['cores']} cores, {memory / 1e9:.1f} GB) with "
        + ", ".join(f"{k} {v}" for k, v in results["versions"].items())
        + ". Latencies are medians (and 90th percentiles) of "
        f"{options['runs']} calls after {options['warmup']} warm-up calls; the machine is "
        f"shared (load average {_loads(machine)}), so compare figures within one run. "
        "Machine limit (best median of NumPy/OpenBLAS float32 matrix multiplies of "
        + ", ".join(f"{n}²" for n in options["matmul_sizes"])
        + ", measured before and after the apps in the same run): "
        f"{limit['1']['matmul_gflops']:.1f} GFLOP/s on 1 thread, "
        f"{limit['2']['matmul_gflops']:.1f} on up to 2; a batch-1 matrix-vector product "
        f"reaches {limit['1']['matvec_gflops']:.1f} and {limit['2']['matvec_gflops']:.1f}.",
        "",
    ]
    benched = {n: a for n, a in results["apps"].items() if a["status"] == "benchmarked"}
    skipped = [a["message"] for a in results["apps"].values() if a["status"] != "benchmarked"]

    lines += [
        "**Quality on the test split, every engine, beside the baselines** "
        "(ratio = ours on LiteRT fp32 / baseline, same split; the strongest baseline, the one "
        "to beat, in its own column)",
        "",
        "| app | metric | Keras | SavedModel | LiteRT fp32 | fp16 | int8 | "
        "strongest baseline (ratio) | baselines (ratio) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, app in benched.items():
        key = app["metric"]
        cells = [_number(app["quality"][engine].get(key)) for engine in ENGINES]
        references = ", ".join(
            f"{baseline} {_number(_headline(entry['metrics'], key))} "
            f"({_number(entry['ratio'].get(key), 2)}×)"
            for baseline, entry in app["baselines"].items()
        )
        direction = " (lower is better)" if app["metric_lower_is_better"] else ""
        strongest = app.get("strongest_baseline")
        best = "–"
        if strongest:
            entry = app["baselines"][strongest]
            best = (
                f"{strongest} {_number(_headline(entry['metrics'], key))} "
                f"({_number(entry['ratio'].get(key), 2)}×)"
            )
        lines.append(
            f"| {name} | {key}{direction} | "
            + " | ".join(cells)
            + f" | {best} | {references or '–'} |"
        )

    lines += [
        "",
        "**Engines**: size on disk, peak memory of loading the engine and answering one "
        "input (fresh process, above the loaded runtime), and the app's whole on-device "
        "answer on 1 thread",
        "",
        "| app | engine | size | peak memory | answer p50 / p90 (ms) |",
        "|---|---|---|---|---|",
    ]
    for name, app in benched.items():
        for engine, figures in app["engines"].items():
            answer = figures.get("answer_latency", {})
            timing = (
                f"{_number(answer.get('latency_ms_p50'))} / {_number(answer.get('latency_ms_p90'))}"
                if answer
                else "–"
            )
            peak = figures.get("memory", {}).get("inference_bytes")
            lines.append(
                f"| {name} | {engine} | {_megabytes(figures['size_bytes'])} | "
                f"{_megabytes(peak)} | {timing} |"
            )

    lines += [
        "",
        "**On-device models** (LiteRT; a step model runs once per time step, so its "
        "latency is the cost of one step). FLOPs counted from the flatbuffer; fraction = "
        "achieved FLOP/s at the median latency / matrix-multiply FLOP/s at the same threads",
        "",
        "| app | .tflite | size | MFLOP / call | p50 / p90 ms, 1 thread | p50 / p90 ms, 2 threads "
        "| peak memory | fraction of peak, 1 / 2 threads |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, app in benched.items():
        for file_name, figures in app["models"].items():
            timing = [
                f"{figures['latency'][t]['latency_ms_p50']:.3f} / "
                f"{figures['latency'][t]['latency_ms_p90']:.3f}"
                for t in ("1", "2")
            ]
            fraction = " / ".join(
                f"{figures['fraction_of_matmul_peak'][t]:.2%}" for t in ("1", "2")
            )
            step = " (per step)" if figures["per_step"] else ""
            lines.append(
                f"| {name} | `{file_name}`{step} | {_megabytes(figures['size_bytes'])} | "
                f"{figures['flops'] / 1e6:.2f} | {timing[0]} | {timing[1]} | "
                f"{_megabytes(figures['memory']['inference_bytes'])} | {fraction} |"
            )

    lines += [
        "",
        "**Training** (recorded run: wall time from the start of data loading to the end of "
        "training; measured: a short run of the same config timing the input pipeline apart "
        "from the step). Validation target: the app's quality target as training logs it on "
        "the validation split after every epoch (the issues set it on the test split). Time to "
        "target: wall time since training began (after loading the data) at the end of the "
        'first epoch that met it, epochs counted from 1, or "not reached" with the best '
        "value logged. Time to best: the same for the epoch with the lowest validation loss, "
        'whose weights the run keeps. "–": no target, or a run recorded before per-epoch '
        "times or the app's target metric (BLEU, F1: `App.epoch_metrics`) were logged",
        "",
        "| app | preset | train examples | epochs | wall time | examples/s | "
        "measured examples/s | input wait share | validation target | time to target | "
        "time to best |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, app in benched.items():
        training = app["training"]
        measured = training.get("measured", {})
        target, reached = _target_cells(training.get("time_to_target"))
        best = training.get("time_to_best")
        lines.append(
            f"| {name} | {app['preset']} | {training['train_examples']} | "
            f"{training.get('epochs_run', '–')} | {_number(training.get('seconds'), 1)} s | "
            f"{_number(training.get('examples_per_second'), 0)} | "
            f"{_number(measured.get('examples_per_second'), 0)} | "
            + (f"{measured['input_wait_share']:.1%}" if measured else "–")
            + f" | {target} | {reached} | {_when(best) if best else '–'} |"
        )
    if skipped:
        lines += ["", *[f"- {message}" for message in skipped]]
    return "\n".join(lines)


def update_readme(readme: pathlib.Path, body: str) -> None:
    """Replace the text between the bench markers in `readme` with `body`."""
    text = readme.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise ValueError(f"{readme}: bench markers {START} / {END} not found")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{body}\n{END}{tail}", encoding="utf-8")


def main(
    apps: list[str],
    out: pathlib.Path,
    readme: pathlib.Path,
    quick: bool,
    models: pathlib.Path = pathlib.Path("saved_models"),
    train: bool = False,
) -> int:
    """``rnnapps bench``: measure, write `out` (results.json), regenerate `readme`'s block.

    Args:
        apps: app names to bench; empty for every registered app.
        out: where to write the results JSON (its folder is created).
        readme: the README whose bench block is regenerated.
        quick: few runs and no per-engine memory probes (for tests).
        models: the folder holding ``APP/metrics.json`` of each trained app.
        train: also time a few training steps per app (input wait vs compute).
    """
    results = run(apps, pathlib.Path(models), quick=quick, train=train)
    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    body = results_markdown(results)
    update_readme(pathlib.Path(readme), body)
    log(f"wrote {out} and the results block of {readme}")
    print(body)
    return 0


# ---------------------------------------------------------------------------
# ``rnnapps bench --cells``: what the choice of recurrent cell costs or buys on each app

CELLS_START = "<!-- cells:start -->"
CELLS_END = "<!-- cells:end -->"
COMPARED_CELLS = ("elman", "jordan", "lstm", "gru", "indrnn")


def run_cells(
    app_names: list[str],
    cells: list[str],
    models_dir: pathlib.Path,
    quick: bool = False,
    data: str | None = None,
) -> dict:
    """Train every app of `app_names` once per cell of `cells`; the headline test metric of each.

    Each run is a whole ``rnnapps train APP --set cell=CELL`` (quick preset with `quick`,
    else demo) into ``models_dir/APP/CELL``: its Keras and LiteRT fp32 test metric, wall
    time and parameter count (of the ``.keras`` file's model) are recorded.
    """
    import datetime

    import keras

    from apps import registry
    from shared.config import resolve_config
    from shared.data.sources import parse_source
    from shared.errors import UserError
    from shared.layers import CELLS
    from shared.workflow import train, versions

    names = app_names or registry.names()
    for name in names:
        registry.check_name(name)
    for cell in cells:
        if cell not in CELLS:
            raise UserError(f"--cells {cell}: choose from {', '.join(sorted(CELLS))}")
    preset = "quick" if quick else "demo"
    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine_description(),
        "versions": versions(),
        "preset": preset,
        "cells": list(cells),
        "apps": {},
    }
    for name in names:
        app = registry.get_app(name)
        runs = {}
        for cell in cells:
            log(f"cells: {name} with cell={cell} ({preset} preset)")
            config = resolve_config(app.config_class, preset, [f"cell={cell}"])
            out = pathlib.Path(models_dir) / name / cell
            metrics, seconds = _finished_cell_run(out, preset, data), None
            if metrics is None:
                started = time.perf_counter()
                metrics = train(app, config, parse_source(data), out)
                seconds = time.perf_counter() - started
            else:
                log(f"cells: {name} with cell={cell}: already trained in {out}; reused")
            model = keras.saving.load_model(out / "model.keras", safe_mode=True)
            runs[cell] = {
                "keras": metrics["metrics"].get(app.metric),
                "litert_fp32": metrics["litert"]["fp32"].get(app.metric),
                "train_seconds": metrics.get("training", {}).get("seconds"),
                "run_seconds": None if seconds is None else round(seconds, 1),
                "parameters": int(model.count_params()),
            }
        results["apps"][name] = {
            "metric": app.metric,
            "lower_is_better": any(word in app.metric for word in LOWER_IS_BETTER),
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "runs": runs,
        }
    results["machine"]["load_average_end"] = _load_average()
    return results


def _finished_cell_run(out: pathlib.Path, preset: str, data: str | None) -> dict | None:
    """The metrics of a finished run in `out` with this preset and data, else None.

    So a ``bench --cells`` that died (or was stopped) goes on where it was, as ``make demo``
    does: each run's folder appears only when its run has finished (the export is atomic).
    """
    path = out / "metrics.json"
    if not path.is_file():
        return None
    metrics = json.loads(path.read_text())
    if metrics.get("preset") != preset or metrics.get("source") != (data or "default"):
        return None
    return metrics


def merge_cells(results: dict, previous: dict) -> dict:
    """`results` plus the apps of an earlier run with the same preset that it did not re-run.

    So ``rnnapps bench APP --cells`` refreshes one app's row and keeps the others'; each
    app keeps the date its row was measured.
    """
    if previous.get("preset") != results["preset"]:
        return results
    merged = {}
    for name, entry in previous.get("apps", {}).items():
        merged[name] = results["apps"].get(name) or {"date": previous["date"], **entry}
    merged.update({n: e for n, e in results["apps"].items() if n not in merged})
    cells = list(results["cells"])
    cells += [c for c in previous.get("cells", []) if c not in cells]
    return {**results, "cells": cells, "apps": merged}


def cells_markdown(results: dict) -> str:
    """The README's cell-comparison block, generated from ``cells.json``."""
    cells = results["cells"]
    lines = [
        f"Measured {results['date']} by `rnnapps bench --cells` ({results['preset']} preset, "
        f"{results['machine']['cpu_model']}, load average {_loads(results['machine'])}). "
        "Each entry: the app's headline test metric on LiteRT fp32 (Keras in brackets), "
        "then training wall time and parameters; the best per app is in bold.",
        "",
        "| app | metric | " + " | ".join(cells) + " |",
        "|---|---|" + "---|" * len(cells),
    ]
    dates = {app.get("date", results["date"])[:10] for app in results["apps"].values()}
    if len(dates) > 1:
        lines[0] += " Rows were measured on different days: the date follows each app's name."
    for name, app in results["apps"].items():
        if len(dates) > 1:
            name = f"{name} ({app.get('date', results['date'])[:10]})"
        scores = {
            cell: run["litert_fp32"]
            for cell, run in app["runs"].items()
            if _is_number(run["litert_fp32"])
        }
        pick = min if app["lower_is_better"] else max
        best = pick(scores, key=scores.get) if scores else None
        row = []
        for cell in cells:
            run = app["runs"].get(cell)
            if run is None:
                row.append("–")
                continue
            shown = f"{_number(run['litert_fp32'])} ({_number(run['keras'])})"
            if cell == best:
                shown = f"**{shown}**"
            row.append(f"{shown}<br>{_number(run['train_seconds'], 0)} s, {run['parameters']:,}")
        direction = " ↓" if app["lower_is_better"] else " ↑"
        lines.append(f"| {name} | {app['metric']}{direction} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def update_block(readme: pathlib.Path, start: str, end: str, body: str) -> None:
    """Replace the text between `start` and `end` in `readme` with `body`."""
    text = readme.read_text(encoding="utf-8")
    if start not in text or end not in text:
        raise ValueError(f"{readme}: markers {start} / {end} not found")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n{body}\n{end}{tail}", encoding="utf-8")


def cells_main(
    apps: list[str],
    cells: list[str],
    out: pathlib.Path,
    readme: pathlib.Path,
    quick: bool,
    models: pathlib.Path = pathlib.Path("saved_models/cells"),
) -> int:
    """``rnnapps bench --cells``: train each app with each cell, write `out` and the README block.

    Args:
        apps: app names; empty for every registered app.
        cells: cell names (keys of ``shared.layers.CELLS``).
        out: the results JSON to write.
        readme: the README whose cells block (:data:`CELLS_START`) is regenerated.
        quick: the quick preset (seconds per run) rather than demo (minutes).
        models: where the trained models go (``APP/CELL``).
    """
    results = run_cells(apps, cells, pathlib.Path(models), quick=quick)
    out = pathlib.Path(out)
    if out.is_file():
        results = merge_cells(results, json.loads(out.read_text()))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    body = cells_markdown(results)
    update_block(pathlib.Path(readme), CELLS_START, CELLS_END, body)
    log(f"wrote {out} and the cells block of {readme}")
    print(body)
    return 0
