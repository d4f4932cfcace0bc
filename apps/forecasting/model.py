"""The global forecasting network: a recurrent encoder over a normalised window, quantile heads.

One model for every series of the panel (DeepAR's and ES-RNN's idea): each window is
normalised by its own location and scale, every step carries its calendar phase (sine and
cosine) and the series' frequency, a GRU (or LSTM) reads the window, and a two-layer MLP
reads its last state with the phases of the next ``MAX_HORIZON`` steps and writes five
quantiles per step (MQ-RNN's direct multi-horizon output). Quantiles are built monotone:
the median plus or minus sums of softplus gaps.

With ``members`` above 1 the graph holds that many encoders and heads side by side, each
trained on its own loss, and the forecast is their mean (an option, off by default).

``build_core`` is the trained graph (location and scale as inputs, so a stream can fix
them); ``build_window_model`` wraps it for raw windows (location and scale from the window).
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from apps.forecasting.config import ForecastingConfig
from apps.forecasting.runtime import FREQUENCY_NAMES, MAX_HORIZON, QUANTILES
from apps.forecasting.series import FREQUENCIES
from shared.layers import recurrent_layer

# The seasonal-naive anchor reads the last ANCHOR_SPAN normalised values: the longest period.
ANCHOR_SPAN = max(FREQUENCIES[name].period for name in FREQUENCY_NAMES)
ANCHOR_CLIP = 30.0  # as the training targets (``data.TARGET_CLIP``)


@keras.saving.register_keras_serializable(package="rnnapps")
class WindowStats(keras.layers.Layer):
    """Location and scale of left-padded windows, as ``runtime.window_stats`` computes them.

    Call arguments: ``history`` ``[batch, L]`` and ``length`` int ``[batch]``.
    Returns ``(loc, scale)``, each ``[batch]``.
    """

    def call(self, history, length):
        steps = history.shape[1]
        positions = ops.arange(steps, dtype="int32")[None, :]
        mask = ops.cast(
            ops.greater_equal(positions, steps - ops.reshape(length, (-1, 1))), "float32"
        )
        count = ops.maximum(ops.sum(mask, axis=1), 1.0)
        loc = ops.sum(history * mask, axis=1) / count
        variance = ops.sum(ops.square((history - loc[:, None]) * mask), axis=1) / count
        magnitude = ops.sum(ops.abs(history) * mask, axis=1) / count
        return loc, ops.sqrt(variance) + 1e-3 * magnitude + 1e-6


@keras.saving.register_keras_serializable(package="rnnapps")
class LeftPaddedMask(keras.layers.Layer):
    """``[batch, steps]`` True on the last `length` steps of each window (its real values)."""

    def __init__(self, steps: int, **kwargs):
        super().__init__(**kwargs)
        self.steps = int(steps)

    def call(self, length):
        positions = ops.arange(self.steps, dtype="int32")[None, :]
        return ops.greater_equal(positions, self.steps - ops.reshape(length, (-1, 1)))

    def get_config(self) -> dict:
        return {**super().get_config(), "steps": self.steps}


@keras.saving.register_keras_serializable(package="rnnapps")
class StepFeatures(keras.layers.Layer):
    """Per-step encoder input: the normalised value, the mask, sin and cos of the phase and
    the frequency's one-hot code. ``[batch, time, 4 + frequencies]``."""

    def call(self, history, mask, phase, frequency, loc, scale):
        z = (history - loc[:, None]) / scale[:, None] * mask
        angle = 2.0 * math.pi * phase
        code = ops.one_hot(frequency, len(FREQUENCY_NAMES))[:, None, :]
        code = ops.broadcast_to(code, (ops.shape(z)[0], z.shape[1], len(FREQUENCY_NAMES)))
        parts = [
            z[..., None],
            mask[..., None],
            ops.sin(angle)[..., None],
            ops.cos(angle)[..., None],
        ]
        return ops.concatenate([*parts, code], axis=-1)


def anchor_matrices(span: int = ANCHOR_SPAN) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Constant selectors of the seasonal-naive forecast from the last `span` values.

    Returns ``seasonal`` ``[frequencies, span, H]`` (step h takes the value one period
    before it: position ``span - p + h mod p``), ``last`` ``[span, H]`` (every step takes the
    last value: naive, for a history shorter than one period) and ``periods``
    ``[frequencies]``.
    """
    periods = np.array([FREQUENCIES[name].period for name in FREQUENCY_NAMES], np.float32)
    seasonal = np.zeros((len(FREQUENCY_NAMES), span, MAX_HORIZON), np.float32)
    for index, period in enumerate(periods.astype(int)):
        for step in range(MAX_HORIZON):
            seasonal[index, span - period + step % period, step] = 1.0
    last = np.zeros((span, MAX_HORIZON), np.float32)
    last[span - 1, :] = 1.0
    return seasonal, last, periods


@keras.saving.register_keras_serializable(package="rnnapps")
class SeasonalAnchor(keras.layers.Layer):
    """The seasonal-naive forecast on the window's scale, which the quantiles are built
    around (a skip connection, as ES-RNN deseasonalises): where the network has learnt
    nothing of a series, it falls back to "the same as one period ago".

    Call arguments: ``recent`` ``[batch, ANCHOR_SPAN]`` (the last normalised values, zeros
    before the series starts), ``count`` ``[batch]`` (how many real values there are) and
    ``frequency`` int ``[batch]``. Returns ``[batch, H]``: the value one period before each
    step, or the last value while the history is shorter than one period.
    """

    def call(self, recent, count, frequency):
        # A window normalised by an earlier, flatter span can put values thousands of scales
        # out; the targets are clipped the same way (``data.TARGET_CLIP``).
        recent = ops.clip(recent, -ANCHOR_CLIP, ANCHOR_CLIP)
        seasonal, last, periods = anchor_matrices(recent.shape[1])
        selector = ops.take(ops.convert_to_tensor(seasonal), frequency, axis=0)
        period = ops.take(ops.convert_to_tensor(periods), frequency, axis=0)
        enough = ops.cast(ops.greater_equal(ops.cast(count, "float32"), period), "float32")
        selector = (
            enough[:, None, None] * selector
            + (1.0 - enough[:, None, None]) * ops.convert_to_tensor(last)[None]
        )
        return ops.sum(recent[:, :, None] * selector, axis=1)


@keras.saving.register_keras_serializable(package="rnnapps")
class MonotoneQuantiles(keras.layers.Layer):
    """``[batch, H * Q]`` raw outputs -> ``[batch, H, Q]`` non-decreasing quantiles: the
    median, and the outer quantiles at softplus gaps below and above it.

    ``interval_scale`` (not trained; 1 in training) widens or narrows the 80% and the 95%
    interval around the median: ``ForecastingApp.after_training`` sets it so that the
    validation windows' coverage is nominal (conformalised quantiles). The 95% bounds never
    cross the 80% ones.
    """

    def build(self, input_shape):
        self.interval_scale = self.add_weight(
            name="interval_scale", shape=(2,), initializer="ones", trainable=False
        )

    def call(self, raw, anchor=None):
        raw = ops.reshape(raw, (-1, MAX_HORIZON, len(QUANTILES)))
        median = raw[..., 2] if anchor is None else raw[..., 2] + anchor
        gaps = ops.softplus(raw) + 1e-4
        s80, s95 = self.interval_scale[0], self.interval_scale[1]
        q10 = median - s80 * gaps[..., 1]
        q90 = median + s80 * gaps[..., 3]
        q025 = ops.minimum(median - s95 * (gaps[..., 1] + gaps[..., 0]), q10 - 1e-4)
        q975 = ops.maximum(median + s95 * (gaps[..., 3] + gaps[..., 4]), q90 + 1e-4)
        return ops.stack([q025, q10, median, q90, q975], axis=-1)


@keras.saving.register_keras_serializable(package="rnnapps")
def pinball_loss(targets, quantiles):
    """Mean pinball loss over the quantiles: ``targets`` ``[batch, H]``, ``quantiles``
    ``[batch, H, Q]`` (both normalised); Keras weighs it per step by the sample weight."""
    levels = ops.convert_to_tensor(QUANTILES, dtype="float32")
    error = targets[..., None] - quantiles
    return ops.mean(ops.maximum(levels * error, (levels - 1.0) * error), axis=-1)


@keras.saving.register_keras_serializable(package="rnnapps")
def members_pinball_loss(targets, quantiles):
    """``pinball_loss`` of each member's quantiles ``[batch, members, H, Q]``, averaged over
    the members: each member's weights get the gradient of its own loss alone, so the
    members train as independent models would (``[batch, H]``, as ``pinball_loss``)."""
    return ops.mean(pinball_loss(targets[:, None, :], quantiles), axis=1)


def member_suffix(index: int) -> str:
    """Layer-name suffix of ensemble member `index` (member 0 has the plain names)."""
    return "" if index == 0 else f"_m{index}"


def member_count(core: keras.Model) -> int:
    """How many members `core` has (``ForecastingConfig.members``)."""
    count = 1
    while _has_layer(core, "encoder" + member_suffix(count)):
        count += 1
    return count


def mean_of_members(quantiles):
    """The forecast of a core's output: its members' mean quantiles ``[batch, H, Q]`` (a mean
    of non-decreasing quantiles is non-decreasing); a one-member output as it is."""
    return ops.mean(quantiles, axis=1) if len(quantiles.shape) == 4 else quantiles


def core_inputs(context: int, batch_size: int | None = None) -> dict:
    return {
        "history": keras.Input(batch_shape=(batch_size, context), name="history"),
        "length": keras.Input(batch_shape=(batch_size,), dtype="int32", name="length"),
        "phase": keras.Input(batch_shape=(batch_size, context + MAX_HORIZON), name="phase"),
        "frequency": keras.Input(batch_shape=(batch_size,), dtype="int32", name="frequency"),
        "loc": keras.Input(batch_shape=(batch_size,), name="loc"),
        "scale": keras.Input(batch_shape=(batch_size,), name="scale"),
    }


def future_features(future_phase, frequency):
    """The decoder's calendar input: sin and cos of the next steps' phases and the frequency."""
    angle = 2.0 * math.pi * future_phase
    code = ops.one_hot(frequency, len(FREQUENCY_NAMES))
    return ops.concatenate([ops.sin(angle), ops.cos(angle), code], axis=-1)


def build_core(config: ForecastingConfig, steps_per_epoch: int = 1) -> keras.Model:
    """The trained model: a window with its location and scale -> normalised quantiles."""
    context = config.context_length
    inputs = core_inputs(context)
    history, length = inputs["history"], inputs["length"]
    mask_bool = LeftPaddedMask(context, name="mask")(length)
    mask = ops.cast(mask_bool, "float32")
    features = StepFeatures(name="step_features")(
        history,
        mask,
        inputs["phase"][:, :context],
        inputs["frequency"],
        inputs["loc"],
        inputs["scale"],
    )
    normalised = (history - inputs["loc"][:, None]) / inputs["scale"][:, None] * mask
    recent = normalised[:, context - ANCHOR_SPAN :]
    future = future_features(inputs["phase"][:, context:], inputs["frequency"])
    seasonal = None
    if config.seasonal_input:
        seasonal = SeasonalAnchor(name="seasonal_input")(recent, length, inputs["frequency"])
    anchor = None
    if config.seasonal_anchor:
        anchor = SeasonalAnchor(name="anchor")(recent, length, inputs["frequency"])
    members = []
    for index in range(config.members):
        suffix = member_suffix(index)
        encoder = recurrent_layer(config.cell, config.units, name="encoder" + suffix)
        state = encoder(features, mask=mask_bool)
        state = keras.layers.Dropout(config.dropout_rate, name="state_dropout" + suffix)(state)
        head_parts = [state, future] + ([seasonal] if seasonal is not None else [])
        head_input = ops.concatenate(head_parts, axis=-1)
        hidden = keras.layers.Dense(
            config.decoder_units, activation="relu", name="head_1" + suffix
        )(head_input)
        hidden = keras.layers.Dense(
            config.decoder_units, activation="relu", name="head_2" + suffix
        )(hidden)
        raw = keras.layers.Dense(MAX_HORIZON * len(QUANTILES), name="head_out" + suffix)(hidden)
        members.append(MonotoneQuantiles(name="quantiles" + suffix)(raw, anchor))
    # One member: [batch, H, Q]. More: [batch, members, H, Q], each member trained on its own
    # loss; the forecast is their mean (``mean_of_members``).
    quantiles = members[0] if len(members) == 1 else ops.stack(members, axis=1)
    model = keras.Model(inputs, quantiles, name="forecasting")
    schedule = keras.optimizers.schedules.CosineDecay(
        config.learning_rate, decay_steps=max(1, config.epochs * steps_per_epoch)
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(
            schedule,
            weight_decay=config.weight_decay,
            clipnorm=1.0,
            use_ema=config.weight_averaging > 0,
            ema_momentum=config.weight_averaging or 0.99,
        ),
        loss=pinball_loss if config.members == 1 else members_pinball_loss,
    )
    return model


def _has_layer(core: keras.Model, name: str) -> bool:
    return any(layer.name == name for layer in core.layers)


def has_anchor(core: keras.Model) -> bool:
    """Whether `core` reads the seasonal-naive forecast (``seasonal_anchor``: the quantiles
    are built around it; ``seasonal_input``: the decoder reads it), so that a stream must
    keep the last ``ANCHOR_SPAN`` observations."""
    return _has_layer(core, "anchor") or _has_layer(core, "seasonal_input")


def head(
    core: keras.Model, state, future_phase, frequency, recent=None, count=None, member: int = 0
):
    """The trained decoder of ensemble `member` on its recurrent state: normalised quantiles
    ``[batch, H, Q]`` (`recent` and `count` feed the seasonal anchor or input, when `core`
    has one)."""
    suffix = member_suffix(member)
    parts = [state, future_features(future_phase, frequency)]
    if _has_layer(core, "seasonal_input"):
        parts.append(core.get_layer("seasonal_input")(recent, count, frequency))
    hidden = core.get_layer("head_1" + suffix)(ops.concatenate(parts, axis=-1))
    hidden = core.get_layer("head_2" + suffix)(hidden)
    anchor = None
    if _has_layer(core, "anchor"):
        anchor = core.get_layer("anchor")(recent, count, frequency)
    return core.get_layer("quantiles" + suffix)(core.get_layer("head_out" + suffix)(hidden), anchor)
