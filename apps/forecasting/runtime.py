"""Forecasting on device: a CSV of series -> forecasts with intervals and anomalies, no TensorFlow.

What an answer from the two ``.tflite`` models needs on the host: reading the CSV
(``apps.forecasting.series``), the calendar phase of every step, the last
``context_length`` observations left-padded into a window, and the answer dicts. Imports
only NumPy and ``ai_edge_litert`` (``shared.runtime``), so it runs where TensorFlow is not
installed; ``ForecastingApp.predict`` gives every engine's answers through ``answers``.

- ``model_<variant>.tflite``: a window (``history`` ``[1, L]`` left-padded, ``length``
  ``[1]``, ``phase`` ``[1, L + H]`` and ``frequency`` ``[1]``) -> ``quantiles``
  ``[1, H, Q]``: location and scale are taken from the window inside the graph.
- ``step_<variant>.tflite``: one new observation (``value``, its ``phase``), the phases of
  the next ``H`` steps, the ``frequency``, the stream's fixed ``loc`` and ``scale``, the
  recurrent ``state`` and the ``previous_forecast`` -> ``quantiles``, ``anomaly_score`` (how
  far the observation falls outside the forecast made before it) and the next states.

Example:
    >>> runtime = ForecastingRuntime("saved_models/forecasting")
    >>> runtime.predict(["co2.csv"])[0]["series"][0]["forecast"][0]["median"]
    370.8
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Callable, Sequence

import numpy as np

from apps.forecasting.series import (
    FREQUENCIES,
    Series,
    calendar_phase,
    future_timestamps,
    read_csv,
)
from shared.errors import UserError
from shared.runtime.answers import answer_each
from shared.runtime.base import Runtime
from shared.runtime.litert import LiteRTModel
from shared.runtime.options import Option

SETTINGS_FILE = "forecasting.json"
NEXT = "next_"  # the step model's state outputs: next_<state input>
QUANTILES = (0.025, 0.1, 0.5, 0.9, 0.975)
MEDIAN = QUANTILES.index(0.5)
FREQUENCY_NAMES = tuple(FREQUENCIES)  # the model's frequency ids, in this order
MAX_HORIZON = max(frequency.horizon for frequency in FREQUENCIES.values())
# (q90 - q10) of a normal distribution, in standard deviations: the anomaly score is in
# "standard deviations" of the forecast distribution.
SPREAD_80 = 2.5631031
# Panel series the demo forecasts, written by the App as ``<data>/forecasting_samples/*.csv``.
SAMPLE_SERIES = ("co2", "airpassengers")
# The most observations of a history scored for anomalies (the most recent ones).
MAX_SCORED = 2000

# Windows -> quantiles [n, H, Q]: history [n, L], length [n], phase [n, L + H], frequency [n].
Forecast = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def window_stats(history: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Location and scale of left-padded windows ``[n, L]`` with `length` real values each:
    their mean and standard deviation, plus 0.1% of the mean absolute value and 1e-6 (a flat
    window still has a scale). The graphs compute the same (``model.WindowStats``)."""
    history = np.asarray(history, np.float64)
    steps = history.shape[1]
    mask = np.arange(steps)[None, :] >= (steps - np.asarray(length)[:, None])
    count = np.maximum(mask.sum(axis=1), 1)
    loc = (history * mask).sum(axis=1) / count
    variance = (((history - loc[:, None]) * mask) ** 2).sum(axis=1) / count
    magnitude = (np.abs(history) * mask).sum(axis=1) / count
    scale = np.sqrt(variance) + 1e-3 * magnitude + 1e-6
    return loc.astype(np.float32), scale.astype(np.float32)


def anomaly_score(value: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """How far `value` falls from its forecast (``quantiles`` ``[..., Q]`` of that step), in
    standard deviations of a normal with the same 80% interval: signed, 0 at the median.
    The step model computes the same in its graph."""
    quantiles = np.asarray(quantiles, np.float32)
    width = (
        quantiles[..., QUANTILES.index(0.9)] - quantiles[..., QUANTILES.index(0.1)]
    ) / SPREAD_80
    width = np.maximum(width, 1e-6 * np.abs(quantiles[..., MEDIAN]) + 1e-9)
    return (np.asarray(value, np.float32) - quantiles[..., MEDIAN]) / width


def make_window(
    values: np.ndarray, phase: np.ndarray, future_phase: np.ndarray, context: int
) -> tuple[np.ndarray, int, np.ndarray]:
    """The last `context` observations left-padded with zeros, their count, and the phases
    of the window's steps followed by the `future_phase` of the next ``MAX_HORIZON`` steps."""
    values = np.asarray(values, np.float32)[-context:]
    length = len(values)
    history = np.zeros(context, np.float32)
    history[context - length :] = values
    phases = np.zeros(context + MAX_HORIZON, np.float32)
    phases[context - length : context] = np.asarray(phase, np.float32)[-context:]
    phases[context:] = future_phase[:MAX_HORIZON]
    return history, length, phases


def series_windows(series: Series, context: int) -> dict[str, np.ndarray]:
    """The model's batch-1 inputs for a forecast from the end of `series`."""
    future = future_timestamps(series.timestamps[-1], series.frequency, MAX_HORIZON)
    history, length, phases = make_window(
        series.values,
        calendar_phase(series.timestamps, series.frequency),
        calendar_phase(future, series.frequency),
        context,
    )
    return {
        "history": history[None],
        "length": np.array([length], np.int32),
        "phase": phases[None],
        "frequency": np.array([FREQUENCY_NAMES.index(series.frequency)], np.int32),
    }


# How an observation's anomaly score is made from the one-step forecasts (chosen on the
# validation regions' injected anomalies; the README has the comparison). The raw score
# (`anomaly_score` against the forecast made the step before) is standardised by the median
# and MAD of the last SCORE_WINDOW scores of accepted observations, so a series the model
# forecasts loosely does not flag all the time; and an observation scoring IMPUTE_SCORE or
# more is replaced by its forecast's median in the windows after it (at most IMPUTE_RUN in a
# row, then the new level is accepted), so the points of a level shift or of a changed
# season are still compared with what was expected before the change began.
#
# The standardisation only ever narrows: its spread is at least SPREAD_FLOOR raw units. A
# series the model forecasts more sharply than its interval says (hourly temperatures) has
# raw scores far under 1; divided by their own tiny MAD, ordinary wiggles scored in the tens,
# and the thresholds two seeds chose on the validation regions (57 and 65) flagged nothing
# in the test regions. Floors of 0, 0.5 and 1 were compared on the validation regions
# (README, "Choices made on validation").
SCORE_WINDOW = 50
SPREAD_FLOOR = 1.0
WARM_UP = 10  # scores a series needs before its standardisation means anything
IMPUTE_SCORE = 3.0
IMPUTE_RUN = 24


class ScoreTracker:
    """One series' standardisation and replacement state (see ``SCORE_WINDOW``)."""

    def __init__(self):
        self.accepted: list[float] = []
        self.run = 0
        # After IMPUTE_RUN replacements in a row the change is accepted: the replaced
        # observations go back into the history (``stream_scores``), this many of them.
        self.restore = 0

    def update(self, raw: float) -> tuple[float, bool]:
        """The standardised score of a raw one, and whether to replace the observation.

        The first ``WARM_UP`` observations only calibrate: they score 0 and are kept (a
        forecast from a handful of values says little)."""
        if len(self.accepted) < WARM_UP:
            self.accepted.append(raw)
            return 0.0, False
        past = np.asarray(self.accepted[-SCORE_WINDOW:])
        centre = float(np.median(past))
        spread = max(1.4826 * float(np.median(np.abs(past - centre))), SPREAD_FLOOR)
        score = (raw - centre) / spread
        if abs(score) >= IMPUTE_SCORE and self.run < IMPUTE_RUN:
            self.run += 1
            return score, True
        self.restore = self.run if self.run >= IMPUTE_RUN else 0
        self.run = 0
        self.accepted.append(raw)
        return score, False


def stream_scores(
    forecast: Forecast, series_list: Sequence[Series], context: int, firsts: Sequence[int]
) -> list[np.ndarray]:
    """Anomaly scores of each series' observations ``first..n-1`` (``ScoreTracker``): every
    observation from ``SCORE_WINDOW`` before `first` is forecast one step ahead from the
    window before it, with earlier flagged observations replaced by their forecast's median.
    The series advance together, one batched `forecast` call per step."""
    cleaned = [np.asarray(s.values, np.float64).copy() for s in series_list]
    starts = [min(first, max(2, first - SCORE_WINDOW)) for first in firsts]
    trackers = [ScoreTracker() for _ in series_list]
    phases, frequencies = [], []
    for series in series_list:
        phase = calendar_phase(series.timestamps, series.frequency)
        after = future_timestamps(series.timestamps[-1], series.frequency, MAX_HORIZON)
        phases.append(np.concatenate([phase, calendar_phase(after, series.frequency)]))
        frequencies.append(FREQUENCY_NAMES.index(series.frequency))
    scores: list[list[float]] = [[] for _ in series_list]
    steps = max(
        (len(s.values) - start for s, start in zip(series_list, starts, strict=True)), default=0
    )
    for offset in range(steps):
        live = [i for i, s in enumerate(series_list) if starts[i] + offset < len(s.values)]
        rows = []
        for i in live:
            end = starts[i] + offset
            rows.append(make_window(cleaned[i][:end], phases[i][:end], phases[i][end:], context))
        quantiles = forecast(
            history=np.stack([row[0] for row in rows]),
            length=np.array([row[1] for row in rows], np.int32),
            phase=np.stack([row[2] for row in rows]),
            frequency=np.array([frequencies[i] for i in live], np.int32),
        )[:, 0, :]
        for row, i in enumerate(live):
            end = starts[i] + offset
            raw = float(anomaly_score(series_list[i].values[end], quantiles[row]))
            score, replace = trackers[i].update(raw)
            if replace:
                cleaned[i][end] = quantiles[row, MEDIAN]
            elif trackers[i].restore:  # a lasting change: the real values again
                back = end - trackers[i].restore
                cleaned[i][back:end] = series_list[i].values[back:end]
            if end >= firsts[i]:
                scores[i].append(score)
    return [np.asarray(values, np.float64) for values in scores]


class ForecastStream:
    """One series streamed through ``step_<variant>.tflite``, one observation at a time: the
    updated forecast, and the observation's anomaly score on the threshold's scale.

    The host loop of ``stream_scores`` on the step model: the raw score (``anomaly_score``
    against the forecast made the step before) is standardised by a ``ScoreTracker``, an
    observation scoring ``IMPUTE_SCORE`` or more is fed to the model as the forecast's median
    (at most ``IMPUTE_RUN`` in a row), and when a change lasts that long the stream goes back
    to its state before the run and reads the real values again.

    Location and scale are fixed from the last `context` observations of the `history` the
    stream starts with (as training's shifted-statistics windows are); those observations
    are then read through the step model, which warms the state and calibrates the scores,
    so the stream's first forecast is the window model's forecast from that history (when
    none of them was replaced).

    Example:
        >>> stream = runtime.stream(history)  # a Series
        >>> out = stream.update(np.datetime64("2001-02-01"), 371.2)
        >>> out["score"], out["flagged"], out["forecast"][0, MEDIAN]
    """

    def __init__(self, step: LiteRTModel, history: Series, context: int, threshold: float):
        if len(history.values) < 1:
            raise UserError(f"{history.name}: a stream needs at least one observation to start")
        self.step = step
        self.threshold = threshold
        self.frequency = history.frequency
        self.code = np.array([FREQUENCY_NAMES.index(history.frequency)], np.int32)
        zeros = np.zeros(len(history.values))
        window, length, _ = make_window(history.values, zeros, np.zeros(MAX_HORIZON), context)
        loc, scale = window_stats(window[None], np.array([length]))
        self.loc, self.scale = loc.astype(np.float32), scale.astype(np.float32)
        self.states = {
            name: np.zeros(step.input_shape(name), np.float32)
            for name in step.input_names
            if NEXT + name in step.output_details
        }
        self.tracker = ScoreTracker()
        self.forecast: np.ndarray | None = None  # [H, Q] made after the last observation
        self._before_run: tuple[dict, np.ndarray | None] | None = None
        self._run: list[tuple[np.datetime64, float]] = []
        recent = zip(history.timestamps[-context:], history.values[-context:], strict=True)
        self.warm_up = [self.update(t, v) for t, v in recent]

    def _feed(self, timestamp: np.datetime64, value: float) -> None:
        stamps = np.array([timestamp]).astype("datetime64[s]")
        future = future_timestamps(stamps[0], self.frequency, MAX_HORIZON)
        outputs = self.step(
            value=np.array([value], np.float32),
            phase=calendar_phase(stamps, self.frequency).astype(np.float32),
            future_phase=calendar_phase(future, self.frequency).astype(np.float32)[None],
            frequency=self.code,
            loc=self.loc,
            scale=self.scale,
            **self.states,
        )
        self.states = {name: outputs[NEXT + name] for name in self.states}
        self.forecast = np.asarray(outputs["quantiles"][0], np.float64)

    def update(self, timestamp: np.datetime64, value: float) -> dict:
        """Read one observation: ``score`` (standardised; 0 while calibrating), ``flagged``
        (its magnitude at or above the threshold), ``replaced`` (fed as the forecast's
        median), ``raw`` (against the previous forecast) and the new ``forecast`` [H, Q]."""
        value = float(value)
        score, replace, raw = 0.0, False, 0.0
        if self.forecast is not None:
            raw = float(anomaly_score(value, self.forecast[0]))
            score, replace = self.tracker.update(raw)
        if replace:
            if not self._run:
                self._before_run = (dict(self.states), self.forecast)
            self._run.append((timestamp, value))
            self._feed(timestamp, float(self.forecast[0, MEDIAN]))
        else:
            if self.tracker.restore and self._before_run is not None:
                # A lasting change: the replaced observations are read again as they were.
                self.states, self.forecast = self._before_run
                for stamp, real in self._run:
                    self._feed(stamp, real)
            self._run, self._before_run = [], None
            self._feed(timestamp, value)
        return {
            "score": score,
            "flagged": abs(score) >= self.threshold,
            "replaced": replace,
            "raw": raw,
            "forecast": self.forecast,
        }


def normalised_forecasts(forecast: Forecast, inputs: Sequence[Series], context: int) -> np.ndarray:
    """Each series' forecast on the scale of its window (``(q - loc) / scale``): what the
    engines' parity check compares, the same for a CO2 series at 370 and employment at 10^5."""
    out = []
    for series in inputs:
        window = series_windows(series, context)
        loc, scale = window_stats(window["history"], window["length"])
        out.append((forecast(**window) - loc[:, None, None]) / scale[:, None, None])
    return np.concatenate(out)


def _time(stamp: np.datetime64, frequency: str) -> str:
    text = str(np.datetime64(stamp, "s"))
    if frequency in ("hourly", "half_hourly"):
        return text[:16]
    return text[:10]


def answer_series(
    series: Series,
    forecast: Forecast,
    context: int,
    threshold: float,
    horizon: int | None = None,
) -> dict:
    """The forecast of the next `horizon` steps (median, 80% and 95% intervals) and the
    observations whose anomaly score's magnitude exceeds `threshold` (the most recent
    ``MAX_SCORED``, scored by ``stream_scores``)."""
    horizon = horizon or series.horizon
    quantiles = forecast(**series_windows(series, context))[0, :horizon]
    future = future_timestamps(series.timestamps[-1], series.frequency, horizon)
    first = max(1, len(series.values) - MAX_SCORED)
    scores = stream_scores(forecast, [series], context, [first])[0]
    flagged = np.flatnonzero(np.abs(scores) >= threshold)

    def number(value) -> float:
        return float(np.format_float_positional(float(value), precision=6, unique=True))

    return {
        "name": series.name,
        "frequency": series.frequency,
        "observations": len(series.values),
        "horizon": horizon,
        "forecast": [
            {
                "time": _time(stamp, series.frequency),
                "median": number(row[MEDIAN]),
                "lo80": number(row[1]),
                "hi80": number(row[3]),
                "lo95": number(row[0]),
                "hi95": number(row[4]),
            }
            for stamp, row in zip(future, quantiles, strict=True)
        ],
        "anomaly_threshold": round(float(threshold), 3),
        "anomalies": [
            {
                "time": _time(series.timestamps[first + index], series.frequency),
                "value": number(series.values[first + index]),
                "score": round(float(scores[index]), 2),
            }
            for index in flagged
        ],
    }


def check_file(raw: str, frequency: str | None = None) -> tuple[list[Series], dict]:
    """The series of a CSV file and the UserError of each bad one; a UserError if the file
    itself cannot be read or holds no good series."""
    if frequency == "auto":
        frequency = None
    if frequency is not None and frequency not in FREQUENCIES:
        raise UserError(f"--frequency {frequency}: choose from {', '.join(FREQUENCIES)}")
    good, bad = read_csv(pathlib.Path(raw), frequency=frequency)
    if not good:
        reasons = "; ".join(str(error) for error in bad.values())
        raise UserError(reasons or f"{raw}: no series")
    return good, bad


def answers(
    inputs: Sequence[str],
    forecast: Forecast,
    context: int,
    threshold: float,
    horizon: int | None = None,
    frequency: str | None = None,
) -> list[dict | UserError]:
    """One answer per CSV file: every series' forecast and anomalies (a bad series is listed
    with its error; a file with no good series is a UserError)."""

    def answer(raws: list[str], files: list[tuple[list[Series], dict]]) -> list[dict]:
        result = []
        for raw, (good, bad) in zip(raws, files, strict=True):
            entries = [answer_series(s, forecast, context, threshold, horizon) for s in good]
            entries += [{"name": name, "error": str(error)} for name, error in bad.items()]
            answer = {"input": raw, "series": entries}
            answer["summary"] = summary(answer)  # the web page's headline
            result.append(answer)
        return result

    return answer_each(inputs, lambda raw: check_file(raw, frequency), answer)


def summary(answer: dict) -> str:
    """One short line: the first series' next median and interval, and its anomaly count."""
    parts = []
    for entry in answer["series"][:3]:
        if "error" in entry:
            parts.append(f"{entry['name']}: {entry['error']}")
            continue
        first = entry["forecast"][0]
        parts.append(
            f"{entry['name']}: next {first['median']:.4g} "
            f"[{first['lo80']:.4g}, {first['hi80']:.4g}] ({entry['horizon']} ahead), "
            f"{len(entry['anomalies'])} anomalies"
        )
    more = len(answer["series"]) - 3
    return "; ".join(parts) + (f"; {more} more series" if more > 0 else "")


def read_settings(model_dir: pathlib.Path) -> dict:
    """``forecasting.json``: the context length and the anomaly threshold of a trained model."""
    path = pathlib.Path(model_dir) / SETTINGS_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: unreadable ({error})") from None


class ForecastingRuntime(Runtime):
    """``model_<variant>.tflite`` (a window -> quantiles) and ``step_<variant>.tflite``."""

    task = "Time-series forecasting with intervals, and anomaly detection (real series)"
    pattern = "many-to-many (GRU encoder over the history, direct multi-horizon quantile head)"
    default_data = "a panel of real series from statsmodels, vega_datasets and pmdarima"
    metric = "owa"
    input_kind = "csv"
    sample_files = tuple(f"forecasting_samples/{name}.csv" for name in SAMPLE_SERIES)
    answer_figure = "apps.forecasting.figures:forecast_plot"
    options = (
        Option(
            "horizon",
            "integer",
            "steps to forecast (default: the frequency's, e.g. 18 months)",
            None,
            1,
            MAX_HORIZON,
        ),
        Option(
            "frequency",
            "string",
            "the series' frequency (auto: inferred from the timestamps)",
            "auto",
            choices=("auto", *FREQUENCY_NAMES),
        ),
    )

    def __init__(self, model_dir: str | pathlib.Path, variant: str = "fp32"):
        super().__init__(model_dir, variant)
        settings = read_settings(self.model_dir)
        self.context = int(settings["context_length"])
        self.threshold = float(settings["anomaly_threshold"])
        self.units = int(settings["state_size"])
        self.runner = LiteRTModel(self.tflite(), num_threads=1)
        self._step = None

    def forecast(self, history, length, phase, frequency) -> np.ndarray:
        """Quantiles ``[n, H, Q]`` for a batch of windows (one interpreter call each)."""
        out = [
            self.runner(
                history=history[i : i + 1].astype(np.float32),
                length=length[i : i + 1].astype(np.int32),
                phase=phase[i : i + 1].astype(np.float32),
                frequency=frequency[i : i + 1].astype(np.int32),
            )["quantiles"]
            for i in range(len(history))
        ]
        return np.concatenate(out) if out else np.zeros((0, MAX_HORIZON, len(QUANTILES)))

    def stream(self, history: Series) -> ForecastStream:
        """A ``ForecastStream`` over ``step_<variant>.tflite`` that starts from `history`."""
        if self._step is None:
            self._step = LiteRTModel(self.tflite("step"), num_threads=1)
        return ForecastStream(self._step, history, self.context, self.threshold)

    def outputs(self, inputs: list) -> np.ndarray:
        return normalised_forecasts(self.forecast, inputs, self.context)

    def predict(self, inputs: list, horizon=None, frequency="auto") -> list[dict | UserError]:
        return answers(inputs, self.forecast, self.context, self.threshold, horizon, frequency)

    def summary(self, answer: dict) -> str:
        return summary(answer)
