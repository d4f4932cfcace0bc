import numpy as np
import tensorflow as tf

from shared.layers.unit_detokenizer import UnitDetokenizer
from shared.layers.unit_vectorizer import UnitVectorizer
from shared.preprocessing.text_units import UnitTokenizer, build_unit_vocabulary
from shared.testing import check_layer

TRICKY = [
    "November 21, 2026",
    "",
    "   ",
    "TWO HUNDRED AND Forty-Two",
    "$1,250.99 and €6.00 ¿qué? «hola»",
    "café naïve ÉCOLE İstanbul ǅ ß",
    "emoji 😀😀 ok",
    "a\u00a0b\u2003c\u202fd\u3000e\x85f",
    "quarter past seven in the evening, or 19:15",
    "can't-won't 'quoted' [x] {y} ^z \\w |v ~",
    "\x00null\x01",
    "line\nbreak\r\nand\x0bvertical\x1ctab",
]


def test_graph_and_host_tokenizers_give_identical_ids():
    vocabulary = build_unit_vocabulary(TRICKY * 2, max_tokens=300, lowercase=True)
    for reserved in ((), ("<start>", "<end>")):
        host = UnitTokenizer(vocabulary, max_length=12, lowercase=True, reserved=reserved)
        graph = UnitVectorizer(vocabulary, 12, lowercase=True, reserved=reserved)
        np.testing.assert_array_equal(graph(tf.constant(TRICKY)).numpy(), host.encode(TRICKY))
    cased = UnitTokenizer(vocabulary, max_length=12)
    np.testing.assert_array_equal(
        UnitVectorizer(vocabulary, 12)(tf.constant(TRICKY)).numpy(), cased.encode(TRICKY)
    )
    assert (host.encode(TRICKY) > 1).sum() > 40  # known units really are looked up


def test_graph_and_host_detokenizers_give_identical_text():
    targets = ["sábado, 6 de marzo de 1993", "19:30", "quatre-vingt-deux €", "¿Qué? ##x"]
    reserved = ("<start>", "<end>")
    vocabulary = build_unit_vocabulary(targets, 100, mark_attached=True, reserved=reserved)
    host = UnitTokenizer(vocabulary, 16, mark_attached=True, reserved=reserved)
    rng = np.random.default_rng(0)
    ids = np.concatenate([host.encode(targets), rng.integers(0, host.vocabulary_size, (6, 16))])
    graph = UnitDetokenizer(vocabulary, mark_attached=True, reserved=reserved)
    texts = [t.decode("utf-8") for t in graph(tf.constant(ids)).numpy()]
    assert texts == [host.decode(row) for row in ids]
    assert texts[:4] == targets


def test_pinned_ids():
    layer = UnitVectorizer(["de", "1", "2"], max_length=6, lowercase=True)
    assert layer(tf.constant(["12 DE mayo", ""])).numpy().tolist() == [
        [3, 4, 2, 1, 0, 0],
        [0, 0, 0, 0, 0, 0],
    ]


def test_layer_harness(tmp_path):
    check_layer(
        lambda: UnitVectorizer(["de", "1"], max_length=4, lowercase=True, name="vectorizer"),
        np.array(["1 de 1", "DE"], dtype=object),
        tmp_path,
        expected_output_shape=(2, 4),
        trainable=False,
    )
