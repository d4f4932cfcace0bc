"""Keras -> SavedModel -> ``.tflite`` (fp32, fp16, int8) with builtin ops only.

Facts this module is built on (TF 2.21, Keras 3.15, ai-edge-litert 2.3, see
DESIGN.md): recurrent layers convert to builtin ops (a WHILE loop) only when
every shape is static, so each LiteRT model is a batch-1, fixed-length graph.
Full-integer calibration with a representative dataset crashes the converter
(segfault) on these WHILE loops, so the int8 variant is dynamic-range
quantisation: int8 weights, float activations. The audit below fails the
export if a Flex (Select TF) or custom op slips in.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterable

import keras
import numpy as np
import tensorflow as tf

VARIANTS = ("fp32", "fp16", "int8")


class ExportError(RuntimeError):
    """The export produced something we must not ship (a Flex op, a parity gap)."""


def fixed_shape_model(model: keras.Model, batch_size: int = 1) -> keras.Model:
    """The same layers and weights behind inputs with a static batch size."""
    inputs = [
        keras.Input(
            batch_shape=(batch_size, *tensor.shape[1:]),
            dtype=tensor.dtype,
            name=tensor.name.split(":")[0],
        )
        for tensor in model.inputs
    ]
    outputs = model(inputs if len(inputs) > 1 else inputs[0])
    return keras.Model(inputs if len(inputs) > 1 else inputs[0], outputs, name=model.name)


def convert_to_tflite(
    model: keras.Model,
    variant: str = "fp32",
    representative_data: Callable[[], Iterable[list[np.ndarray]]] | None = None,
) -> bytes:
    """Convert a fixed-shape Keras model to a ``.tflite`` flatbuffer.

    Args:
        model: a Keras model whose inputs all have static shapes.
        variant: "fp32", "fp16" (float16 weights) or "int8" (int8 weights).
        representative_data: unused for now; kept so callers already pass
            training-split samples when full-integer calibration works here.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    if isinstance(model.input, dict) and list(model.input) != sorted(model.input):
        # The converter calls the model with a list of its inputs, which Keras maps onto a
        # dict of inputs only when the dict's keys are in sorted order (an LSTM step's
        # state_h, state_c are not): the same graph behind a sorted dict converts.
        model = keras.Model(
            {name: model.input[name] for name in sorted(model.input)},
            model.output,
            name=model.name,
        )
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if variant == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif variant == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    # The converter prints the temporary SavedModel's signature; keep logs readable.
    with contextlib.redirect_stdout(io.StringIO()):
        return converter.convert()


def tflite_op_names(content: bytes) -> list[str]:
    """Every operator code a ``.tflite`` uses; custom ops as ``CUSTOM:<name>``."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    names = {
        value: key for key, value in vars(schema.BuiltinOperator).items() if not key.startswith("_")
    }
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    ops = []
    for code in model.operatorCodes:
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
        name = names.get(builtin, f"UNKNOWN_{builtin}")
        if name == "CUSTOM" or code.customCode:
            custom = (
                code.customCode.decode() if isinstance(code.customCode, bytes) else code.customCode
            )
            name = f"CUSTOM:{custom}"
        ops.append(name)
    return sorted(set(ops))


def audit_builtin_ops(content: bytes, label: str) -> list[str]:
    """The ops of a ``.tflite``; raises ExportError if any is Flex or custom."""
    ops = tflite_op_names(content)
    bad = [op for op in ops if op.startswith("CUSTOM") or "Flex" in op]
    if bad:
        raise ExportError(f"{label}: not builtin-only, found {', '.join(bad)}")
    return ops
