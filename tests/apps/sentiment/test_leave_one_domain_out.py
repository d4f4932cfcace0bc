"""Leave one domain out: the split it trains on, and the command at the quick preset."""

import json

import numpy as np
import pytest

from apps.sentiment import leave_one_domain_out as lodo
from shared.data.splits import Splits


def test_without_domain_trains_on_the_others_and_tests_on_it_alone():
    def columns(domains):
        return {
            "text": [f"{d} {i}" for i, d in enumerate(domains)],
            "label": np.arange(len(domains)) % 3,
            "domain": domains,
        }

    splits = Splits(
        columns(["tweets", "nyt", "movies", "tweets"]),
        columns(["nyt", "tweets"]),
        columns(["tweets", "nyt", "movies"]),
    )
    part = lodo.without_domain(splits, "tweets")
    assert part.train["domain"] == ["nyt", "movies"] and part.validation["domain"] == ["nyt"]
    assert part.test["domain"] == ["tweets"] and part.test["text"] == ["tweets 0"]
    assert part.train["label"].tolist() == [1, 2]


@pytest.mark.slow
def test_the_command_leaves_a_domain_out_at_the_quick_preset(tmp_path, capsys):
    out = tmp_path / "runs" / "sentiment_lodo.json"
    argv = ["--preset", "quick", "--domain", "nyt_editorials", "--out", str(out)]
    assert lodo.main(argv) == 0
    results = json.loads(out.read_text())
    assert (results["preset"], results["split_seed"]) == ("quick", 1234)
    entry = results["domains"]["nyt_editorials"]
    assert entry["trained_on"] == ["amazon_reviews", "movie_reviews", "tweets"]
    assert set(entry["model"]["by_domain"]) == {"nyt_editorials"}
    # The ordinary quick run's NYT test rows: the same rows, scored without NYT in training.
    assert entry["rows"]["test"] == entry["model"]["count"] == entry["vader"]["count"] > 50
    for name in ("model", "vader", "tfidf_logistic_regression"):
        assert 0 < entry[name]["f1_weighted"] < 1 and 0 < entry[name]["f1_macro"] < 1
    assert entry["tfidf_logistic_regression"]["chosen"]["C"] > 0
    held_out = results["held_out"]["without_nyt_editorials"]
    assert held_out["f1_weighted"] == entry["model"]["f1_weighted"]
    assert "nyt_editorials" in held_out["description"]
    assert "without_nyt_editorials: f1_weighted" in capsys.readouterr().out


def test_an_unknown_domain_is_one_line_and_exit_status_2(tmp_path, capsys):
    out = tmp_path / "lodo.json"
    argv = ["--preset", "quick", "--domain", "poetry", "--out", str(out)]
    assert lodo.main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: --domain poetry: unknown domain") and "\n" not in error
    assert not out.exists()


def test_the_readme_table_is_written_from_the_json_alone(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{lodo.README_START}\nold\n{lodo.README_END}\nrest\n")
    results = {
        "date": "2026-12-05T11:42:00+00:00",
        "commit": "abc1234",
        "preset": "default",
        "seed": 1234,
        "split_seed": 1234,
        "held_out": {
            "without_tweets": {
                "f1_weighted": 0.7242,
                "f1_macro": 0.5496,
                "vader": 0.8742,
                "tfidf_logistic_regression": 0.6918,
            }
        },
    }
    recorded = tmp_path / "sentiment.json"
    recorded.write_text(json.dumps({"metrics": {"by_domain": {"tweets": {"f1_weighted": 0.835}}}}))
    (tmp_path / "lodo.json").write_text(json.dumps(results))
    argv = ["--out", str(tmp_path / "lodo.json"), "--table-only"]
    assert lodo.main([*argv, "--readme", str(readme), "--recorded", str(recorded)]) == 0
    text = readme.read_text()
    assert "old" not in text and text.startswith("intro\n") and text.endswith("rest\n")
    assert "| tweets | 0.724 / 0.550 | 0.874 | 0.692 | 0.835 |" in text
    assert "2026-12-05, abc1234" in text
    # Without a recorded run the last column says so; an unreadable JSON is one line, status 2.
    assert "| tweets | 0.724 / 0.550 | 0.874 | 0.692 | – |" in lodo.table(results)
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert lodo.main(["--out", str(bad), "--table-only", "--readme", str(readme)]) == 2
