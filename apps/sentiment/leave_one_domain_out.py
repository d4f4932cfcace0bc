"""Leave one domain out: how the model does on a kind of writing it never trained on.

For each VADER domain (tweets, movie reviews, Amazon reviews, NYT editorials), train the
preset's model on the other three domains' training rows, stop early and set the neutral
threshold on their validation rows, and score the left-out domain's test rows: the same
rows the ordinary run scores for that domain, so the two figures stand side by side. VADER
(untuned) and the TF-IDF baseline (tuned on the three domains' validation rows) are scored
on the same rows. The split is the ordinary one (``split_seed``); ``seed`` only sets
initialisation and shuffling.

    python -m apps.sentiment.leave_one_domain_out --preset default \\
        --out bench/runs/sentiment_lodo.json --readme apps/sentiment/README.md

writes the JSON and the table in the README (``--table-only`` rewrites the table from the
JSON without training).

The default preset trains four models (one per domain), about as long as four ordinary
runs. ``held_out`` in the output has ``App.headline``'s shape (one entry per domain).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import pathlib
import sys
import tempfile
import time

import numpy as np

from apps.sentiment.app import SentimentApp
from apps.sentiment.baselines import tune_tfidf, vader_scores
from apps.sentiment.config import SentimentConfig
from apps.sentiment.predictor import SentimentPredictor
from shared.config import PRESETS, resolve_config
from shared.data.overlap import assert_no_overlap, cross_split_overlap
from shared.data.sources import Source
from shared.data.splits import Splits, take
from shared.errors import UserError
from shared.training import fit, set_seeds
from shared.workflow import source_commit


def without_domain(splits: Splits, domain: str) -> Splits:
    """Train and validation rows of every other domain; test rows of `domain` alone."""

    def rows(columns: dict, keep_domain: bool) -> dict:
        domains = np.asarray(columns["domain"])
        return take(columns, np.flatnonzero((domains == domain) == keep_domain))

    return Splits(
        train=rows(splits.train, keep_domain=False),
        validation=rows(splits.validation, keep_domain=False),
        test=rows(splits.test, keep_domain=True),
        source=f"{splits.source} without {domain}",
    )


def score_domain(app: SentimentApp, config: SentimentConfig, splits: Splits, domain: str) -> dict:
    """Train without `domain` and score its test rows: ours, VADER and TF-IDF."""
    started = time.time()
    part = without_domain(splits, domain)
    if not len(part.train["text"]) or not len(part.test["text"]):
        raise ValueError(f"domain {domain!r}: no training rows left or no test rows")
    # The domain's text is in no split the model learns or calibrates from.
    assert_no_overlap(
        cross_split_overlap(
            {name: getattr(part, name)["text"] for name in ("train", "validation", "test")}
        ),
        what=f"snippets (without {domain})",
    )
    set_seeds(config.seed)
    model = app.build_model(config, part)  # its own vocabulary, from the three domains
    train_data, validation_data = app.make_datasets(config, part)
    with tempfile.TemporaryDirectory(prefix=f"lodo_{domain}_") as run_dir:
        history = fit(
            model,
            train_data,
            validation_data,
            config,
            pathlib.Path(run_dir),
            epoch_metrics=app.epoch_metrics(config, part),
        )
    adjusted = app.after_training(model, config, part)
    predictor = SentimentPredictor.from_model(model, app.tokenizer(config, part))
    probabilities, rating = predictor.scores(part.test["text"])
    ours = app._scores(part.test, probabilities.argmax(axis=-1), rating)
    vader_labels, vader_rating = vader_scores(part.test["text"], config.neutral_threshold)
    tfidf = tune_tfidf(part.train, part.validation, config.tfidf_ngrams, config.tfidf_c_values)
    tfidf_labels, tfidf_rating = tfidf.predict(part.test["text"])
    return {
        "trained_on": sorted(set(part.train["domain"])),
        "rows": {
            name: len(getattr(part, name)["text"]) for name in ("train", "validation", "test")
        },
        "model": ours,
        "vader": app._scores(part.test, vader_labels, vader_rating),
        "tfidf_logistic_regression": {
            **app._scores(part.test, tfidf_labels, tfidf_rating),
            "tuned_on": "validation (the three training domains)",
            "chosen": tfidf.chosen,
        },
        "training": {
            "epochs_run": len(history.epoch),
            "after_training": adjusted,
            "seconds": round(time.time() - started, 1),
        },
    }


def leave_one_domain_out(
    config: SentimentConfig, domains: list[str] | None = None, source: Source | None = None
) -> dict:
    """Every (or each of `domains`) domain left out in turn; JSON-ready results."""
    app = SentimentApp()
    splits = app.load_data(config, source or Source("default"))
    known = sorted(set(splits.test["domain"]))
    domains = domains or known
    unknown = sorted(set(domains) - set(known))
    if unknown:
        raise UserError(
            f"--domain {', '.join(unknown)}: unknown domain (choose from {', '.join(known)})"
        )
    results = {}
    for domain in domains:
        print(f"[lodo] training without {domain}", file=sys.stderr, flush=True)
        results[domain] = score_domain(app, config, splits, domain)
        model = results[domain]["model"]
        print(
            f"[lodo] {domain}: f1_weighted {model['f1_weighted']:.4f} "
            f"(VADER {results[domain]['vader']['f1_weighted']:.4f}, "
            f"TF-IDF {results[domain]['tfidf_logistic_regression']['f1_weighted']:.4f})",
            file=sys.stderr,
            flush=True,
        )
    metric = app.metric
    return {
        "app": app.name,
        "what": "leave one domain out",
        "preset": config.preset,
        "source": splits.source,
        "seed": config.seed,
        "split_seed": config.split_seed,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": source_commit(),
        "config": dataclasses.asdict(config),
        "domains": results,
        # App.headline's shape, one entry per left-out domain.
        "held_out": {
            f"without_{domain}": {
                "description": (
                    f"{domain} test rows, by a model trained and calibrated on the other "
                    "domains only"
                ),
                metric: result["model"][metric],
                "f1_macro": result["model"]["f1_macro"],
                "vader": result["vader"][metric],
                "tfidf_logistic_regression": result["tfidf_logistic_regression"][metric],
            }
            for domain, result in results.items()
        },
    }


README = pathlib.Path(__file__).with_name("README.md")
README_START = "<!-- lodo:start (generated by apps.sentiment.leave_one_domain_out) -->"
README_END = "<!-- lodo:end -->"


def table(results: dict, recorded: dict | None = None) -> str:
    """The README's table of `results` (this module's JSON), with each domain's figure from
    `recorded` (a recorded default run's ``bench/runs`` JSON, trained with every domain)."""
    by_domain = ((recorded or {}).get("metrics") or {}).get("by_domain") or {}
    lines = [
        f"Run of {results['date'][:10]}, {results['commit']}: preset `{results['preset']}`, "
        f"seed {results['seed']}, split_seed {results['split_seed']}. Recorded in "
        "`bench/runs/sentiment_lodo.json`; reproduce with the command above.",
        "",
        "| domain left out | ours: weighted F1 / macro-F1 | VADER (untuned) | TF-IDF (tuned on "
        "the other three's validation rows) | ours, trained with the domain (recorded run) |",
        "|---|---|---|---|---|",
    ]
    for name, entry in results["held_out"].items():
        domain = name.removeprefix("without_")
        trained = (by_domain.get(domain) or {}).get("f1_weighted")
        lines.append(
            f"| {domain} | {entry['f1_weighted']:.3f} / {entry['f1_macro']:.3f} | "
            f"{entry['vader']:.3f} | {entry['tfidf_logistic_regression']:.3f} | "
            + (f"{trained:.3f} |" if trained is not None else "– |")
        )
    return "\n".join(lines)


def update_readme(results: dict, recorded_path: pathlib.Path, readme: pathlib.Path = README):
    """Rewrite the README's leave-one-domain-out block from `results`."""
    from shared.report import update_block

    recorded = json.loads(recorded_path.read_text()) if recorded_path.is_file() else None
    update_block(readme, README_START, README_END, table(results, recorded))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m apps.sentiment.leave_one_domain_out", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--preset", choices=PRESETS, default="default")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--domain", action="append", dest="domains", help="one domain (repeat)")
    parser.add_argument("--out", type=pathlib.Path, required=True, help="the JSON file to write")
    parser.add_argument(
        "--table-only",
        action="store_true",
        help="train nothing: rewrite the README's table from the JSON file at --out",
    )
    parser.add_argument(
        "--readme",
        type=pathlib.Path,
        help=f"also rewrite the table in this README ({README.relative_to(README.parents[2])})",
    )
    parser.add_argument(
        "--recorded",
        type=pathlib.Path,
        default=pathlib.Path("bench/runs/sentiment.json"),
        help="the recorded default run, for each domain's figure when trained with it",
    )
    args = parser.parse_args(argv)
    if args.table_only:
        try:
            results = json.loads(args.out.read_text())
        except (OSError, ValueError) as error:
            print(f"error: {args.out}: unreadable ({error})", file=sys.stderr)
            return 2
        update_readme(results, args.recorded, args.readme or README)
        return 0
    try:
        config = resolve_config(SentimentConfig, args.preset, args.set)
        results = leave_one_domain_out(config, args.domains)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    if args.readme:
        update_readme(results, args.recorded, args.readme)
    for name, entry in results["held_out"].items():
        print(
            f"{name}: f1_weighted {entry['f1_weighted']:.4f} macro {entry['f1_macro']:.4f} "
            f"(VADER {entry['vader']:.4f}, TF-IDF {entry['tfidf_logistic_regression']:.4f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
