"""Text generation data: documents, splits, the character vocabulary, the BPTT lanes."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from apps.text_generation import data, runtime
from apps.text_generation.app import TextGenerationApp, descend_grid
from apps.text_generation.config import TextGenerationConfig
from apps.text_generation.data import SHIFTED_SET
from apps.text_generation.runtime import BEGIN_ID, UNKNOWN_ID, CharVocabulary
from shared.char_ngram import CharNgramModel
from shared.config import resolve_config
from shared.data.overlap import assert_no_overlap, cross_split_overlap
from shared.data.sources import Source
from shared.data.splits import Splits
from shared.errors import UserError


@pytest.fixture(scope="module")
def default_splits():
    """The default corpus at its full size (VADER, cached under data/ after the first load)."""
    return data.load_data(Source("default", ""), seed=TextGenerationConfig.split_seed)


def documents_of(splits: Splits) -> dict[str, list[str]]:
    parts = {part: getattr(splits, part)["text"] for part in ("train", "validation", "test")}
    return {**parts, SHIFTED_SET: splits.extra[SHIFTED_SET]["text"]}


def test_the_default_corpus_shares_no_document_across_splits_after_normalising(default_splits):
    report = cross_split_overlap(documents_of(default_splits))
    assert_no_overlap(report, what="VADER snippets")
    assert default_splits.info["overlap"] == report  # what metrics.json records
    sizes = [len(documents) for documents in documents_of(default_splits).values()]
    # 23,703 snippets, 23,449 after dropping those equal up to case, spacing and punctuation
    # (the 14 test snippets that were a training snippet in other capitals among them).
    assert sizes == [18_759, 2_345, 2_345, 88]


def test_the_overlap_check_fails_on_a_planted_duplicate(default_splits):
    documents = documents_of(default_splits)
    planted = "  " + documents["test"][5].upper() + " !"
    documents["train"] = [*documents["train"], planted]
    with pytest.raises(AssertionError, match=r"train/test: 1 rows"):
        assert_no_overlap(cross_split_overlap(documents), what="VADER snippets")


def test_documents_equal_after_normalising_are_one_document_before_splitting(monkeypatch):
    texts = [f"Snippet number {i}, fine." for i in range(40)]
    texts += ["SNIPPET NUMBER 3  fine", "snippet number 7, FINE!", "", "   "]
    monkeypatch.setattr(data, "read_vader", lambda: {"text": texts})
    splits = data.load_data(Source("default", ""), seed=3)
    parts = documents_of(splits)
    assert sum(len(parts[p]) for p in ("train", "validation", "test")) == 40  # firsts kept
    assert "Snippet number 3, fine." in sum(parts.values(), [])
    assert_no_overlap(cross_split_overlap(parts))
    # split_seed decides the split: the same seed the same test documents, another another.
    assert data.load_data(Source("default", ""), seed=3).test["text"] == parts["test"]
    assert data.load_data(Source("default", ""), seed=4).test["text"] != parts["test"]


def test_the_shifted_set_is_prose_from_the_scikit_learn_descriptions():
    paragraphs = data.read_sklearn_descriptions()
    assert len(paragraphs) == 88 and 20_000 < sum(map(len, paragraphs)) < 22_000
    assert paragraphs[0].startswith('The mean, standard error, and "worst"')
    text = "\n".join(paragraphs)
    for markup in ("``", ":func:", ":class:", ">>>", "::", "  ", "\n\n", ".. "):
        assert markup not in text, markup
    assert all(len(p.split()) >= 8 and p.endswith((".", ":", ")")) for p in paragraphs)


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
    lines = [f"sentence number {i}." for i in range(50)] + ["Sentence number 7"]  # a duplicate
    path.write_text("\n".join(lines), encoding="utf-8")
    splits = data.load_data(Source("file", str(path)), seed=7)
    again = data.load_data(Source("file", str(path)), seed=7)
    parts = [splits.train["text"], splits.validation["text"], splits.test["text"]]
    assert [len(p) for p in parts] == [40, 5, 5]
    assert parts[2] == again.test["text"]
    assert len(set().union(*map(set, parts))) == 50  # every line in exactly one split
    assert splits.info["overlap"]["train/test"]["rows"] == 0


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
    def as_dataset(self, split, *args, **kwargs):
        # One text per split (tiny_shakespeare's layout): speeches at blank lines, one of them
        # in every split (written in other capitals in test).
        speeches = [f"{split} speech {i}." for i in range(4)] + ["Shared speech, my lord."]
        if str(split) == "test":
            speeches[-1] = speeches[-1].upper()
        text = "\n\n".join(speeches).encode()
        return tf.data.Dataset.from_tensor_slices({"text": [text]})

    with tfds.testing.mock_data(as_dataset_fn=as_dataset):
        splits = data.load_data(Source("tfds", "tiny_shakespeare"))
    assert splits.source == "tfds:tiny_shakespeare"
    assert splits.train["text"] == [f"train speech {i}." for i in range(4)] + [
        "Shared speech, my lord."
    ]
    # The shared speech stays in train only.
    assert splits.test["text"] == [f"test speech {i}." for i in range(4)]
    assert_no_overlap(splits.info["overlap"])


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
    vocabulary = runtime.SubwordVocabulary.build(small_corpus(), size=60)
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
    loaded = runtime.load_vocabulary(path)
    assert isinstance(loaded, runtime.SubwordVocabulary) and loaded.id_texts == vocabulary.id_texts
    np.testing.assert_array_equal(loaded.encode(text), ids)
    path.write_text(CharVocabulary(["a"]).to_json(), encoding="utf-8")
    assert isinstance(runtime.load_vocabulary(path), CharVocabulary)


def test_a_subword_vocabulary_the_text_cannot_fill_is_a_user_error():
    with pytest.raises(UserError, match=r"subword_vocabulary=5000: .*too high.*tokenizer=char"):
        runtime.SubwordVocabulary.build(small_corpus(20), size=5000)


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


def test_a_fitted_ngram_scores_any_discount_like_one_fitted_with_it():
    # tuned_ngram fits once per order and changes the discount: the counts must not depend on it.
    text = " ".join(small_corpus(100))
    model = CharNgramModel(6, 0.75).fit(text)
    for discount in (0.5, 0.95):
        model.discount = discount
        fresh = CharNgramModel(6, discount).fit(text)
        assert model.bits_per_character("The plot was not great") == pytest.approx(
            fresh.bits_per_character("The plot was not great"), abs=1e-12
        )


def test_the_ngram_is_tuned_on_validation_without_reading_the_test_split():
    documents = small_corpus(400)
    config = resolve_config(
        TextGenerationConfig, "quick", ["ngram_orders=2,4,6", "ngram_discounts=0.3,0.9"]
    )
    splits = Splits({"text": documents[:300]}, {"text": documents[300:]}, {}, source="t")
    tuned = TextGenerationApp().tuned_ngram(config, splits)  # the test split is empty here
    grid = tuned["grid"]
    assert set(grid) == {"2", "4", "6"} and all(set(row) == {"0.3", "0.9"} for row in grid.values())
    best = min((bits, int(o), float(d)) for o, row in grid.items() for d, bits in row.items())
    assert (tuned["validation"], tuned["order"], tuned["discount"]) == best
    assert tuned["model"].order == tuned["order"] and tuned["model"].discount == tuned["discount"]


@pytest.mark.parametrize(
    "setting, message",
    [("ngram_orders=0,3", "ngram_orders=0,3"), ("ngram_discounts=0.5,1.5", "in \\(0, 1\\]")],
)
def test_a_bad_ngram_grid_is_a_user_error(setting, message):
    with pytest.raises(UserError, match=message):
        resolve_config(TextGenerationConfig, "quick", [setting])


@pytest.mark.parametrize("start", [0, 2, 5])
def test_the_discount_search_ends_at_the_grids_best_value_from_any_start(start):
    grid = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
    calls = []

    def score(value):
        calls.append(value)
        return (value - 0.7) ** 2

    scored, best = descend_grid(score, grid, start)
    assert grid[best] == 0.7 and scored[0.7] == 0.0
    assert len(calls) == len(set(calls)) == len(scored) < len(grid)  # each value scored once


def test_the_readme_details_set_the_model_beside_the_tuned_ngram_on_both_texts():
    bits = {"bits_per_character": 2.0}
    shifted = {"held_out": {SHIFTED_SET: {"bits_per_character": 3.0}}}
    metrics = {
        "metrics": {**bits, **shifted, "overlap": {"train/test": {"rows": 0}}},
        "litert": {"fp32": {**bits, **shifted}},
        "baselines": {
            "kneser_ney": {
                "bits_per_character": 2.5,
                "held_out": {SHIFTED_SET: {"bits_per_character": 2.4}},
                "chosen": {"order": 9, "discount": 0.9},
                "validation": {"bits_per_character": 2.45, "grid": {"9": {"0.9": 2.45}}},
                "tuning_seconds": 1.0,
            },
            "unigram": {"bits_per_character": 4.5},
        },
    }
    text = TextGenerationApp().report(metrics)
    assert "| test split | 2.000 | 2.000 | 2.500 | 0.800 | 4.500 |" in text
    assert f"| {SHIFTED_SET} | 3.000 | 3.000 | 2.400 | 1.250 | – |" in text
    assert (
        "order 9 and discount 0.9" in text and "(train, validation, test, shifted set): 0" in text
    )
    # A run from before issue 23 (a fixed 5-gram only): no details.
    assert TextGenerationApp().report({**metrics, "baselines": {"kneser_ney_5": bits}}) == ""
