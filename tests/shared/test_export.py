import keras
import numpy as np
import pytest
import tensorflow as tf

from shared.export import (
    ExportError,
    audit_builtin_ops,
    convert_to_tflite,
    fixed_shape_model,
    tflite_op_names,
)
from shared.runtime.litert import LiteRTModel


def tiny_gru_model(vocabulary_size: int = 50) -> keras.Model:
    keras.utils.set_random_seed(0)
    tokens = keras.Input(shape=(12,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(vocabulary_size, 8, mask_zero=True)(tokens)
    x = keras.layers.Bidirectional(keras.layers.GRU(6))(x)
    out = keras.layers.Dense(3, activation="softmax", name="label")(x)
    return keras.Model(tokens, {"label": out})


def test_every_variant_is_builtin_only_and_matches_keras():
    model = tiny_gru_model()
    device_model = fixed_shape_model(model)
    assert device_model.inputs[0].shape == (1, 12)
    ids = np.zeros((1, 12), dtype=np.int32)
    ids[0, :5] = [3, 7, 9, 11, 2]
    expected = np.asarray(model(ids)["label"])
    for variant, tolerance in (("fp32", 1e-5), ("fp16", 1e-2), ("int8", 5e-2)):
        content = convert_to_tflite(device_model, variant)
        ops = audit_builtin_ops(content, variant)
        assert "WHILE" in ops  # the recurrence is a builtin loop, not unrolled or Flex
        got = LiteRTModel(content)(token_ids=ids)["label"]
        np.testing.assert_allclose(got, expected, atol=tolerance)


def test_quantised_variants_are_smaller():
    device_model = fixed_shape_model(tiny_gru_model(vocabulary_size=4000))  # big enough to quantise
    sizes = {v: len(convert_to_tflite(device_model, v)) for v in ("fp32", "fp16", "int8")}
    assert sizes["int8"] < sizes["fp16"] < sizes["fp32"]


def test_audit_rejects_flex_ops():
    class Inverse(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 3, 3], tf.float32)])
        def __call__(self, x):
            return tf.linalg.inv(x)

    module = Inverse()
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.__call__.get_concrete_function()], module
    )
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.TFLITE_BUILTINS,
        tf.lite.OpsSet.SELECT_TF_OPS,
    ]
    content = converter.convert()
    assert any("Flex" in op for op in tflite_op_names(content))
    with pytest.raises(ExportError, match="not builtin-only"):
        audit_builtin_ops(content, "inverse.tflite")


def test_unknown_variant_is_rejected():
    with pytest.raises(ValueError, match="variant"):
        convert_to_tflite(tiny_gru_model(), "int4")
