"""The training model: a CNN encoder, an attentive recurrent decoder, teacher forcing.

    image [64, 64, 3] -> conv stages -> feature map [8, 8, feature_dim] + position embedding
        -> flattened to 64 "regions" (the attention memory) ----------------------------------+
        -> small 1x1 conv, flattened -> Dense -> decoder initial state                          |
    <start> + caption ids -> embedding -> GRU/LSTM decoder -> decoder outputs (queries)       |
                                          attention(query, regions) <-------------------------+
                                          [context; query] -> tanh combine -> logits

Show, Attend and Tell (Xu et al., 2015) attends over a CNN's spatial feature map; like the
translation app, the attention sits after the recurrence (Luong et al.'s placement), so the
recurrence runs over the whole caption at once in training, and one decoder step is exactly
"one cell step, then attention over the regions", which is what the on-device decoder-step
model computes. The initial state comes from the whole feature map flattened (not its mean):
a mean would forget where each object is, and "to the left of" needs exactly that.
"""

from __future__ import annotations

import pathlib

import keras
from keras import ops

from apps.captioning.config import CaptioningConfig
from apps.captioning.runtime import IMAGE_SIZE  # the runtime reads images at this size too
from shared.errors import UserError
from shared.layers import recurrent_layer, state_names
from shared.layers.bahdanau_attention import BahdanauAttention
from shared.layers.luong_attention import LuongAttention

FEATURE_SIZE = 8  # the feature map is 8x8: 64 regions to attend over
# keras.applications MobileNetV3Small: the block whose output has stride 8 (8x8 at 64x64).
MOBILENET_STRIDE8_LAYER = "expanded_conv_2_add"


@keras.saving.register_keras_serializable(package="rnnapps")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned vector to every position of a sequence of fixed length.

    Convolutions are translation-equivariant, so without it a region's features would not say
    where the region is, and an attention context could not tell left from right.

    Args:
        initializer_stddev: standard deviation of the normal initializer.

    Call arguments:
        inputs: [batch, positions, channels]; `positions` must be static.

    Example:
        >>> layer = PositionEmbedding(name="region_positions")
        >>> layer(np.zeros((2, 64, 16))).shape
        (2, 64, 16)
    """

    def __init__(self, initializer_stddev: float = 0.02, **kwargs):
        super().__init__(**kwargs)
        if initializer_stddev <= 0:
            raise ValueError(f"initializer_stddev must be > 0, got {initializer_stddev}")
        self.initializer_stddev = float(initializer_stddev)

    def build(self, input_shape):
        if input_shape[1] is None or input_shape[2] is None:
            raise ValueError(f"positions and channels must be static, got {input_shape}")
        self.embeddings = self.add_weight(
            shape=(int(input_shape[1]), int(input_shape[2])),
            initializer=keras.initializers.RandomNormal(stddev=self.initializer_stddev),
            name="embeddings",
        )
        self.built = True

    def call(self, inputs):
        return inputs + ops.cast(self.embeddings, inputs.dtype)[None]  # [batch, positions, ch]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"initializer_stddev": self.initializer_stddev})
        return config


@keras.saving.register_keras_serializable(package="rnnapps")
class RepeatRows(keras.layers.Layer):
    """Repeats each row of `inputs` so its batch matches `reference`'s (a whole multiple).

    Training encodes each image once and decodes all its reference captions against it:
    ``image`` [batch] with ``decoder_input_ids`` [batch * references] repeats every image's
    regions and initial state `references` times (row i serves captions i*k ... i*k + k - 1).
    With one caption per image it is the identity, so inference graphs never need it.

    Call arguments:
        inputs: [batch, ...].
        reference: [batch * k, ...].

    Example:
        >>> RepeatRows(name="per_caption")(np.ones((2, 3)), np.ones((6, 5))).shape
        (6, 3)
    """

    def call(self, inputs, reference):
        repeats = ops.shape(reference)[0] // ops.shape(inputs)[0]
        return ops.repeat(inputs, repeats, axis=0)

    def compute_output_shape(self, inputs_shape, reference_shape):
        return (reference_shape[0], *inputs_shape[1:])


def attention_layer(config: CaptioningConfig) -> keras.layers.Layer:
    if config.attention == "bahdanau":
        return BahdanauAttention(config.attention_units, name="attention")
    return LuongAttention(name="attention")


def _small_cnn(config: CaptioningConfig) -> keras.Model:
    """uint8 images [batch, 64, 64, 3] -> features [batch, 8, 8, last conv filters]."""
    image = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 3), dtype="uint8", name="image")
    x = keras.layers.Rescaling(1.0 / 255.0, name="rescale")(image)  # [batch, 64, 64, 3]
    for stage, filters in enumerate(config.conv_filters, start=1):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{stage}")(x)
        x = keras.layers.BatchNormalization(name=f"conv{stage}_norm")(x)
        x = keras.layers.ReLU(name=f"conv{stage}_relu")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{stage}")(x)  # halves the resolution
    # One more 3x3 at 8x8 widens each region's view to the neighbouring objects.
    x = keras.layers.Conv2D(
        config.conv_filters[-1], 3, padding="same", use_bias=False, name="conv4"
    )(x)
    x = keras.layers.BatchNormalization(name="conv4_norm")(x)
    x = keras.layers.ReLU(name="conv4_relu")(x)  # [batch, 8, 8, filters]
    return keras.Model(image, x, name="backbone")


def _mobilenet(config: CaptioningConfig) -> keras.Model:
    """A keras.applications MobileNetV3Small cut at stride 8, with weights from a local file.

    Keras cannot download weights on this machine, so the option needs a weights file that is
    already present (``--set backbone_weights=PATH``: the no-top ``.h5`` Keras publishes).
    """
    path = pathlib.Path(config.backbone_weights) if config.backbone_weights else None
    if path is None or not path.is_file():
        raise UserError(
            f"--set backbone_weights={config.backbone_weights!r}: backbone=mobilenet_v3_small "
            "needs its pretrained weights file on this machine (they cannot be downloaded here)"
        )
    full = keras.applications.MobileNetV3Small(
        input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3),
        include_top=False,
        weights=str(path),
        include_preprocessing=True,  # takes pixels in [0, 255]
    )
    image = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 3), dtype="uint8", name="image")
    cut = keras.Model(full.inputs, full.get_layer(MOBILENET_STRIDE8_LAYER).output)
    features = cut(ops.cast(image, "float32"))  # [batch, 8, 8, 24]
    return keras.Model(image, features, name="backbone")


def build_backbone(config: CaptioningConfig) -> keras.Model:
    return _mobilenet(config) if config.backbone == "mobilenet_v3_small" else _small_cnn(config)


def encode_image(config: CaptioningConfig, backbone: keras.Model, image) -> tuple:
    """The layers after the backbone: (regions [batch, 64, feature_dim], initial states)."""
    x = backbone(image)  # [batch, 8, 8, channels]
    x = keras.layers.Conv2D(config.feature_dim, 1, activation="relu", name="features")(x)
    summary = keras.layers.Conv2D(
        config.summary_channels, 1, activation="relu", name="summary_projection"
    )(x)  # [batch, 8, 8, summary_channels]
    summary = keras.layers.Flatten(name="summary_flatten")(summary)
    regions = keras.layers.Reshape(
        (FEATURE_SIZE * FEATURE_SIZE, config.feature_dim), name="regions_flatten"
    )(x)  # [batch, 64, feature_dim]
    regions = PositionEmbedding(name="region_positions")(regions)
    states = [
        keras.layers.Dense(config.decoder_units, activation="tanh", name=f"init_{name}")(summary)
        for name in state_names(config.cell)
    ]  # each [batch, decoder_units]
    return regions, states


def build_model(
    config: CaptioningConfig, vocabulary_size: int, steps_per_epoch: int | None = None
) -> keras.Model:
    """The compiled teacher-forced model.

    Inputs ``image`` uint8 [batch, 64, 64, 3] and ``decoder_input_ids`` [batch * k, time] (the
    start token, then the caption shifted right; k captions per image, consecutive rows);
    output ``logits`` [batch * k, time, vocabulary]. With `steps_per_epoch` and
    ``config.cosine_decay`` the learning rate decays along a cosine over the whole run.
    """
    image = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 3), dtype="uint8", name="image")
    decoder_input_ids = keras.Input(shape=(None,), dtype="int32", name="decoder_input_ids")
    regions, initial_state = encode_image(config, build_backbone(config), image)
    # Several captions per image in training: each image's code serves all of its captions.
    regions = RepeatRows(name="regions_per_caption")(regions, decoder_input_ids)
    initial_state = [
        RepeatRows(name=f"{name}_per_caption")(state, decoder_input_ids)
        for name, state in zip(state_names(config.cell), initial_state, strict=True)
    ]

    y = keras.layers.Embedding(vocabulary_size, config.embedding_dim, name="word_embedding")(
        decoder_input_ids
    )  # [batch, time, embedding]
    y = keras.layers.Dropout(config.dropout_rate, name="word_dropout")(y)
    decoder_outputs = recurrent_layer(
        config.cell, config.decoder_units, return_sequences=True, name="decoder"
    )(y, initial_state=initial_state)  # [batch, time, decoder_units]
    # The weights are unused here, but the decoder-step model needs the same call.
    context, _ = attention_layer(config)(
        decoder_outputs, regions, return_weights=True
    )  # [batch, time, feature_dim]
    combined = keras.layers.Concatenate(name="context_and_query")([context, decoder_outputs])
    combined = keras.layers.Dense(config.decoder_units, activation="tanh", name="combine")(combined)
    combined = keras.layers.Dropout(config.dropout_rate, name="combine_dropout")(combined)
    logits = keras.layers.Dense(vocabulary_size, name="logits")(combined)

    model = keras.Model(
        {"image": image, "decoder_input_ids": decoder_input_ids}, logits, name="captioning"
    )
    learning_rate = config.learning_rate
    if config.cosine_decay and steps_per_epoch:
        # A short run ends at a low rate instead of stopping mid-stride: a better last epoch.
        learning_rate = keras.optimizers.schedules.CosineDecay(
            config.learning_rate, decay_steps=config.epochs * steps_per_epoch, alpha=0.05
        )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="token_accuracy")],
    )
    return model
