"""Text generation data: documents, splits, the character vocabulary, the BPTT lanes."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from apps.text_generation import data
from apps.text_generation.app import TextGenerationApp
from apps.text_generation.config import TextGenerationConfig
from apps.text_generation.data import BEGIN_ID, UNKNOWN_ID, CharVocabulary
from shared.config import resolve_config
from shared.data.sources import Source
from shared.data.splits import Splits
from shared.errors import UserError


def test_vocabulary_keeps_characters_seen_often_enough():
    vocabulary = CharVocabulary.build(["abba", "cab", "z\udcff\udcff"], min_count=2)
    assert vocabulary.characters == ["a", "b"]  # c and z once; a lone surrogate never
    assert vocabulary.size == 4
    assert vocabulary.encode("abc\udcff").tolist() == [2, 3, UNKNOWN_ID, UNKNOWN_ID]
    assert vocabulary.encode_document("ba").tolist() == [BEGIN_ID, 3, 2, BEGIN_ID]
    assert vocabulary.encode_stream(["a", "", "bb"]).tolist() == [0, 2, 0, 0, 3, 3, 0]
    assert vocabulary.decode([0, 2, 1, 3], begin="|") == "|a\ufffdb"


def test_vocabulary_round_trips_through_its_file(tmp_path):
    vocabulary = CharVocabulary(["\n", " ", "é", "☕", "😀", '"', "\\"])
    path = tmp_path / "vocabulary.json"
    path.write_text(vocabulary.to_json(), encoding="utf-8")
    loaded = CharVocabulary.load(path)
    assert loaded.characters == vocabulary.characters
    text = 'café ☕ "😀"\\\n?'
    np.testing.assert_array_equal(loaded.encode(text), vocabulary.encode(text))


def test_split_documents_uses_paragraphs_then_lines():
    paragraphs = "\n\n".join(f"Paragraph {i}\nsecond line" for i in range(12))
    assert data.split_documents(paragraphs)[0] == "Paragraph 0\nsecond line"
    assert len(data.split_documents(paragraphs)) == 12
    lines = "\n".join(f"line {i}" for i in range(12)) + "\n\n"
    assert data.split_documents(lines) == [f"line {i}" for i in range(12)]


def test_text_file_splits_are_seeded_and_disjoint(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(f"sentence number {i}." for i in range(50)), encoding="utf-8")
    splits = data.load_data(Source("file", str(path)), seed=7)
    again = data.load_data(Source("file", str(path)), seed=7)
    parts = [splits.train["text"], splits.validation["text"], splits.test["text"]]
    assert [len(p) for p in parts] == [40, 5, 5]
    assert parts[2] == again.test["text"]
    assert len(set().union(*map(set, parts))) == 50  # every line in exactly one split


@pytest.mark.parametrize(
    "content, message",
    [
        (b"caf\xe9 au lait\n" * 20, "not valid UTF-8"),
        (b"one\ntwo\n\n\nthree\n", "only 3 non-empty lines"),
    ],
)
def test_bad_text_files_are_user_errors(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(UserError, match=message):
        data.load_data(Source("file", str(path)))


def test_limit_characters_keeps_whole_documents_and_cuts_a_single_long_one():
    assert data.limit_characters(["abc", "de", "fgh"], 4) == ["abc", "de"]
    assert data.limit_characters(["abcdef"], 4) == ["abcd"]
    assert data.limit_characters(["abc", "de"], 0) == ["abc", "de"]


def test_tiny_shakespeare_through_tfds_mock_data():
    with tfds.testing.mock_data(num_examples=3):
        splits = data.load_data(Source("tfds", "tiny_shakespeare"))
    assert splits.source == "tfds:tiny_shakespeare"
    for part in (splits.train, splits.validation, splits.test):
        assert part["text"] and all(isinstance(t, str) and t for t in part["text"])


def test_truncated_bptt_lanes_continue_from_batch_to_batch():
    config = resolve_config(TextGenerationConfig, "quick", ["batch_size=3", "window_length=4"])
    stream = np.arange(40, dtype=np.int32)
    batches = list(TextGenerationApp()._lanes(config, stream, "training").as_numpy_iterator())
    # lane length (40 - 1) // 3 = 13: three windows of 4 per lane, lanes start at 0, 13, 26
    assert len(batches) == 3
    inputs = np.concatenate([x for x, _ in batches], axis=1)  # [lanes, 12]
    targets = np.concatenate([y for _, y in batches], axis=1)
    np.testing.assert_array_equal(inputs[:, 0], [0, 13, 26])
    np.testing.assert_array_equal(np.diff(inputs, axis=1), 1)  # contiguous across batches
    np.testing.assert_array_equal(targets, inputs + 1)  # the next character


def test_lanes_too_short_is_a_user_error():
    config = resolve_config(TextGenerationConfig, "quick", ["batch_size=8", "window_length=64"])
    with pytest.raises(
        UserError, match=r"validation text: 100 ids \(characters or pieces\) is too short"
    ):
        TextGenerationApp()._lanes(config, np.zeros(100, np.int32), "validation")


def small_corpus(count: int = 300) -> list[str]:
    rng = np.random.default_rng(0)
    words = [
        "the",
        "a",
        "movie",
        "film",
        "was",
        "is",
        "great",
        "awful",
        "plot",
        "actors",
        "and",
        "but",
        "not",
        "very",
        "I",
        "loved",
        "it",
    ]
    return [
        " ".join(rng.choice(words, rng.integers(3, 12))).capitalize() + rng.choice([".", "!"])
        for _ in range(count)
    ]


def test_subword_vocabulary_reads_back_exactly_and_through_its_file(tmp_path):
    vocabulary = data.SubwordVocabulary.build(small_corpus(), size=60)
    assert vocabulary.size == 60 and vocabulary.id_texts[:2] == ["", "\ufffd"]
    text = "The  movie was great,  but not\tthe plot!"  # odd spaces kept as written
    ids = vocabulary.encode(text)
    assert len(ids) < len(text)  # pieces, not characters
    unseen = str.maketrans({",": "\ufffd", "\t": "\ufffd"})  # not in the training text
    assert vocabulary.decode(ids) == text.translate(unseen)
    assert UNKNOWN_ID in ids.tolist() and BEGIN_ID not in ids.tolist()
    document = vocabulary.encode_document("I loved it")
    assert document[0] == document[-1] == BEGIN_ID
    assert vocabulary.decode(document, begin="|") == "|I loved it|"
    assert vocabulary.encode("plot\udcff").tolist()[-1] == UNKNOWN_ID  # a lone surrogate
    path = tmp_path / "vocabulary.json"
    path.write_text(vocabulary.to_json(), encoding="utf-8")
    loaded = data.load_vocabulary(path)
    assert isinstance(loaded, data.SubwordVocabulary) and loaded.id_texts == vocabulary.id_texts
    np.testing.assert_array_equal(loaded.encode(text), ids)
    path.write_text(CharVocabulary(["a"]).to_json(), encoding="utf-8")
    assert isinstance(data.load_vocabulary(path), CharVocabulary)


def test_a_subword_vocabulary_the_text_cannot_fill_is_a_user_error():
    with pytest.raises(UserError, match=r"subword_vocabulary=5000: .*too high.*tokenizer=char"):
        data.SubwordVocabulary.build(small_corpus(20), size=5000)


def test_subword_and_character_streams_cover_the_same_characters():
    documents = small_corpus(50)
    app = TextGenerationApp()
    for tokenizer in ("char", "subword"):
        config = resolve_config(
            TextGenerationConfig, "quick", [f"tokenizer={tokenizer}", "subword_vocabulary=40"]
        )
        splits = Splits({"text": documents}, {"text": documents}, {"text": documents}, source="t")
        vocabulary = app.vocabulary(config, splits)
        assert vocabulary.size == (
            40 if tokenizer == "subword" else len(set("".join(documents))) + 2
        )
        stream = vocabulary.encode_stream(documents)
        assert vocabulary.decode(stream, begin="\n") == "\n" + "\n".join(documents) + "\n"
        # The n-gram baseline reads characters whatever the network reads.
        assert isinstance(app.characters(config, splits), CharVocabulary)
