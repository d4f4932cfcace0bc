"""Token dropout draws afresh every epoch, from (seed, epoch) alone (exact resume)."""

import numpy as np

from apps.sentiment.app import SentimentApp
from apps.sentiment.config import SentimentConfig
from shared.config import resolve_config
from shared.data.splits import Splits
from shared.preprocessing.text import OOV_ID, PAD_ID, WordTokenizer
from shared.training import training_epoch

ROWS = 16
WORDS = [f"word{index}" for index in range(10)]


def _splits() -> Splits:
    """One text repeated: shuffling leaves a batch as it was, token dropout does not."""
    columns = {
        "text": [" ".join(WORDS)] * ROWS,
        "label": np.arange(ROWS) % 3,
        "rating": np.linspace(-4.0, 4.0, ROWS),
    }
    splits = Splits(columns, columns, columns)
    splits.info["tokenizer"] = WordTokenizer(WORDS, max_length=12)
    return splits


def _epoch(dataset, epoch: int) -> np.ndarray:
    """The token ids `fit` would train on in `epoch`, [rows, length] in order."""
    training_epoch().assign(epoch)
    return np.concatenate([ids for ids, _, _ in dataset.as_numpy_iterator()])


def _train(splits: Splits, seed: int = 1234):
    config = resolve_config(
        SentimentConfig, "quick", ["batch_size=4", "token_dropout_rate=0.3", f"seed={seed}"]
    )
    return SentimentApp()._dataset(config, splits, splits.train, training=True)


def test_each_epoch_drops_other_words_and_a_resumed_epoch_the_same():
    splits = _splits()
    try:
        train = _train(splits)
        assert int(train.cardinality()) == ROWS // 4
        epoch_0, epoch_1 = _epoch(train, 0), _epoch(train, 1)
        clean = splits.info["tokenizer"].encode(splits.train["text"])
        dropped = epoch_0 == OOV_ID
        # Only known words are dropped, never padding, at roughly the configured rate.
        assert np.all(epoch_0[~dropped] == clean[~dropped]) and np.all(clean[dropped] > OOV_ID)
        assert np.all(epoch_0[clean == PAD_ID] == PAD_ID)
        assert 0.15 < dropped[clean > OOV_ID].mean() < 0.45
        assert not np.array_equal(epoch_0, epoch_1)
        assert not np.array_equal(epoch_0[:4], epoch_0[4:8])  # batches differ within an epoch
        # A resumed process builds its pipeline afresh and starts at epoch 1.
        np.testing.assert_array_equal(_epoch(_train(splits), 1), epoch_1)
        np.testing.assert_array_equal(_epoch(train, 0), epoch_0)
        assert not np.array_equal(_epoch(_train(splits, seed=7), 0), epoch_0)
    finally:
        training_epoch().assign(0)
