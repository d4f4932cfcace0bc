"""SpecAugment: masks spans of frames and bins in training, identity at inference."""

import numpy as np

from shared.layers.spec_augment import SpecAugment
from shared.testing import check_layer


def test_identity_at_inference(tmp_path):
    features = np.random.default_rng(0).standard_normal((3, 20, 8)).astype(np.float32)
    out = check_layer(
        lambda: SpecAugment(2, 5, 2, 3, seed=1, name="spec_augment"),
        features,
        tmp_path,
        expected_output_shape=(3, 20, 8),
        trainable=False,
    )
    np.testing.assert_array_equal(out, features)


def test_training_masks_whole_spans_within_the_widths():
    layer = SpecAugment(1, 4, 1, 3, mask_value=0.0, seed=3, name="spec_augment")
    features = np.ones((64, 30, 10), dtype=np.float32)
    out = np.asarray(layer(features, training=True))
    assert set(np.unique(out).tolist()) <= {0.0, 1.0} and out.min() == 0.0
    for example in out:
        masked_frames = np.flatnonzero(np.all(example == 0, axis=1))
        masked_bins = np.flatnonzero(np.all(example == 0, axis=0))
        # One span each: contiguous, and no wider than allowed.
        assert len(masked_frames) <= 4 and len(masked_bins) <= 3
        for span in (masked_frames, masked_bins):
            if len(span):
                assert span[-1] - span[0] == len(span) - 1
        # Every zero lies in a masked frame or a masked bin.
        zeros = example == 0
        zeros[masked_frames, :] = False
        zeros[:, masked_bins] = False
        assert not zeros.any()
    # Examples get their own masks.
    assert len({np.asarray(example == 0).tobytes() for example in out}) > 10


def test_no_masks_is_identity_in_training():
    features = np.ones((2, 5, 4), dtype=np.float32)
    out = SpecAugment(0, 5, 0, 5, name="spec_augment")(features, training=True)
    np.testing.assert_array_equal(np.asarray(out), features)
