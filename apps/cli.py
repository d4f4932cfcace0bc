"""``rnnapps``: drive any app through the shared workflow.

    rnnapps list
    rnnapps train APP [--preset quick|demo|default] [--data SOURCE] [--set key=value ...] [--out DIR]
    rnnapps evaluate APP [--model DIR] [--data SOURCE] [--engine keras|savedmodel|litert]
    rnnapps predict APP INPUT... [--model DIR] [--engine litert|savedmodel] [--json]
    rnnapps export APP [--model DIR]
    rnnapps compare APP --variant NAME:KEY=VALUE,... [--seeds N] [--out FILE]
    rnnapps demo [APP ...] [--jobs N]
    rnnapps lab [--out DIR] [--quick]

User errors end in one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import functools
import json
import pathlib
import sys

from apps import registry
from shared.errors import UserError
from shared.train_command import (
    USER_ERROR,
    Parser,
    add_train_arguments,
    import_tensorflow_quietly,
    print_metrics_summary,
    run_training,
)

MODEL_HELP = "the model folder (default: saved_models/APP)"


def default_model_dir(app_name: str) -> pathlib.Path:
    return pathlib.Path("saved_models") / app_name


def trained_preset(model_dir: pathlib.Path) -> str | None:
    """The preset `model_dir`'s finished run was trained with; None when there is none."""
    metrics_path = model_dir / "metrics.json"
    if not metrics_path.is_file():
        return None
    return json.loads(metrics_path.read_text()).get("preset")


def require_model(app_name: str, model_dir: pathlib.Path) -> pathlib.Path:
    if not (model_dir / "config.json").is_file():
        raise UserError(f"{model_dir}: no trained model here (run: rnnapps train {app_name})")
    return model_dir


def command_list(args) -> int:
    for name in registry.names():
        preset = trained_preset(default_model_dir(name))
        if args.json:
            entry = {"app": name, "trained": preset is not None, "preset": preset}
            print(json.dumps({**entry, "description": registry.describe(name)}))
            continue
        trained = f"trained ({preset})" if preset is not None else "not trained"
        print(f"{name:16s} {trained:20s} {registry.describe(name)}")
    return 0


def command_train(args) -> int:
    run_training(registry.get_app(args.app), args)
    return 0


def _load(app_name: str, model_dir: str | None):
    from shared.config import load_config

    app = registry.get_app(app_name)
    directory = require_model(
        app.name, pathlib.Path(model_dir) if model_dir else default_model_dir(app.name)
    )
    return app, directory, load_config(app.config_class, directory / "config.json")


def command_evaluate(args) -> int:
    from shared.data.sources import parse_source

    app, directory, config = _load(args.app, args.model)
    source = parse_source(args.data)
    splits = app.load_data(config, source)
    predictor = app.load_predictor(directory, args.engine, args.variant)
    scores = app.evaluate(predictor, splits, config)
    print(
        json.dumps(
            {"app": app.name, "data": str(source), "engine": predictor.engine, "metrics": scores}
        )
    )
    return 0


def _app_options(app_name: str, args) -> dict:
    """The app's predict options the user gave (its declared flags), each checked."""
    _, declared = registry.predict_declarations(app_name)
    options = {}
    for option in declared:
        value = getattr(args, option.name, None)
        if value is None or value is False:
            continue
        try:
            options[option.name] = option.check(value)
        except ValueError as error:
            raise UserError(f"{option.flag} {value}: {error}") from None
    return options


def _runtime_class(args):
    """The app's TensorFlow-free runtime when the LiteRT engine answers alone, else None."""
    if args.engine != "litert" or args.attention:
        return None
    return registry.get_runtime(args.app)


def _read_text_files(app_name: str, inputs: list[str]) -> tuple[list[str], list]:
    """A text app's ``@FILE`` arguments read as the file's UTF-8 text.

    A convenience of the command line only: the server never reads a path a request
    names. Returns the inputs to predict and, per input, None or the UserError that
    stops it.
    """
    texts, errors = list(inputs), [None] * len(inputs)
    if registry.predict_declarations(app_name)[0] != "text":
        return texts, errors
    for index, raw in enumerate(inputs):
        if not raw.startswith("@"):
            continue
        path = pathlib.Path(raw[1:])
        try:
            texts[index] = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            errors[index] = UserError(f"{path}: not valid UTF-8 text")
        except OSError as error:
            reason = "no such file" if not path.exists() else (error.strerror or "unreadable")
            errors[index] = UserError(f"{path}: {reason.lower()}")
    return texts, errors


def command_predict(args) -> int:
    options = _app_options(args.app, args)  # a bad flag is said first, model or not
    if not args.inputs:  # an app that answers without an input (music: a new tune) says so
        empty = getattr(registry.get_runtime(args.app), "empty_input", None)
        if empty is None:
            raise UserError(f"predict {args.app}: give at least one input")
        args.inputs = [empty]
    if args.out and not getattr(registry.get_runtime(args.app), "answer_writer", None):
        raise UserError(f"--out: the {args.app} app writes no file of its answers")
    runtime_class = _runtime_class(args)
    if runtime_class is not None:  # the LiteRT engine without TensorFlow
        model_dir = pathlib.Path(args.model) if args.model else default_model_dir(args.app)
        predictor = runtime_class(require_model(args.app, model_dir), args.variant)
        predict, summary = predictor.predict, predictor.summary
    else:
        app, directory, _ = _load(args.app, args.model)
        if args.attention and not hasattr(app, "save_attention"):
            raise UserError(f"--attention: the {app.name} app has no attention to show")
        predictor = app.load_predictor(directory, args.engine, args.variant)
        predict, summary = functools.partial(app.predict, predictor), app.summary
    status = 0
    texts, answers = _read_text_files(args.app, args.inputs)
    valid = [index for index, answer in enumerate(answers) if answer is None]
    predicted = predict([texts[index] for index in valid], **options) if valid else []
    if len(predicted) == len(valid):
        for index, answer in zip(valid, predicted, strict=True):
            if isinstance(answer, dict) and texts[index] is not args.inputs[index]:
                answer["input"] = args.inputs[index]  # "@FILE" as typed, not the whole text
            answers[index] = answer
    else:  # several answers for one input (speech --stream): every one, in order
        answers = [answer for answer in answers if answer is not None] + list(predicted)
    if args.attention:
        for raw, _, path in _answered_pictures(args.attention, args.inputs, texts, answers):
            app.save_attention(predictor, raw, path)
            print(f"[rnnapps] attention map written to {path}", file=sys.stderr)
    if args.plot:
        _save_plots(args, predictor, texts, answers)
    for answer in answers:
        if isinstance(answer, Exception):
            print(f"rnnapps: error: {answer}", file=sys.stderr)
            status = USER_ERROR
        elif args.json:
            print(json.dumps(answer, ensure_ascii=False))
        else:
            print(f"{answer['input']}\t{summary(answer)}")
    if args.out and not _write_answers(args, texts, answers):
        status = USER_ERROR
    return status


def _answered_pictures(png: str, inputs: list[str], texts: list[str], answers: list):
    """``--attention`` / ``--plot PNG``: each answered input's text, answer and picture path
    (`png`, with ``_<n>`` added to the name when there are several inputs)."""
    for index, (raw, answer) in enumerate(zip(texts, answers, strict=False)):
        if isinstance(answer, Exception):
            continue
        path = pathlib.Path(png)
        if len(inputs) > 1:
            path = path.with_name(f"{path.stem}_{index}{path.suffix}")
        yield raw, answer, path


def _save_plots(args, predictor, texts: list[str], answers: list) -> None:
    """``--plot PNG``: the runtime's ``answer_figure`` of each answered input (``_<n>`` added
    to the name when there are several); matplotlib comes with the serve or train extra."""
    import importlib

    runtime_class = registry.get_runtime(args.app)
    named = getattr(runtime_class, "answer_figure", None)
    if not named:
        raise UserError(f"--plot: the {args.app} app draws no picture of its answers")
    module, function = named.split(":")
    try:
        draw = getattr(importlib.import_module(module), function)
        import matplotlib  # noqa: F401
    except ImportError:
        raise UserError('--plot: drawing needs matplotlib: pip install "rnn-apps[serve]"') from None
    for raw, answer, path in _answered_pictures(args.plot, args.inputs, texts, answers):
        png = draw(predictor, raw, [answer])
        if png:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(png)
            print(f"[rnnapps] picture written to {path}", file=sys.stderr)


def _write_answers(args, texts: list[str], answers: list) -> bool:
    """``--out FILE``: each answer written by the runtime's ``answer_writer`` (music: a tune as
    MIDI, MusicXML, ABC or WAV by the file's suffix), ``_<n>`` added when there are several.
    After the answers are printed, so a file that cannot be written loses none of them: its
    error is a line of its own. False when one could not be written."""
    import importlib

    module, function = registry.get_runtime(args.app).answer_writer.split(":")
    write = getattr(importlib.import_module(module), function)
    written = True
    for _, answer, path in _answered_pictures(args.out, args.inputs, texts, answers):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            print(f"[rnnapps] written to {write(answer, path)}", file=sys.stderr)
        except (UserError, OSError) as error:
            print(f"rnnapps: error: {error}", file=sys.stderr)
            written = False
    return written


def command_export(args) -> int:
    import keras

    from shared.data.sources import parse_source
    from shared.workflow import export_and_evaluate

    app, directory, config = _load(args.app, args.model)
    metrics_path = directory / "metrics.json"
    previous = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    source = previous.get("source", "default")
    splits = app.load_data(config, parse_source(source))
    app.restore_state(directory, config, splits)
    model = keras.saving.load_model(directory / "model.keras", safe_mode=True)
    metrics = export_and_evaluate(
        app, model, config, splits, directory, source=source, training=previous.get("training")
    )
    print_metrics_summary(app, metrics)
    return 0


# Seconds each app's demo took in a fresh-clone `make demo` on the 2-core machine, two at
# a time with one thread each (2026-12-05): with --jobs 2 the longest start first, so both
# jobs stay busy.
DEMO_SECONDS = {
    "captioning": 355,
    "speech": 201,
    "music": 181,
    "video": 148,
    "forecasting": 145,
    "translation": 103,
    "text_generation": 81,
    "sentiment": 71,
}


def demo_trainings(names: list[str], jobs: int) -> dict[str, str]:
    """Train `names` (demo preset, into their default folders) `jobs` at a time, each in its
    own process with its share of the cores; name -> why it failed, for those that did."""
    import os

    from apps.jobs import Job, run_jobs

    threads = max(1, (os.cpu_count() or 1) // jobs)
    logs = pathlib.Path("saved_models") / "demo_logs"
    order = sorted(names, key=lambda name: -DEMO_SECONDS.get(name, 0))
    print(
        f"[demo] training {len(order)} apps, {jobs} at a time with {threads} thread"
        f"{'s' if threads > 1 else ''} each (--jobs 1: one at a time, every line shown)",
        file=sys.stderr,
        flush=True,
    )
    command = [sys.executable, "-m", "apps.cli", "train"]
    results = run_jobs(
        [
            Job(
                name,
                [*command, name, "--preset", "demo", "--out", str(default_model_dir(name))],
                logs / f"{name}.log",
            )
            for name in order
        ],
        parallel=jobs,
        threads=threads,
    )
    return {
        name: f"training failed (exit status {result.status}; log {logs / f'{name}.log'})"
        for name, result in results.items()
        if result.status != 0
    }


def command_demo(args) -> int:
    """Train every app (demo preset) unless already done, then answer sample inputs on LiteRT."""
    from apps.jobs import default_jobs

    names = args.apps or registry.names()
    apps = {name: registry.get_app(name) for name in names}  # an unknown name fails first
    if args.jobs < 0:
        raise UserError(f"--jobs {args.jobs}: give 1 or more (0: the default)")
    jobs = args.jobs or default_jobs()
    directories = {name: default_model_dir(name) for name in names}
    missing = [n for n in names if trained_preset(directories[n]) not in ("demo", "default")]
    side_by_side = jobs > 1 and len(missing) > 1
    failed = demo_trainings(missing, jobs) if side_by_side else {}

    from shared.config import resolve_config
    from shared.data.sources import parse_source
    from shared.workflow import draw_figures, train

    rows = []
    for name, app in apps.items():
        directory = directories[name]
        metrics_path = directory / "metrics.json"
        if name in failed:
            rows.append((name, "[training]", "NO", failed[name]))
            continue
        if name not in missing:
            print(
                f"[rnnapps] {name}: already trained ({metrics_path}); skipping training",
                file=sys.stderr,
            )
            # A folder trained before runs drew every figure gets the missing ones.
            draw_figures(app, json.loads(metrics_path.read_text()), directory, only_missing=True)
        elif not side_by_side:
            train(app, resolve_config(app.config_class, "demo"), parse_source(None), directory)
        metrics = json.loads(metrics_path.read_text())
        predictor = app.load_predictor(directory, "litert", "fp32")
        for raw, answer in zip(
            app.sample_inputs, app.predict(predictor, list(app.sample_inputs)), strict=False
        ):
            if isinstance(answer, Exception):
                raise answer
            right = app.sample_check(predictor, raw, answer)
            mark = "–" if right is None else ("yes" if right else "NO")
            rows.append((name, str(answer["input"]), mark, app.summary(answer)))
        fp32 = metrics["litert"]["fp32"]
        rows.append(
            (
                name,
                f"[test {app.metric}]",
                "",
                f"keras {metrics['metrics'][app.metric]:.3f}, litert fp32 {fp32[app.metric]:.3f}, "
                f"int8 {metrics['litert']['int8'][app.metric]:.3f}; "
                f"{fp32['size_bytes'] / 1e6:.2f} MB, {fp32['latency_ms_p50']:.3f} ms",
            )
        )
    print_demo_table(rows)
    print_figures({name: directories[name] for name in names if name not in failed})
    if failed:
        print(f"\n{len(failed)} of the apps failed to train: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def print_figures(directories: dict[str, pathlib.Path]) -> None:
    """Where each app's figures are (the PNG files of its model folder) and how to see them
    on the web page: the demo's last lines."""
    print("\nFigures of each run (training curves, scores per group, the app's own picture):")
    for name, directory in directories.items():
        names = sorted(path.name for path in pathlib.Path(directory).glob("*.png"))
        print(f"  {name:16s} {directory}/: {', '.join(names) if names else '(none)'}")
    print(
        "\nSee them beside the models' answers on the web page: run `rnnapps serve` and open "
        "http://127.0.0.1:8000/ (each app's tab shows its figures)."
    )


def print_demo_table(rows: list[tuple[str, str, str, str]]) -> int:
    """The demo's closing table: app, input, whether the answer is right (``yes``, ``NO``, or
    ``–`` where the app cannot know), the answer. Returns how many answers are wrong, and
    says so under the table."""
    width = max(len(r[1]) for r in rows)
    print()
    print(f"{'app':12s} {'input':{width}s}  {'right?':6s}  answer from the .tflite (LiteRT)")
    print("-" * (width + 68))
    for name, shown, mark, answer in rows:
        print(f"{name:12s} {shown:{width}s}  {mark:6s}  {answer}")
    wrong = sum(1 for row in rows if row[2] == "NO")
    if wrong:
        print(f"\n{wrong} sample answer{'s are' if wrong > 1 else ' is'} wrong (NO above).")
    return wrong


def command_compare(args) -> int:
    """Train variants of an app's config over seeds and compare them on validation only."""
    from shared.compare import compare, parse_variant, summary_markdown
    from shared.data.sources import parse_source
    from shared.workflow import log

    app = registry.get_app(args.app)
    variants = [parse_variant(text) for text in args.variant]
    if not variants:
        raise UserError("compare: give at least one --variant NAME:KEY=VALUE[,...] (or NAME:)")
    if args.seeds < 1:
        raise UserError(f"--seeds {args.seeds}: give 1 or more")
    from shared.config import resolve_config

    for _, overrides in variants:  # a bad field fails now, not after hours of training
        resolve_config(app.config_class, args.preset, overrides)
    base = resolve_config(app.config_class, args.preset, []).seed
    out = pathlib.Path(args.out or f"bench/runs/{app.name}_compare_{args.preset}.json")
    result = compare(
        app,
        args.preset,
        variants,
        [base + index for index in range(args.seeds)],
        out,
        parse_source(args.data),
        log=log,
    )
    print(summary_markdown(result))
    print(f"(validation split only; written to {out})")
    return 0


def command_report(args) -> int:
    """Record saved_models/*/metrics.json under bench/runs/, then rewrite every README's results."""
    from shared.report import report

    apps = [registry.get_app(name) for name in registry.names()]
    done = report(
        apps, pathlib.Path(args.models), pathlib.Path(args.runs), pathlib.Path(args.readme)
    )
    for note in done["notes"]:
        print(note, file=sys.stderr)
    print(done["body"])
    return 0


def command_bench(args) -> int:
    """Measure every trained app and regenerate the benchmark block of docs/bench.md.

    With ``--cells``: train every app once per recurrent cell and regenerate the
    cell-comparison block of docs/lab.md instead. ``--page`` names another page.
    """
    if args.cells is not None:
        from apps.bench import cells_main
        from apps.bench.cells import CELLS_PAGE

        out = pathlib.Path(args.out).with_name("cells.json")
        models = pathlib.Path(args.models) / "cells"
        cells = [cell.strip() for cell in args.cells.split(",") if cell.strip()]
        page = pathlib.Path(args.page) if args.page else CELLS_PAGE
        return cells_main(args.apps, cells, out, page, args.quick, models=models)
    from apps.bench import main as bench_main
    from apps.bench.common import PAGE

    if args.train_missing:
        train_missing(args.apps or registry.names(), pathlib.Path(args.models))
    return bench_main(
        args.apps,
        pathlib.Path(args.out),
        pathlib.Path(args.page) if args.page else PAGE,
        args.quick,
        models=pathlib.Path(args.models),
        train=args.train,
    )


def train_missing(names: list[str], models: pathlib.Path) -> None:
    """Train (default preset) each app in `names` that `models` holds no default run of.

    The bench's time to target and its quality figures are those of the default preset, so
    a model that `make demo` left (demo preset) is trained again; any other is kept.
    """
    from shared.config import resolve_config
    from shared.data.sources import parse_source
    from shared.workflow import train

    for name in names:
        app = registry.get_app(name)
        directory = models / name
        preset = trained_preset(directory)
        if preset not in (None, "demo"):
            print(f"[rnnapps] {name}: trained ({preset} preset); kept", file=sys.stderr)
            continue
        why = "not trained" if preset is None else "trained with the demo preset only"
        print(f"[rnnapps] {name}: {why}; training it (default preset)", file=sys.stderr)
        train(app, resolve_config(app.config_class, "default"), parse_source(None), directory)


def command_lab(args) -> int:
    """Train every cell on long-range synthetic tasks; write lab.json and the plots."""
    from shared.lab import main as lab_main

    return lab_main(pathlib.Path(args.out), quick=args.quick)


def command_serve(args) -> int:
    """Web page and REST API (TensorFlow Serving shape) over the exported models."""
    from apps.serve import main as serve

    return serve(
        args.host,
        args.port,
        pathlib.Path(args.models),
        args.engine,
        variant=args.variant,
        registry=registry,
    )


def _version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("rnn-apps")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def _train_epilog(app_name: str | None) -> str:
    if app_name is None:
        return "rnnapps train APP --help lists the fields --set takes, with their defaults."
    from shared.config import describe_fields

    import_tensorflow_quietly(f"rnnapps train {app_name} --help")
    app = registry.get_app(app_name)
    return f"--set takes these fields of {app_name} (default preset values):\n" + describe_fields(
        app.config_class
    )


def make_parser(predict_app: str | None = None, train_app: str | None = None) -> Parser:
    """The command line; with `predict_app`, ``predict`` also takes that app's options; with
    `train_app`, ``train --help`` lists that app's config fields."""
    parser = Parser(
        prog="rnnapps", description="Recurrent-network apps: train, export, run on device."
    )
    parser.add_argument("--version", action="version", version=f"rnnapps {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    listing = commands.add_parser("list", help="the apps and whether each is trained")
    listing.add_argument("--json", action="store_true", help="one JSON object per app")

    train = commands.add_parser(
        "train",
        help="train, export and evaluate an app",
        epilog=_train_epilog(train_app),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("app", help=f"one of: {', '.join(registry.names())}")
    add_train_arguments(train)

    evaluate = commands.add_parser("evaluate", help="test-split metrics of a trained model")
    evaluate.add_argument("app", help=f"one of: {', '.join(registry.names())}")
    evaluate.add_argument("--model", default=None, metavar="DIR", help=MODEL_HELP)
    evaluate.add_argument("--data", default=None)
    evaluate.add_argument("--engine", default="litert", choices=["keras", "savedmodel", "litert"])
    evaluate.add_argument("--variant", default="fp32", choices=["fp32", "fp16", "int8"])

    predict = commands.add_parser("predict", help="answer raw inputs with a trained model")
    predict.add_argument("app", help=f"one of: {', '.join(registry.names())}")
    predict.add_argument(
        "inputs", nargs="*", metavar="INPUT", help="what to answer (music: none for a new tune)"
    )
    predict.add_argument("--model", default=None, metavar="DIR", help=MODEL_HELP)
    predict.add_argument("--engine", default="litert", choices=["litert", "savedmodel", "keras"])
    predict.add_argument("--variant", default="fp32", choices=["fp32", "fp16", "int8"])
    predict.add_argument("--json", action="store_true", help="one JSON object per input")
    predict.add_argument(
        "--out",
        metavar="FILE",
        help="write each answer to FILE (music: .mid, .musicxml, .abc, .wav)",
    )
    predict.add_argument(
        "--attention", metavar="PNG", help="save the attention map (translation, captioning)"
    )
    predict.add_argument(
        "--plot",
        metavar="PNG",
        help="save the app's picture of each answer (forecasting: history, forecast, anomalies; "
        "video: the label over time)",
    )
    if predict_app is not None:  # the app's own options, as it declares them
        for option in registry.predict_declarations(predict_app)[1]:
            option.add_flag(predict, predict_app)

    export = commands.add_parser("export", help="re-export a trained model.keras")
    export.add_argument("app", help=f"one of: {', '.join(registry.names())}")
    export.add_argument("--model", default=None, metavar="DIR", help=MODEL_HELP)

    demo = commands.add_parser("demo", help="train every app (demo preset) and run its .tflite")
    demo.add_argument(
        "apps",
        nargs="*",
        metavar="APP",
        help=f"the apps to train and try (default: all, {', '.join(registry.names())})",
    )
    demo.add_argument(
        "--jobs",
        type=int,
        default=0,
        metavar="N",
        help="apps trained at once, each in its own process with its share of the cores "
        "(default: 2 on two cores or more, else 1)",
    )
    compare = commands.add_parser(
        "compare",
        help="train config variants over seeds and compare them on the validation split",
    )
    compare.add_argument("app", help=f"one of: {', '.join(registry.names())}")
    compare.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME:KEY=VALUE,...",
        help="a variant: its name and --set overrides ('NAME:' is the preset as it is)",
    )
    compare.add_argument("--preset", default="default", help="quick | demo | default")
    compare.add_argument("--seeds", type=int, default=3, help="seeds per variant (same split)")
    compare.add_argument("--data", default=None, help="default | tfds:NAME | a file or folder")
    compare.add_argument(
        "--out", default=None, help="JSON file (default bench/runs/APP_compare_PRESET.json)"
    )
    report = commands.add_parser("report", help="regenerate the README results from metrics.json")
    report.add_argument("--models", default="saved_models")
    report.add_argument("--readme", default="README.md")
    report.add_argument(
        "--runs", default="bench/runs", help="the recorded metrics.json of every headline run"
    )
    bench = commands.add_parser(
        "bench", help="measure every trained app: quality, speed, size, cost"
    )
    bench.add_argument("apps", nargs="*")
    bench.add_argument("--out", default="bench/results.json")
    bench.add_argument(
        "--page",
        "--readme",
        dest="page",
        default=None,
        help="the Markdown page whose generated block is rewritten "
        "(default docs/bench.md; docs/lab.md with --cells)",
    )
    bench.add_argument("--models", default="saved_models")
    bench.add_argument(
        "--quick", action="store_true", help="few runs, no per-engine memory (tests)"
    )
    bench.add_argument("--train", action="store_true", help="also time training steps: input wait")
    bench.add_argument(
        "--train-missing",
        action="store_true",
        help="first train (default preset) every app not trained yet or trained with demo only",
    )
    bench.add_argument(
        "--cells",
        nargs="?",
        const="elman,jordan,lstm,gru,indrnn",
        default=None,
        metavar="CELL,...",
        help="train each app with each cell (demo preset, quick with --quick); default all five",
    )
    lab = commands.add_parser(
        "lab", help="why gates matter: every cell on long-range synthetic tasks"
    )
    lab.add_argument("--out", default="saved_models/lab", help="folder for lab.json and PNGs")
    lab.add_argument("--quick", action="store_true", help="tiny lengths and models (seconds)")
    serve = commands.add_parser("serve", help="web page and REST API for every app")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--models", default="saved_models")
    serve.add_argument("--engine", default="litert", choices=["litert", "savedmodel", "keras"])
    serve.add_argument("--variant", default="fp32", choices=["fp32", "fp16", "int8"])
    return parser


COMMANDS = {
    "list": command_list,
    "train": command_train,
    "evaluate": command_evaluate,
    "predict": command_predict,
    "export": command_export,
    "demo": command_demo,
    "compare": command_compare,
    "report": command_report,
    "bench": command_bench,
    "serve": command_serve,
    "lab": command_lab,
}


def _unknown_flags(unknown: list[str], predict_app: str | None) -> str:
    """The one-line error for flags the command (or the app's predict) does not take."""
    if predict_app is None or not unknown[0].startswith("--"):
        return f"unrecognized arguments: {' '.join(unknown)}"
    declared = registry.predict_declarations(predict_app)[1]
    takes = ", ".join(option.flag for option in declared)
    return f"{unknown[0]}: not an option of the {predict_app} app " + (
        f"(its options: {takes})" if takes else "(it takes none)"
    )


def _help_for_train(argv: list[str]) -> str | None:
    """The app of ``train APP --help`` (its fields go in the help), else None."""
    if len(argv) < 2 or argv[0] != "train" or not {"-h", "--help"} & set(argv):
        return None
    return argv[1] if argv[1] in registry.names() else None


def _predict_app(argv: list[str]) -> str | None:
    """The app a ``predict`` command names (its first app name), so its flags can be added."""
    if not argv or argv[0] != "predict":
        return None
    return next((word for word in argv[1:] if word in registry.names()), None)


def main(argv: list[str] | None = None) -> int:
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        predict_app = _predict_app(argv)
        train_app = _help_for_train(argv)
        args, unknown = make_parser(predict_app, train_app).parse_known_args(argv)
        if unknown:
            raise UserError(_unknown_flags(unknown, predict_app))
        if getattr(args, "app", None) is not None:
            registry.check_name(args.app)  # unknown app: fail before loading TensorFlow
        if args.command != "list" and not (
            args.command == "predict" and _runtime_class(args) is not None
        ):
            import_tensorflow_quietly(f"rnnapps {args.command}")  # LiteRT answers without it
        return COMMANDS[args.command](args)
    except UserError as error:
        print(f"rnnapps: error: {error}", file=sys.stderr)
        return USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
