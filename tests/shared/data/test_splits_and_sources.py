import numpy as np
import pytest

from shared.data.sources import Source, load_source, parse_source
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


def test_load_source_dispatches_sizes_and_rejects_other_tfds_datasets(tmp_path):
    calls = []
    loaders = {
        "app": "demo",
        "rows": "clips",
        "train_sizes": (100, 8),
        "load_generated": lambda size: calls.append(("default", size)),
        "tfds_dataset": "ucf101",
        "load_tfds_dataset": lambda name, limit: calls.append(("tfds", name, limit)),
        "load_files": lambda path, limit: calls.append(("files", path, limit)),
    }
    load_source("default", None, False, **loaders)
    load_source("default", None, True, **loaders)
    load_source("tfds:ucf101/ucf101_1:2.0.0", None, True, **loaders)
    load_source(str(tmp_path), 5, False, **loaders)
    assert calls == [
        ("default", 100),
        ("default", 8),
        ("tfds", "ucf101/ucf101_1:2.0.0", 8),
        ("files", tmp_path, 5),
    ]
    with pytest.raises(UserError, match="demo reads tfds:ucf101 only"):
        load_source("tfds:mnist", None, False, **loaders)
    with pytest.raises(ValueError, match="positive number of clips"):
        load_source("default", 0, False, **loaders)
