"""``rnnapps report``: every README figure comes from a recorded run under bench/runs/."""

import json

import pytest

from shared.app import App
from shared.report import (
    APP_END,
    APP_START,
    END,
    START,
    app_results_markdown,
    current_block,
    load_runs,
    record_runs,
    results_markdown,
    update_block,
    update_readme,
)


class FakeApp:
    """Just what the report reads of an App (``headline`` is the real one)."""

    metric = "accuracy"
    lower_is_better = False
    test_split = "held-out voices"
    headline = App.headline

    def __init__(self, name):
        self.name = name

    def report(self, metrics):
        return f"details of {self.name}: {metrics['metrics'][self.metric]:.3f}"


def run_metrics(accuracy, date, preset="default", **extra):
    scores = {"accuracy": accuracy, "size_bytes": 2e6, "latency_ms_p50": 1.5}
    return {
        "data": "default",
        "preset": preset,
        "metrics": {
            "accuracy": accuracy,
            "held_out": {"other_engine": {"description": "another engine", "accuracy": 0.4}},
        },
        "litert": {variant: dict(scores) for variant in ("fp32", "fp16", "int8")},
        "baselines": {
            "majority": {"accuracy": 0.25},
            "logistic": {"accuracy": 0.5, "tuned_on": "validation", "chosen": {"C": 1.0}},
            "per_split": {"test": {"accuracy": 0.3}},
            "no_metric": {"bleu": 3.0},
        },
        "training": {"seconds": 12.0, "epochs_run": 3},
        "date": date,
        "commit": "abc1234",
        "versions": {"keras": "3"},
        **extra,
    }


def write_model(folder, metrics):
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(metrics))


def test_headline_names_the_strongest_baseline_and_the_held_out_sets():
    figures = FakeApp("alpha").headline(run_metrics(0.8, "2026-01-01T00:00:00+00:00"))
    assert figures["in_distribution"]["keras"] == 0.8
    assert figures["held_out"]["other_engine"]["keras"] == 0.4
    assert set(figures["baselines"]) == {"majority", "logistic", "per_split"}
    assert figures["strongest"] == "logistic"
    assert figures["baselines"]["logistic"]["ratio"] == pytest.approx(0.8 / 0.5)


def test_lower_is_better_picks_the_lowest_baseline():
    app = FakeApp("alpha")
    app.lower_is_better = True
    assert app.headline(run_metrics(0.8, "2026-01-01"))["strongest"] == "majority"


def test_a_default_run_is_recorded_and_a_demo_run_does_not_displace_it(tmp_path):
    apps = [FakeApp("alpha"), FakeApp("beta")]
    write_model(tmp_path / "m1" / "alpha", run_metrics(0.5, "2026-01-01T00:00:00+00:00"))
    notes = record_runs(apps, tmp_path / "m1", tmp_path / "runs")
    assert notes == [
        f"alpha: recorded {tmp_path / 'm1/alpha/metrics.json'} as {tmp_path / 'runs/alpha.json'}"
    ]
    write_model(tmp_path / "m2" / "alpha", run_metrics(0.3, "2026-02-01T00:00:00+00:00", "demo"))
    write_model(tmp_path / "m2" / "beta", run_metrics(0.2, "2026-02-01T00:00:00+00:00", "demo"))
    notes = record_runs(apps, tmp_path / "m2", tmp_path / "runs")
    assert "kept the recorded default run" in notes[0]
    runs = load_runs(apps, tmp_path / "runs")
    assert runs["alpha"]["metrics"]["accuracy"] == 0.5  # the headline run stays
    assert (
        runs["beta"]["preset"] == "demo"
    )  # nothing recorded yet: the demo run is better than none


def test_rows_come_from_the_recorded_runs_with_their_date_and_commit():
    apps = [FakeApp("alpha"), FakeApp("gamma")]
    runs = {"alpha": run_metrics(0.8, "2026-01-01T00:00:00+00:00")}
    block = results_markdown(apps, runs)
    rows = {line.split(" | ")[0]: line for line in block.splitlines() if line.startswith("| ")}
    assert "0.800 / 0.800 / 0.800" in rows["| alpha"]
    assert "other_engine 0.400" in rows["| alpha"]  # the held-out figure, beside the test one
    assert "logistic 0.500 (1.60×), tuned on validation" in rows["| alpha"]
    assert rows["| alpha"].endswith("| 2026-01-01, abc1234 |")
    assert "no recorded run" in rows["| gamma"]


def test_the_app_table_shows_every_figure_and_the_spread():
    spread = {
        "seeds": [1, 2, 3],
        "keras": {"values": [0.7, 0.8, 0.9], "mean": 0.8, "min": 0.7, "max": 0.9},
    }
    block = app_results_markdown(FakeApp("alpha"), run_metrics(0.8, "2026-01-01", spread=spread))
    assert "3 seeds: mean 0.800, 0.700–0.900" in block
    assert "| ours, in distribution | held-out voices | 0.800 |" in block
    assert "| ours, other_engine | another engine | 0.400 |" in block
    assert "| baseline logistic (strongest) |" in block and '{"C": 1.0}' in block
    assert "details of alpha: 0.800" in block


def test_the_current_block_is_read_between_the_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# T\n{START}\n| alpha | row |\n{END}\n{APP_START}\nx\n{APP_END}\n")
    assert current_block(readme).strip() == "| alpha | row |"
    assert current_block(readme, APP_START, APP_END).strip() == "x"
    assert current_block(tmp_path / "missing.md") == ""


def test_a_block_is_replaced_between_its_markers_and_missing_ones_are_named(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# T\n{START}\nold\n{END}\n<!-- a -->\nx\n<!-- b -->\n")
    update_readme(readme, "| alpha | row |")
    update_block(readme, "<!-- a -->", "<!-- b -->", "y")  # the bench pages' call
    assert (
        readme.read_text() == f"# T\n{START}\n| alpha | row |\n{END}\n<!-- a -->\ny\n<!-- b -->\n"
    )
    with pytest.raises(ValueError, match=r"README.md: markers <!-- a --> / <!-- c --> not found$"):
        update_block(readme, "<!-- a -->", "<!-- c -->", "z")
    readme.write_text("no markers\n")
    with pytest.raises(ValueError, match=r"README.md: results markers not found$"):
        update_readme(readme, "z")


def test_a_held_out_set_scored_in_its_own_metric_is_read_and_named_so():
    metrics = run_metrics(0.8, "2026-01-01")
    metrics["metrics"]["held_out"]["unseen_phrases"] = {
        "description": "d",
        "metric": "cer",
        "cer": 0.2,
        "accuracy": 0.99,
    }
    metrics["litert"]["fp32"]["held_out"] = {"unseen_phrases": {"cer": 0.25}}
    entry = FakeApp("alpha").headline(metrics)["held_out"]["unseen_phrases (CER, lower is better)"]
    assert (entry["keras"], entry["fp32"]) == (0.2, 0.25)


def test_a_separate_held_out_run_joins_its_apps_figures(tmp_path):
    apps = [FakeApp("alpha")]
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    (runs_dir / "alpha.json").write_text(json.dumps(run_metrics(0.8, "2026-01-01")))
    lodo = {
        "date": "2026-01-02T00:00:00+00:00",
        "commit": "def5678",
        "held_out": {"without_tweets": {"description": "tweets left out", "accuracy": 0.6}},
    }
    (runs_dir / "alpha_lodo.json").write_text(json.dumps(lodo))
    (runs_dir / "alpha_compare_default.json").write_text(json.dumps({"runs": []}))
    runs = load_runs(apps, runs_dir)
    block = app_results_markdown(apps[0], runs["alpha"])
    row = next(line for line in block.splitlines() if "without_tweets" in line)
    assert "separate run `bench/runs/alpha_lodo.json`, 2026-01-02, def5678" in row
    assert "| 0.600 |" in row
    assert "without_tweets 0.600" in results_markdown(apps, runs)


def test_a_run_that_gains_its_spread_is_recorded_again(tmp_path):
    apps = [FakeApp("alpha")]
    metrics = run_metrics(0.5, "2026-01-01T00:00:00+00:00")
    write_model(tmp_path / "m" / "alpha", metrics)
    record_runs(apps, tmp_path / "m", tmp_path / "runs")
    assert record_runs(apps, tmp_path / "m", tmp_path / "runs") == []  # nothing new
    metrics["spread"] = {"seeds": [1, 2, 3]}  # --seeds rewrites the first run's metrics.json
    (tmp_path / "m" / "alpha" / "metrics.json").write_text(json.dumps(metrics))
    assert len(record_runs(apps, tmp_path / "m", tmp_path / "runs")) == 1
    assert load_runs(apps, tmp_path / "runs")["alpha"]["spread"] == {"seeds": [1, 2, 3]}
