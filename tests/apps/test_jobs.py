"""``rnnapps demo --jobs N``: trainings side by side, each in its own process."""

import io
import sys

from apps import cli
from apps.jobs import Job, default_jobs, run_jobs


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_two_jobs_run_at_once_and_each_log_holds_its_whole_output(tmp_path):
    """The first job waits for a file only the second one writes: run one after the other,
    it would give up after 20 s and fail."""
    flag = tmp_path / "second_started"
    first = python(
        "import os, pathlib, time\n"
        "print('[rnnapps] waiting', flush=True)\n"
        f"end = time.monotonic() + 20\n"
        f"while not pathlib.Path({str(flag)!r}).exists():\n"
        "    if time.monotonic() > end: raise SystemExit(1)\n"
        "    time.sleep(0.05)\n"
        "print('Epoch 1/1 - not a progress line')\n"
        "print('first corpus: 10/10 clips')\n"
        "print('[rnnapps] threads', os.environ['TF_NUM_INTRAOP_THREADS'])\n"
    )
    second = python(f"import pathlib; pathlib.Path({str(flag)!r}).write_text('x'); print('[x] ok')")
    echo = io.StringIO()
    results = run_jobs(
        [
            Job("first", first, tmp_path / "logs" / "first.log"),
            Job("second", second, tmp_path / "s.log"),
        ],
        parallel=2,
        threads=3,
        echo=echo,
        poll_seconds=0.01,
    )
    assert {name: result.status for name, result in results.items()} == {"first": 0, "second": 0}
    log = (tmp_path / "logs" / "first.log").read_text()
    assert "Epoch 1/1 - not a progress line" in log and "[rnnapps] threads 3" in log
    shown = echo.getvalue()
    assert "          first | [rnnapps] threads 3" in shown
    assert "not a progress line" not in shown  # in the log only
    assert "          first | first corpus: 10/10 clips" in shown  # named by its job
    assert "[demo] first: done in" in shown and "[demo] second: done in" in shown


def test_a_failed_job_is_reported_with_its_last_lines_and_the_others_still_run(tmp_path):
    failing = python("print('the reason it broke'); raise SystemExit(3)")
    fine = python("print('[rnnapps] fine')")
    echo = io.StringIO()
    results = run_jobs(
        [Job("bad", failing, tmp_path / "bad.log"), Job("good", fine, tmp_path / "good.log")],
        parallel=1,
        echo=echo,
        poll_seconds=0.01,
    )
    assert results["bad"].status == 3 and results["good"].status == 0
    shown = echo.getvalue()
    assert "[demo] bad: failed (exit status 3)" in shown
    assert "    the reason it broke" in shown


def test_two_jobs_on_two_cores_one_on_one():
    assert default_jobs(2) == 2 and default_jobs(8) == 2 and default_jobs(1) == 1


def test_the_demo_trains_in_jobs_longest_first_and_reports_a_failed_app(tmp_path, monkeypatch):
    """``rnnapps demo`` hands the untrained apps to ``run_jobs``, the longest first, and a
    failure becomes a row of the table and exit status 1, not an exception."""
    import apps.jobs
    from apps.jobs import JobResult

    monkeypatch.chdir(tmp_path)
    seen = {}

    def fake_run_jobs(jobs, parallel, threads):
        seen.update(order=[job.name for job in jobs], parallel=parallel, threads=threads)
        seen["command"] = jobs[0].command
        return {job.name: JobResult(1, 0.1) for job in jobs}

    monkeypatch.setattr(apps.jobs, "run_jobs", fake_run_jobs)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert cli.main(["demo", "sentiment", "speech", "--jobs", "2"]) == 1
    assert seen["order"] == ["speech", "sentiment"]  # the longest first
    assert (seen["parallel"], seen["threads"]) == (2, 1)
    assert seen["command"][-6:] == [
        "train",
        "speech",
        "--preset",
        "demo",
        "--out",
        "saved_models/speech",
    ]
    assert cli.main(["demo", "--jobs", "-1"]) == 2
