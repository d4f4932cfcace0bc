import numpy as np
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


def test_graph_and_host_tokenizers_give_identical_ids():
    vocabulary = build_vocabulary(TRICKY * 2, max_tokens=200)
    host = WordTokenizer(vocabulary, max_length=6).encode(TRICKY)
    graph = TextVectorizer(vocabulary, max_length=6)(tf.constant(TRICKY)).numpy()
    np.testing.assert_array_equal(graph, host)
    assert host[0].tolist()[:4] != [1, 1, 1, 1]  # known words really are looked up


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
