"""A model file that carries code is refused: every loader uses Keras safe mode."""

import keras
import numpy as np
import pytest

from apps.sentiment.predictor import SentimentPredictor
from apps.sentiment.runtime import VOCABULARY_FILE
from shared.preprocessing.text import WordTokenizer


def test_a_model_with_a_lambda_layer_is_refused(tmp_path):
    inputs = keras.Input(shape=(4,), name="token_ids")
    # A Lambda's function is pickled Python: loading it would run the file's code.
    outputs = keras.layers.Lambda(lambda ids: ids * 2.0, output_shape=(4,))(inputs)
    keras.Model(inputs, outputs).save(tmp_path / "model.keras")
    WordTokenizer(["fine"], max_length=4).save(tmp_path / VOCABULARY_FILE)
    with pytest.raises(ValueError, match="(?i)lambda|safe_mode"):
        SentimentPredictor(tmp_path, "keras")
    # The same file does load when a caller opts out, so the refusal is safe mode's doing.
    model = keras.saving.load_model(tmp_path / "model.keras", safe_mode=False)
    assert np.asarray(model(np.ones((1, 4), "float32"))).tolist() == [[2.0, 2.0, 2.0, 2.0]]
