"""The training model: uint8 frames -> per-frame CNN -> masked GRU/LSTM -> class scores."""

from __future__ import annotations

import keras
from keras import ops

from apps.video.config import VideoConfig
from shared.layers import recurrent_layer


@keras.saving.register_keras_serializable(package="rnnapps")
class FrameFeatures(keras.layers.Layer):
    """Raw uint8 frames -> float features: the frame in [0, 1] and how it changed.

    The difference of frame t is frame t minus frame t - 1 (minus black for the
    first frame), so a per-frame encoder sees motion, and a streaming step
    model needs only the previous frame to compute it.

    The optional motion products are ``I_t * dI/dx`` and ``I_t * dI/dy`` of the
    grey image (I_t the temporal difference, dI/dx and dI/dy the spatial
    gradients of the two frames' mean). Under a small motion ``v``,
    ``I_t ~ -v . grad I``, so these products point against the local motion
    whatever the contrast between object and background: the normal flow, up
    to a positive factor, from which a CNN could read the direction of turning
    (the curl of that field) without learning the product of edge polarity and
    change itself. An option: in short runs it has not beaten plain differences.

    Args:
        differences: append the 3 difference channels (else the RGB frame only).
        motion_products: also append the 2 motion-product channels (needs `differences`).

    Call arguments:
        frames: uint8 ``[batch, time, height, width, 3]`` (a clip), or
            ``[batch, height, width, 3]`` (one frame) when `previous_frames` is given.
        previous_frames: ``[batch, height, width, 3]`` on the 0-255 scale (uint8 or
            float), the frame before each frame of `frames` (one-frame mode only).

    Example:
        >>> layer = FrameFeatures(motion_products=True, name="frame_features")
        >>> layer(np.zeros((2, 16, 64, 64, 3), "uint8")).shape
        (2, 16, 64, 64, 8)
    """

    def __init__(self, differences: bool = True, motion_products: bool = False, **kwargs):
        super().__init__(**kwargs)
        if motion_products and not differences:
            raise ValueError("motion_products=True needs differences=True")
        self.differences = bool(differences)
        self.motion_products = bool(motion_products)

    @property
    def channels(self) -> int:
        return 3 + 3 * self.differences + 2 * self.motion_products

    def call(self, frames, previous_frames=None):
        current = ops.cast(frames, "float32") / 255.0
        if not self.differences:
            return current
        if previous_frames is None:
            # [batch, time, h, w, 3]: frame t - 1 for every t; a black frame before the first,
            # as a streaming step model starts from a zero state.
            previous = ops.concatenate([ops.zeros_like(current[:, :1]), current[:, :-1]], axis=1)
        else:
            previous = ops.cast(previous_frames, "float32") / 255.0
        difference = current - previous
        features = [current, difference]
        if self.motion_products:
            grey_change = ops.mean(difference, axis=-1, keepdims=True)  # [..., h, w, 1]
            grey = ops.mean(current + previous, axis=-1, keepdims=True) / 2.0
            gradient_x, gradient_y = _central_gradients(grey)
            # Scaled so that typical values are near 1 for the batch norm that follows.
            features += [16.0 * grey_change * gradient_x, 16.0 * grey_change * gradient_y]
        return ops.concatenate(features, axis=-1)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "differences": self.differences,
            "motion_products": self.motion_products,
        }


def _central_gradients(image):
    """Central differences along width and height of ``[..., h, w, 1]``, edges replicated."""
    # Static slices and concatenations only: the same builtin ops in every LiteRT graph.
    padded_x = ops.concatenate([image[..., :, :1, :], image, image[..., :, -1:, :]], axis=-2)
    padded_y = ops.concatenate([image[..., :1, :, :], image, image[..., -1:, :, :]], axis=-3)
    gradient_x = (padded_x[..., :, 2:, :] - padded_x[..., :, :-2, :]) / 2.0
    gradient_y = (padded_y[..., 2:, :, :] - padded_y[..., :-2, :, :]) / 2.0
    return gradient_x, gradient_y


@keras.saving.register_keras_serializable(package="rnnapps")
class LengthMask(keras.layers.Layer):
    """Clip lengths -> a boolean time mask: true for real frames, false for the padding.

    Short clips are padded with black frames at the end; the mask makes the
    recurrent layer keep its state over them, so the answer is the state after
    the last real frame.

    Args:
        num_frames: the padded clip length (the time axis of the mask).

    Call arguments:
        length: int ``[batch]``, the number of real frames of each clip.

    Example:
        >>> LengthMask(4, name="mask")(np.array([2, 4]))
        [[True, True, False, False], [True, True, True, True]]
    """

    def __init__(self, num_frames: int, **kwargs):
        super().__init__(**kwargs)
        if num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}")
        self.num_frames = int(num_frames)

    def call(self, length):
        steps = ops.arange(self.num_frames, dtype="int32")  # [time]
        return ops.less(steps[None, :], ops.cast(ops.reshape(length, (-1, 1)), "int32"))

    def get_config(self) -> dict:
        return {**super().get_config(), "num_frames": self.num_frames}


@keras.saving.register_keras_serializable(package="rnnapps")
class PerFrame(keras.layers.TimeDistributed):
    """Applies a frame model to every frame of a clip, as one batch of ``batch * time`` frames.

    Keras' TimeDistributed unrolls a Python loop over a static time axis (one
    call per frame); folding time into the batch instead gives one large
    convolution, faster both in training and in the LiteRT clip model.

    Args:
        layer: the per-frame model, ``[batch, ...] -> [batch, features...]``.

    Call arguments:
        inputs: ``[batch, time, ...]``.

    Example:
        >>> PerFrame(keras.layers.Dense(4), name="per_frame")(np.zeros((2, 16, 3))).shape
        (2, 16, 4)
    """

    def call(self, inputs, training=None, mask=None):
        frame_shape = tuple(inputs.shape[2:])
        frames = ops.reshape(inputs, (-1, *frame_shape))  # [batch * time, ...]
        outputs = self.layer(frames, training=training)  # [batch * time, features...]
        num_frames = inputs.shape[1]
        return ops.reshape(outputs, (-1, num_frames, *tuple(outputs.shape[1:])))

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        # Keras' Wrapper.from_config pops "layer" from the dict it is given: work on a copy.
        return super().from_config(dict(config), custom_objects=custom_objects)


def build_frame_encoder(
    config: VideoConfig, frame_shape: tuple[int, int], channels: int
) -> keras.Model:
    """The per-frame CNN: ``[batch, h, w, channels]`` float -> ``[batch, frame_embedding_dim]``."""
    features = keras.Input(shape=(*frame_shape, channels), name="frame_features")
    x = features
    for index, filters in enumerate(config.filters):
        # Stride 2 halves the map each time: cheap enough for < 1 ms per frame on device.
        x = keras.layers.Conv2D(
            filters, 3, strides=2, padding="same", use_bias=False, name=f"conv{index + 1}"
        )(x)
        # Momentum 0.9, not 0.99: a few hundred steps in all, and the inference statistics
        # must have caught up with the batch statistics by the end of the first epochs.
        x = keras.layers.BatchNormalization(momentum=0.9, name=f"conv{index + 1}_norm")(x)
        x = keras.layers.ReLU(name=f"conv{index + 1}_relu")(x)
    x = keras.layers.Flatten(name="flatten")(x)  # [batch, cells * filters]: keeps position
    x = keras.layers.Dense(config.frame_embedding_dim, activation="relu", name="embedding")(x)
    return keras.Model(features, x, name="frame_encoder")


def build_model(
    config: VideoConfig,
    num_classes: int,
    num_frames: int,
    frame_shape: tuple[int, int],
    steps_per_epoch: int = 1,
) -> keras.Model:
    """Many-to-one clip classifier taking raw uint8 frames and clip lengths.

    Inputs ``frames`` (uint8 ``[batch, num_frames, h, w, 3]``) and ``length``
    (int32 ``[batch]``); output ``probabilities`` (softmax ``[batch, num_classes]``).
    `steps_per_epoch` sets the length of the cosine learning-rate decay.
    """
    frames = keras.Input(shape=(num_frames, *frame_shape, 3), dtype="uint8", name="frames")
    length = keras.Input(shape=(), dtype="int32", name="length")
    frame_features = FrameFeatures(
        config.frame_differences, config.motion_products, name="frame_features"
    )
    x = frame_features(frames)  # [batch, time, h, w, channels]
    encoder = build_frame_encoder(config, frame_shape, frame_features.channels)
    x = PerFrame(encoder, name="per_frame")(x)  # [batch, time, embedding]
    x = keras.layers.Dropout(config.dropout_rate, name="embedding_dropout")(x)
    mask = LengthMask(num_frames, name="length_mask")(length)  # [batch, time]
    rnn = recurrent_layer(config.cell, config.units, name="recurrent")
    x = rnn(x, mask=mask)  # [batch, units]: the state after the last real frame
    x = keras.layers.Dropout(config.dropout_rate, name="recurrent_dropout")(x)
    probabilities = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    model = keras.Model({"frames": frames, "length": length}, probabilities, name="video")
    learning_rate = config.learning_rate
    if config.cosine_decay:
        learning_rate = keras.optimizers.schedules.CosineDecay(
            config.learning_rate, decay_steps=max(1, config.epochs * steps_per_epoch)
        )
    model.compile(
        optimizer=keras.optimizers.AdamW(
            learning_rate, weight_decay=config.weight_decay, clipnorm=1.0
        ),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
