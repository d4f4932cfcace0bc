"""The machine: its description, and its matrix-multiply throughput (the roofline's peak)."""

from __future__ import annotations

import os
import pathlib
import platform
import time

import numpy as np

from apps.bench.common import THREADS


def machine_description() -> dict:
    """CPU model, core count and memory of this machine (Linux /proc, else platform)."""
    cpu_model = platform.processor() or platform.machine()
    cpuinfo = pathlib.Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    memory_bytes = None
    meminfo = pathlib.Path("/proc/meminfo")
    if meminfo.is_file():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_bytes = int(line.split()[1]) * 1024
    return {
        "cpu_model": cpu_model,
        "cores": os.cpu_count(),
        "cores_available": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "memory_bytes": memory_bytes,
        "platform": platform.platform(),
        "load_average_start": load_average(),  # other work sharing the cores
    }


def matmul_throughput(threads: int, size: int = 1024, seconds: float = 2.0) -> dict:
    """Measured float32 matrix-matrix and matrix-vector GFLOP/s on `threads` BLAS threads.

    NumPy's BLAS (OpenBLAS) with its thread pool limited by threadpoolctl. The
    matrix-matrix figure is the machine's practical compute limit; the matrix-vector
    one (batch-1 work, bound by memory bandwidth) shows why small recurrent models sit
    far below it. Medians over repeated calls for about `seconds` each.
    """
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    left = rng.standard_normal((size, size), dtype=np.float32)
    right = rng.standard_normal((size, size), dtype=np.float32)
    vector = rng.standard_normal(size, dtype=np.float32)

    def median_seconds(call) -> float:
        call()  # warm-up: page the operands in, start the thread pool
        times = []
        started = time.perf_counter()
        while len(times) < 5 or time.perf_counter() - started < seconds:
            begin = time.perf_counter()
            call()
            times.append(time.perf_counter() - begin)
        return float(np.median(times))

    with threadpool_limits(limits=threads, user_api="blas"):
        matmul = median_seconds(lambda: left @ right)
        matvec = median_seconds(lambda: left @ vector)
    return {
        "matmul_gflops": 2.0 * size**3 / matmul / 1e9,
        "matvec_gflops": 2.0 * size**2 / matvec / 1e9,
        "size": size,
    }


def measure_throughput(options: dict, when: str) -> list[dict]:
    """Matrix-multiply and matrix-vector throughput at every size and thread count."""
    return [
        {
            "when": when,
            "threads": threads,
            **matmul_throughput(threads, size, options["matmul_seconds"]),
        }
        for size in options["matmul_sizes"]
        for threads in THREADS
    ]


def machine_limits(measurements: list[dict]) -> dict:
    """Per thread count t: the best median GFLOP/s measured on at most t threads.

    At most, not exactly: a program given two threads may use one, and on a shared
    machine a two-thread measurement can fall below the one-thread one.
    """
    limits = {}
    for threads in THREADS:
        usable = [m for m in measurements if m["threads"] <= threads]
        best = max(usable, key=lambda m: m["matmul_gflops"])
        limits[str(threads)] = {
            "matmul_gflops": best["matmul_gflops"],
            "matmul_size": best["size"],
            "matmul_threads": best["threads"],
            "matvec_gflops": max(m["matvec_gflops"] for m in usable),
            "measurements": [m for m in measurements if m["threads"] == threads],
        }
    return limits


def load_average() -> list[float] | None:
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None
