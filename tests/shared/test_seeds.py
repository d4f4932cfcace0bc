"""``rnnapps train APP --seeds N``: N runs on one split, their spread in the first run's metrics."""

import dataclasses
import json

import pytest

from shared import workflow
from shared.config import BaseConfig


class FakeApp:
    name = "alpha"
    metric = "accuracy"


def fake_metrics(accuracy):
    return {
        "metrics": {"accuracy": accuracy, "held_out": {"shifted": {"accuracy": accuracy / 2}}},
        "litert": {"fp32": {"accuracy": accuracy - 0.01}},
    }


def test_each_seed_trains_on_the_same_split_and_the_spread_is_recorded(tmp_path, monkeypatch):
    calls = []

    def fake_train(app, config, source, out_dir):
        calls.append((config.seed, config.split_seed, out_dir))
        out_dir.mkdir(parents=True)
        metrics = fake_metrics({1234: 0.8, 1235: 0.6, 1236: 0.7}[config.seed])
        (out_dir / "metrics.json").write_text(json.dumps(metrics))
        return metrics

    monkeypatch.setattr(workflow, "train", fake_train)
    out = tmp_path / "alpha"
    metrics = workflow.train_seeds(FakeApp(), BaseConfig(), "default", out, 3)
    assert [(seed, split) for seed, split, _ in calls] == [(1234, 1234), (1235, 1234), (1236, 1234)]
    assert calls[0][2] == out and calls[2][2] == tmp_path / ".alpha.seeds" / "seed-1236"
    spread = json.loads((out / "metrics.json").read_text())["spread"]
    assert spread == metrics["spread"]
    assert spread["seeds"] == [1234, 1235, 1236]
    assert spread["keras"]["values"] == [0.8, 0.6, 0.7]
    assert spread["keras"]["mean"] == pytest.approx(0.7)
    assert (spread["keras"]["min"], spread["keras"]["max"]) == (0.6, 0.8)
    assert spread["fp32"]["mean"] == pytest.approx(0.69)
    assert spread["held_out"]["shifted"]["max"] == pytest.approx(0.4)
    assert metrics["metrics"]["accuracy"] == 0.8  # the model kept is the first seed's


def test_a_seed_already_finished_with_the_same_config_and_data_is_kept_not_retrained(
    tmp_path, monkeypatch
):
    from shared.data.sources import Source

    calls = []

    def fake_train(app, config, source, out_dir):
        calls.append(config.seed)
        out_dir.mkdir(parents=True, exist_ok=True)
        metrics = {**fake_metrics(0.5 + (config.seed - 1234) / 10), "source": str(source)}
        (out_dir / "config.json").write_text(config.to_json())
        (out_dir / "metrics.json").write_text(json.dumps(metrics))
        return metrics

    monkeypatch.setattr(workflow, "train", fake_train)
    out = tmp_path / "alpha"
    workflow.train_seeds(FakeApp(), BaseConfig(), Source("default"), out, 2)
    assert calls == [1234, 1235]
    # A third seed: the first two are read back; only 1236 trains.
    metrics = workflow.train_seeds(FakeApp(), BaseConfig(), Source("default"), out, 3)
    assert calls == [1234, 1235, 1236]
    assert metrics["spread"]["keras"]["values"] == pytest.approx([0.5, 0.6, 0.7])
    # Another config or other data trains again.
    workflow.train_seeds(FakeApp(), BaseConfig(epochs=3), Source("default"), out, 1)
    workflow.train_seeds(FakeApp(), BaseConfig(epochs=3), Source("file", "x.csv"), out, 1)
    assert calls == [1234, 1235, 1236, 1234, 1234]


def test_the_split_seed_is_a_field_of_every_config():
    assert {f.name for f in dataclasses.fields(BaseConfig)} >= {"seed", "split_seed"}


def test_a_run_records_the_commit_it_came_from():
    import pathlib
    import subprocess

    root = pathlib.Path(workflow.__file__).resolve().parents[1]
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")
    head = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout
    assert workflow.source_commit().split("+")[0] == head[:7]
