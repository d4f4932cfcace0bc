import numpy as np
import pytest
import tensorflow as tf

from shared.layers import TextVectorizer
from shared.preprocessing.text import WordTokenizer, build_vocabulary
from shared.testing import check_layer

TRICKY = [
    "A good film!",
    "",
    "   ",
    "Don't   STOP\tme :)",
    "café naïve ÉCOLE",
    "İstanbul ǅ ß",
    "emoji 😀😀 ok",
    "a\u00a0b\u2003c",
    "good good good good good good good good",
    "can't-won't 'quoted'",
    "\x00null\x01",
    "line\nbreak\r\nand\x0bvertical",
]


@pytest.mark.parametrize("mark_caps", [False, True])
def test_graph_and_host_tokenizers_give_identical_ids(mark_caps):
    texts = TRICKY + ["I SAID no", "DON'T 2B OK.ÉCOLE", "ÀB AB"] if mark_caps else TRICKY
    vocabulary = build_vocabulary(texts * 2, max_tokens=200, mark_caps=mark_caps)
    host = WordTokenizer(vocabulary, max_length=6, mark_caps=mark_caps).encode(texts)
    graph = TextVectorizer(vocabulary, max_length=6, mark_caps=mark_caps)(tf.constant(texts))
    np.testing.assert_array_equal(graph.numpy(), host)
    assert host[0].tolist()[:4] != [1, 1, 1, 1]  # known words really are looked up
    if mark_caps:  # the marker is in the vocabulary and follows "SAID" (not "I")
        caps = vocabulary.index("<caps>") + 2
        assert host[len(TRICKY)].tolist()[:4] == [
            vocabulary.index("i") + 2,
            host[len(TRICKY), 1],
            caps,
            host[len(TRICKY), 3],
        ]


def test_known_ids_are_pinned():
    layer = TextVectorizer(["good", "film"], max_length=5)
    ids = layer(tf.constant(["A GOOD film, good!", "unknown"])).numpy().tolist()
    assert ids == [[1, 2, 3, 1, 2], [1, 0, 0, 0, 0]]


def test_layer_harness(tmp_path):
    check_layer(
        lambda: TextVectorizer(["good", "film"], max_length=4, name="vectorizer"),
        np.array(["a good film", "film"], dtype=object),
        tmp_path,
        expected_output_shape=(2, 4),
        trainable=False,
    )


@pytest.mark.parametrize("mark_caps", [False, True])
def test_graph_and_host_windows_are_identical(mark_caps):
    # Lengths around the window (6): 0, 5, 6, 7, 12, 13 tokens and the tricky texts.
    texts = TRICKY + ["w " * n for n in (5, 6, 7, 12, 13)] + ["GOOD film " * 5]
    vocabulary = build_vocabulary(texts * 2, max_tokens=200, mark_caps=mark_caps)
    tokenizer = WordTokenizer(vocabulary, max_length=6, mark_caps=mark_caps)
    host_ids, host_owners = tokenizer.encode_windows(texts)
    layer = TextVectorizer(vocabulary, max_length=6, mark_caps=mark_caps)
    graph_ids, graph_owners = layer.windows(tf.constant(texts))
    np.testing.assert_array_equal(graph_ids.numpy(), host_ids)
    np.testing.assert_array_equal(graph_owners.numpy(), host_owners)
    # The first window of each text is what the one-window encoding gives.
    firsts = np.searchsorted(host_owners, np.arange(len(texts)))
    np.testing.assert_array_equal(host_ids[firsts], tokenizer.encode(texts))
    windows = np.bincount(host_owners, minlength=len(texts))[len(TRICKY) : len(TRICKY) + 5]
    assert windows.tolist() == [1, 1, 2, 2, 3]


def test_no_texts_give_no_windows():
    ids, owners = TextVectorizer(["good"], max_length=4).windows(tf.constant([], tf.string))
    assert ids.shape == (0, 4) and owners.shape == (0,)
