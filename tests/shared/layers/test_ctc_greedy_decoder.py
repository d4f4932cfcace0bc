"""CTCGreedyDecoder: in-graph best-path decoding equals the textbook loop, and converts."""

import numpy as np
import pytest

from shared.export import audit_builtin_ops, convert_to_tflite
from shared.layers.ctc_greedy_decoder import CTCGreedyDecoder
from shared.runtime.litert import LiteRTModel


def reference(best: np.ndarray, blank: int) -> list[int]:
    out, previous = [], None
    for value in best.tolist():
        if value != previous and value != blank:
            out.append(value)
        previous = value
    return out


@pytest.mark.parametrize("blank_index", [0, 4])
def test_matches_the_textbook_loop(blank_index):
    rng = np.random.default_rng(blank_index)
    # Few classes and long runs, so repeats and blanks are common.
    best = np.repeat(rng.integers(0, 5, size=(6, 10)), 2, axis=1)  # [6, 20]
    scores = np.eye(5, dtype=np.float32)[best] + rng.uniform(0, 0.1, (6, 20, 5)).astype("float32")
    decoded = CTCGreedyDecoder(blank_index=blank_index, name="ctc_decoder")(scores)
    ids, lengths = np.asarray(decoded["ids"]), np.asarray(decoded["length"])
    for row in range(6):
        expected = reference(best[row], blank_index)
        assert lengths[row] == len(expected)
        assert ids[row, : len(expected)].tolist() == expected
        assert np.all(ids[row, len(expected) :] == blank_index)


def test_config_round_trip_and_bad_blank():
    layer = CTCGreedyDecoder(blank_index=2, name="ctc_decoder")
    assert CTCGreedyDecoder.from_config(layer.get_config()).blank_index == 2
    with pytest.raises(ValueError, match="blank_index"):
        CTCGreedyDecoder(blank_index=-1)


def test_converts_to_builtin_ops_with_the_same_ids():
    import keras

    scores_input = keras.Input(batch_shape=(1, 12, 4), name="scores")
    model = keras.Model(scores_input, CTCGreedyDecoder(name="ctc_decoder")(scores_input))
    content = convert_to_tflite(model, "fp32")
    ops = audit_builtin_ops(content, "decoder")
    assert "ARG_MAX" in ops and "CUMSUM" in ops
    scores = np.random.default_rng(1).standard_normal((1, 12, 4)).astype(np.float32)
    out = LiteRTModel(content)(scores=scores)
    expected = model(scores)
    np.testing.assert_array_equal(out["ids"], np.asarray(expected["ids"]))
    np.testing.assert_array_equal(out["length"], np.asarray(expected["length"]))
