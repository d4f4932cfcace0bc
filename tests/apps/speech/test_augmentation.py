"""Waveform augmentation draws afresh every epoch, from (seed, epoch) alone (exact resume)."""

import numpy as np
import pytest

from apps.speech import data
from apps.speech.app import SpeechApp
from apps.speech.config import SpeechConfig
from apps.speech.inference import TRANSCRIPTION_SAMPLES
from shared.config import resolve_config
from shared.data.splits import Splits
from shared.training import training_epoch

ROWS = 12


@pytest.fixture
def splits():
    """Tiny splits of one tone: shuffling leaves a batch as it was, augmentation does not."""
    tones = 0.3 * np.sin(np.arange(data.CLIP_SAMPLES) / 7.0).astype(np.float32)
    keywords = {
        "audio": np.stack([tones] * ROWS),
        "label": np.arange(ROWS) % len(data.LABELS),
    }
    phrase_texts = ["yes", "no", "up", "down"]
    phrases = Splits(
        train={"audio": [np.tile(tones, 2)] * 4, "text": phrase_texts},
        validation={"audio": [np.tile(tones, 2)] * 4, "text": phrase_texts},
        test={"audio": [], "text": []},
    )
    return Splits(keywords, keywords, keywords, info={"transcription": phrases})


def _config(**overrides) -> SpeechConfig:
    settings = ["batch_size=4", "transcription_batch_size=2", "noise_probability=0.9"]
    settings += [f"{name}={value}" for name, value in overrides.items()]
    return resolve_config(SpeechConfig, "quick", settings)


def _epoch(dataset, epoch: int) -> list[dict]:
    """The training inputs of `epoch`, in order."""
    training_epoch().assign(epoch)
    return [inputs for inputs, _ in dataset.as_numpy_iterator()]


def _same(first: list[dict], second: list[dict], key: str) -> bool:
    return len(first) == len(second) and all(
        np.array_equal(a[key], b[key]) for a, b in zip(first, second, strict=True)
    )


def test_each_epoch_hears_new_augmentation_and_a_resumed_epoch_the_same(splits):
    app = SpeechApp()
    config = _config()
    try:
        train = app._dataset(config, splits, "train", training=True)
        assert int(train.cardinality()) == ROWS // 4  # an epoch is still the keyword batches
        epoch_0, epoch_1 = _epoch(train, 0), _epoch(train, 1)
        assert len(epoch_0) == ROWS // 4
        assert epoch_0[0]["keyword_audio"].shape == (4, data.CLIP_SAMPLES)
        assert epoch_0[0]["phrase_audio"].shape == (2, TRANSCRIPTION_SAMPLES)
        assert not _same(epoch_0, epoch_1, "keyword_audio")
        assert not _same(epoch_0, epoch_1, "phrase_audio")
        # Rows of a batch, and the keyword and phrase batches, draw apart from each other.
        first = epoch_0[0]
        assert not np.array_equal(first["keyword_audio"][0], first["keyword_audio"][1])
        assert not np.allclose(
            first["keyword_audio"][0], first["phrase_audio"][0, : data.CLIP_SAMPLES]
        )
        # A resumed process builds its pipeline afresh and starts at epoch 1.
        fresh = app._dataset(config, splits, "train", training=True)
        assert _same(_epoch(fresh, 1), epoch_1, "keyword_audio")
        assert _same(_epoch(fresh, 1), epoch_1, "phrase_audio")
        assert _same(_epoch(train, 0), epoch_0, "keyword_audio")
        # Another seed draws other augmentation for the same epoch.
        other = app._dataset(_config(seed=config.seed + 1), splits, "train", training=True)
        assert not _same(_epoch(other, 0), epoch_0, "keyword_audio")
    finally:
        training_epoch().assign(0)


def test_validation_is_not_augmented(splits):
    app = SpeechApp()
    validation = app._dataset(_config(), splits, "validation", training=False)
    training_epoch().assign(0)
    inputs, _ = next(iter(validation.as_numpy_iterator()))
    np.testing.assert_array_equal(inputs["keyword_audio"], splits.validation["audio"][:4])
