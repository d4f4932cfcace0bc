import numpy as np
import pytest

from shared.data.sources import Source, parse_source
from shared.data.splits import stratified_split
from shared.errors import UserError


def test_stratified_split_is_disjoint_deterministic_and_proportional():
    strata = np.array(["a"] * 100 + ["b"] * 50)
    columns = {"row": np.arange(150), "name": [f"r{i}" for i in range(150)]}
    train, validation, test = stratified_split(columns, strata, (0.8, 0.1), seed=7)
    rows = [set(part["row"].tolist()) for part in (train, validation, test)]
    assert sum(len(r) for r in rows) == 150 and not (rows[0] & rows[1] or rows[0] & rows[2])
    assert sum(strata[list(rows[2])] == "b") == 5 and sum(strata[list(rows[2])] == "a") == 10
    assert train["name"] == [f"r{i}" for i in train["row"]]
    again = stratified_split(columns, strata, (0.8, 0.1), seed=7)[2]
    np.testing.assert_array_equal(again["row"], test["row"])
    other = stratified_split(columns, strata, (0.8, 0.1), seed=8)[2]
    assert set(other["row"].tolist()) != rows[2]


def test_parse_source(tmp_path):
    assert parse_source(None) == Source("default")
    assert parse_source("tfds:imdb_reviews") == Source("tfds", "imdb_reviews")
    (tmp_path / "a.csv").write_text("text,label\n")
    assert parse_source(str(tmp_path / "a.csv")) == Source("file", str(tmp_path / "a.csv"))
    assert parse_source(f"file:{tmp_path}") == Source("file", str(tmp_path))
    with pytest.raises(UserError, match="unknown source"):
        parse_source(str(tmp_path / "missing.csv"))
    with pytest.raises(UserError, match="dataset name"):
        parse_source("tfds:")


def test_limit_rows_keeps_a_seeded_ordered_subset():
    from shared.data.splits import Splits, limit_rows

    def make():
        part = {"row": np.arange(50), "name": [f"r{i}" for i in range(50)]}
        return Splits(dict(part), dict(part), dict(part))

    limited = limit_rows(make(), seed=3, train_limit=10, test_limit=0)
    rows = limited.train["row"]
    assert len(rows) == 10 and np.all(np.diff(rows) > 0)
    assert limited.train["name"] == [f"r{i}" for i in rows]
    assert len(limited.test["row"]) == 50 and len(limited.validation["row"]) == 50
    np.testing.assert_array_equal(limit_rows(make(), 3, 10).train["row"], rows)
