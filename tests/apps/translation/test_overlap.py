"""Split hygiene of the real default corpus (60,000 pairs): no normalised source or target in
two splits, and the check catches a planted duplicate.

The corpus is the one `rnnapps train translation` trains on, read from the data cache (built
once, about 10 s on a free core, when it is not there yet).
"""

import pytest

from apps.translation import data, generator
from apps.translation.app import TranslationApp
from apps.translation.config import TranslationConfig
from shared.config import resolve_config
from shared.data.overlap import assert_no_overlap, cross_split_overlap, overlap_rows
from shared.data.sources import parse_source

SPLITS = ("train", "validation", "test")


@pytest.fixture(scope="module")
def default_corpus():
    config = resolve_config(TranslationConfig, "default")
    assert config.corpus_size == 60000
    return TranslationApp().load_data(config, parse_source(None))


def keys(splits, column, shifted=True):
    found = {split: getattr(splits, split)[column] for split in SPLITS}
    if shifted:
        found[data.OTHER_PHRASINGS] = splits.info[data.OTHER_PHRASINGS][column]
    return found


def test_default_corpus_shares_no_source_between_splits(default_corpus):
    assert len(default_corpus.train["source"]) > 47_000
    assert_no_overlap(cross_split_overlap(keys(default_corpus, "source")), what="sources")


def test_default_corpus_shares_no_target_between_splits(default_corpus):
    report = cross_split_overlap(keys(default_corpus, "target"))
    # Other phrasings of test values can share a test target ("19:30" however it is said);
    # never a training or validation one.
    report.pop(f"test/{data.OTHER_PHRASINGS}")
    assert_no_overlap(report, what="targets")
    # The report the corpus carries (and metrics.json) says the same.
    for column in ("source", "target"):
        assert overlap_rows(default_corpus.info["overlap"][column]) == 0


def test_the_check_fails_on_a_planted_duplicate(default_corpus):
    # A training pair copied into test, differing only in capitals, spacing and punctuation.
    source, target = default_corpus.train["source"][0], default_corpus.train["target"][0]
    planted = {
        column: {split: list(values) for split, values in keys(default_corpus, column).items()}
        for column in ("source", "target")
    }
    planted["source"]["test"].append(f"  {source.upper()}!")
    planted["target"]["test"].append(target.title().replace(" ", "  ") + ".")
    for column in ("source", "target"):
        report = cross_split_overlap(planted[column])
        assert report["train/test"]["rows"] == 1
        with pytest.raises(AssertionError, match="train/test: 1 rows"):
            assert_no_overlap(report, what=f"{column}s")


def test_the_generator_drops_a_planted_shared_target():
    rows = [
        [("November 21, 2026", "21 de noviembre de 2026", "date", ""), ("7", "siete", "c", "")],
        [],
        [("21 November 2026", "21 de Noviembre de 2026.", "date", "form")],
    ]
    dropped = generator._drop_shared_targets(rows)
    assert dropped == {"train": 1, "validation": 0, "test": 0}
    assert [row[0] for row in rows[0]] == ["7"] and len(rows[2]) == 1
