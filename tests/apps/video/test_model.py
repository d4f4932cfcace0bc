"""The video model's pieces: layers, streaming step == full clip, LiteRT == Keras."""

import keras
import numpy as np
import pytest

from apps.video.app import motion_augmenter, shuffle_frames
from apps.video.config import VideoConfig
from apps.video.data import CLASSES
from apps.video.export import build_step_model, litert_models, step_state_shapes
from apps.video.model import FrameFeatures, LengthMask, PerFrame, build_model
from apps.video.predictor import keras_step_callable
from apps.video.runtime import stream_clip
from shared.export import audit_builtin_ops, convert_to_tflite
from shared.runtime.litert import LiteRTModel
from shared.runtime.streaming import StreamingSession
from shared.testing import check_layer

SMALL = dict(filters=(4, 8), frame_embedding_dim=8, units=6, dropout_rate=0.0)


def _clips(count=3, num_frames=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, num_frames, 16, 16, 3)).astype(np.uint8)


def _small_model(cell="gru", differences=True, num_frames=6):
    keras.utils.set_random_seed(1)
    config = VideoConfig(
        cell=cell, frame_differences=differences, motion_products=differences, **SMALL
    )
    model = build_model(config, num_classes=5, num_frames=num_frames, frame_shape=(16, 16))
    # Non-trivial batch-norm statistics, so the step model must reuse them exactly.
    for layer in model.get_layer("per_frame").layer.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(np.full(layer.moving_mean.shape, 0.1, "float32"))
            layer.moving_variance.assign(np.full(layer.moving_variance.shape, 0.5, "float32"))
    return model


def test_frame_features_scale_and_take_causal_differences(tmp_path):
    clips = _clips(2, 4)
    features = check_layer(
        lambda: FrameFeatures(motion_products=True, name="frame_features"),
        clips,
        tmp_path,
        expected_output_shape=(2, 4, 16, 16, 8),
        trainable=False,
    )
    scaled = clips / 255.0
    np.testing.assert_allclose(features[..., :3], scaled, atol=1e-6)
    np.testing.assert_allclose(features[:, 0, ..., 3:6], scaled[:, 0], atol=1e-6)  # minus black
    np.testing.assert_allclose(features[:, 1:, ..., 3:6], np.diff(scaled, axis=1), atol=1e-6)
    # One-frame mode (the step model) gives the clip's values for frame t.
    single = FrameFeatures(motion_products=True)(
        clips[:, 2], previous_frames=clips[:, 1].astype("float32")
    )
    np.testing.assert_allclose(np.asarray(single), features[:, 2], atol=1e-6)
    assert FrameFeatures(differences=False)(clips).shape == (2, 4, 16, 16, 3)
    assert FrameFeatures()(clips).shape == (2, 4, 16, 16, 6)
    with pytest.raises(ValueError, match="motion_products"):
        FrameFeatures(differences=False, motion_products=True)


@pytest.mark.parametrize("step", [1, -1])
@pytest.mark.parametrize("bright_object", [True, False])
def test_motion_products_point_against_the_motion_whatever_the_contrast(step, bright_object):
    # A soft blob moving `step` pixels along x per frame over a flat background.
    x = np.arange(32)
    frames = np.zeros((1, 2, 32, 32, 3), np.uint8)
    for t in range(2):
        blob = np.exp(-(((x - 16 - step * t) / 3.0) ** 2))[None, :, None]
        value = 40 + 180 * blob if bright_object else 220 - 180 * blob
        frames[0, t] = np.broadcast_to(value, (32, 32, 3)).astype(np.uint8)
    features = np.asarray(FrameFeatures(motion_products=True)(frames))[0, 1]
    flow_x, flow_y = features[..., 6].sum(), features[..., 7].sum()
    assert np.sign(flow_x) == -step and abs(flow_y) < 1e-3 * abs(flow_x)


def test_length_mask_marks_real_frames(tmp_path):
    mask = check_layer(
        lambda: LengthMask(5, name="mask"), np.array([1, 3, 5]), tmp_path, trainable=False
    )
    assert mask.tolist() == [
        [True, False, False, False, False],
        [True, True, True, False, False],
        [True, True, True, True, True],
    ]
    with pytest.raises(ValueError, match="num_frames"):
        LengthMask(0)


def test_per_frame_applies_the_layer_to_every_frame(tmp_path):
    inputs = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    check_layer(
        lambda: PerFrame(keras.layers.Dense(4, name="dense"), name="per_frame"),
        inputs,
        tmp_path,
        expected_output_shape=(2, 5, 4),
    )
    dense = keras.layers.Dense(4)
    dense.build((None, 3))
    layer = PerFrame(dense)
    np.testing.assert_allclose(
        np.asarray(layer(inputs)), np.asarray(dense(inputs.reshape(10, 3))).reshape(2, 5, 4)
    )


def test_padding_after_the_length_changes_nothing():
    model = _small_model()
    clips = _clips(2)
    lengths = np.array([4, 4], np.int32)
    noisy = clips.copy()
    noisy[:, 4:] = 255 - noisy[:, 4:]  # different "padding"
    a = np.asarray(model({"frames": clips, "length": lengths}))
    b = np.asarray(model({"frames": noisy, "length": lengths}))
    np.testing.assert_allclose(a, b, atol=1e-6)
    full = np.asarray(model({"frames": clips, "length": np.array([6, 6], np.int32)}))
    assert np.abs(full - a).max() > 1e-4  # the length is really used


@pytest.mark.parametrize("cell", ["gru", "lstm", "simple_rnn", "jordan", "indrnn"])
def test_stepping_frame_by_frame_equals_the_full_clip(cell):
    model = _small_model(cell)
    clips = _clips(3)
    lengths = np.array([6, 1, 4], np.int32)
    session = StreamingSession(
        keras_step_callable(build_step_model(model, batch_size=1)),
        step_state_shapes(model),
        "frame",
    )
    for clip, length in zip(clips, lengths, strict=True):
        streamed = stream_clip(session, clip, int(length))
        assert streamed.shape == (length, 5)
        for count in range(1, int(length) + 1):  # every prefix: a camera feed's answer
            full = model({"frames": clip[None], "length": np.array([count], np.int32)})
            np.testing.assert_allclose(streamed[count - 1], np.asarray(full)[0], atol=1e-5)


def test_step_model_without_differences_matches_too():
    model = _small_model(differences=False)
    clip = _clips(1)[0]
    session = StreamingSession(
        keras_step_callable(build_step_model(model)), step_state_shapes(model), "frame"
    )
    full = model({"frames": clip[None], "length": np.array([6], np.int32)})
    np.testing.assert_allclose(stream_clip(session, clip, 6)[-1], np.asarray(full)[0], atol=1e-5)


@pytest.mark.parametrize("cell", ["gru", "lstm", "indrnn"])
def test_litert_clip_and_step_models_equal_keras(cell):
    model = _small_model(cell)
    clips = _clips(2)
    lengths = np.array([6, 3], np.int32)
    expected = np.asarray(model({"frames": clips, "length": lengths}))
    graphs = litert_models(model)
    clip_runner = LiteRTModel(convert_to_tflite(graphs["model"]))
    step_content = convert_to_tflite(graphs["step"])
    assert "WHILE" not in audit_builtin_ops(step_content, "step")  # one step: no loop
    step_runner = LiteRTModel(step_content)
    assert sorted(step_runner.input_names) == ["frame", "previous_frame", "state"]
    shapes = {name: step_runner.input_shape(name) for name in ("previous_frame", "state")}
    session = StreamingSession(step_runner, shapes, "frame")
    for clip, length, reference in zip(clips, lengths, expected, strict=True):
        out = clip_runner(frames=clip[None], length=np.array([length]))["probabilities"][0]
        np.testing.assert_allclose(out, reference, atol=1e-5)
        streamed = stream_clip(session, clip, int(length))[-1]
        np.testing.assert_allclose(streamed, reference, atol=1e-4)


def test_shuffled_control_keeps_frames_and_breaks_order():
    clips = np.arange(2 * 16, dtype=np.uint8).reshape(2, 16, 1, 1, 1) * np.ones(
        (1, 1, 2, 2, 3), np.uint8
    )
    lengths = np.array([16, 5])
    shuffled = shuffle_frames(clips, lengths, seed=3)
    for index, length in enumerate(lengths):
        assert sorted(shuffled[index, :length, 0, 0, 0]) == sorted(clips[index, :length, 0, 0, 0])
        np.testing.assert_array_equal(shuffled[index, length:], clips[index, length:])
    assert not np.array_equal(shuffled[0], clips[0])
    np.testing.assert_array_equal(shuffled, shuffle_frames(clips, lengths, seed=3))


def test_augmenter_swaps_labels_with_the_motion():
    import tensorflow as tf

    # A bright dot moving right along the top row, over 4 real frames and 2 of padding.
    frames = np.zeros((6, 8, 8, 3), np.uint8)
    for t in range(4):
        frames[t, 0, t + 2] = 255
    right = CLASSES.index("move_right")
    dataset = tf.data.Dataset.from_tensors(({"frames": frames, "length": np.int32(4)}, right))
    augment = motion_augmenter(list(CLASSES), seed=0)
    seen = set()
    for inputs, label in augment(dataset.repeat(40)):
        clip = inputs["frames"].numpy()
        assert clip[4:].max() == 0  # padding stays at the end
        first, last = np.argwhere(clip[0, ..., 0])[0], np.argwhere(clip[3, ..., 0])[0]
        expected = "move_right" if last[1] > first[1] else "move_left"
        assert CLASSES[int(label)] == expected
        seen.add(expected)
    assert seen == {"move_right", "move_left"}


def test_a_cell_keras_lacks_trains_a_step():
    model = _small_model("indrnn")
    recurrent = model.get_layer("recurrent")
    before = [np.array(w) for w in recurrent.trainable_weights]
    inputs = {"frames": _clips(), "length": np.array([6, 4, 2], np.int32)}
    loss = model.train_on_batch(inputs, np.array([0, 1, 2]))
    assert np.isfinite(np.atleast_1d(loss)[0])
    after = [np.array(w) for w in recurrent.trainable_weights]
    assert any(not np.allclose(a, b) for a, b in zip(before, after, strict=True))


def _moving_shape(step, background=(90, 90, 90), colour=(255, 255, 255)) -> np.ndarray:
    """An ell (no symmetry) of `colour` on `background`, 8 frames, each made by `step(image, t)`."""
    from PIL import Image

    frames = []
    for t in range(8):
        image = Image.new("RGB", (64, 64), background)
        shape = Image.new("L", (64, 64), 0)
        shape.paste(255, (22, 18, 30, 46))  # the upright stroke
        shape.paste(255, (22, 38, 42, 46))  # the foot
        shape = step(shape, t)
        image.paste(colour, (0, 0), shape)
        frames.append(np.asarray(image))
    return np.stack(frames)[None]  # [1, 8, 64, 64, 3]


@pytest.mark.parametrize("colour", [False, True])
@pytest.mark.parametrize(
    ("step", "feature", "sign"),
    [
        # Pillow turns anticlockwise for positive angles; the curl is positive clockwise.
        (lambda shape, t: shape.rotate(-8 * t, resample=2, center=(32, 32)), "curl", 1),
        (lambda shape, t: shape.rotate(8 * t, resample=2, center=(32, 32)), "curl", -1),
        (lambda shape, t: shape.transform(shape.size, 0, (1, 0, -2 * t, 0, 1, 0)), "shift_x", 1),
        (lambda shape, t: shape.transform(shape.size, 0, (1, 0, 0, 0, 1, 2 * t)), "shift_y", -1),
    ],
)
def test_global_motion_signs_turns_and_shifts(step, feature, sign, colour):
    from apps.video.model import MOTION_FEATURES, GlobalMotion

    layer = GlobalMotion(colour=colour, blur_sigma=0.7)
    motion = np.asarray(layer(_moving_shape(step)))[0, 1:]  # after the first frame
    index = MOTION_FEATURES.index(feature)
    assert np.all(np.sign(motion[:, index]) == sign), motion[:, index]
    # The other motion is small beside the one made: a turn is not read as a shift.
    others = [i for i, name in enumerate(MOTION_FEATURES) if name in ("curl", "shift_x", "shift_y")]
    others.remove(index)
    assert np.median(np.abs(motion[:, index])) > 3 * np.median(np.abs(motion[:, others]))


def test_colour_motion_sees_a_turn_that_grey_cannot():
    from apps.video.model import MOTION_FEATURES, GlobalMotion

    # Purple-red on grey: the same grey level (the mean of the channels) as the background.
    clockwise = _moving_shape(
        lambda shape, t: shape.rotate(-8 * t, resample=2, center=(32, 32)),
        background=(100, 100, 100),
        colour=(160, 40, 100),
    )
    curl = MOTION_FEATURES.index("curl")
    grey = np.asarray(GlobalMotion(colour=False, blur_sigma=0.7)(clockwise))[0, 1:, curl]
    colour = np.asarray(GlobalMotion(colour=True, blur_sigma=0.7)(clockwise))[0, 1:, curl]
    assert np.all(colour > 0.1), colour
    assert np.median(np.abs(grey)) < 0.1 * np.median(colour), (grey, colour)


@pytest.mark.parametrize("colour", [False, True])
def test_global_motion_of_one_frame_equals_the_clip(colour):
    from apps.video.model import GlobalMotion

    clips = _clips(count=2, num_frames=5, seed=3)
    layer = GlobalMotion(top_fraction=0.2, colour=colour)
    whole = np.asarray(layer(clips))  # [2, 5, 6]
    previous = np.concatenate([np.zeros_like(clips[:, :1]), clips[:, :-1]], axis=1)
    for t in range(5):
        one = np.asarray(layer(clips[:, t], previous[:, t].astype(np.float32)))
        np.testing.assert_allclose(one, whole[:, t], atol=1e-5)


def test_global_motion_of_a_still_scene_is_zero():
    from apps.video.model import GlobalMotion

    still = np.repeat(_clips(count=1, num_frames=1, seed=4), 4, axis=1)
    motion = np.asarray(GlobalMotion(colour=True)(still))[0, 1:]
    assert np.all(np.isfinite(motion)) and np.abs(motion).max() < 1e-3
