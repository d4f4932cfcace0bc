"""The SavedModel module: ``serving_default`` forecasts raw windows; ``step`` streams."""

from __future__ import annotations

import keras
import tensorflow as tf

from apps.forecasting.export import step_model, window_model
from apps.forecasting.runtime import MAX_HORIZON


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
