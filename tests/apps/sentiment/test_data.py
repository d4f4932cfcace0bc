import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from apps.sentiment import data
from apps.sentiment.app import SentimentApp
from apps.sentiment.config import SentimentConfig
from shared.config import resolve_config
from shared.data import vader
from shared.data.overlap import assert_no_overlap, cross_split_overlap
from shared.data.sources import Source
from shared.data.splits import stratified_split
from shared.errors import UserError


def test_paper_protocol_thresholds():
    ratings = np.array([-4.0, -0.21, -0.2, 0.0, 0.2, 0.21, 4.0])
    assert vader.rating_to_label(ratings).tolist() == [0, 0, 1, 1, 1, 2, 2]


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_with_names_and_numbers(tmp_path):
    rows = "".join(
        f'"text {i}, with comma",{label}\n'
        for i, label in enumerate(["positive", "NEG", "neutral", "-1", "1", "0"] * 2)
    )
    columns = data.read_csv(write(tmp_path / "reviews.csv", "text,label\n" + rows))
    assert columns["label"].tolist() == [2, 0, 1, 0, 2, 1] * 2
    assert columns["text"][0] == "text 0, with comma"
    assert np.isnan(columns["rating"]).all() and columns["domain"][0] == "reviews"


def test_csv_with_binary_labels_reads_zero_as_negative(tmp_path):
    rows = "".join(f"t{i},{i % 2}\n" for i in range(12))
    assert data.read_csv(write(tmp_path / "b.csv", "text,label\n" + rows))["label"].tolist()[
        :2
    ] == [0, 2]


@pytest.mark.parametrize(
    "content, message",
    [
        ("words,label\na,positive\n", "header"),
        ("text,label\n" + "a,positive\n" * 10 + "b,great\n", ":12: unknown label 'great'"),
        ("text,label\n" + "a,positive\n" * 10 + " ,negative\n", ":12: empty text"),
        ("text,label\na,positive\n", "only 1 rows"),
    ],
)
def test_bad_csv_names_the_file_and_line(tmp_path, content, message):
    with pytest.raises(UserError, match=message):
        data.read_csv(write(tmp_path / "bad.csv", content))


def test_non_utf8_csv(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("text,label\ncaf\xe9,positive\n".encode("latin-1"))
    with pytest.raises(UserError, match="not valid UTF-8"):
        data.read_csv(path)


def imdb_split(builder, split, **kwargs):
    """Mock IMDB: 30 training reviews (two repeating a test review, one another training
    review in other capitals) and 10 test reviews."""
    if str(split).startswith("train"):
        texts = [f"training review {i}" for i in range(27)]
        texts += ["Test review 3!", "test  review 4", "TRAINING review 0"]
    else:
        texts = [f"test review {i}" for i in range(10)]
    labels = [i % 2 for i in range(len(texts))]
    return tf.data.Dataset.from_tensor_slices({"text": texts, "label": labels})


def test_tfds_imdb_reviews_with_mock_data():
    with tfds.testing.mock_data(as_dataset_fn=imdb_split):
        splits = data.load_data(Source("tfds", "imdb_reviews"))
    # The dataset's test split stays whole; training drops the three repeated reviews.
    assert len(splits.test["text"]) == 10 and splits.info["duplicates_dropped"] == 3
    assert len(splits.train["text"]) == 25 and len(splits.validation["text"]) == 2
    assert set(splits.test["label"].tolist()) <= {0, 2}  # negative / positive, no neutral
    assert all(isinstance(t, str) for t in splits.test["text"])
    assert_no_overlap(splits.info["overlap"])
    assert splits.source == "tfds:imdb_reviews"


def test_embedded_vader_corpus():
    """The real default: the sdist is fetched from the package registry once and cached."""
    columns = vader.read_vader()
    domains = np.array(columns["domain"])
    counts = {d: int((domains == d).sum()) for d in vader.VADER_DOMAINS}
    assert counts == {
        "tweets": 4200,
        "movie_reviews": 10605,
        "amazon_reviews": 3708,
        "nyt_editorials": 5190,
    }
    assert columns["rating"].min() >= -4 and columns["rating"].max() <= 4
    splits = data.load_data(Source("default"))
    sizes = [len(s["text"]) for s in (splits.train, splits.validation, splits.test)]
    # 254 rows repeat an earlier text once case, spacing and punctuation are ignored.
    assert splits.info["duplicates_dropped"] == 254
    assert sum(sizes) == sum(counts.values()) - 254 and 0.09 < sizes[2] / sum(sizes) < 0.11
    test_domains = np.array(splits.test["domain"])
    assert abs((test_domains == "tweets").mean() - counts["tweets"] / sum(sizes)) < 0.01


@pytest.fixture(scope="module")
def default_splits():
    """The real default corpus, split as training splits it (cached under data/)."""
    return data.load_data(Source("default"))


def texts_of(splits) -> dict:
    return {part: getattr(splits, part)["text"] for part in ("train", "validation", "test")}


def test_no_text_is_in_two_splits_of_the_default_corpus(default_splits):
    report = cross_split_overlap(texts_of(default_splits))
    assert_no_overlap(report, what="VADER snippets")
    assert default_splits.info["overlap"] == report


def test_the_overlap_check_fails_on_a_planted_duplicate(default_splits):
    texts = texts_of(default_splits)
    texts["test"] = list(texts["test"])
    texts["test"][7] = "  " + texts["train"][100].upper() + " !!"  # same text, other form
    with pytest.raises(AssertionError, match=r"train/test: 1 rows"):
        assert_no_overlap(cross_split_overlap(texts), what="VADER snippets")


def test_splitting_without_deduplicating_would_share_texts():
    """Why the split deduplicates first: the corpus itself repeats texts (the paper's
    capitals and exclamation-mark variants of a tweet, the same Amazon line twice)."""
    columns = vader.read_vader()
    strata = [f"{d}/{label}" for d, label in zip(columns["domain"], columns["label"], strict=True)]
    train, validation, test = stratified_split(columns, strata, (0.8, 0.1), 1234)
    report = cross_split_overlap({"train": train["text"], "test": test["text"]})
    assert report["train/test"]["rows"] > 20
    with pytest.raises(AssertionError):
        assert_no_overlap(report)


def test_a_csv_keeps_the_first_of_each_text_and_splits_the_rest(tmp_path):
    rows = [f"text number {i},positive" for i in range(30)]
    rows += ["TEXT number 3!,negative", "  text   number 4 ,neutral"]  # repeats, other forms
    path = write(tmp_path / "reviews.csv", "text,label\n" + "\n".join(rows) + "\n")
    splits = data.load_data(Source("file", str(path)), split_seed=5)
    assert splits.info["duplicates_dropped"] == 2
    every = [t for part in texts_of(splits).values() for t in part]
    assert sorted(every) == sorted(f"text number {i}" for i in range(30))
    assert_no_overlap(splits.info["overlap"])


def test_a_csv_of_too_few_distinct_texts_is_a_user_error(tmp_path):
    path = write(tmp_path / "same.csv", "text,label\n" + "Great!,positive\ngreat,positive\n" * 6)
    with pytest.raises(UserError, match="only 1 distinct texts"):
        data.load_data(Source("file", str(path)))


def test_split_seed_decides_the_data_and_seed_does_not():
    app = SentimentApp()

    def test_texts(*overrides):
        config = resolve_config(SentimentConfig, "quick", list(overrides))
        return app.load_data(config, Source("default")).test["text"]

    assert test_texts("seed=1") == test_texts("seed=2")
    assert test_texts("split_seed=1") != test_texts("split_seed=2")


def test_long_texts_join_test_snippets_of_one_domain(default_splits):
    test = default_splits.test
    long = data.long_texts(test, 1234)
    assert len(long["text"]) == 4 * data.LONG_TEXTS_PER_DOMAIN
    assert sorted(set(long["domain"])) == sorted(vader.VADER_DOMAINS)
    words = np.array([len(text.split()) for text in long["text"]])
    assert np.median(words) > 48  # longer than one window of the model
    # The first text is its domain's test snippets, some of them, joined by spaces.
    snippets = {
        t for t, d in zip(test["text"], test["domain"], strict=True) if d == long["domain"][0]
    }
    first = long["text"][0]
    assert sum(t in first for t in snippets if len(t) > 40) >= 1
    assert long["label"].tolist() == vader.rating_to_label(long["rating"]).tolist()
    assert data.long_texts(test, 1234)["text"] == long["text"]  # seeded
    assert data.long_texts(test, 99)["text"] != long["text"]
