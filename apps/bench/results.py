"""The whole run: every app, ``bench/results.json`` and the block of docs/bench.md."""

from __future__ import annotations

import json
import pathlib
from typing import Any

from apps.bench.common import (
    END,
    ENGINES,
    START,
    headline_value,
    is_number,
    log,
    number_text,
    settings,
)
from apps.bench.machine import load_average, machine_description, machine_limits, measure_throughput
from apps.bench.measure import bench_app, is_trained
from shared.report import update_block


def run(
    app_names: list[str],
    models_dir: pathlib.Path,
    quick: bool = False,
    train: bool = False,
) -> dict:
    """Bench `app_names` (all registered apps when empty); returns the results dict."""
    import datetime

    from apps import registry
    from shared.workflow import versions

    names = app_names or registry.names()
    for name in names:
        registry.check_name(name)
    options = {**settings(quick), "train": train}
    log("measuring the machine's matrix-multiply throughput")
    measurements = measure_throughput(options, "before")
    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine_description(),
        "versions": versions(),
        "settings": options,
        "machine_limit": {},
        "apps": {},
    }
    for name in names:
        app = registry.get_app(name)
        model_dir = pathlib.Path(models_dir) / name
        if not is_trained(model_dir):
            message = f"{name}: not trained ({model_dir} has no metrics.json); skipped"
            log(message)
            results["apps"][name] = {
                "status": "not trained",
                "message": f"{message} (run: rnnapps train {name})",
            }
            continue
        results["apps"][name] = bench_app(app, model_dir, options)
    # Measured after the apps too: the machine is shared, so bracket the run.
    log("measuring the matrix-multiply throughput again")
    measurements += measure_throughput(options, "after")
    results["machine"]["load_average_end"] = load_average()
    results["machine_limit"] = machine_limits(measurements)
    for app_results in results["apps"].values():
        for figures in app_results.get("models", {}).values():
            figures["fraction_of_matmul_peak"] = {
                threads: achieved / results["machine_limit"][threads]["matmul_gflops"]
                for threads, achieved in figures["gflops_per_second"].items()
            }
    return results


def loads_text(machine: dict) -> str:
    values = [machine.get("load_average_start"), machine.get("load_average_end")]
    shown = [f"{v[0]:.1f}" for v in values if v]
    return " → ".join(shown) if shown else "unknown"


def _megabytes(value) -> str:
    return f"{value / 1e6:.2f} MB" if is_number(value) else "–"


def _when(entry: dict) -> str:
    """``"812 s (epoch 7)"``: an epoch's time since training began, epochs counted from 1."""
    if is_number(entry.get("seconds")):
        return f"{entry['seconds']:.0f} s (epoch {entry['epochs']})"
    return f"epoch {entry['epochs']}"


def _target_cells(entry: dict | None) -> tuple[str, str]:
    """The validation target and the time to reach it, as two table cells."""
    if not entry or entry["status"] == "no target":
        return "–", "–"
    sign = "≥" if entry["mode"] == "max" else "≤"
    target = f"{entry['metric']} {sign} {entry['goal']:.3f}"
    if entry["status"] == "reached":
        return target, _when(entry)
    if entry["status"] == "not reached":
        return target, f"not reached (best {entry['best']:.3f})"
    return target, "–"  # no history, or the metric is not in it


def results_markdown(results: dict) -> str:
    """The benchmark block of docs/bench.md, generated from ``results.json``."""
    machine = results["machine"]
    limit = results["machine_limit"]
    options = results["settings"]
    memory = machine.get("memory_bytes")
    lines = [
        f"Measured {results['date']} by `rnnapps bench` on {machine['cpu_model']} "
        f"({machine['cores']} cores, {memory / 1e9:.1f} GB) with "
        + ", ".join(f"{k} {v}" for k, v in results["versions"].items())
        + ". Latencies are medians (and 90th percentiles) of "
        f"{options['runs']} calls after {options['warmup']} warm-up calls; the machine is "
        f"shared (load average {loads_text(machine)}), so compare figures within one run. "
        "Machine limit (best median of NumPy/OpenBLAS float32 matrix multiplies of "
        + ", ".join(f"{n}²" for n in options["matmul_sizes"])
        + ", measured before and after the apps in the same run): "
        f"{limit['1']['matmul_gflops']:.1f} GFLOP/s on 1 thread, "
        f"{limit['2']['matmul_gflops']:.1f} on up to 2; a batch-1 matrix-vector product "
        f"reaches {limit['1']['matvec_gflops']:.1f} and {limit['2']['matvec_gflops']:.1f}.",
        "",
    ]
    benched = {n: a for n, a in results["apps"].items() if a["status"] == "benchmarked"}
    skipped = [a["message"] for a in results["apps"].values() if a["status"] != "benchmarked"]

    lines += [
        "**Quality on the test split, every engine, beside the baselines** "
        "(ratio = ours on LiteRT fp32 / baseline, same split; the strongest baseline, the one "
        "to beat, in its own column)",
        "",
        "| app | metric | Keras | SavedModel | LiteRT fp32 | fp16 | int8 | "
        "strongest baseline (ratio) | baselines (ratio) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, app in benched.items():
        key = app["metric"]
        cells = [number_text(app["quality"][engine].get(key)) for engine in ENGINES]
        references = ", ".join(
            f"{baseline} {number_text(headline_value(entry['metrics'], key))} "
            f"({number_text(entry['ratio'].get(key), 2)}×)"
            for baseline, entry in app["baselines"].items()
        )
        direction = " (lower is better)" if app["metric_lower_is_better"] else ""
        strongest = app.get("strongest_baseline")
        best = "–"
        if strongest:
            entry = app["baselines"][strongest]
            best = (
                f"{strongest} {number_text(headline_value(entry['metrics'], key))} "
                f"({number_text(entry['ratio'].get(key), 2)}×)"
            )
        lines.append(
            f"| {name} | {key}{direction} | "
            + " | ".join(cells)
            + f" | {best} | {references or '–'} |"
        )

    lines += [
        "",
        "**Engines**: size on disk, peak memory of loading the engine and answering one "
        "input (fresh process, above the loaded runtime), the app's whole on-device "
        "answer on 1 thread, and (fp32) a whole cold `rnnapps predict APP SAMPLE`: a fresh "
        "Python, its imports, loading and the answer (median of 3)",
        "",
        "| app | engine | size | peak memory | answer p50 / p90 (ms) | cold predict (s) |",
        "|---|---|---|---|---|---|",
    ]
    for name, app in benched.items():
        for engine, figures in app["engines"].items():
            answer = figures.get("answer_latency", {})
            timing = (
                f"{number_text(answer.get('latency_ms_p50'))} / {number_text(answer.get('latency_ms_p90'))}"
                if answer
                else "–"
            )
            peak = figures.get("memory", {}).get("inference_bytes")
            cold = figures.get("cold_predict") or {}
            cold_text = number_text(cold.get("seconds_p50")) if "seconds_p50" in cold else "–"
            lines.append(
                f"| {name} | {engine} | {_megabytes(figures['size_bytes'])} | "
                f"{_megabytes(peak)} | {timing} | {cold_text} |"
            )

    lines += [
        "",
        "**On-device models** (LiteRT; a step model runs once per time step, so its "
        "latency is the cost of one step). FLOPs counted from the flatbuffer; fraction = "
        "achieved FLOP/s at the median latency / matrix-multiply FLOP/s at the same threads",
        "",
        "| app | .tflite | size | MFLOP / call | p50 / p90 ms, 1 thread | p50 / p90 ms, 2 threads "
        "| peak memory | fraction of peak, 1 / 2 threads |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, app in benched.items():
        for file_name, figures in app["models"].items():
            timing = [
                f"{figures['latency'][t]['latency_ms_p50']:.3f} / "
                f"{figures['latency'][t]['latency_ms_p90']:.3f}"
                for t in ("1", "2")
            ]
            fraction = " / ".join(
                f"{figures['fraction_of_matmul_peak'][t]:.2%}" for t in ("1", "2")
            )
            step = " (per step)" if figures["per_step"] else ""
            lines.append(
                f"| {name} | `{file_name}`{step} | {_megabytes(figures['size_bytes'])} | "
                f"{figures['flops'] / 1e6:.2f} | {timing[0]} | {timing[1]} | "
                f"{_megabytes(figures['memory']['inference_bytes'])} | {fraction} |"
            )

    lines += [
        "",
        "**Training** (recorded run: wall time from the start of data loading to the end of "
        "training; measured: a short run of the same config timing the input pipeline apart "
        "from the step). Validation target: the app's quality target as training logs it on "
        "the validation split after every epoch (the issues set it on the test split). Time to "
        "target: wall time since training began (after loading the data) at the end of the "
        'first epoch that met it, epochs counted from 1, or "not reached" with the best '
        "value logged. Time to best: the same for the epoch with the lowest validation loss, "
        'whose weights the run keeps. "–": no target, or a run recorded before per-epoch '
        "times or the app's target metric (BLEU, F1: `App.epoch_metrics`) were logged",
        "",
        "| app | preset | train examples | epochs | wall time | examples/s | "
        "measured examples/s | input wait share | validation target | time to target | "
        "time to best |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, app in benched.items():
        training = app["training"]
        measured = training.get("measured", {})
        target, reached = _target_cells(training.get("time_to_target"))
        best = training.get("time_to_best")
        lines.append(
            f"| {name} | {app['preset']} | {training['train_examples']} | "
            f"{training.get('epochs_run', '–')} | {number_text(training.get('seconds'), 1)} s | "
            f"{number_text(training.get('examples_per_second'), 0)} | "
            f"{number_text(measured.get('examples_per_second'), 0)} | "
            + (f"{measured['input_wait_share']:.1%}" if measured else "–")
            + f" | {target} | {reached} | {_when(best) if best else '–'} |"
        )
    if skipped:
        lines += ["", *[f"- {message}" for message in skipped]]
    return "\n".join(lines)


def update_readme(readme: pathlib.Path, body: str) -> None:
    """Replace the text between the bench markers in `readme` with `body`."""
    update_block(readme, START, END, body)


def main(
    apps: list[str],
    out: pathlib.Path,
    readme: pathlib.Path,
    quick: bool,
    models: pathlib.Path = pathlib.Path("saved_models"),
    train: bool = False,
) -> int:
    """``rnnapps bench``: measure, write `out` (results.json), regenerate `readme`'s block.

    Args:
        apps: app names to bench; empty for every registered app.
        out: where to write the results JSON (its folder is created).
        readme: the page whose bench block is regenerated (:data:`common.PAGE`,
            docs/bench.md, from the command line).
        quick: few runs and no per-engine memory probes (for tests).
        models: the folder holding ``APP/metrics.json`` of each trained app.
        train: also time a few training steps per app (input wait vs compute).
    """
    results = run(apps, pathlib.Path(models), quick=quick, train=train)
    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    body = results_markdown(results)
    update_readme(pathlib.Path(readme), body)
    log(f"wrote {out} and the results block of {readme}")
    print(body)
    return 0
