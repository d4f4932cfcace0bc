"""Trainings side by side, each in its own process: ``rnnapps demo --jobs N``.

Much of a demo run is one core's work (generating a corpus, the baselines, the host loops
that evaluate the ``.tflite`` files, drawing figures), so on two cores two apps trained at
once, each TensorFlow with half the threads, finish sooner than one after the other with
all of them (the README's demo timing). Each job's whole output goes to its log file; its
progress lines (those that start with ``[`` or with the job's name, as ``speech corpus: ...``
does) are also echoed, prefixed with the job's name.

Example:
    jobs = [Job("speech", [sys.executable, "-m", "apps.cli", "train", "speech"], log)]
    results = run_jobs(jobs, parallel=2, threads=1)   # name -> JobResult
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import TextIO


@dataclasses.dataclass(frozen=True)
class Job:
    """One command to run, and the file its output goes to."""

    name: str
    command: list[str]
    log: pathlib.Path


@dataclasses.dataclass(frozen=True)
class JobResult:
    status: int  # the process's exit status
    seconds: float


def default_jobs(cores: int | None = None) -> int:
    """Two jobs on two cores or more (half the cores each), else one."""
    cores = os.cpu_count() if cores is None else cores
    return 2 if (cores or 1) >= 2 else 1


def thread_environment(threads: int) -> dict[str, str]:
    """The environment of a job whose TensorFlow (and OpenMP) may use `threads` threads."""
    return {
        **os.environ,
        "TF_NUM_INTRAOP_THREADS": str(threads),
        "TF_NUM_INTEROP_THREADS": "1",
        "OMP_NUM_THREADS": str(threads),
        "PYTHONUNBUFFERED": "1",
    }


def _pump(process: subprocess.Popen, job: Job, echo: TextIO, lock: threading.Lock) -> None:
    with open(job.log, "w", encoding="utf-8") as log:
        for line in process.stdout:
            log.write(line)
            log.flush()
            if line.startswith(("[", job.name)):
                with lock:
                    echo.write(f"{job.name:>15} | {line}")
                    echo.flush()


def run_jobs(
    jobs: Sequence[Job],
    parallel: int,
    threads: int = 1,
    echo: TextIO | None = None,
    poll_seconds: float = 0.2,
) -> dict[str, JobResult]:
    """Run `jobs` in their order, at most `parallel` at a time; name -> exit status and seconds.

    A failed job does not stop the others: its status says so, and the last lines of its
    log are echoed."""
    echo = sys.stderr if echo is None else echo
    lock = threading.Lock()
    waiting = list(jobs)
    running: dict[str, tuple[subprocess.Popen, threading.Thread, float, Job]] = {}
    results: dict[str, JobResult] = {}
    environment = thread_environment(threads)
    while waiting or running:
        while waiting and len(running) < max(1, parallel):
            job = waiting.pop(0)
            job.log.parent.mkdir(parents=True, exist_ok=True)
            process = subprocess.Popen(
                job.command,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                env=environment,
            )
            pump = threading.Thread(target=_pump, args=(process, job, echo, lock), daemon=True)
            pump.start()
            running[job.name] = (process, pump, time.monotonic(), job)
            with lock:
                print(f"[demo] {job.name}: started (its log: {job.log})", file=echo, flush=True)
        for name, (process, pump, started, job) in list(running.items()):
            if process.poll() is None:
                continue
            pump.join()
            del running[name]
            results[name] = JobResult(process.returncode, time.monotonic() - started)
            with lock:
                if process.returncode == 0:
                    print(
                        f"[demo] {name}: done in {results[name].seconds:.0f} s",
                        file=echo,
                        flush=True,
                    )
                else:
                    tail = job.log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
                    print(
                        f"[demo] {name}: failed (exit status {process.returncode}) after "
                        f"{results[name].seconds:.0f} s; the end of {job.log}:",
                        *(f"    {line}" for line in tail),
                        sep="\n",
                        file=echo,
                        flush=True,
                    )
        if running:
            time.sleep(poll_seconds)
    return results
