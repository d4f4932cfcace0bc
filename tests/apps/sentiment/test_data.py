import numpy as np
import pytest
import tensorflow_datasets as tfds

from apps.sentiment import data
from shared.data import vader
from shared.data.sources import Source
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


def test_tfds_imdb_reviews_with_mock_data():
    with tfds.testing.mock_data(num_examples=30):
        splits = data.load_data(Source("tfds", "imdb_reviews"))
    assert len(splits.train["text"]) == 27 and len(splits.validation["text"]) == 3
    assert len(splits.test["text"]) == 30
    assert set(splits.test["label"].tolist()) <= {0, 2}  # negative / positive, no neutral
    assert all(isinstance(t, str) for t in splits.test["text"])
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
    assert sum(sizes) == sum(counts.values()) and 0.09 < sizes[2] / sum(sizes) < 0.11
    test_domains = np.array(splits.test["domain"])
    assert abs((test_domains == "tweets").mean() - counts["tweets"] / sum(sizes)) < 0.01
