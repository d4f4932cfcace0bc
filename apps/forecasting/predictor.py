"""The Keras / SavedModel predictor: windows -> quantiles (LiteRT's is ``runtime.py``)."""

from __future__ import annotations

import pathlib

import keras
import numpy as np
import tensorflow as tf

import apps.forecasting.model  # noqa: F401  (registers its layers, so load_model finds them)
from apps.forecasting.export import window_model
from apps.forecasting.runtime import MAX_HORIZON, QUANTILES, normalised_forecasts, read_settings
from shared.app import Predictor
from shared.engines import load_keras_model, load_saved_model


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
