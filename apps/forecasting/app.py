"""The forecasting app object that the CLI and ``shared.workflow`` drive."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import pathlib

import numpy as np
import tensorflow as tf

from apps.forecasting import data as forecasting_data
from apps.forecasting import measures, runtime
from apps.forecasting.config import ForecastingConfig
from apps.forecasting.export import litert_models
from apps.forecasting.model import build_core, member_count, member_suffix
from apps.forecasting.predictor import ForecastingPredictor
from apps.forecasting.runtime import MEDIAN, QUANTILES, SETTINGS_FILE
from apps.forecasting.series import Series, write_csv
from apps.forecasting.serving import ForecastingServing
from apps.forecasting.unseen import DESCRIPTION
from shared.app import App, ExportBundle
from shared.data.sources import Source
from shared.data.splits import Splits
from shared.errors import UserError
from shared.training import shuffle_each_epoch
from shared.workflow import log

INPUTS = ("history", "length", "phase", "frequency", "loc", "scale")
ANOMALY_PARTS = ("validation", "test")
# The baselines' anomaly detectors: a causal rolling z-score over this many steps, and the
# residual of a seasonal decomposition.
ZSCORE_WINDOW = 24


def windows_of(splits: Splits, rows: dict) -> list[tuple[Series, int]]:
    """The (series, origin) of each row of `rows` (``splits.validation`` or ``splits.test``)."""
    panel = {series.name: series for series in splits.info["panel"]}
    return [(panel[n], o) for n, o in zip(rows["series"], rows["origin"], strict=True)]


def truncated(series: Series, end: int, values: np.ndarray | None = None) -> Series:
    """`series` up to (not including) `end`, with other `values` if given."""
    kept = series.values[:end] if values is None else np.asarray(values)[:end]
    return dataclasses.replace(series, values=kept, timestamps=series.timestamps[:end])


def seasonal_naive(history: np.ndarray, horizon: int, period: int) -> np.ndarray:
    """The last full period repeated (the last value for period 1): M4's reference here."""
    period = max(1, min(period, len(history)))
    last = history[-period:]
    return np.asarray([last[i % period] for i in range(horizon)], np.float64)


def score_window(actual, median, history, period, intervals: dict | None) -> dict:
    """M4's measures of one forecast window, plus interval scores when there are intervals."""
    scores = {
        "mase": measures.mase(actual, median, history, period),
        "smape": measures.smape(actual, median),
    }
    if intervals:
        scores["msis"] = measures.msis(
            actual, intervals["lo95"], intervals["hi95"], history, period, alpha=0.05
        )
        scores["coverage80"] = measures.coverage(actual, intervals["lo80"], intervals["hi80"])
        scores["coverage95"] = measures.coverage(actual, intervals["lo95"], intervals["hi95"])
    return scores


def mean_scores(rows: list[dict]) -> dict:
    keys = {key for row in rows for key in row}
    out = {}
    for key in sorted(keys):
        values = [row[key] for row in rows if key in row and np.isfinite(row[key])]
        if values:
            out[key] = round(float(np.mean(values)), 4)
    return out


def score_forecasts(windows: list[tuple[Series, int]], forecasts: list[dict]) -> tuple[dict, dict]:
    """Panel and per-series scores of `forecasts` (``{"mean"}``, and ``lo80`` ... ``hi95``
    where there are intervals) made at the (series, origin) `windows`, with OWA against
    seasonal naive on the same windows."""
    ours, reference = {}, {}
    for (series, origin), forecast in zip(windows, forecasts, strict=True):
        h, m = series.horizon, series.period
        actual = series.values[origin : origin + h]
        history = series.values[:origin]
        intervals = forecast if "lo80" in forecast else None
        ours.setdefault(series.name, []).append(
            score_window(actual, forecast["mean"], history, m, intervals)
        )
        reference.setdefault(series.name, []).append(
            score_window(actual, seasonal_naive(history, h, m), history, m, None)
        )
    by_series = {name: mean_scores(rows) for name, rows in ours.items()}
    reference_by_series = {name: mean_scores(rows) for name, rows in reference.items()}
    for name in by_series:
        add_owa(by_series[name], reference_by_series[name])
    overall = mean_scores(list(by_series.values()))
    overall.pop("owa", None)
    add_owa(overall, mean_scores(list(reference_by_series.values())))
    return overall, by_series


def backtest(windows: list[tuple[Series, int]], quantiles: np.ndarray) -> tuple[dict, dict]:
    """``score_forecasts`` of the model's quantiles ``[n, H, Q]`` (median and intervals)."""
    forecasts = []
    for index, (series, _) in enumerate(windows):
        q = quantiles[index, : series.horizon].astype(np.float64)
        forecasts.append(
            {
                "mean": q[:, MEDIAN],
                "lo95": q[:, 0],
                "lo80": q[:, 1],
                "hi80": q[:, 3],
                "hi95": q[:, 4],
            }
        )
    return score_forecasts(windows, forecasts)


def add_owa(scores: dict, reference: dict) -> dict:
    """``owa`` of `scores` against `reference` (both panel means of sMAPE and MASE)."""
    if {"smape", "mase"} <= scores.keys() and {"smape", "mase"} <= reference.keys():
        scores["owa"] = round(
            measures.owa(scores["smape"], scores["mase"], reference["smape"], reference["mase"]), 4
        )
    return scores


SCALE_GRID = np.round(np.arange(0.5, 4.0001, 0.05), 2)


def series_mean_coverage(actual, median, low, high, groups, scale: float) -> float:
    """Coverage of the interval ``median - scale * low .. median + scale * high`` (all flat,
    one entry a value) as the backtest reports it: the share of covered values in each
    group (series), averaged over the groups, so an hourly series' 48-step windows weigh no
    more than a yearly series' 6-step ones."""
    inside = (actual >= median - scale * low) & (actual <= median + scale * high)
    groups = np.asarray(groups)
    return float(np.mean([inside[groups == group].mean() for group in dict.fromkeys(groups)]))


def interval_scale(actual, median, low, high, groups, nominal: float) -> float:
    """The scale on ``SCALE_GRID`` whose ``series_mean_coverage`` is closest to `nominal`
    (the smallest such scale on a tie)."""
    coverage = np.array(
        [series_mean_coverage(actual, median, low, high, groups, s) for s in SCALE_GRID]
    )
    return float(SCALE_GRID[np.argmin(np.abs(coverage - nominal))])


class ForecastingApp(App):
    name = "forecasting"
    lower_is_better = True
    test_split = "the last 3 horizons of every series (rolling origin), read once"
    config_class = ForecastingConfig
    runtime_class = runtime.ForecastingRuntime
    predictor_class = ForecastingPredictor
    # On the window's own scale (``runtime.normalised_forecasts``), like the other apps' outputs.
    parity_tolerance = {"savedmodel": 1e-4, "fp32": 1e-4, "fp16": 5e-2, "int8": 0.25}

    @property
    def sample_inputs(self) -> tuple[str, ...]:
        """Two series of the panel written as CSV files (the demo reads files, as a user)."""
        from apps.forecasting.panel import embedded_panel

        paths = runtime.ForecastingRuntime.sample_paths()
        if not all(path.is_file() for path in paths):
            panel = {series.name: series for series in embedded_panel()}
            for name, path in zip(runtime.SAMPLE_SERIES, paths, strict=True):
                path.parent.mkdir(parents=True, exist_ok=True)
                write_csv(path, [panel[name]])
        return tuple(str(path) for path in paths)

    # --- data ---------------------------------------------------------------------------

    def load_data(self, config: ForecastingConfig, source: Source) -> Splits:
        if source.kind == "default":
            from apps.forecasting.panel import embedded_panel

            panel = embedded_panel()
            name = "default"
        elif source.kind == "file":
            from apps.forecasting.series import read_csv

            panel, bad = read_csv(pathlib.Path(source.value))
            if bad:
                raise UserError("; ".join(str(error) for error in bad.values()))
            name = f"file:{source.value}"
        else:
            raise UserError(
                f"--data {source}: the forecasting app reads the default panel or a CSV"
            )
        if config.series_limit:
            panel = spread_over_frequencies(panel, config.series_limit)
        splits = forecasting_data.split_panel(panel, config, name)
        splits.info["anomalies"] = self._anomaly_sets(splits, config)
        if source.kind == "default":
            from apps.forecasting.panel import overlap_report

            bounds = {
                s.name: (
                    s.timestamps[splits.info["cuts"][s.name].validation_start - 1],
                    s.timestamps[splits.info["cuts"][s.name].test_start],
                )
                for s in panel
            }
            splits.info["overlap"] = overlap_report(panel, bounds)
            from apps.forecasting.unseen import unseen_series

            splits.info["unseen"] = [
                (series, cut.test_start + index * cut.horizon)
                for series in unseen_series()
                for cut in [forecasting_data.cut(series, config)]
                for index in range(cut.test_windows)
            ]
        return splits

    def _anomaly_sets(self, splits: Splits, config: ForecastingConfig) -> dict:
        """Seeded anomalies injected into each series' validation and test regions."""

        def injected(series, rng, start: int, end: int, kind: int) -> dict:
            values, labels, events = inject_what_fits(
                series.values[:end], series.period, rng, start, config.anomalies_per_series, kind
            )
            return {"values": values, "labels": labels, "events": events, "start": start}

        rng = np.random.default_rng(config.split_seed + 7)
        sets: dict = {part: {} for part in ANOMALY_PARTS}
        for index, series in enumerate(splits.info["panel"]):
            c = splits.info["cuts"][series.name]
            for part, (start, end) in zip(
                ANOMALY_PARTS,
                ((c.validation_start, c.test_start), (c.test_start, len(series.values))),
                strict=True,
            ):
                sets[part][series.name] = injected(series, rng, start, end, index)
        # More independent injections into the same validation regions, each scored apart:
        # the threshold is chosen on all of them (``validation_parts``). Their own seeds, so
        # the first validation set and the test set stay what they were.
        for copy in range(2, config.anomaly_validation_sets + 1):
            rng = np.random.default_rng(config.split_seed + 7 + 1000 * copy)
            sets[f"validation_{copy}"] = {
                series.name: injected(
                    series,
                    rng,
                    splits.info["cuts"][series.name].validation_start,
                    splits.info["cuts"][series.name].test_start,
                    index + copy,
                )
                for index, series in enumerate(splits.info["panel"])
            }
        return sets

    # --- training -----------------------------------------------------------------------

    def build_model(self, config: ForecastingConfig, splits: Splits):
        steps = -(-len(splits.train["history"]) // config.batch_size)
        return build_core(config, steps)

    def _dataset(self, config: ForecastingConfig, columns: dict, training: bool):
        inputs = {name: columns[name] for name in INPUTS}
        inputs["length"] = inputs["length"].astype(np.int32)
        inputs["frequency"] = inputs["frequency"].astype(np.int32)
        for name in ("history", "phase", "loc", "scale"):
            inputs[name] = inputs[name].astype(np.float32)
        dataset = tf.data.Dataset.from_tensor_slices(
            (inputs, columns["target"].astype(np.float32), columns["weight"].astype(np.float32))
        )
        if training:
            dataset = shuffle_each_epoch(dataset, len(columns["target"]), config.seed)
        return dataset.batch(config.batch_size).prefetch(tf.data.AUTOTUNE)

    def make_datasets(self, config: ForecastingConfig, splits: Splits):
        return (
            self._dataset(config, splits.train, training=True),
            self._dataset(config, splits.validation, training=False),
        )

    def _scores_of(self, forecast, splits: Splits, config: ForecastingConfig, part: str) -> dict:
        """Anomaly scores and labels of every series' `part` region (with its injected
        anomalies), from ``runtime.stream_scores``."""
        panel = {series.name: series for series in splits.info["panel"]}
        entries = splits.info["anomalies"][part]
        series_list = [
            truncated(panel[name], len(entry["values"]), entry["values"])
            for name, entry in entries.items()
        ]
        firsts = [entry["start"] for entry in entries.values()]
        scored = runtime.stream_scores(forecast, series_list, config.context_length, firsts)
        return {
            name: (np.abs(scores), np.asarray(entry["labels"])[entry["start"] :])
            for (name, entry), scores in zip(entries.items(), scored, strict=True)
        }

    def _calibrate_intervals(self, model, predictor, splits: Splits) -> dict:
        """Scale the 80% and 95% intervals so the validation windows' coverage is nominal.

        Quantiles fitted on training windows are too narrow later in time (the first default
        run covered 64% of the test values with its 80% interval). The scale for each interval
        is the one on a grid whose validation coverage is closest to 80% (95%), coverage
        measured as the backtest reports it: each series' share of covered values, averaged
        over the series (``interval_scale``). The scale is chosen on the trained widths
        (scale 1), whatever scale the model held: calibrating again gives the same scale, and
        merged runs (``ensemble.py``) do not keep their own.
        """
        layers = [
            model.get_layer("quantiles" + member_suffix(member))
            for member in range(member_count(model))
        ]
        for layer in layers:  # `predictor` reads these weights when it runs
            layer.interval_scale.assign(np.ones(2, np.float32))
        validation = splits.validation
        panel = {series.name: series for series in splits.info["panel"]}
        quantiles = predictor.forecast(
            validation["history"],
            validation["length"],
            validation["phase"],
            validation["frequency"],
        ).astype(np.float64)
        actual, median, names = [], [], []
        widths = {"low80": [], "high80": [], "low95": [], "high95": []}
        for row, (name, origin) in enumerate(
            zip(validation["series"], validation["origin"], strict=True)
        ):
            series = panel[name]
            q = quantiles[row, : series.horizon]
            actual.append(series.values[origin : origin + series.horizon])
            median.append(q[:, MEDIAN])
            names.extend([name] * series.horizon)
            widths["low80"].append(q[:, MEDIAN] - q[:, 1])
            widths["high80"].append(q[:, 3] - q[:, MEDIAN])
            widths["low95"].append(q[:, MEDIAN] - q[:, 0])
            widths["high95"].append(q[:, 4] - q[:, MEDIAN])
        y, m = np.concatenate(actual), np.concatenate(median)
        w = {key: np.concatenate(value) for key, value in widths.items()}
        chosen, before, after = {}, {}, {}
        for level, nominal in (("80", 0.8), ("95", 0.95)):
            low, high = w[f"low{level}"], w[f"high{level}"]
            chosen[level] = interval_scale(y, m, low, high, names, nominal)
            before[level] = round(series_mean_coverage(y, m, low, high, names, 1.0), 4)
            after[level] = round(series_mean_coverage(y, m, low, high, names, chosen[level]), 4)
        for layer in layers:  # the mean's gaps scale with every member's
            layer.interval_scale.assign(np.array([chosen["80"], chosen["95"]], np.float32))
        return {
            "interval_scale": chosen,
            "validation_coverage_before": before,
            "validation_coverage_after": after,
            "validation_values": len(y),
        }

    def after_training(self, model, config: ForecastingConfig, splits: Splits) -> dict:
        """Interval widths calibrated on the validation windows, then the anomaly threshold
        with the best F1 on the validation regions' injected anomalies; and the validation
        windows' backtest (``validation_forecasts``): the figures design choices are made on."""
        predictor = ForecastingPredictor.from_model(model)
        calibration = self._calibrate_intervals(model, predictor, splits)
        predictor = ForecastingPredictor.from_model(model)
        validation = splits.validation
        validation_scores, _ = backtest(
            windows_of(splits, validation),
            predictor.forecast(
                validation["history"],
                validation["length"],
                validation["phase"],
                validation["frequency"],
            ),
        )
        scored = [
            self._scores_of(predictor.forecast, splits, config, part)
            for part in validation_parts(splits)
        ]
        threshold, choice = choose_threshold_by_sets(scored)
        splits.info["anomaly_threshold"] = threshold
        labels, scores = stack_scored(scored)
        f1 = measures.anomaly_scores_f1(labels, scores >= threshold)
        return {
            "anomaly_threshold": round(threshold, 4),
            "validation_anomalies": {
                **f1,
                **choice,
                "sets": len(scored),
                "events": int(
                    sum(
                        len(entry["events"])
                        for part in validation_parts(splits)
                        for entry in splits.info["anomalies"][part].values()
                    )
                ),
            },
            "intervals": calibration,
            "validation_forecasts": validation_scores,
        }

    def restore_state(self, model_dir, config: ForecastingConfig, splits: Splits) -> None:
        settings = runtime.read_settings(pathlib.Path(model_dir))
        splits.info["anomaly_threshold"] = float(settings["anomaly_threshold"])

    def build_export(self, model, config: ForecastingConfig, splits: Splits) -> ExportBundle:
        serving = ForecastingServing(model)
        from apps.forecasting.export import state_size

        settings = {
            "context_length": config.context_length,
            "anomaly_threshold": splits.info.get("anomaly_threshold", 4.0),
            "state_size": state_size(model),
            "quantiles": list(QUANTILES),
            "frequencies": list(runtime.FREQUENCY_NAMES),
        }
        return ExportBundle(
            serving=serving,
            signatures={"serving_default": serving.serve.get_concrete_function()},
            tflite_models=litert_models(model),
            sidecars={SETTINGS_FILE: json.dumps(settings, indent=2)},
        )

    # --- evaluation ---------------------------------------------------------------------

    def evaluate(self, predictor, splits: Splits, config: ForecastingConfig) -> dict:
        """Rolling-origin backtest (MASE, sMAPE, OWA against seasonal naive, MSIS, coverage of
        the 80% and 95% intervals) per series and over the panel; anomaly detection on the
        test regions' injected anomalies with the threshold chosen on validation."""
        test = splits.test
        quantiles = predictor.forecast(
            test["history"], test["length"], test["phase"], test["frequency"]
        )
        overall, by_series = backtest(windows_of(splits, test), quantiles)
        result = {**overall, "by_series": by_series, "windows": len(test["series"])}
        threshold = getattr(predictor, "threshold", None)
        if threshold is None:
            threshold = splits.info.get("anomaly_threshold", 4.0)
        result["anomalies"] = self._anomaly_metrics(
            self._scores_of(predictor.forecast, splits, config, "test"), threshold, splits
        )
        unseen = splits.info.get("unseen")
        if unseen:  # the shifted set: series from another source, never trained on
            inputs = [
                runtime.series_windows(truncated(series, origin), config.context_length)
                for series, origin in unseen
            ]
            stacked = {key: np.concatenate([i[key] for i in inputs]) for key in inputs[0]}
            scores, unseen_by_series = backtest(unseen, predictor.forecast(**stacked))
            result["held_out"] = {
                "unseen_series": {
                    "description": DESCRIPTION,
                    **scores,
                    "by_series": unseen_by_series,
                }
            }
        if predictor.engine == "keras" and "overlap" in splits.info:
            result["overlap"] = splits.info["overlap"]
        return result

    def _anomaly_metrics(self, scored: dict, threshold: float, splits: Splits) -> dict:
        scores = np.concatenate([s for s, _ in scored.values()])
        labels = np.concatenate([label for _, label in scored.values()])
        out = dict(measures.anomaly_scores_f1(labels, scores >= threshold))
        out["pr_auc"] = round(float(measures.pr_auc(labels, scores)), 4)
        out["threshold"] = round(float(threshold), 4)
        delays = []
        for name, (series_scores, _) in scored.items():
            entry = splits.info["anomalies"]["test"][name]
            flags = np.zeros(len(entry["values"]), bool)
            flags[entry["start"] :] = series_scores >= threshold
            delays += measures.detection_delay(entry["events"], flags)
        found = [d for d in delays if d is not None]
        out["events"] = len(delays)
        out["events_detected"] = len(found)
        out["median_delay_steps"] = float(np.median(found)) if found else None
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}

    def baselines(self, splits: Splits, config: ForecastingConfig) -> dict:
        """statsforecast's naive, seasonal naive, AutoETS, AutoARIMA and M4's Comb on the same
        test windows, scored like the model (OWA against the same seasonal naive); and the
        anomaly baselines (rolling z-score, seasonal-decomposition residual), each with its
        threshold chosen on the validation regions.

        They depend on the data and the split only, not on the model or its seed: they are
        kept under ``<data>/forecasting_baselines/`` by a digest of everything they read,
        so ``--seeds 3`` computes them once (AutoARIMA takes minutes). The anomaly baselines
        are kept in a file of their own (``anomalies_<version>_<digest>.json``), so a change
        to them does not recompute the forecasts."""
        from shared.data.cache import atomic_path, data_dir

        folder = data_dir() / "forecasting_baselines"
        digest = baselines_digest(splits, config)
        out = {}
        for path, compute, anomalies in (
            (folder / f"{digest}.json", self._compute_baselines, False),
            (
                folder / f"anomalies_{ANOMALY_BASELINES_VERSION}_{digest}.json",
                self._anomaly_baselines,
                True,
            ),
        ):
            if path.is_file():
                log(f"forecasting: baselines of these windows from {path}")
                part = json.loads(path.read_text())
            else:
                part = compute(splits, config)
                with atomic_path(path) as work:
                    work.write_text(json.dumps(part))
            # A forecast file written before the anomaly baselines had a file of their own
            # holds them too, thresholded the old way: they are left out.
            out.update({k: v for k, v in part.items() if k.startswith("anomaly_") == anomalies})
        return out

    def _compute_baselines(self, splits: Splits, config: ForecastingConfig) -> dict:
        from apps.forecasting.baselines import forecast_baselines

        test = splits.test
        panel = {series.name: series for series in splits.info["panel"]}
        groups: dict = {}
        for name, origin in zip(test["series"], test["origin"], strict=True):
            s = panel[name]
            groups.setdefault((s.horizon, s.period), {})[f"{name}@{origin}"] = (name, origin)
        windows = windows_of(splits, test)
        forecasts: dict = {}
        seconds: dict = {}
        for index, ((h, m), ids) in enumerate(groups.items()):
            histories = {key: panel[n].values[:o] for key, (n, o) in ids.items()}
            log(
                f"forecasting: baselines {', '.join(config.baseline_names)} on {len(ids)} "
                f"windows of period {m} ({index + 1} of {len(groups)})"
                + ("; AutoARIMA takes minutes" if "auto_arima" in config.baseline_names else "")
            )
            result = forecast_baselines(
                histories,
                h,
                m,
                max_history=config.baseline_history,
                methods=tuple(config.baseline_names),
            )
            for method, value in result.pop("_seconds", {}).items():
                seconds[method] = round(seconds.get(method, 0.0) + value, 2)
            for method, by_key in result.items():
                forecasts.setdefault(method, {}).update(by_key)
        out = {}
        for method, by_key in forecasts.items():
            overall, by_series = score_forecasts(
                windows, [by_key[f"{series.name}@{origin}"] for series, origin in windows]
            )
            out[method] = {
                **overall,
                "by_series": by_series,
                "tuned_on": "each history (statsforecast's own model selection)",
                "seconds": seconds.get(method),
            }
        unseen = splits.info.get("unseen")
        if unseen:  # the same methods on the shifted set's windows (OWA, MASE, sMAPE)
            self._unseen_baselines(unseen, config, out)
        return out

    def _unseen_baselines(self, unseen, config: ForecastingConfig, out: dict) -> None:
        from apps.forecasting.baselines import forecast_baselines

        series, _ = unseen[0]
        histories = {f"{s.name}@{o}": s.values[:o] for s, o in unseen}
        result = forecast_baselines(
            histories,
            series.horizon,
            series.period,
            max_history=config.baseline_history,
            methods=tuple(config.baseline_names),
        )
        result.pop("_seconds", None)
        for method, forecasts in result.items():
            if method not in out:
                continue
            # Point forecasts only: MASE, sMAPE and OWA, as recorded.
            means = [{"mean": forecasts[f"{s.name}@{o}"]["mean"]} for s, o in unseen]
            scores, _ = score_forecasts(unseen, means)
            out[method]["held_out"] = {"unseen_series": scores}

    def _anomaly_baselines(self, splits: Splits, config: ForecastingConfig) -> dict:
        panel = {series.name: series for series in splits.info["panel"]}
        detectors = {
            "rolling_zscore": lambda values, s, start: measures.rolling_zscore(
                values, ZSCORE_WINDOW
            ),
            # Causal, like ours: each point decomposed with what precedes it only.
            "seasonal_residual": lambda values, s, start: measures.causal_seasonal_residual(
                values, s.period, start
            ),
            # Two-sided: the whole region decomposed at once, future included. Not a detector
            # a stream can run; shown for what reading ahead is worth.
            "seasonal_residual_two_sided": lambda values, s, start: measures.seasonal_residual(
                values, s.period
            ),
        }
        out = {}
        for name, detect in detectors.items():
            scored = {}
            for part in splits.info["anomalies"]:
                scored[part] = {}
                for series_name, entry in splits.info["anomalies"][part].items():
                    scores = detect(entry["values"], panel[series_name], entry["start"])
                    scores = np.abs(np.nan_to_num(scores))
                    labels = np.asarray(entry["labels"])
                    scored[part][series_name] = (scores[entry["start"] :], labels[entry["start"] :])
            validation = [scored[part] for part in validation_parts(splits)]
            threshold, choice = choose_threshold_by_sets(validation)
            out[f"anomaly_{name}"] = {
                "anomalies": self._anomaly_metrics(scored["test"], float(threshold), splits),
                "tuned_on": "validation (threshold, and its false-alarm limit by cross-validation)",
                "chosen": {"threshold": round(float(threshold), 4), **choice},
            }
        return out

    def parity_inputs(self, splits: Splits, count: int) -> list:
        panel = splits.info["panel"]
        cuts = splits.info["cuts"]
        return [truncated(s, cuts[s.name].test_start) for s in panel[:count]]

    def latency_inputs(self, predictor, splits: Splits) -> dict:
        inputs = runtime.series_windows(self.parity_inputs(splits, 1)[0], predictor.context)
        return inputs

    def latency(self, model_dir, variant, predictor, splits: Splits, runs: int) -> dict:
        """One whole forecast (``model``) and one stream step (``step``), single thread."""
        from shared.runtime.litert import LiteRTModel

        model_dir = pathlib.Path(model_dir)
        whole = LiteRTModel(model_dir / f"model_{variant}.tflite", num_threads=1)
        timing = whole.latency_ms(self.latency_inputs(predictor, splits), runs=runs)
        step = LiteRTModel(model_dir / f"step_{variant}.tflite", num_threads=1)
        inputs = {
            name: np.zeros(step.input_shape(name), step.input_dtype(name))
            for name in step.input_names
        }
        inputs["scale"] = np.ones_like(inputs["scale"])
        step_timing = step.latency_ms(inputs, runs=runs)
        timing.update({f"step_{key}": value for key, value in step_timing.items()})
        return timing

    def predict(self, predictor, inputs: list[str], horizon=None, frequency="auto") -> list:
        return runtime.answers(
            inputs, predictor.forecast, predictor.context, predictor.threshold, horizon, frequency
        )

    def summary(self, answer: dict) -> str:
        return runtime.summary(answer)

    def figures(self, metrics: dict, model_dir, splits: Splits | None = None) -> list:
        """OWA per series of the test windows, M4's Comb benchmark beside it where the run
        scored it (``scores_by_series.png``; the other baselines are in the README's table:
        naive's 34 on a 48-hour temperature forecast would squash every bar), OWA on the test
        split and the unseen series (``scores_by_held_out.png``), and the LiteRT model's
        forecast of the first sample series: history, fan and flagged points
        (``forecast_example.png``)."""
        from shared.figures import held_out_figure, per_group, scores_by_group, scores_file

        model_dir = pathlib.Path(model_dir)
        scores = metrics.get("metrics") or {}
        comb = (metrics.get("baselines") or {}).get("comb") or {}
        drawn = [
            scores_by_group(
                per_group(scores.get("by_series"), "owa"),
                model_dir / scores_file("series"),
                "forecasting: OWA per series of the test windows (seasonal naive = 1)",
                "owa",
                overall=scores.get("owa"),
                others={"comb": per_group(comb.get("by_series"), "owa")} if comb else None,
                lower_is_better=True,
            ),
            held_out_figure(
                metrics,
                self.metric,
                model_dir / scores_file("held_out"),
                "forecasting: OWA on the test windows and the unseen series",
                lower_is_better=True,
            ),
        ]
        predictor = self.load_predictor(model_dir, "litert")
        raw = self.sample_inputs[0]
        answers = [a for a in self.predict(predictor, [raw]) if not isinstance(a, Exception)]
        png = self.figure(predictor, raw, answers) if answers else None
        if png:
            (model_dir / FORECAST_EXAMPLE_FILE).write_bytes(png)
            drawn.append(model_dir / FORECAST_EXAMPLE_FILE)
        return [path for path in drawn if path is not None]

    def figure(self, predictor, raw: str, answers: list[dict]) -> bytes | None:
        """History, forecast fan and flagged anomalies (``apps.forecasting.figures``)."""
        from apps.forecasting.figures import forecast_plot

        return forecast_plot(predictor, raw, answers)

    def report(self, metrics: dict) -> str:
        """The backtest per series against every baseline, and the anomaly table."""
        return report_tables(metrics)


FORECAST_EXAMPLE_FILE = "forecast_example.png"  # a run's picture of its first sample series

# The most false alarms a chosen threshold may raise on the validation regions' clean points
# when a single set leaves nothing to cross-validate a limit on (choose_threshold_by_sets).
MAX_FALSE_ALARM_RATE = 0.02


# The false-alarm limits choose_threshold_by_sets tries. At most 1 normal point in 20: a
# user's 2,000-week CO2 history should not come back with hundreds of flags.
FALSE_ALARM_LIMITS = (0.01, 0.02, 0.03, 0.05)


# Bump when the baselines' code changes what they give: the cached ones are then recomputed.
BASELINES_VERSION = 1
# The same for the anomaly baselines alone (cached apart: recomputing the forecast baselines
# means minutes of AutoARIMA). 2: thresholds by choose_threshold_by_sets.
ANOMALY_BASELINES_VERSION = 2


def baselines_digest(splits: Splits, config: ForecastingConfig) -> str:
    """A digest of what ``ForecastingApp.baselines`` reads: the panel's values and times, the
    test and validation origins, the injected anomalies, the shifted set and the config
    fields the baselines use (and the versions of their code and of statsforecast)."""
    import statsforecast

    digest = hashlib.sha256()
    fields = {
        name: getattr(config, name)
        for name in ("baselines", "baseline_history", "split_seed", "context_length")
    }
    digest.update(json.dumps([BASELINES_VERSION, statsforecast.__version__, fields]).encode())
    for series in splits.info["panel"]:
        digest.update(series.name.encode())
        digest.update(np.asarray(series.values, np.float64).tobytes())
        digest.update(np.asarray(series.timestamps).astype("datetime64[s]").tobytes())
    for part in (splits.validation, splits.test):
        digest.update(json.dumps([list(part["series"]), [int(o) for o in part["origin"]]]).encode())
    for part, entries in sorted(splits.info.get("anomalies", {}).items()):
        for name, entry in sorted(entries.items()):
            digest.update(f"{part}/{name}/{entry['start']}".encode())
            digest.update(np.asarray(entry["values"], np.float64).tobytes())
            digest.update(np.asarray(entry["labels"], np.int64).tobytes())
    for series, origin in splits.info.get("unseen") or []:
        digest.update(f"{series.name}@{origin}".encode())
        digest.update(np.asarray(series.values, np.float64).tobytes())
    return digest.hexdigest()[:24]


def validation_parts(splits: Splits) -> list[str]:
    """The anomaly sets thresholds are chosen on: the validation regions with each of their
    injections (``anomaly_validation_sets``)."""
    return [part for part in splits.info["anomalies"] if part.startswith("validation")]


def choose_threshold(labels, scores, max_false_alarm: float = MAX_FALSE_ALARM_RATE) -> float:
    """The anomaly threshold with the best F1 among those flagging at most `max_false_alarm`
    of the normal points (flagged when score >= threshold).

    Best F1 alone chose 0.0007 on the first default run: a weak score's best F1 is to flag
    everything, and `predict` then listed 1,969 of CO2's last 2,000 weeks as anomalies.
    """
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, np.float64)
    normal = np.sort(scores[~labels])
    if not len(normal):
        return float(measures.best_threshold(labels, scores))
    # The lowest threshold that keeps the false-alarm rate within the limit.
    allowed = int(np.floor(max_false_alarm * len(normal)))
    floor = np.nextafter(normal[len(normal) - allowed - 1], np.inf)
    candidates = np.unique(scores[scores >= floor])
    best, best_f1 = float(floor), -1.0
    for threshold in np.concatenate([[floor], candidates]):
        f1 = measures.anomaly_scores_f1(labels, scores >= threshold)["f1"]
        if f1 > best_f1:
            best, best_f1 = float(threshold), f1
    return best


def stack_scored(sets: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores of every series of every set (``{series: (scores, labels)}`` each)."""
    labels = np.concatenate([label for each in sets for _, label in each.values()])
    scores = np.concatenate([score for each in sets for score, _ in each.values()])
    return labels, scores


def choose_threshold_by_sets(
    sets: list[dict], limits: tuple[float, ...] = FALSE_ALARM_LIMITS
) -> tuple[float, dict]:
    """``choose_threshold`` on every set together, with the false-alarm limit that carries best
    to sets it was not chosen on: for each limit, the threshold chosen on half the sets is
    scored (F1) on the other half, over every way of halving them; the smallest limit within
    0.001 of the best mean wins. One set: ``MAX_FALSE_ALARM_RATE``.

    Returns the threshold and ``{"false_alarm_limit", "cross_validated_f1": {limit: F1}}``.
    The first default runs used 2% for every detector: the best F1 sat at that limit, and
    the threshold chosen there missed most test anomalies in two seeds of three (README).
    """
    if len(sets) < 2:
        limit, held = MAX_FALSE_ALARM_RATE, {}
    else:
        folds = [  # (the half that chooses, the half that scores), stacked once
            (
                stack_scored([sets[i] for i in half]),
                stack_scored([sets[i] for i in range(len(sets)) if i not in half]),
            )
            for half in itertools.combinations(range(len(sets)), len(sets) // 2)
        ]
        held = {}
        for candidate in limits:
            values = []
            for chooser, (labels, scores) in folds:
                threshold = choose_threshold(*chooser, candidate)
                values.append(measures.anomaly_scores_f1(labels, scores >= threshold)["f1"])
            held[candidate] = float(np.mean(values))
        best = max(held.values())
        limit = min(c for c, value in held.items() if value >= best - 1e-3)
    threshold = choose_threshold(*stack_scored(sets), limit)
    return threshold, {
        "false_alarm_limit": limit,
        "cross_validated_f1": {str(c): round(v, 4) for c, v in held.items()},
    }


def inject_what_fits(values, period: int, rng, start: int, count: int, first_kind: int = 0):
    """``measures.inject_anomalies`` with `count` events, or fewer where a region is short;
    a kind that does not fit (a 52-week seasonal change in a 26-week region) gives way to
    the next."""
    for tried in range(count, 0, -1):
        for shift in range(3):
            try:
                return measures.inject_anomalies(
                    values, period, rng, start, tried, first_kind + shift
                )
            except ValueError:
                continue
    raise UserError(f"no anomaly fits in the {len(values) - start} steps after {start}")


def spread_over_frequencies(panel: list[Series], count: int) -> list[Series]:
    """`count` series taking each frequency in turn (the quick preset's small panel)."""
    by_frequency: dict[str, list[Series]] = {}
    for series in panel:
        by_frequency.setdefault(series.frequency, []).append(series)
    chosen: list[Series] = []
    while len(chosen) < min(count, len(panel)):
        for group in by_frequency.values():
            if group and len(chosen) < count:
                chosen.append(group.pop(0))
    return chosen


def report_tables(metrics: dict) -> str:
    ours = metrics["metrics"]
    baselines = {
        name: entry
        for name, entry in (metrics.get("baselines") or {}).items()
        if isinstance(entry, dict) and "by_series" in entry
    }
    columns = ["ours (Keras)", "ours (LiteRT int8)", *baselines]
    sources = [ours, metrics["litert"]["int8"], *baselines.values()]
    lines = [
        "MASE per series on the test windows (rolling origin; lower is better), and the panel's "
        "mean sMAPE, MASE, OWA against seasonal naive, MSIS and coverage:",
        "",
        "| series | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for name in sorted(ours["by_series"]):
        cells = []
        for source in sources:
            value = (source.get("by_series") or {}).get(name, {}).get("mase")
            cells.append("–" if value is None else f"{value:.3f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for key in ("smape", "mase", "owa", "msis", "coverage80", "coverage95"):
        cells = ["–" if source.get(key) is None else f"{source[key]:.3f}" for source in sources]
        lines.append(f"| **{key}** | " + " | ".join(cells) + " |")
    unseen = (ours.get("held_out") or {}).get("unseen_series")
    if unseen:
        rows = [("ours (Keras)", unseen)] + [
            (name, (entry.get("held_out") or {}).get("unseen_series"))
            for name, entry in baselines.items()
        ]
        lines += [
            "",
            f"The shifted set ({unseen.get('description', 'unseen series')}), OWA against "
            "seasonal naive / MASE / sMAPE on its last 3 horizons:",
            "",
            "| model | OWA | MASE | sMAPE |",
            "|---|---|---|---|",
        ]
        for name, entry in rows:
            if entry:
                lines.append(
                    f"| {name} | {entry.get('owa', float('nan')):.3f} | "
                    f"{entry.get('mase', float('nan')):.3f} | {entry.get('smape', float('nan')):.2f} |"
                )
    anomaly_rows = [("ours (Keras)", ours.get("anomalies"))] + [
        (name, entry.get("anomalies"))
        for name, entry in (metrics.get("baselines") or {}).items()
        if isinstance(entry, dict) and name.startswith("anomaly_")
    ]
    lines += [
        "",
        "Injected anomalies in the test regions (spikes, level shifts, seasonal-shape changes; "
        "thresholds chosen on the validation regions):",
        "",
        "| detector | precision | recall | F1 | PR-AUC | events found | median delay |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, entry in anomaly_rows:
        if not entry:
            continue
        lines.append(
            f"| {name} | {entry.get('precision', 0):.3f} | {entry.get('recall', 0):.3f} | "
            f"{entry.get('f1', 0):.3f} | {entry.get('pr_auc', 0):.3f} | "
            f"{entry.get('events_detected')}/{entry.get('events')} | "
            f"{entry.get('median_delay_steps')} |"
        )
    return "\n".join(lines)
