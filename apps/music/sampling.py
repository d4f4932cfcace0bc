"""The sampling setting of the generated tunes the evaluation measures, chosen on validation.

Issue 28 asks generated tunes to fall within the spread of held-out tunes (pitch-class
distance, share of notes in the key, ...). Sampling at temperature 1 and top-p 1 leaves the
model's wandering tail in; a lower temperature or a nucleus cuts it. Which one is chosen on
the validation tunes, never on the test tunes (the project's rule: choices on validation, the
test split read once):

1. the spread: ``measures.held_out_spread`` of the validation tunes against the training tunes
   (``SUBSETS`` random sets of ``sample_tunes``, seeded with ``split_seed``), as
   ``MusicApp.held_out_reference`` does for the test tunes;
2. for every (temperature, top-p) of the grid, ``seeds`` sets of ``sample_tunes`` tunes from
   the LiteRT step model with bar-keeping decoding, each tune in the key and metre of a
   validation tune spread evenly over the split (``spread_rows``: every collection in its
   share), up to ``sample_bars`` bars; each statistic averaged over the sets;
3. the chosen setting has the most of ``CHOSEN_ON`` inside their 5-95% spread, ties broken by
   the smaller pitch-class distance (``choose``).

The choice goes into the model's ``config.json`` (``sample_temperature``, ``sample_top_p``:
what every later evaluation of that model reads) and, whole, into ``sampling.json`` beside
it. ``--evaluate`` then measures the test split's generated tunes once with it (every LiteRT
variant of ``metrics.json``, raw and with bars kept, as ``rnnapps train`` does) and rewrites
those blocks of ``metrics.json``, with the choice under ``"sampling"``; ``rnnapps report``
puts them in the README.

    python -m apps.music.sampling [MODEL_DIR] [--temperatures 0.7,0.8] [--top-ps 0.9,1]
        [--seeds 10] [--evaluate]

Example:
    >>> starts = [tune[0] for tune in validation]  # start tokens: key and metre
    >>> rows = measure_grid(runtime, starts, reference, (0.8, 1.0), (0.95, 1.0), bars=32, seeds=2)
    >>> choose(rows, spread)["temperature"]
"""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import sys
from collections.abc import Sequence

import numpy as np

from apps.music import events, measures
from shared.errors import UserError

# The grid: temperatures 0.7..1.0 by 0.05 and three nuclei. The default model's grid with ten
# seeds took 110 s on one thread (the corpus loaded in 10 s of it).
TEMPERATURES = (0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0)
TOP_PS = (0.9, 0.95, 1.0)
# Sets per setting: one set of 32 tunes moves the pitch-class distance by 0.01-0.02 (standard
# deviation over the seeds, default model), as much as the settings in the spread differ;
# five seeds chose the same setting as ten.
SEEDS = 10
SUBSETS = 50  # random sets of validation tunes for the spread (as the test's, app.py)
# The statistics the choice counts inside the validation spread (issue 28's key share and
# pitch-class distance, and the two other distributions); the first breaks ties.
CHOSEN_ON = ("pitch_class_distance", "in_key_share", "duration_distance", "interval_distance")
TABLE = CHOSEN_ON + ("ends_on_tonic",)
CHOICE_FILE = "sampling.json"
LABELS = {
    "pitch_class_distance": "pitch-class distance",
    "in_key_share": "in the key",
    "duration_distance": "duration distance",
    "interval_distance": "interval distance",
    "ends_on_tonic": "ends on the tonic",
}


def spread_rows(count: int, size: int) -> list[int]:
    """`size` rows of `count` spread evenly from the first to the last (a split's rows follow
    its collections, so every collection gets its share); rows repeat when `size` > `count`."""
    if count < 1 or size < 1:
        raise ValueError(f"spread_rows needs rows and a size, got count={count}, size={size}")
    return np.linspace(0, count - 1, size).round().astype(int).tolist()


def generate(
    composer,
    starts: Sequence[int],
    bars: int,
    temperature: float,
    top_p: float,
    constrained: bool = True,
    seed: int = 0,
) -> list[events.Tune]:
    """One new tune per start token (key and metre), the i-th drawn with seed `seed` + i, up
    to `bars` bars, ended where the model likes (``runtime.Composer.compose``)."""
    return [
        composer.compose(
            [int(start)], bars=bars, temperature=temperature, top_p=top_p, seed=seed + index,
            constrained=constrained,
        ).tune
        for index, start in enumerate(starts)
    ]  # fmt: skip


def inside(statistics: dict, spread: dict, names: Sequence[str] = CHOSEN_ON) -> list[str]:
    """The statistics among `names` within their 5-95% held-out range."""
    return [
        name for name in names if spread[name]["low"] <= statistics[name] <= spread[name]["high"]
    ]


def choose(rows: Sequence[dict], spread: dict, names: Sequence[str] = CHOSEN_ON) -> dict:
    """The row (``{"temperature", "top_p", "statistics"}``) with the most of `names` inside
    `spread`; ties go to the smaller ``names[0]`` (pitch-class distance), then to the first."""
    if not rows:
        raise ValueError("choose needs at least one setting")
    return min(
        rows,
        key=lambda row: (
            -len(inside(row["statistics"], spread, names)),
            row["statistics"][names[0]],
        ),
    )


def measure_grid(
    composer,
    starts: Sequence[int],
    reference: measures.TrainingReference,
    temperatures: Sequence[float],
    top_ps: Sequence[float],
    bars: int,
    seeds: int,
) -> list[dict]:
    """For every (temperature, top-p): `seeds` sets of tunes (bars kept), set ``s`` drawn with
    seeds ``s * len(starts) + i``; each statistic of ``measures.SPREAD_STATISTICS`` averaged
    over the sets (``statistics``) and as measured (``per_seed``)."""
    rows = []
    for temperature in temperatures:
        for top_p in top_ps:
            sets = [
                measures.set_statistics(
                    generate(composer, starts, bars, temperature, top_p, True, s * len(starts)),
                    reference,
                )
                for s in range(seeds)
            ]
            names = measures.SPREAD_STATISTICS + ("mean_bars",)
            rows.append(
                {
                    "temperature": float(temperature),
                    "top_p": float(top_p),
                    "statistics": {n: float(np.mean([s[n] for s in sets])) for n in names},
                    "per_seed": {n: [float(s[n]) for s in sets] for n in CHOSEN_ON},
                }
            )
    return rows


def choose_on_validation(
    composer,
    splits,
    config,
    temperatures: Sequence[float] = TEMPERATURES,
    top_ps: Sequence[float] = TOP_PS,
    seeds: int = SEEDS,
    reference: measures.TrainingReference | None = None,
) -> dict:
    """The choice (see the module docstring) from the training and validation tunes of
    `splits` alone: ``chosen`` (temperature, top-p), the ``spread``, the ``grid`` (each
    setting's statistics and which are ``inside``), and how."""
    check_grid(temperatures, top_ps, seeds)
    validation = splits.validation["events"]
    if reference is None:
        reference = measures.training_reference(splits.train["events"])
    size = min(config.sample_tunes, len(validation))
    spread = measures.held_out_spread(
        [events.decode(ids) for ids in validation],
        reference,
        size,
        SUBSETS,
        np.random.default_rng(config.split_seed),
    )
    starts = [validation[row][0] for row in spread_rows(len(validation), config.sample_tunes)]
    rows = measure_grid(
        composer, starts, reference, temperatures, top_ps, config.sample_bars, seeds
    )
    for row in rows:
        row["inside"] = inside(row["statistics"], spread)
    best = choose(rows, spread)
    return {
        "chosen": {"temperature": best["temperature"], "top_p": best["top_p"]},
        "chosen_on": "validation",
        "rule": "the most of the statistics inside their validation spread (5-95% over "
        f"{SUBSETS} random sets of {size} validation tunes), ties to the smaller "
        "pitch-class distance; each statistic the mean of the seeds' sets",
        "statistics": list(CHOSEN_ON),
        "tunes": config.sample_tunes,
        "bars_asked": config.sample_bars,
        "seeds": seeds,
        "starts": "the keys and metres of validation tunes spread evenly over the split",
        "spread": spread,
        "grid": rows,
    }


def check_grid(temperatures: Sequence[float], top_ps: Sequence[float], seeds: int) -> None:
    """A UserError naming the first value out of range (the config's own ranges)."""
    if not temperatures or not all(0.0 < t <= 10.0 for t in temperatures):
        raise UserError(
            f"--temperatures {','.join(map(str, temperatures))}: give temperatures in (0, 10]"
        )
    if not top_ps or not all(0.0 < p <= 1.0 for p in top_ps):
        raise UserError(f"--top-ps {','.join(map(str, top_ps))}: give top-p values in (0, 1]")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise UserError(f"--seeds {seeds}: must be a whole number of at least 1")


def markdown_table(choice: dict) -> str:
    """The grid as a Markdown table: each setting's mean statistics on validation, the
    spread's row, the chosen one in bold."""
    spread, chosen = choice["spread"], choice["chosen"]
    header = ["temperature", "top-p"] + [LABELS[n] for n in TABLE] + ["inside (of 4)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in choice["grid"]:
        cells = [f"{row['temperature']:g}", f"{row['top_p']:g}"]
        cells += [f"{row['statistics'][n]:.3f}" for n in TABLE]
        cells.append(str(len(row["inside"])))
        if (row["temperature"], row["top_p"]) == (chosen["temperature"], chosen["top_p"]):
            cells = [f"**{c}**" for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    band = [
        f"{spread[n]['median']:.3f} ({spread[n]['low']:.3f}-{spread[n]['high']:.3f})" for n in TABLE
    ]
    lines.append("| validation tunes: median (5-95%) | | " + " | ".join(band) + " | |")
    return "\n".join(lines)


def write_choice(model_dir: pathlib.Path, choice: dict) -> None:
    """The chosen setting into `model_dir`'s config.json (``sample_temperature``,
    ``sample_top_p``; every other field as it was) and the whole choice into sampling.json."""
    path = model_dir / "config.json"
    saved = json.loads(path.read_text())
    saved["sample_temperature"] = choice["chosen"]["temperature"]
    saved["sample_top_p"] = choice["chosen"]["top_p"]
    path.write_text(json.dumps(saved, indent=2, sort_keys=True))
    (model_dir / CHOICE_FILE).write_text(json.dumps(choice, indent=2) + "\n")


def evaluate_test(model_dir: pathlib.Path, choice: dict) -> dict:
    """The test split's generated tunes measured again with `model_dir`'s config (the chosen
    setting) on every LiteRT variant of its metrics.json, which is rewritten with them and
    the choice (``"sampling"``, without the per-seed figures). Returns the fp32 block."""
    from apps.music.app import MusicApp
    from shared.config import load_config
    from shared.data.sources import parse_source

    app = MusicApp()
    config = load_config(app.config_class, model_dir / "config.json")
    metrics_path = model_dir / "metrics.json"
    metrics = json.loads(metrics_path.read_text())
    splits = app.load_data(config, parse_source(metrics.get("source", "default")))
    for variant, scores in metrics["litert"].items():
        predictor = app.load_predictor(model_dir, "litert", variant)
        scores["generated"] = app.generated_statistics(predictor, splits, config)
    record = {k: v for k, v in choice.items() if k != "grid"}
    record["grid"] = [{k: v for k, v in row.items() if k != "per_seed"} for row in choice["grid"]]
    record["test_measured"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    metrics["sampling"] = record
    metrics_path.write_text(json.dumps(metrics, indent=2))
    return metrics["litert"]["fp32"]["generated"]


def _numbers(text: str, kind: type = float) -> tuple:
    try:
        return tuple(kind(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise UserError(f"{text!r}: give numbers separated by commas") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m apps.music.sampling",
        description="Choose the generated tunes' temperature and top-p on validation tunes.",
    )
    parser.add_argument("model_dir", nargs="?", default="saved_models/music")
    parser.add_argument("--temperatures", default=",".join(map(str, TEMPERATURES)))
    parser.add_argument("--top-ps", default=",".join(map(str, TOP_PS)))
    parser.add_argument("--seeds", type=int, default=SEEDS)
    parser.add_argument(
        "--evaluate",
        action="store_true",
        help="then measure the test split's generated tunes with the choice (metrics.json)",
    )
    args = parser.parse_args(argv)
    try:
        choice = run(
            pathlib.Path(args.model_dir),
            _numbers(args.temperatures),
            _numbers(args.top_ps),
            args.seeds,
            args.evaluate,
        )
    except UserError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(choice["chosen"]))
    return 0


def run(
    model_dir: pathlib.Path,
    temperatures: Sequence[float],
    top_ps: Sequence[float],
    seeds: int,
    evaluate: bool = False,
) -> dict:
    """Choose on validation, write the choice beside the model, print the table; with
    `evaluate`, measure the test split once with it."""
    from apps.music import data as music_data
    from apps.music.config import MusicConfig
    from apps.music.runtime import MusicRuntime
    from shared.config import load_config
    from shared.data.sources import parse_source

    check_grid(temperatures, top_ps, seeds)
    if not (model_dir / "config.json").is_file() or not (model_dir / "metrics.json").is_file():
        raise UserError(f"{model_dir}: no trained music model here (run: rnnapps train music)")
    config = load_config(MusicConfig, model_dir / "config.json")
    source = json.loads((model_dir / "metrics.json").read_text()).get("source", "default")
    splits = music_data.load_data(config, parse_source(source))
    composer = MusicRuntime(model_dir, "fp32")
    choice = choose_on_validation(composer, splits, config, temperatures, top_ps, seeds)
    write_choice(model_dir, choice)
    print(markdown_table(choice), file=sys.stderr)
    print(
        f"chosen on validation: temperature {choice['chosen']['temperature']:g}, top-p "
        f"{choice['chosen']['top_p']:g} (written to {model_dir / 'config.json'} and "
        f"{model_dir / CHOICE_FILE})",
        file=sys.stderr,
    )
    if evaluate:
        generated = evaluate_test(model_dir, choice)["constrained"]
        figures = ", ".join(f"{LABELS[n]} {generated[n]:.3f}" for n in TABLE)
        print(f"test, bars kept: {figures} (written to metrics.json)", file=sys.stderr)
    return choice


if __name__ == "__main__":
    raise SystemExit(main())
