"""``rnnapps bench --cells``: the table it writes, and the checks before any training."""

import pytest

from apps.bench import cells as bench_cells
from shared.errors import UserError

RESULTS = {
    "date": "2026-01-01T00:00:00+00:00",
    "machine": {"cpu_model": "test cpu", "load_average_start": [1.0], "load_average_end": [2.0]},
    "preset": "quick",
    "cells": ["elman", "lstm"],
    "apps": {
        "video": {
            "metric": "accuracy",
            "lower_is_better": False,
            "runs": {
                "elman": {"keras": 0.5, "litert_fp32": 0.5, "train_seconds": 3.0, "parameters": 10},
                "lstm": {"keras": 0.7, "litert_fp32": 0.75, "train_seconds": 5.0, "parameters": 40},
            },
        },
        "text_generation": {
            "metric": "bits_per_character",
            "lower_is_better": True,
            "runs": {
                "elman": {"keras": 3.0, "litert_fp32": 3.0, "train_seconds": 1.0, "parameters": 9},
                "lstm": {"keras": 2.0, "litert_fp32": 2.1, "train_seconds": 2.0, "parameters": 30},
            },
        },
    },
}


def test_table_marks_the_best_cell_in_the_metric_direction():
    table = bench_cells.cells_markdown(RESULTS)
    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("|")}
    assert "**0.750 (0.700)**" in rows["video"] and "**0.500" not in rows["video"]
    assert "**2.100 (2.000)**" in rows["text_generation"]  # lower is better here
    assert "| app | metric | elman | lstm |" in table


def test_block_is_replaced_between_its_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"a\n{bench_cells.CELLS_START}\nold\n{bench_cells.CELLS_END}\nb\n")
    bench_cells.update_block(readme, bench_cells.CELLS_START, bench_cells.CELLS_END, "new")
    assert readme.read_text() == f"a\n{bench_cells.CELLS_START}\nnew\n{bench_cells.CELLS_END}\nb\n"


def test_unknown_cell_is_a_user_error_before_training(tmp_path):
    with pytest.raises(UserError, match="--cells transformer"):
        bench_cells.run_cells(["video"], ["gru", "transformer"], tmp_path, quick=True)


def test_a_rerun_of_one_app_replaces_its_row_and_keeps_the_others_dated():
    import copy

    rerun = copy.deepcopy(RESULTS)
    rerun["date"] = "2026-02-02T00:00:00+00:00"
    rerun["apps"] = {"video": copy.deepcopy(RESULTS["apps"]["video"])}
    rerun["apps"]["video"]["runs"]["lstm"]["litert_fp32"] = 0.9
    rerun["apps"]["video"]["date"] = rerun["date"]
    merged = bench_cells.merge_cells(rerun, RESULTS)
    assert list(merged["apps"]) == ["video", "text_generation"]  # the earlier order
    assert merged["apps"]["video"]["runs"]["lstm"]["litert_fp32"] == 0.9
    assert merged["apps"]["text_generation"]["date"] == RESULTS["date"]
    table = bench_cells.cells_markdown(merged)
    assert "| video (2026-02-02) |" in table and "| text_generation (2026-01-01) |" in table
    assert "**0.900 (0.700)**" in table
    other_preset = {**RESULTS, "preset": "demo"}
    assert bench_cells.merge_cells(rerun, other_preset)["apps"].keys() == {"video"}


def test_a_finished_run_of_the_same_preset_and_data_is_reused(tmp_path):
    import json

    run = tmp_path / "video" / "gru"
    assert bench_cells._finished_cell_run(run, "demo", None) is None  # not run yet
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps({"preset": "demo", "source": "default"}))
    assert bench_cells._finished_cell_run(run, "demo", None) == {
        "preset": "demo",
        "source": "default",
    }
    assert bench_cells._finished_cell_run(run, "quick", None) is None
    assert bench_cells._finished_cell_run(run, "demo", "tfds:ucf101") is None
