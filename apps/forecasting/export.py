"""Export graphs, built from the trained weights.

On device there are two ``.tflite`` models built from the same trained weights
(``runtime.py`` describes their inputs): ``model`` reads a whole window and ``step`` takes one
observation at a time, carrying the recurrent state and the last forecast, so a stream has an
up-to-date forecast and the new observation's anomaly score after every step. The LiteRT
engine, which runs both without TensorFlow, is ``runtime.ForecastingRuntime``.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from apps.forecasting.model import (
    ANCHOR_SPAN,
    WindowStats,
    core_inputs,
    has_anchor,
    head,
    mean_of_members,
    member_count,
    member_suffix,
)
from apps.forecasting.runtime import MAX_HORIZON, MEDIAN, QUANTILES, SPREAD_80


class CellStep(keras.layers.Layer):
    """One step of a trained encoder's cell under a name of its own: every member's cell is
    called "gru_cell" (or "lstm_cell"), and a graph's layers need distinct names."""

    def __init__(self, cell: keras.layers.Layer, **kwargs):
        super().__init__(**kwargs)
        self.cell = cell

    def call(self, inputs, states):
        return self.cell(inputs, states, training=False)


def member_state_size(core: keras.Model) -> int:
    """Length of one ensemble member's state: h (GRU), or h and c (LSTM)."""
    return int(sum(np.atleast_1d(core.get_layer("encoder").cell.state_size)))


def state_size(core: keras.Model) -> int:
    """Length of the step model's ``state``: every member's, one after the other."""
    return member_state_size(core) * member_count(core)


def window_model(core: keras.Model, batch_size: int | None = 1) -> keras.Model:
    """Raw windows -> ``quantiles`` on the series' own scale (location and scale in-graph)."""
    context = core.input["history"].shape[1]
    inputs = core_inputs(context, batch_size)
    inputs.pop("loc"), inputs.pop("scale")
    loc, scale = WindowStats(name="window_stats")(inputs["history"], inputs["length"])
    normalised = mean_of_members(core({**inputs, "loc": loc, "scale": scale}))
    quantiles = loc[:, None, None] + scale[:, None, None] * normalised
    ordered = [inputs[name] for name in ("history", "length", "phase", "frequency")]
    return keras.Model(ordered, {"quantiles": quantiles}, name="forecasting_window")


def step_model(core: keras.Model, batch_size: int | None = 1) -> keras.Model:
    """One new observation of a stream, with everything the stream remembers as input.

    Inputs: ``value``, its ``phase``, the ``future_phase`` of the next ``MAX_HORIZON`` steps,
    the ``frequency``, the stream's fixed ``loc`` and ``scale``, the recurrent ``state`` and
    the ``previous_forecast`` (zeros at the start); with the seasonal anchor
    (``seasonal_anchor``) also the ``recent`` ``ANCHOR_SPAN`` observations and their
    ``count`` (zeros at the start). Outputs: ``quantiles`` of the next steps, the
    observation's raw ``anomaly_score`` against the previous forecast's first step
    (``runtime.anomaly_score``), and ``next_state``, ``next_previous_forecast`` (and
    ``next_recent``, ``next_count``); the state holds every ensemble member's, one after the
    other. Fed a window's values one by one with the window's location and scale, it ends on
    the window model's forecast.
    """
    units = core.get_layer("encoder").cell.units
    size, members = member_state_size(core), member_count(core)
    value = keras.Input(batch_shape=(batch_size,), name="value")
    phase = keras.Input(batch_shape=(batch_size,), name="phase")
    future_phase = keras.Input(batch_shape=(batch_size, MAX_HORIZON), name="future_phase")
    frequency = keras.Input(batch_shape=(batch_size,), dtype="int32", name="frequency")
    loc = keras.Input(batch_shape=(batch_size,), name="loc")
    scale = keras.Input(batch_shape=(batch_size,), name="scale")
    state = keras.Input(batch_shape=(batch_size, size * members), name="state")
    previous = keras.Input(
        batch_shape=(batch_size, MAX_HORIZON, len(QUANTILES)), name="previous_forecast"
    )
    recent = keras.Input(batch_shape=(batch_size, ANCHOR_SPAN), name="recent")
    count = keras.Input(batch_shape=(batch_size,), name="count")
    # The last ANCHOR_SPAN observations with this one, normalised as the window model
    # normalises its window (zero where the stream has no value yet).
    next_recent = ops.concatenate([recent[:, 1:], value[:, None]], axis=1)
    next_count = count + 1.0
    positions = ops.arange(ANCHOR_SPAN, dtype="float32")[None, :]
    real = ops.cast(ops.greater_equal(positions, ANCHOR_SPAN - next_count[:, None]), "float32")
    normalised_recent = (next_recent - loc[:, None]) / scale[:, None] * real
    features = core.get_layer("step_features")(
        value[:, None], ops.ones_like(value)[:, None], phase[:, None], frequency, loc, scale
    )[:, 0, :]
    new_parts, forecasts = [], []
    for member in range(members):  # each member's state is its slice of `state`
        suffix = member_suffix(member)
        cell = CellStep(core.get_layer("encoder" + suffix).cell, name="encoder_step" + suffix)
        own = state[:, member * size : (member + 1) * size]
        states = [own] if size == units else [own[:, :units], own[:, units:]]
        output, new_states = cell(features, states)
        new_parts += list(new_states)
        forecasts.append(
            head(core, output, future_phase, frequency, normalised_recent, next_count, member)
        )
    new_state = new_parts[0] if len(new_parts) == 1 else ops.concatenate(new_parts, axis=-1)
    normalised = forecasts[0] if members == 1 else ops.mean(ops.stack(forecasts, axis=1), axis=1)
    quantiles = loc[:, None, None] + scale[:, None, None] * normalised
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
    if has_anchor(core):
        outputs.update(next_recent=next_recent, next_count=next_count)
        ordered += [recent, count]
    return keras.Model(ordered, outputs, name="forecasting_step")


def litert_models(core: keras.Model) -> dict[str, keras.Model]:
    """The batch-1 graphs that convert with builtin ops: a whole window and one step."""
    return {"model": window_model(core, 1), "step": step_model(core, 1)}
