"""``rnnapps compare``: variants over seeds, scored on validation, resumable."""

import json

import pytest

from apps import cli
from shared.compare import compare, kept_epoch, parse_variant, summarise, summary_markdown
from shared.errors import UserError


class FakeApp:
    name = "alpha"
    monitor = ("val_loss", "min")


def test_a_variant_is_a_name_and_its_overrides():
    assert parse_variant("small: units=8, epochs=2") == ("small", ["units=8", "epochs=2"])
    assert parse_variant("as_is:") == ("as_is", [])
    for bad in ("units=8", ":units=8", "x:units"):
        with pytest.raises(UserError, match="--variant"):
            parse_variant(bad)


def test_the_kept_epoch_is_the_one_with_the_lowest_validation_loss():
    history = [{"epoch": 0, "val_loss": 0.9}, {"epoch": 1, "val_loss": 0.5}, {"epoch": 2}]
    assert kept_epoch(history)["epoch"] == 1
    history = [{"epoch": 0, "val_auc": 0.9}, {"epoch": 1, "val_auc": 0.5}]
    assert kept_epoch(history, "val_auc", "max")["epoch"] == 0  # an app's own monitor


def test_every_variant_and_seed_is_trained_once_and_a_stopped_run_resumes(tmp_path):
    calls = []

    def fake_train(app, preset, overrides, seed, source):
        calls.append((tuple(overrides), seed))
        score = {(): 0.5, ("units=8",): 0.7}[tuple(overrides)] + (seed - 1) / 100
        return {"validation": {"val_f1": score}, "kept_epoch": 2, "epochs_run": 3}

    out = tmp_path / "cmp.json"
    variants = [("base", []), ("wide", ["units=8"])]
    compare(FakeApp(), "quick", variants, [1], out, "default", train=fake_train, log=lambda m: 0)
    result = compare(
        FakeApp(), "quick", variants, [1, 2], out, "default", train=fake_train, log=lambda m: 0
    )
    assert calls == [((), 1), (("units=8",), 1), ((), 2), (("units=8",), 2)]  # none twice
    assert json.loads(out.read_text())["summary"] == result["summary"]
    wide = result["summary"]["wide"]["val_f1"]
    assert (wide["mean"], wide["min"], wide["max"]) == pytest.approx((0.705, 0.7, 0.71))
    assert result["split"].startswith("validation")
    table = summary_markdown(result)
    assert "| wide | 2 | 0.7050 (0.7000–0.7100) |" in table
    with pytest.raises(UserError, match="not beta"):
        other = FakeApp()
        other.name = "beta"
        compare(other, "quick", variants, [1], out, "default", train=fake_train)


def test_summaries_keep_only_metrics_every_seed_logged():
    runs = [
        {"variant": "v", "seed": 1, "validation": {"a": 1.0, "b": 2.0}},
        {"variant": "v", "seed": 2, "validation": {"a": 3.0}},
    ]
    assert set(summarise(runs)["v"]) == {"a"}


def test_a_bad_field_fails_in_one_line_before_any_training(tmp_path, capsys):
    out = tmp_path / "c.json"
    args = ["compare", "video", "--variant", "ok:", "--variant", "x:no_such_field=1"]
    assert cli.main([*args, "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert "no_such_field: unknown field" in error and len(error.splitlines()) == 1
    assert not out.exists()
