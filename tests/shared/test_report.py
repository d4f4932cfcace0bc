"""``rnnapps report``: rows come from each run's metrics.json; other apps keep theirs."""

import dataclasses
import json

from shared.report import current_block, results_markdown


@dataclasses.dataclass
class FakeApp:
    name: str
    metric: str = "accuracy"

    def report(self, metrics):
        return f"details of {self.name}: {metrics['metrics'][self.metric]:.3f}"


def write_metrics(folder, accuracy, date):
    folder.mkdir(parents=True)
    scores = {"accuracy": accuracy, "size_bytes": 2e6, "latency_ms_p50": 1.5}
    metrics = {
        "data": "default",
        "preset": "default",
        "metrics": {"accuracy": accuracy},
        "litert": {variant: scores for variant in ("fp32", "fp16", "int8")},
        "training": {"seconds": 12.0, "epochs_run": 3},
        "date": date,
        "versions": {"keras": "3"},
    }
    (folder / "metrics.json").write_text(json.dumps(metrics))


def test_a_retrained_app_replaces_its_row_and_the_others_keep_theirs(tmp_path):
    apps = [FakeApp("alpha"), FakeApp("beta"), FakeApp("gamma")]
    write_metrics(tmp_path / "old" / "alpha", 0.5, "2026-01-01T00:00:00+00:00")
    write_metrics(tmp_path / "old" / "beta", 0.6, "2026-01-02T00:00:00+00:00")
    previous = results_markdown(apps, tmp_path / "old")
    write_metrics(tmp_path / "new" / "beta", 0.9, "2026-02-03T00:00:00+00:00")
    block = results_markdown(apps, tmp_path / "new", previous)
    rows = {line.split(" | ")[0]: line for line in block.splitlines() if line.startswith("| ")}
    assert "| 0.500 |" in rows["| alpha"] and rows["| alpha"].endswith("| 2026-01-01 |")
    assert "| 0.900 |" in rows["| beta"] and rows["| beta"].endswith("| 2026-02-03 |")
    assert "not trained yet" in rows["| gamma"]
    assert "details of alpha: 0.500" in block and "details of beta: 0.900" in block
    assert "details of beta: 0.600" not in block
    assert "Rows of alpha are kept from the previous report" in block


def test_the_current_block_is_read_between_the_markers(tmp_path):
    from shared.report import END, START

    readme = tmp_path / "README.md"
    readme.write_text(f"# T\n{START}\n| alpha | row |\n{END}\nafter\n")
    assert current_block(readme).strip() == "| alpha | row |"
    assert current_block(tmp_path / "missing.md") == ""
