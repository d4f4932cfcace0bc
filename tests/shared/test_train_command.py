"""The training command: flags, the run, and its summary or JSON line."""

import argparse
import json

import pytest

from shared import train_command, workflow
from shared.config import BaseConfig
from shared.errors import UserError


class FakeApp:
    name = "alpha"
    metric = "accuracy"
    config_class = BaseConfig

    def headline(self, metrics):
        return {"metric": "accuracy", "in_distribution": {"keras": metrics["metrics"]["accuracy"]}}


def parse(argv):
    parser = argparse.ArgumentParser()
    train_command.add_train_arguments(parser)
    return parser.parse_args(argv)


def test_json_ends_a_run_with_its_headline_figures(monkeypatch, capsys, tmp_path):
    calls = []

    def fake_train(app, config, source, out):
        calls.append((config.preset, str(out)))
        return {"metrics": {"accuracy": 0.75}}

    monkeypatch.setattr(workflow, "train", fake_train)
    train_command.run_training(
        FakeApp(), parse(["--preset", "quick", "--out", str(tmp_path), "--json"])
    )
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line == {
        "app": "alpha",
        "preset": "quick",
        "metric": "accuracy",
        "in_distribution": {"keras": 0.75},
    }
    assert calls == [("quick", str(tmp_path))]


def test_seeds_below_one_are_refused_before_training(monkeypatch):
    monkeypatch.setattr(workflow, "train", lambda *a: pytest.fail("trained"))
    with pytest.raises(UserError, match="--seeds 0"):
        train_command.run_training(FakeApp(), parse(["--seeds", "0"]))
