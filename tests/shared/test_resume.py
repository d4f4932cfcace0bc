"""Killed runs resume and end as uninterrupted ones; killed writes leave no half files."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from shared.training import read_history

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Eight examples a step makes an epoch of 100 steps: long enough to kill in the middle.
TRAIN = [
    *("-m", "apps.cli", "train", "sentiment", "--preset", "quick"),
    *("--set", "epochs=3", "--set", "batch_size=8", "--set", "latency_runs=2"),
    *("--set", "train_limit=800"),
]


def _environment() -> dict:
    return {
        **os.environ,
        "TF_NUM_INTRAOP_THREADS": "1",
        "TF_NUM_INTEROP_THREADS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }


def _train(out: pathlib.Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *TRAIN, "--out", str(out)],
        cwd=ROOT,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=600,
    )


def _epochs_logged(run_dir: pathlib.Path) -> list[int]:
    history = run_dir / "history.csv"
    if not history.is_file():
        return []
    lines = history.read_text().splitlines()[1:]
    return [int(line.split(",")[0]) for line in lines if line.strip()]


@pytest.mark.slow
def test_a_killed_run_resumes_and_ends_like_an_uninterrupted_one(tmp_path):
    reference = _train(tmp_path / "reference")
    assert reference.returncode == 0, reference.stderr[-2000:]

    out = tmp_path / "resumed"
    run_dir = tmp_path / ".resumed.run"
    process = subprocess.Popen(
        [sys.executable, *TRAIN, "--out", str(out)],
        cwd=ROOT,
        env=_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 300
        # The first epoch is backed up when its line is in the CSV log; then kill in epoch 2.
        while not _epochs_logged(run_dir) and time.time() < deadline:
            assert process.poll() is None, "the run ended before it could be killed"
            time.sleep(0.1)
        time.sleep(1.0)
        assert process.poll() is None, "the run ended before it could be killed"
        logged_at_kill = _epochs_logged(run_dir)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert 0 < len(logged_at_kill) < 3, logged_at_kill
    assert (run_dir / "backup" / "resume_state.json").is_file()
    assert not out.exists()  # nothing exported by the killed run

    resumed = _train(out)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resumed at epoch {len(logged_at_kill) + 1}" in resumed.stderr
    assert _epochs_logged(run_dir) == [0, 1, 2]  # no epoch trained twice, none skipped

    expected = json.loads((tmp_path / "reference" / "metrics.json").read_text())
    got = json.loads((out / "metrics.json").read_text())
    assert got["training"]["epochs_run"] == expected["training"]["epochs_run"] == 3
    assert _flat(got["metrics"]) == pytest.approx(_flat(expected["metrics"]), abs=1e-6)
    for variant in ("fp32", "int8"):
        assert got["litert"][variant]["f1_weighted"] == pytest.approx(
            expected["litert"][variant]["f1_weighted"], abs=1e-6
        )
    # The same history, epoch by epoch (validation loss printed to 7 significant digits),
    # but for the wall time each epoch ended.
    reference_history = read_history(tmp_path / ".reference.run" / "history.csv")
    resumed_history = read_history(run_dir / "history.csv")
    assert _rounded(resumed_history) == _rounded(reference_history)
    # The time goes on across the kill: each epoch ends later than the one before, and the
    # metrics carry the history the benchmark reads.
    seconds = [row["seconds"] for row in got["training"]["history"]]
    assert [row["epoch"] for row in got["training"]["history"]] == [0, 1, 2]
    assert 0 < seconds[0] < seconds[1] < seconds[2]
    assert set(got["versions"]) >= {"tensorflow", "keras", "ai_edge_litert", "numpy"}
    assert json.loads((out / "config.json").read_text())["seed"] == 1234


def _flat(scores: dict | list, prefix: str = "") -> dict:
    """Every leaf by its path, through dicts and lists (the overlap report's examples)."""
    flat = {}
    items = scores.items() if isinstance(scores, dict) else enumerate(scores)
    for key, value in items:
        if isinstance(value, dict | list):
            flat.update(_flat(value, f"{prefix}{key}/"))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _rounded(rows: list[dict]) -> list[dict]:
    return [{k: f"{v:.5g}" for k, v in row.items() if k != "seconds"} for row in rows]


# Runs in a child process that the test kills while it is inside the `with` block.
_KILLED_WRITER = textwrap.dedent(
    """
    import pathlib, sys, time
    from shared.data.cache import atomic_path, cached_folder

    target = pathlib.Path(sys.argv[2])
    if sys.argv[1] == "export":
        with atomic_path(target) as work:
            work.mkdir()
            (work / "model.keras").write_text("half a model")
            print("writing", flush=True)
            time.sleep(60)
    else:
        def build(folder):
            (folder / "part.bin").write_bytes(b"half a download")
            print("writing", flush=True)
            time.sleep(60)

        cached_folder(target.name, build)
    """
)


def _kill_while_writing(kind: str, target: pathlib.Path, data_root: pathlib.Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, kind, str(target)],
        cwd=ROOT,
        env={**os.environ, "RNNAPPS_DATA": str(data_root)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == "writing"
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()


def test_a_killed_export_keeps_the_previous_model(tmp_path):
    from shared.data.cache import atomic_path

    target = tmp_path / "sentiment"
    target.mkdir()
    (target / "model.keras").write_text("previous model")
    _kill_while_writing("export", target, tmp_path / "data")
    assert (target / "model.keras").read_text() == "previous model"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".sentiment.")] != []
    # The next export clears what the killed one left and replaces the model whole.
    with atomic_path(target) as work:
        work.mkdir()
        (work / "model.keras").write_text("new model")
    assert (target / "model.keras").read_text() == "new model"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".sentiment.")] == []


def test_a_killed_export_into_an_empty_place_leaves_nothing(tmp_path):
    target = tmp_path / "sentiment"
    _kill_while_writing("export", target, tmp_path / "data")
    assert not target.exists()


def test_a_killed_rename_gets_the_previous_model_back(tmp_path):
    from shared.data.cache import atomic_path

    # What a kill between "move the old model aside" and "move the new one in" leaves.
    target = tmp_path / "sentiment"
    (tmp_path / ".sentiment.old").mkdir()
    (tmp_path / ".sentiment.old" / "model.keras").write_text("previous model")
    with pytest.raises(RuntimeError), atomic_path(target):
        raise RuntimeError("export failed")
    assert (target / "model.keras").read_text() == "previous model"


def test_a_killed_data_build_is_never_trusted_and_is_rebuilt(tmp_path):
    from shared.data.cache import cached_folder, data_dir, folder_is_complete

    data_root = tmp_path / "data"
    _kill_while_writing("cache", data_root / "corpus", data_root)
    assert not (data_root / "corpus").exists()
    calls = []

    def build(folder: pathlib.Path) -> None:
        calls.append(folder)
        (folder / "part.bin").write_bytes(b"all of it")

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RNNAPPS_DATA", str(data_root))
        folder = cached_folder("corpus", build)
        assert data_dir() == data_root
    assert len(calls) == 1
    assert folder_is_complete(folder)
    assert (folder / "part.bin").read_bytes() == b"all of it"
    assert [p.name for p in data_root.iterdir()] == ["corpus"]  # the killed build's temp is gone


def test_a_failing_export_step_keeps_the_previous_model(tmp_path):
    import keras
    import numpy as np

    from shared.config import BaseConfig
    from shared.workflow import export_and_evaluate

    class BrokenApp:
        name = "broken"

        def build_export(self, model, config, splits):
            raise RuntimeError("conversion failed")

    target = tmp_path / "broken"
    target.mkdir()
    (target / "model.keras").write_text("previous model")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model(np.zeros((1, 2), np.float32))
    with pytest.raises(RuntimeError, match="conversion failed"):
        export_and_evaluate(BrokenApp(), model, BaseConfig(), None, target)
    assert (target / "model.keras").read_text() == "previous model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken"]
