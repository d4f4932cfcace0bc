"""Floating-point operations of a ``.tflite``, counted from its flatbuffer."""

from __future__ import annotations

import math
import pathlib

import numpy as np

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
