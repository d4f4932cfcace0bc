"""The engines a trained model folder runs on, loaded in one place.

``keras`` (``model.keras``, safe mode: no pickled code, no Lambda layers), ``savedmodel``
(``saved_model/``) and ``litert`` (``<name>_<variant>.tflite``, through the app's
TensorFlow-free ``Runtime``). ``App.load_predictor`` picks the app's runtime or its
predictor by engine; predictors load their model with the functions here.
"""

from __future__ import annotations

import pathlib
from typing import Any

import keras
import tensorflow as tf

from shared.runtime.base import ENGINES

KERAS_FILE = "model.keras"
SAVED_MODEL_DIR = "saved_model"


def check_engine(engine: str) -> str:
    """`engine` if it is one of ``ENGINES``, else ValueError naming them."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    return engine


def load_keras_model(model_dir: str | pathlib.Path) -> keras.Model:
    """``model_dir/model.keras`` in safe mode (the app's layers must be registered)."""
    return keras.saving.load_model(pathlib.Path(model_dir) / KERAS_FILE, safe_mode=True)


def load_saved_model(model_dir: str | pathlib.Path) -> Any:
    """``model_dir/saved_model``: its signatures (``serving_default`` ...) take raw input."""
    return tf.saved_model.load(str(pathlib.Path(model_dir) / SAVED_MODEL_DIR))
