"""Export graphs, the SavedModel and the Keras/SavedModel predictor.

On device there are two ``.tflite`` models built from the same trained weights
(``runtime.py`` describes their inputs): ``model`` reads a whole window and ``step`` takes one
observation at a time, carrying the recurrent state and the last forecast, so a stream has an
up-to-date forecast and the new observation's anomaly score after every step. The LiteRT
engine, which runs both without TensorFlow, is ``runtime.ForecastingRuntime``.
"""

from __future__ import annotations

import pathlib

import keras
import numpy as np
import tensorflow as tf
from keras import ops

import apps.forecasting.model  # noqa: F401  (registers its layers, so load_model finds them)
from apps.forecasting.model import WindowStats, core_inputs, head
from apps.forecasting.runtime import (
    MAX_HORIZON,
    MEDIAN,
    QUANTILES,
    SETTINGS_FILE,
    SPREAD_80,
    normalised_forecasts,
    read_settings,
)
from shared.app import Predictor
from shared.engines import load_keras_model, load_saved_model


def state_size(core: keras.Model) -> int:
    """Length of the step model's ``state``: h (GRU), or h and c (LSTM)."""
    return int(sum(np.atleast_1d(core.get_layer("encoder").cell.state_size)))


def window_model(core: keras.Model, batch_size: int | None = 1) -> keras.Model:
    """Raw windows -> ``quantiles`` on the series' own scale (location and scale in-graph)."""
    context = core.input["history"].shape[1]
    inputs = core_inputs(context, batch_size)
    inputs.pop("loc"), inputs.pop("scale")
    loc, scale = WindowStats(name="window_stats")(inputs["history"], inputs["length"])
    normalised = core({**inputs, "loc": loc, "scale": scale})
    quantiles = loc[:, None, None] + scale[:, None, None] * normalised
    ordered = [inputs[name] for name in ("history", "length", "phase", "frequency")]
    return keras.Model(ordered, {"quantiles": quantiles}, name="forecasting_window")


def step_model(core: keras.Model, batch_size: int | None = 1) -> keras.Model:
    """One new observation of a stream, with everything the stream remembers as input.

    Inputs: ``value``, its ``phase``, the ``future_phase`` of the next ``MAX_HORIZON`` steps,
    the ``frequency``, the stream's fixed ``loc`` and ``scale``, the recurrent ``state`` and
    the ``previous_forecast`` (zeros at the start). Outputs: ``quantiles`` of the next steps,
    the observation's ``anomaly_score`` against the previous forecast's first step
    (``runtime.anomaly_score``), ``next_state`` and ``next_previous_forecast``. Fed a window's
    values one by one with the window's location and scale, it ends on the window model's
    forecast.
    """
    encoder = core.get_layer("encoder")
    units, size = encoder.cell.units, state_size(core)
    value = keras.Input(batch_shape=(batch_size,), name="value")
    phase = keras.Input(batch_shape=(batch_size,), name="phase")
    future_phase = keras.Input(batch_shape=(batch_size, MAX_HORIZON), name="future_phase")
    frequency = keras.Input(batch_shape=(batch_size,), dtype="int32", name="frequency")
    loc = keras.Input(batch_shape=(batch_size,), name="loc")
    scale = keras.Input(batch_shape=(batch_size,), name="scale")
    state = keras.Input(batch_shape=(batch_size, size), name="state")
    previous = keras.Input(
        batch_shape=(batch_size, MAX_HORIZON, len(QUANTILES)), name="previous_forecast"
    )
    features = core.get_layer("step_features")(
        value[:, None], ops.ones_like(value)[:, None], phase[:, None], frequency, loc, scale
    )[:, 0, :]
    states = [state] if size == units else [state[:, :units], state[:, units:]]
    output, new_states = encoder.cell(features, states, training=False)
    new_state = new_states[0] if len(new_states) == 1 else ops.concatenate(new_states, axis=-1)
    quantiles = loc[:, None, None] + scale[:, None, None] * head(
        core, output, future_phase, frequency
    )
    first = previous[:, 0, :]
    width = (first[:, QUANTILES.index(0.9)] - first[:, QUANTILES.index(0.1)]) / SPREAD_80
    width = ops.maximum(width, 1e-6 * ops.abs(first[:, MEDIAN]) + 1e-9)
    outputs = {
        "quantiles": quantiles,
        "anomaly_score": (value - first[:, MEDIAN]) / width,
        "next_state": new_state,
        "next_previous_forecast": quantiles,
    }
    ordered = [value, phase, future_phase, frequency, loc, scale, state, previous]
    return keras.Model(ordered, outputs, name="forecasting_step")


def litert_models(core: keras.Model) -> dict[str, keras.Model]:
    """The batch-1 graphs that convert with builtin ops: a whole window and one step."""
    return {"model": window_model(core, 1), "step": step_model(core, 1)}


class ForecastingServing(tf.Module):
    """The SavedModel: ``serving_default`` forecasts raw windows; ``step`` streams."""

    def __init__(self, core: keras.Model):
        super().__init__()
        self.core = core
        self.window = window_model(core, batch_size=None)
        self.step_graph = step_model(core, batch_size=None)
        context = core.input["history"].shape[1]
        self.serve = tf.function(
            self._serve,
            input_signature=[
                tf.TensorSpec([None, context], tf.float32, name="history"),
                tf.TensorSpec([None], tf.int32, name="length"),
                tf.TensorSpec([None, context + MAX_HORIZON], tf.float32, name="phase"),
                tf.TensorSpec([None], tf.int32, name="frequency"),
            ],
        )

    def _serve(self, history, length, phase, frequency):
        return self.window([history, length, phase, frequency], training=False)


class ForecastingPredictor(Predictor):
    """Windows -> quantiles through Keras or the SavedModel (the LiteRT engine is
    ``runtime.ForecastingRuntime``, without TensorFlow)."""

    def __init__(self, model_dir: pathlib.Path, engine: str):
        self.model_dir = pathlib.Path(model_dir)
        self.engine = engine
        settings = read_settings(self.model_dir)
        self.context = int(settings["context_length"])
        self.threshold = float(settings["anomaly_threshold"])
        if engine == "keras":
            core = load_keras_model(self.model_dir)
            self.model = tf.function(window_model(core, batch_size=None), reduce_retracing=True)
        elif engine == "savedmodel":
            self.serve = load_saved_model(self.model_dir).signatures["serving_default"]
        else:
            raise ValueError(f"engine must be keras or savedmodel here, got {engine!r}")

    @classmethod
    def from_model(cls, core: keras.Model, threshold: float = np.inf) -> ForecastingPredictor:
        """The ``keras`` engine over the model in training (validation scores, thresholds)."""
        predictor = cls.__new__(cls)
        predictor.engine, predictor.model_dir = "keras", None
        predictor.context = core.input["history"].shape[1]
        predictor.threshold = threshold
        predictor.model = tf.function(window_model(core, batch_size=None), reduce_retracing=True)
        return predictor

    def forecast(self, history, length, phase, frequency, batch_size: int = 512) -> np.ndarray:
        out = [np.zeros((0, MAX_HORIZON, len(QUANTILES)), np.float32)]
        for start in range(0, len(history), batch_size):
            rows = slice(start, start + batch_size)
            args = (
                tf.constant(history[rows], tf.float32),
                tf.constant(length[rows], tf.int32),
                tf.constant(phase[rows], tf.float32),
                tf.constant(frequency[rows], tf.int32),
            )
            if self.engine == "savedmodel":
                result = self.serve(
                    history=args[0], length=args[1], phase=args[2], frequency=args[3]
                )
            else:
                result = self.model(list(args), training=False)
            out.append(np.asarray(result["quantiles"]))
        return np.concatenate(out)

    def outputs(self, inputs: list) -> np.ndarray:
        return normalised_forecasts(self.forecast, inputs, self.context)


__all__ = ["SETTINGS_FILE", "ForecastingPredictor", "ForecastingServing", "litert_models"]
