import numpy as np
import pytest

from shared.preprocessing.text import (
    WordTokenizer,
    build_vocabulary,
    mean_over_windows,
    split_words,
)


def test_split_words_rules():
    assert split_words("Don't STOP, me :) !!!") == ["don't", "stop", ",", "me", ":)", "!!!"]
    assert split_words("Café") == ["caf", "é"]  # non-ASCII letters stand alone
    assert split_words("a\u00a0b") == ["a", "\u00a0", "b"]  # only ASCII whitespace splits
    assert split_words("  ") == []


def test_vocabulary_is_by_frequency_then_alphabetical_and_drops_rare():
    vocabulary = build_vocabulary(["b a a", "b a c", "d d"], max_tokens=10, min_count=2)
    assert vocabulary == ["a", "b", "d"]
    assert build_vocabulary(["b a a", "b a c"], max_tokens=3, min_count=1) == ["a"]


def test_encode_pads_truncates_and_maps_unknown(tmp_path):
    tokenizer = WordTokenizer(["good", "film"], max_length=3)
    ids = tokenizer.encode(["good film good film", "bad", ""])
    np.testing.assert_array_equal(ids, [[2, 3, 2], [1, 0, 0], [0, 0, 0]])
    assert ids.dtype == np.int32
    tokenizer.save(tmp_path / "vocabulary.json")
    again = WordTokenizer.load(tmp_path / "vocabulary.json")
    np.testing.assert_array_equal(again.encode(["good film good film"]), ids[:1])


def test_bad_length_is_rejected():
    with pytest.raises(ValueError, match="max_length"):
        WordTokenizer(["a"], max_length=0)


def test_words_in_capitals_are_marked_after_lower_casing():
    assert split_words("I said STOP, DON'T!! Ok OK2 É", mark_caps=True) == [
        "i",
        "said",
        "stop",
        "<caps>",
        ",",
        "don't",
        "<caps>",
        "!!",
        "ok",
        "ok2",
        "<caps>",
        "É",  # only ASCII letters are lower-cased (rule 1)
    ]
    assert split_words("<caps> STOP") == ["<", "caps", ">", "stop"]  # no text gives the marker
    tokenizer = WordTokenizer(["stop", "<caps>"], max_length=3, mark_caps=True)
    assert tokenizer.encode(["STOP stop"]).tolist() == [[2, 3, 2]]


def test_the_sidecar_keeps_the_caps_rule(tmp_path):
    WordTokenizer(["stop", "<caps>"], max_length=3, mark_caps=True).save(tmp_path / "v.json")
    assert WordTokenizer.load(tmp_path / "v.json").encode(["STOP"]).tolist() == [[2, 3, 0]]


def test_windows_hold_every_token_in_order():
    tokenizer = WordTokenizer(["a", "b", "c"], max_length=2)
    ids, owners = tokenizer.encode_windows(["a b c a b", "", "c"])
    assert ids.tolist() == [[2, 3], [4, 2], [3, 0], [0, 0], [4, 0]]
    assert owners.tolist() == [0, 0, 0, 1, 2]


def test_mean_over_windows_weighs_each_window_by_its_tokens():
    ids = np.array([[2, 3], [4, 0], [0, 0], [5, 5]])  # text 0: 2 + 1 tokens; text 1: empty
    owners = np.array([0, 0, 1, 2])
    values = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.2, 0.8]])
    mean = mean_over_windows(values, owners, ids, count=3)
    np.testing.assert_allclose(mean, [[2 / 3, 1 / 3], [0.5, 0.5], [0.2, 0.8]], rtol=1e-6)
    ratings = mean_over_windows(np.array([[0.9], [-0.3], [0.0], [0.1]]), owners, ids, count=3)
    np.testing.assert_allclose(ratings[:, 0], [0.5, 0.0, 0.1], rtol=1e-6, atol=1e-7)
