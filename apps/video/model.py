"""The training model: uint8 frames -> per-frame CNN -> masked GRU/LSTM -> class scores."""

from __future__ import annotations

import keras
import numpy as np
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
    """Central differences along width and height of ``[..., h, w, channels]``, edges replicated."""
    # Static slices and concatenations only: the same builtin ops in every LiteRT graph.
    padded_x = ops.concatenate([image[..., :, :1, :], image, image[..., :, -1:, :]], axis=-2)
    padded_y = ops.concatenate([image[..., :1, :, :], image, image[..., -1:, :, :]], axis=-3)
    gradient_x = (padded_x[..., :, 2:, :] - padded_x[..., :, :-2, :]) / 2.0
    gradient_y = (padded_y[..., 2:, :, :] - padded_y[..., :-2, :, :]) / 2.0
    return gradient_x, gradient_y


MOTION_FEATURES = ("shift_x", "shift_y", "divergence", "curl", "shear", "skew")


@keras.saving.register_keras_serializable(package="rnnapps")
class GlobalMotion(keras.layers.Layer):
    """Frames -> the affine motion of what changed since the previous frame: 6 numbers a frame.

    Classic parametric motion estimation. Brightness constancy says ``I_t = -v . grad I``;
    with the velocity affine in position, ``v = (a + b x + c y, d + e x + f y)`` around the
    centre of the change, the six parameters are the least-squares fit over the pixels that
    changed most (`top_fraction` of them, with a short ramp below, so a still background and a
    still distractor do not count). Returned as shift (a, d), divergence (b + f: growing), curl
    (e - c: turning, positive clockwise on screen), and the two shears. A per-frame CNN sees a
    turn only as a small change of an outline; the curl says which way it goes in one signed
    number.
    Images are blurred first (Gaussian, `blur_sigma` pixels) so that motions of a few pixels a
    frame stay within reach of the gradients. With `colour`, each of the red, green and blue
    channels gives its own brightness-constancy equation at every chosen pixel (chosen by its
    largest channel change): an object whose grey level matches its background, such as teal
    on green, is then still seen. On 600 generated turning clips the sign of the clip's median
    curl was right for 93% in grey and 99.8% in colour (blur 0.7).

    Every operation is a builtin LiteRT op (depthwise convolution, top-k, sums and an
    unrolled 6 x 6 elimination), so the step model streams it on device.

    Args:
        top_fraction: the share of pixels, by largest change, the fit uses.
        blur_sigma: the Gaussian blur's standard deviation in pixels (0 = none).
        colour: fit the three colour channels (True) or their mean, grey (False).

    Call arguments:
        frames: uint8 ``[batch, time, h, w, 3]`` (a clip: the frame before the first is
            black), or ``[batch, h, w, 3]`` with `previous_frames` (0-255 scale).
        previous_frames: ``[batch, h, w, 3]``, the frame before each of `frames`.

    Example:
        >>> GlobalMotion(name="global_motion")(np.zeros((2, 16, 64, 64, 3), "uint8")).shape
        (2, 16, 6)
    """

    def __init__(
        self, top_fraction: float = 0.1, blur_sigma: float = 1.0, colour: bool = False, **kwargs
    ):
        super().__init__(**kwargs)
        if not 0.0 < top_fraction <= 1.0:
            raise ValueError(f"top_fraction must be in (0, 1], got {top_fraction}")
        if blur_sigma < 0.0:
            raise ValueError(f"blur_sigma must be >= 0, got {blur_sigma}")
        self.top_fraction = float(top_fraction)
        self.blur_sigma = float(blur_sigma)
        self.colour = bool(colour)

    def _intensity(self, frames):
        """uint8 frames -> blurred ``[n, h, w, channels]`` in [0, 1] (3 channels or grey)."""
        image = ops.cast(frames, "float32") / 255.0
        if not self.colour:
            image = ops.mean(image, axis=-1, keepdims=True)
        if self.blur_sigma == 0.0:
            return image
        radius = max(1, int(round(2 * self.blur_sigma)))
        offsets = np.arange(-radius, radius + 1, dtype=np.float32)
        line = np.exp(-0.5 * (offsets / self.blur_sigma) ** 2)
        kernel = np.outer(line, line) / np.outer(line, line).sum()
        channels = image.shape[-1]
        kernel = np.repeat(kernel[:, :, None, None], channels, axis=2)  # one per channel
        return ops.depthwise_conv(image, kernel, padding="same")

    def call(self, frames, previous_frames=None):
        clip = previous_frames is None
        if clip:
            num_frames = frames.shape[1]
            frame_shape = tuple(frames.shape[2:])
            current = ops.reshape(frames, (-1, *frame_shape))  # [batch * time, h, w, 3]
            shifted = ops.concatenate(
                [ops.zeros_like(frames[:, :1]), frames[:, :-1]], axis=1
            )  # black before the first frame, as a streaming model starts
            previous = ops.reshape(shifted, (-1, *frame_shape))
        else:
            current, previous = frames, previous_frames
        height, width = current.shape[1], current.shape[2]
        now, before = self._intensity(current), self._intensity(previous)
        channels = now.shape[-1]
        change = now - before  # [n, h, w, channels]
        gradient_x, gradient_y = _central_gradients((now + before) / 2.0)
        pixels = height * width
        # The pixels that changed most (in any channel): weight 1 from the k-th largest change
        # up, falling linearly to 0 at 90% of it. A hard cut makes the features jump when
        # rounding moves a pixel across the threshold (many pixels nearly tie there), and
        # Keras, the SavedModel and LiteRT round differently; the ramp keeps them together.
        # (On 600 turning clips the curl's sign was as often right as with the hard cut.)
        largest = ops.reshape(ops.max(ops.abs(change), axis=-1), (-1, pixels))  # [n, pixels]
        k = max(1, int(round(self.top_fraction * pixels)))
        threshold = ops.top_k(largest, k)[0][:, -1:]  # [n, 1]
        ramp = 0.1 * threshold + 1e-6
        weight = ops.clip((largest - threshold + ramp) / ramp, 0.0, 1.0)
        # One equation per pixel and channel: [n, pixels * channels], channels innermost.
        every_channel = np.ones((1, 1, channels), np.float32)
        weight = ops.reshape(weight[:, :, None] * every_channel, (-1, pixels * channels))
        change, gradient_x, gradient_y = (
            ops.reshape(t, (-1, pixels * channels)) for t in (change, gradient_x, gradient_y)
        )
        # Positions in [-1, 1], centred on the change.
        rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
        x = np.repeat(((columns - (width - 1) / 2) / (width / 2)).reshape(1, -1), channels, axis=1)
        y = np.repeat(((rows - (height - 1) / 2) / (height / 2)).reshape(1, -1), channels, axis=1)
        x, y = ops.convert_to_tensor(x), ops.convert_to_tensor(y)
        total = ops.sum(weight, axis=-1, keepdims=True) + 1e-6  # 0 for a still scene
        x = x - ops.sum(weight * x, axis=-1, keepdims=True) / total
        y = y - ops.sum(weight * y, axis=-1, keepdims=True) / total
        basis = [gradient_x, gradient_x * x, gradient_x * y, gradient_y, gradient_y * x]
        basis.append(gradient_y * y)
        weighted = [weight * b for b in basis]
        normal = [[ops.sum(weighted[i] * basis[j], axis=-1) for j in range(6)] for i in range(6)]
        right = [-ops.sum(w * change, axis=-1) for w in weighted]
        a, b, c, d, e, f = _solve_symmetric(normal, right)  # each [n]
        # Pixels a frame for the shift; per half-frame for the rest (a turn of 10 degrees a
        # frame measures a curl of about 1.4 here).
        motion = ops.stack([a, d, b + f, e - c, b - f, c + e])
        motion = ops.clip(ops.transpose(motion), -5.0, 5.0)  # [n, 6]
        if clip:
            return ops.reshape(motion, (-1, num_frames, len(MOTION_FEATURES)))
        return motion

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "top_fraction": self.top_fraction,
            "blur_sigma": self.blur_sigma,
            "colour": self.colour,
        }


def _solve_symmetric(matrix: list[list], right: list) -> list:
    """Solves the symmetric positive semi-definite systems ``matrix @ x = right``, unrolled.

    `matrix` is n x n entries and `right` n entries, each a ``[batch]`` tensor. A ridge of
    1e-4 of the mean diagonal (plus a tiny constant) keeps a frame with no change solvable:
    its answer is then zero motion. Gaussian elimination without pivoting is stable for such
    a matrix.
    """
    size = len(right)
    scale = sum(matrix[i][i] for i in range(size)) / size
    ridge = 1e-4 * scale + 1e-9
    rows = [[matrix[i][j] + (ridge if i == j else 0.0) for j in range(size)] for i in range(size)]
    right = list(right)
    for pivot in range(size):
        for row in range(pivot + 1, size):
            factor = rows[row][pivot] / rows[pivot][pivot]
            for column in range(pivot, size):
                rows[row][column] = rows[row][column] - factor * rows[pivot][column]
            right[row] = right[row] - factor * right[pivot]
    solution = [None] * size
    for row in reversed(range(size)):
        known = sum(rows[row][column] * solution[column] for column in range(row + 1, size))
        solution[row] = (right[row] - known) / rows[row][row]
    return solution


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
    if config.global_motion:
        motion = GlobalMotion(
            blur_sigma=config.motion_blur_sigma, colour=config.motion_colour, name="global_motion"
        )(frames)  # [batch, time, 6]
        x = keras.layers.Concatenate(name="frame_and_motion")([x, motion])
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
