"""Split hygiene: the overlap report finds an item planted in two splits, however it is written."""

import numpy as np
import pytest

from shared.data.overlap import (
    assert_no_overlap,
    cross_split_overlap,
    first_occurrences,
    normalise_text,
    overlap_rows,
)


def test_case_spacing_punctuation_and_width_are_ignored():
    assert normalise_text("  Great MOVIE!!  ") == normalise_text("great movie")
    assert normalise_text("don't\tstop") == "don t stop"
    assert normalise_text("ＡＢＣ") == "abc"  # full-width letters (NFKC)
    assert normalise_text("great movie") != normalise_text("great movies")


def test_first_occurrences_keeps_one_row_per_normalised_key_in_order():
    keys = ["A film.", "b", "a FILM", "c", "B!"]
    np.testing.assert_array_equal(first_occurrences(keys), [0, 1, 3])
    np.testing.assert_array_equal(first_occurrences(["x", "X"], normalise=None), [0, 1])


def test_clean_splits_report_zero_everywhere():
    report = cross_split_overlap({"train": ["a", "b"], "validation": ["c"], "test": ["d"]})
    assert set(report) == {"train/validation", "train/test", "validation/test"}
    assert overlap_rows(report) == 0
    assert_no_overlap(report)


def test_a_planted_duplicate_is_found_and_fails_the_check():
    report = cross_split_overlap(
        {"test": ["seen text", "new"], "train": ["Seen,  TEXT!", "other"], "shifted": ["new"]}
    )
    assert report["train/test"] == {"rows": 1, "distinct": 1, "examples": ["seen text"]}
    assert report["test/shifted"]["rows"] == 1  # extra splits come after the usual three
    assert overlap_rows(report) == 2
    with pytest.raises(AssertionError, match="train/test: 1 rows"):
        assert_no_overlap(report, "texts")


def test_keys_that_are_not_text_compare_as_they_are():
    report = cross_split_overlap(
        {"train": [("voice", 1), ("voice", 2)], "test": [("voice", 2)]}, normalise=None
    )
    assert report["train/test"]["rows"] == 1
