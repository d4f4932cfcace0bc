"""The sentiment app object that the CLI and ``shared.workflow`` drive."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import tensorflow as tf

from apps.sentiment import data as sentiment_data
from apps.sentiment import runtime
from apps.sentiment.baselines import tune_tfidf, vader_scores
from apps.sentiment.config import SentimentConfig
from apps.sentiment.export import litert_model
from apps.sentiment.model import build_model, target_names
from apps.sentiment.predictor import SentimentPredictor
from apps.sentiment.runtime import VOCABULARY_FILE
from apps.sentiment.serving import SentimentServing
from shared import figures
from shared.app import App, ExportBundle, QualityTarget
from shared.data.sources import Source
from shared.data.splits import Splits, limit_rows
from shared.metrics import by_group, classification_scores, pearson_r
from shared.preprocessing.text import OOV_ID, WordTokenizer, build_vocabulary, split_words
from shared.training import (
    EpochMeasure,
    epoch_measure,
    shuffle_each_epoch,
    validation_subset,
    with_epoch_randoms,
)

LABELS = runtime.LABELS
CONFUSION_MATRIX_FILE = "confusion_matrix.png"


def drop_tokens_each_epoch(batches: tf.data.Dataset, rate: float, seed: int) -> tf.data.Dataset:
    """Replace a `rate` share of the known words of (ids, targets, weights) `batches` by OOV.

    The words dropped change every epoch and depend only on (`seed`, epoch), like the
    order from ``shuffle_each_epoch``: one random value per batch (``with_epoch_randoms``)
    seeds a stateless draw, so a resumed run drops the same words as an uninterrupted one.
    """

    def drop_tokens(batch, random_value):
        token_ids, targets, weights = batch
        draw = tf.random.stateless_uniform(
            tf.shape(token_ids), tf.stack([random_value, tf.constant(seed, tf.int64)])
        )
        dropped = tf.where((draw < rate) & (token_ids > OOV_ID), OOV_ID, token_ids)
        return dropped, targets, weights

    dropped = with_epoch_randoms(batches, seed).map(
        drop_tokens, num_parallel_calls=tf.data.AUTOTUNE
    )
    return dropped


NEUTRAL = LABELS.index("neutral")
LONG_TEXTS_DESCRIPTION = (
    "long texts: 4-8 test snippets of one domain joined (about 100 tokens, read in windows), "
    "labelled by their mean human rating"
)
# Log-factors tried for the neutral class: wide enough for a corpus with no neutral text
# (the lowest never predicts it), fine enough for a threshold.
NEUTRAL_SHIFTS = np.round(np.arange(-2.0, 3.0001, 0.1), 1)


def neutral_log_shift(
    probabilities: np.ndarray, labels: np.ndarray, domains: list[str]
) -> tuple[float, float, float]:
    """The log-factor on the neutral class that best decides `labels` from `probabilities`.

    A classifier trained with cross-entropy names its rare class too seldom when it answers
    with the most probable class: on the VADER data, neutral is 8% of the snippets and 20%
    of the NYT ones, and one model named it for 2% of the NYT test snippets. Scaling the
    neutral probability by ``exp(shift)`` before that choice moves the threshold. The
    score is the issue's: weighted F1 per domain, averaged over the domains, so the big
    movie-review domain does not decide for the others. It is smoothed over neighbouring
    shifts (a window of 0.5), and ties go to the smallest change.

    Returns:
        (shift, score with no shift, score with the shift chosen), unsmoothed scores.
    """
    domains = np.asarray(domains)
    groups = [np.flatnonzero(domains == d) for d in sorted(set(domains.tolist()))]
    log_probabilities = np.log(np.maximum(probabilities, 1e-12))

    def score(shift: float) -> float:
        shifted = log_probabilities.copy()
        shifted[:, NEUTRAL] += shift
        chosen = shifted.argmax(axis=-1)
        per_domain = [
            classification_scores(labels[rows], chosen[rows], labels=[0, 1, 2])["f1_weighted"]
            for rows in groups
        ]
        return float(np.mean(per_domain))

    scores = np.array([score(shift) for shift in NEUTRAL_SHIFTS])
    smoothed = np.convolve(np.pad(scores, 2, mode="edge"), np.ones(5) / 5, mode="valid")
    best = np.flatnonzero(smoothed >= smoothed.max() - 1e-12)
    shift = float(NEUTRAL_SHIFTS[best[np.argmin(np.abs(NEUTRAL_SHIFTS[best]))]])
    return shift, score(0.0), score(shift)


class SentimentApp(App):
    name = "sentiment"  # task, pattern, data, metric and samples: on the runtime
    test_split = (
        "held-out snippets of all four domains (deduplicated up to case, spacing and punctuation)"
    )
    config_class = SentimentConfig
    runtime_class = runtime.SentimentRuntime
    predictor_class = SentimentPredictor
    # `epoch_metrics` logs the weighted F1 of a fixed validation subset after every epoch, and
    # `baselines` scores VADER on the same snippets: at or above VADER's figure, the model
    # beats it there, as the issue asks of the test split.
    quality_target = QualityTarget(
        metric="val_f1_weighted",
        goal=1.0,
        mode="max",
        note="issue 2: a weighted F1 that beats the VADER analyzer's on the same split",
        relative_to=("baselines", "vader", "validation", "f1_weighted"),
    )

    def load_data(self, config: SentimentConfig, source: Source) -> Splits:
        # split_seed decides the data (the split, the quick preset's rows); seed only training.
        splits = sentiment_data.load_data(source, config.split_seed, config.neutral_threshold)
        limit_rows(splits, config.split_seed, config.train_limit, config.test_limit)
        long = sentiment_data.long_texts(splits.test, config.split_seed, config.neutral_threshold)
        if len(long["text"]):
            splits.extra["long_texts"] = long
        return splits

    def tokenizer(self, config: SentimentConfig, splits: Splits) -> WordTokenizer:
        """Built once from the training split and kept with it."""
        if "tokenizer" not in splits.info:
            vocabulary = build_vocabulary(
                splits.train["text"], config.max_tokens, mark_caps=config.mark_caps
            )
            if config.lexicon_prior:
                known = set(vocabulary)
                vocabulary += sorted(
                    token
                    for token in sentiment_data.read_vader_lexicon()
                    if token not in known and split_words(token) == [token]
                )
            splits.info["tokenizer"] = WordTokenizer(
                vocabulary, config.max_length, config.mark_caps
            )
        return splits.info["tokenizer"]

    def restore_state(self, model_dir, config: SentimentConfig, splits: Splits) -> None:
        splits.info["tokenizer"] = WordTokenizer.load(pathlib.Path(model_dir) / VOCABULARY_FILE)

    def build_model(self, config: SentimentConfig, splits: Splits):
        tokenizer = self.tokenizer(config, splits)
        valence = None
        if config.lexicon_prior:
            lexicon = sentiment_data.read_vader_lexicon()
            valence = np.zeros(tokenizer.vocabulary_size, dtype=np.float32)
            for index, token in enumerate(tokenizer.vocabulary):
                valence[index + 2] = lexicon.get(token, 0.0) / 4.0
        return build_model(config, tokenizer.vocabulary_size, valence)

    def _dataset(self, config: SentimentConfig, splits: Splits, columns: dict, training: bool):
        ids = self.tokenizer(config, splits).encode(columns["text"])
        rating = np.asarray(columns["rating"], dtype=np.float32)
        known = np.isfinite(rating)
        targets = {
            "label": np.asarray(columns["label"], dtype=np.int32),
            "rating": np.where(known, rating / 4.0, 0.0).astype(np.float32)[:, None],
        }
        weights = {
            "label": np.ones(len(ids), dtype=np.float32),
            "rating": known.astype(np.float32),  # no rating (CSV, TFDS): no regression loss
        }
        if config.ensemble_size > 1:  # the same targets for every member's heads
            names = target_names(config)
            targets = {name: targets[name.rsplit("_", 1)[1]] for name in names}
            weights = {name: weights[name.rsplit("_", 1)[1]] for name in names}
        dataset = tf.data.Dataset.from_tensor_slices((ids, targets, weights))
        if training:
            dataset = shuffle_each_epoch(dataset, len(ids), config.seed)
        dataset = dataset.batch(config.batch_size)
        if training and config.token_dropout_rate > 0 and config.ensemble_size == 1:
            dataset = drop_tokens_each_epoch(dataset, config.token_dropout_rate, config.seed)
        return dataset.prefetch(tf.data.AUTOTUNE)

    def after_training(self, model, config: SentimentConfig, splits: Splits) -> dict:
        """Set the label's ``PriorShift`` to the neutral threshold the validation split prefers."""
        if not config.calibrate_neutral or not len(splits.validation["text"]):
            return {}
        predictor = SentimentPredictor.from_model(model, self.tokenizer(config, splits))
        probabilities, _ = predictor.scores(splits.validation["text"])
        shift, before, after = neutral_log_shift(
            probabilities, np.asarray(splits.validation["label"]), splits.validation["domain"]
        )
        factors = np.ones(len(LABELS), dtype=np.float32)
        factors[NEUTRAL] = np.exp(shift)
        model.get_layer("label").factors.assign(factors)
        return {
            "neutral_log_shift": shift,
            "validation_mean_domain_f1_weighted": {
                "before": round(before, 4),
                "after": round(after, 4),
            },
        }

    def make_datasets(self, config: SentimentConfig, splits: Splits):
        return (
            self._dataset(config, splits, splits.train, training=True),
            self._dataset(config, splits, splits.validation, training=False),
        )

    def build_export(self, model, config: SentimentConfig, splits: Splits) -> ExportBundle:
        tokenizer = self.tokenizer(config, splits)
        serving = SentimentServing(model, tokenizer)
        sample = tokenizer.encode(splits.train["text"][:200])

        def representative():
            for row in sample:
                yield [row[None, :]]

        return ExportBundle(
            serving=serving,
            signatures={
                "serving_default": serving.serve.get_concrete_function(),
                "tokenize": serving.tokenize.get_concrete_function(),
            },
            tflite_models={"model": litert_model(model)},
            representative_data={"model": representative},
            sidecars={VOCABULARY_FILE: tokenizer.to_json()},
        )

    def _scores(self, test: dict, predicted: np.ndarray, rating: np.ndarray) -> dict:
        labels = np.asarray(test["label"])

        def score(rows: np.ndarray) -> dict:
            result = classification_scores(labels[rows], predicted[rows], labels=[0, 1, 2])
            result["pearson_r"] = pearson_r(rating[rows], np.asarray(test["rating"])[rows])
            return result

        scores = score(np.arange(len(labels)))
        scores["by_domain"] = by_group(test["domain"], score)
        return scores

    def epoch_metrics(self, config: SentimentConfig, splits: Splits) -> EpochMeasure | None:
        """``val_f1_weighted`` of the model in training, as ``evaluate`` scores it, on
        ``epoch_metric_examples`` fixed validation snippets (VADER's is in ``baselines``)."""
        if not config.epoch_metric_examples:
            return None
        tokenizer = self.tokenizer(config, splits)

        def score(predictor: SentimentPredictor, columns) -> dict[str, float]:
            probabilities, rating = predictor.scores(columns["text"])
            scores = self._scores(columns, probabilities.argmax(axis=-1), rating)
            return {"val_f1_weighted": scores["f1_weighted"]}

        return epoch_measure(
            splits.validation,
            config.epoch_metric_examples,
            config.split_seed,
            lambda model: SentimentPredictor.from_model(model, tokenizer),  # one traced graph
            score,
        )

    def evaluate(self, predictor, splits: Splits, config: SentimentConfig) -> dict:
        """Test-split scores (weighted and macro F1, accuracy, Pearson r; per domain too).

        ``held_out.long_texts``: the shifted set of ``data.long_texts``. Leaving a whole domain
        out of training needs a training run per domain: ``apps.sentiment.leave_one_domain_out``.
        The Keras engine's scores also carry the split hygiene (``overlap``, from
        ``load_data``), once per run.
        """
        probabilities, rating = predictor.scores(splits.test["text"])
        predicted = probabilities.argmax(axis=-1)
        scores = self._scores(splits.test, predicted, rating)
        model_dir = getattr(predictor, "model_dir", None)
        if predictor.engine == "keras" and model_dir is not None:  # beside the model
            matrix = np.zeros((len(LABELS), len(LABELS)), np.int64)
            np.add.at(matrix, (np.asarray(splits.test["label"]), predicted), 1)
            figures.write_confusion_matrix(
                matrix,
                list(LABELS),
                pathlib.Path(model_dir) / CONFUSION_MATRIX_FILE,
                f"sentiment: test split, weighted F1 {scores['f1_weighted']:.3f}",
            )
        if "long_texts" in splits.extra:
            long = splits.extra["long_texts"]
            probabilities, rating = predictor.scores(long["text"])
            scores["held_out"] = {
                "long_texts": {
                    "description": LONG_TEXTS_DESCRIPTION,
                    **self._scores(long, probabilities.argmax(axis=-1), rating),
                }
            }
        if predictor.engine == "keras" and "overlap" in splits.info:
            scores["overlap"] = splits.info["overlap"]
            scores["duplicates_dropped"] = splits.info.get("duplicates_dropped", 0)
        return scores

    def baselines(self, splits: Splits, config: SentimentConfig) -> dict:
        """VADER (untuned) and TF-IDF n-grams (tuned on validation), on the same test split.

        VADER also on the validation snippets of ``epoch_metrics`` (``vader.validation``):
        the reference of the per-epoch quality target.
        """
        vader_labels, vader_rating = vader_scores(splits.test["text"], config.neutral_threshold)
        vader = self._scores(splits.test, vader_labels, vader_rating)
        vader["tuned_on"] = "nothing (the untuned reference)"
        vader["description"] = "VADER 3.3.2 analyzer: hand-made lexicon and rules, no training"
        if config.epoch_metric_examples:
            columns = validation_subset(
                splits.validation, config.epoch_metric_examples, config.split_seed
            )
            labels, rating = vader_scores(columns["text"], config.neutral_threshold)
            scores = self._scores(columns, labels, rating)
            vader["validation"] = {"f1_weighted": scores["f1_weighted"], "count": len(labels)}
        tfidf = tune_tfidf(
            splits.train, splits.validation, config.tfidf_ngrams, config.tfidf_c_values
        )
        tfidf_labels, tfidf_rating = tfidf.predict(splits.test["text"])
        tfidf_scores = self._scores(splits.test, tfidf_labels, tfidf_rating)
        if "long_texts" in splits.extra:  # the shifted set of ``evaluate``, for comparison
            long = splits.extra["long_texts"]
            labels, rating = vader_scores(long["text"], config.neutral_threshold)
            vader["held_out"] = {"long_texts": self._scores(long, labels, rating)}
            labels, rating = tfidf.predict(long["text"])
            tfidf_scores["held_out"] = {"long_texts": self._scores(long, labels, rating)}
        return {
            "vader": vader,
            "tfidf_logistic_regression": {
                **tfidf_scores,
                "tuned_on": "validation",
                "chosen": tfidf.chosen,
                "validation": tfidf.validation,
                "description": (
                    "TF-IDF word n-grams, logistic regression (label) and ridge (rating); "
                    "n-gram range, C, class weights and alpha chosen on validation"
                ),
            },
        }

    def parity_inputs(self, splits: Splits, count: int) -> list:
        texts = list(splits.test["text"][:count])
        if len(texts) > 1:  # and one text longer than a window: the engines' windows too
            texts[-1] = " ".join(texts)
        return texts

    def latency_inputs(self, predictor, splits: Splits) -> dict:
        return {"token_ids": predictor.tokenizer.encode(splits.test["text"][:1])}

    def check_input(self, text: str) -> str:
        """The text to classify, or a UserError naming what is wrong with it."""
        return runtime.check_text(text)

    def predict(self, predictor, inputs: list[str]) -> list:
        return runtime.answers(inputs, predictor.scores)

    def sample_check(self, predictor, raw: str, answer: dict) -> bool | None:
        expected = self.runtime_class.sample_labels.get(raw)
        return None if expected is None else answer.get("label") == expected

    def report(self, metrics: dict) -> str:
        """Per-domain weighted F1, macro-F1 and Pearson r: ours (Keras, LiteRT int8) beside
        VADER and TF-IDF, on the test split and the long texts."""
        rows = [
            ("ours (Keras)", metrics["metrics"]),
            ("ours (LiteRT int8)", metrics["litert"]["int8"]),
            ("VADER 3.3.2 analyzer (untuned)", metrics["baselines"]["vader"]),
            (
                "TF-IDF n-grams + logistic/ridge (tuned on validation)",
                metrics["baselines"]["tfidf_logistic_regression"],
            ),
        ]
        domains = sorted(metrics["metrics"]["by_domain"])
        has_long = "long_texts" in (metrics["metrics"].get("held_out") or {})
        lines = [
            "Weighted F1 / macro-F1 / Pearson r with the human rating, per domain of the test "
            "split" + (", and on the long texts (`held_out.long_texts`):" if has_long else ":"),
            "",
            "| model | " + " | ".join(domains) + " | all |" + (" long texts |" if has_long else ""),
            "|---|" + "---|" * (len(domains) + 1 + has_long),
        ]

        def cell(part: dict | None) -> str:
            if not part:
                return "–"
            values = [part.get("f1_weighted"), part.get("f1_macro"), part.get("pearson_r")]
            return " / ".join("–" if value is None else f"{value:.3f}" for value in values)

        for name, scores in rows:
            parts = [scores["by_domain"][d] for d in domains] + [scores]
            if has_long:
                parts.append((scores.get("held_out") or {}).get("long_texts"))
            lines.append(f"| {name} | " + " | ".join(cell(part) for part in parts) + " |")
        chosen = metrics["baselines"]["tfidf_logistic_regression"].get("chosen")
        if chosen:
            lines += ["", f"TF-IDF knobs chosen on the validation split: `{json.dumps(chosen)}`."]
        return "\n".join(lines)

    def figures(self, metrics: dict, model_dir, splits: Splits | None = None) -> list:
        """Weighted F1 per domain (``scores_by_domain.png``) and on the test split beside the
        long texts (``scores_by_held_out.png``), VADER's and TF-IDF's beside ours."""
        model_dir = pathlib.Path(model_dir)
        drawn = [
            figures.group_figure(
                metrics,
                "by_domain",
                model_dir / figures.scores_file("domain"),
                "sentiment: weighted F1 per domain (test split)",
                self.metric,
            ),
            figures.held_out_figure(
                metrics,
                self.metric,
                model_dir / figures.scores_file("held_out"),
                "sentiment: weighted F1 on the test split and the long texts",
            ),
        ]
        return [path for path in drawn if path is not None]

    def summary(self, answer: dict) -> str:
        return runtime.summary(answer)
