"""SpecAugment masking inside the model, active in training only."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="rnnapps")
class SpecAugment(keras.layers.Layer):
    """Mask random spans of time frames and of feature bins while training (SpecAugment).

    Each example gets `time_masks` spans of up to `max_time_width` frames and
    `frequency_masks` spans of up to `max_frequency_width` bins set to `mask_value`
    (0: the mean of normalised features). Vectorised over the batch, so it costs
    little on the accelerator; at inference it is the identity and adds no op to an
    exported graph.

    Args:
        time_masks, max_time_width: how many time spans and their largest width.
        frequency_masks, max_frequency_width: the same for feature bins.
        mask_value: what masked cells are set to.
        seed: seed of the layer's random generator.

    Call arguments:
        features: float tensor [batch, time, bins].
        training: masks only when True.

    Example:
        >>> layer = SpecAugment(time_masks=2, max_time_width=5, name="spec_augment")
        >>> masked = layer(np.ones((4, 50, 40), "float32"), training=True)
    """

    def __init__(
        self,
        time_masks: int = 2,
        max_time_width: int = 10,
        frequency_masks: int = 2,
        max_frequency_width: int = 8,
        mask_value: float = 0.0,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (
            ("time_masks", time_masks),
            ("max_time_width", max_time_width),
            ("frequency_masks", frequency_masks),
            ("max_frequency_width", max_frequency_width),
        ):
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        self.time_masks = int(time_masks)
        self.max_time_width = int(max_time_width)
        self.frequency_masks = int(frequency_masks)
        self.max_frequency_width = int(max_frequency_width)
        self.mask_value = float(mask_value)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def _spans(self, batch, length: int, count: int, max_width: int):
        """[batch, length] booleans: True inside any of `count` random spans per example."""
        width = ops.floor(
            keras.random.uniform((batch, count, 1), 0.0, max_width + 1.0, seed=self.seed_generator)
        )
        width = ops.minimum(width, float(length))
        start = ops.floor(
            keras.random.uniform((batch, count, 1), seed=self.seed_generator)
            * (float(length) - width + 1.0)
        )
        positions = ops.cast(ops.arange(length), "float32")[None, None, :]  # [1, 1, length]
        inside = ops.logical_and(positions >= start, positions < start + width)
        return ops.any(inside, axis=1)  # [batch, length]

    def call(self, features, training=False):
        if not training or (self.time_masks == 0 and self.frequency_masks == 0):
            return features
        batch = ops.shape(features)[0]
        num_frames, num_bins = features.shape[1], features.shape[2]
        masked = ops.zeros_like(features, dtype="bool")
        if self.time_masks:
            spans = self._spans(batch, num_frames, self.time_masks, self.max_time_width)
            masked = ops.logical_or(masked, spans[:, :, None])
        if self.frequency_masks:
            spans = self._spans(batch, num_bins, self.frequency_masks, self.max_frequency_width)
            masked = ops.logical_or(masked, spans[:, None, :])
        return ops.where(masked, ops.cast(self.mask_value, features.dtype), features)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            time_masks=self.time_masks,
            max_time_width=self.max_time_width,
            frequency_masks=self.frequency_masks,
            max_frequency_width=self.max_frequency_width,
            mask_value=self.mask_value,
            seed=self.seed,
        )
        return config
