"""The host-side pieces of shared.runtime.step_decoder that need no trained model."""

import numpy as np

from shared.preprocessing.text_units import PAD_ID, UnitTokenizer
from shared.runtime.step_decoder import (
    END_ID,
    START_ID,
    log_softmax,
    teacher_forced_probabilities,
    teacher_forcing,
    written_length,
)


def test_teacher_forcing_shifts_the_text_between_start_and_end():
    tokenizer = UnitTokenizer(["a", "b"], max_length=3, reserved=("<start>", "<end>"))
    inputs, outputs = teacher_forcing(tokenizer, ["a b", "b a b a"])
    a, b = tokenizer.ids("a b")
    np.testing.assert_array_equal(inputs, [[START_ID, a, b, 0], [START_ID, b, a, b]])
    np.testing.assert_array_equal(outputs, [[a, b, END_ID, 0], [b, a, b, END_ID]])


def test_teacher_forced_probabilities_are_zero_after_each_end_token():
    logits = np.log(np.array([[[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]]]))
    probabilities = teacher_forced_probabilities(logits, np.array([[5, END_ID, 0]]))
    np.testing.assert_allclose(probabilities, [[[0.25, 0.75], [0.5, 0.5], [0.0, 0.0]]], atol=1e-6)
    np.testing.assert_allclose(np.exp(log_softmax(logits)).sum(-1), 1.0, atol=1e-12)


def test_written_length_stops_at_the_end_token_or_padding():
    assert written_length([7, 8, END_ID, 9]) == 2
    assert written_length([7, PAD_ID, PAD_ID]) == 1
    assert written_length([7, 8]) == 2
