"""The captioning model, its export graphs and its scores, without a training run."""

import io

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from apps.captioning import generator
from apps.captioning.app import (
    CaptioningApp,
    build_tokenizer,
    scene_objects,
    scene_relations,
    scene_scores,
)
from apps.captioning.config import CaptioningConfig
from apps.captioning.export import build_inference_models, litert_models
from apps.captioning.model import PositionEmbedding, build_model
from apps.captioning.serving import decode_image_bytes
from shared.config import resolve_config
from shared.data.sources import Source
from shared.errors import UserError
from shared.export import audit_builtin_ops, convert_to_tflite
from shared.preprocessing.image import load_image
from shared.runtime.litert import LiteRTModel
from shared.runtime.step_decoder import END_ID, START_ID, teacher_forcing
from shared.testing import check_layer

CAPTIONS = [
    ["a small red circle to the left of a blue square", "a red circle and a blue square"],
    ["there is a large green cross, a cyan diamond and a yellow circle"],
]


def tiny_config(**changes) -> CaptioningConfig:
    config = resolve_config(CaptioningConfig, "quick")
    config.min_count = 1  # the tiny caption list below has most words once
    for name, value in changes.items():
        setattr(config, name, value)
    return config


def tiny_model(config: CaptioningConfig):
    keras.utils.set_random_seed(0)
    tokenizer = build_tokenizer(CAPTIONS, config)
    return build_model(config, tokenizer.vocabulary_size), tokenizer


def test_position_embedding_layer(tmp_path):
    output = check_layer(
        lambda: PositionEmbedding(name="positions"),
        np.random.default_rng(0).normal(size=(2, 6, 4)).astype("float32"),
        tmp_path,
        expected_output_shape=(2, 6, 4),
    )
    assert not np.allclose(output, 0)
    with pytest.raises(ValueError, match="initializer_stddev"):
        PositionEmbedding(initializer_stddev=0.0)


def test_tokenizer_round_trips_captions_with_reserved_ids():
    config = tiny_config()
    tokenizer = build_tokenizer(CAPTIONS, config)
    text = CAPTIONS[1][0]
    assert tokenizer.decode(tokenizer.ids(text)) == text  # the comma comes back attached
    inputs, outputs = teacher_forcing(tokenizer, [text])
    length = len(tokenizer.ids(text))
    assert inputs[0, 0] == START_ID and outputs[0, length] == END_ID
    np.testing.assert_array_equal(inputs[0, 1 : length + 1], outputs[0, :length])


@pytest.mark.parametrize(
    ("cell", "attention"),
    [("gru", "bahdanau"), ("lstm", "luong"), ("indrnn", "bahdanau"), ("jordan", "luong")],
)
def test_step_by_step_equals_teacher_forced(cell, attention):
    config = tiny_config(cell=cell, attention=attention)
    model, tokenizer = tiny_model(config)
    images = generator.generate_split("test", 2, seed=5)["image"]
    decoder_inputs, _ = teacher_forcing(tokenizer, [CAPTIONS[0][0], CAPTIONS[1][0]])
    full = np.asarray(model({"image": images, "decoder_input_ids": decoder_inputs}))
    encoder, step = build_inference_models(model, config)
    encoded = {k: np.asarray(v) for k, v in encoder(images).items()}
    names = ["state_h", "state_c"] if cell == "lstm" else ["state"]
    states = {name: encoded[name] for name in names}
    for position in range(decoder_inputs.shape[1]):
        out = step(
            {"previous_token": decoder_inputs[:, position], "regions": encoded["regions"]} | states
        )
        np.testing.assert_allclose(np.asarray(out["logits"]), full[:, position], atol=1e-5)
        weights = np.asarray(out["attention"])
        assert weights.shape == (2, 64)
        np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-5)
        states = {name: np.asarray(out[f"new_{name}"]) for name in names}


@pytest.mark.parametrize("cell", ["gru", "lstm"])  # an LSTM step has two states to carry
def test_litert_step_models_are_builtin_and_match_keras(cell):
    config = tiny_config(cell=cell)
    model, _ = tiny_model(config)
    models = litert_models(model, config)
    image = generator.generate_split("test", 1, seed=9)["image"]
    contents = {name: convert_to_tflite(keras_model) for name, keras_model in models.items()}
    for name, content in contents.items():
        ops = audit_builtin_ops(content, name)
        assert ("CONV_2D" if name == "encoder" else "SOFTMAX") in ops
    encoder, step = LiteRTModel(contents["encoder"]), LiteRTModel(contents["decoder_step"])
    assert encoder.input_shape("image") == (1, 64, 64, 3)
    encoded = encoder(image=image)
    expected = {k: np.asarray(v) for k, v in models["encoder"](image).items()}
    for key, value in expected.items():
        np.testing.assert_allclose(encoded[key], value, atol=1e-5)
    inputs = {"previous_token": np.array([START_ID]), "regions": encoded["regions"]}
    for name in ["state_h", "state_c"] if cell == "lstm" else ["state"]:
        inputs[name] = encoded[name]
    out = step(**inputs)
    keras_out = models["decoder_step"](inputs)
    np.testing.assert_allclose(out["logits"], np.asarray(keras_out["logits"]), atol=1e-5)
    for name in ["state_h", "state_c"] if cell == "lstm" else ["state"]:
        np.testing.assert_allclose(
            out[f"new_{name}"], np.asarray(keras_out[f"new_{name}"]), atol=1e-5
        )
    np.testing.assert_allclose(out["attention"], np.asarray(keras_out["attention"]), atol=1e-6)


def _encode(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def test_in_graph_decoding_matches_the_host_loader():
    scene = generator.make_scene(4).image
    rgba = Image.fromarray(scene).convert("RGBA")
    rgba.putalpha(Image.fromarray(np.tile(np.arange(64, dtype=np.uint8) * 4, (64, 1))))
    cases = {
        "rgb png": _encode(Image.fromarray(scene)),
        "grey png": _encode(Image.fromarray(scene).convert("L")),
        "grey + alpha png": _encode(rgba.convert("LA")),
        "rgba png": _encode(rgba),
        "palette png": _encode(Image.fromarray(scene).convert("P")),
    }
    for label, encoded in cases.items():
        graph = decode_image_bytes(tf.constant(encoded)).numpy()
        host = load_image(encoded)
        # Composing over white rounds once on each side.
        assert np.abs(graph.astype(int) - host).max() <= 1, label
    big = Image.fromarray(scene).resize((256, 192), Image.Resampling.BICUBIC)
    graph = decode_image_bytes(tf.constant(_encode(big, "JPEG"))).numpy()
    host = load_image(_encode(big, "JPEG"))
    assert graph.shape == (64, 64, 3)
    assert np.abs(graph.astype(int) - host).mean() < 3.0  # resampled: close, not identical


def test_scene_scores_check_objects_sizes_and_relations():
    references = [
        [
            "a small red circle to the left of a blue square",
            "a blue square to the right of a red circle",
            "a large blue square and a red circle",
        ]
    ]
    assert scene_objects(references[0][0]) == {
        ("red", "circle"): {"small"},
        ("blue", "square"): set(),
    }
    assert scene_relations(references[0][1])[(("red", "circle"), ("blue", "square"))] == (
        "to the left of"
    )
    right = scene_scores(["a red circle to the left of a large blue square"], references)
    assert right["attribute_exact_match"] == 1.0 and right["relation_accuracy"] == 1.0
    assert right["relations_scored"] == 1
    wrong_size = scene_scores(["a large red circle to the left of a blue square"], references)
    assert wrong_size["attribute_exact_match"] == 0.0
    wrong_relation = scene_scores(["a red circle to the right of a blue square"], references)
    assert wrong_relation["attribute_exact_match"] == 1.0
    assert wrong_relation["relation_accuracy"] == 0.0
    missing = scene_scores(["a red circle"], references)
    assert missing["attribute_exact_match"] == 0.0
    assert (missing["object_precision"], missing["object_recall"]) == (1.0, 0.5)
    extra = scene_scores(["a red circle and a green cross and a blue square"], references)
    assert extra["attribute_exact_match"] == 0.0 and extra["object_precision"] == 2 / 3


def test_config_errors_name_the_field():
    with pytest.raises(UserError, match="cell=rnn"):
        resolve_config(CaptioningConfig, "quick", ["cell=rnn"])
    with pytest.raises(UserError, match="conv_filters=8,8"):
        resolve_config(CaptioningConfig, "quick", ["conv_filters=8,8"])


def test_mobilenet_backbone_needs_local_weights(tmp_path):
    config = tiny_config(backbone="mobilenet_v3_small")
    with pytest.raises(UserError, match="backbone_weights"):
        build_model(config, 10)
    # A weights file present on disk (here: the architecture's own random weights) is used.
    weights = tmp_path / "mobilenet_v3_small_no_top.weights.h5"
    keras.applications.MobileNetV3Small(
        input_shape=(64, 64, 3), include_top=False, weights=None
    ).save_weights(weights)
    config.backbone_weights = str(weights)
    model = build_model(config, 10)
    encoder, _ = build_inference_models(model, config)
    regions = encoder(np.zeros((1, 64, 64, 3), np.uint8))["regions"]
    assert tuple(regions.shape) == (1, 64, config.feature_dim)


def test_tfds_and_folder_sources_feed_the_model(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    monkeypatch.setenv("RNNAPPS_DATA", str(tmp_path / "cache"))
    app = CaptioningApp()
    config = tiny_config(train_size=6, batch_size=4)
    with tfds.testing.mock_data(num_examples=6):
        splits = app.load_data(config, Source("tfds", "coco_captions"))
    folder = tmp_path / "flickr" / "Images"
    folder.mkdir(parents=True)
    lines = []
    for index in range(10):
        Image.fromarray(generator.make_scene(index).image).save(folder / f"im{index}.jpg")
        lines += [
            f"im{index}.jpg#{k}\t{c}" for k, c in enumerate(generator.make_scene(index).captions)
        ]
    (folder.parent / "Flickr8k.token.txt").write_text("\n".join(lines) + "\n")
    flickr = app.load_data(config, Source("file", str(folder.parent)))
    for loaded in (splits, flickr):
        model = app.build_model(config, loaded)
        train, _ = app.make_datasets(config, loaded)
        inputs, targets, weights = next(iter(train))
        assert inputs["image"].dtype == tf.uint8 and inputs["image"].shape[1:] == (64, 64, 3)
        assert inputs["decoder_input_ids"].shape == targets.shape == weights.shape
        np.testing.assert_array_equal(inputs["decoder_input_ids"][:, 0], START_ID)
        loss = model.evaluate(train.take(1), verbose=0)[0]
        assert np.isfinite(loss)
    assert (
        flickr.info["tokenizer"].decode(
            flickr.info["tokenizer"].ids(generator.make_scene(0).captions[0])
        )
        == generator.make_scene(0).captions[0]
    )


def test_all_references_of_an_image_share_one_encoding():
    config = tiny_config()
    model, tokenizer = tiny_model(config)
    images = generator.generate_split("test", 2, seed=6)["image"]
    captions = [CAPTIONS[0][0], CAPTIONS[0][1], CAPTIONS[1][0], CAPTIONS[0][0]]
    decoder_inputs, _ = teacher_forcing(tokenizer, captions)
    shared = model({"image": images, "decoder_input_ids": decoder_inputs})  # 2 captions each
    repeated = model({"image": np.repeat(images, 2, axis=0), "decoder_input_ids": decoder_inputs})
    np.testing.assert_allclose(np.asarray(shared), np.asarray(repeated), atol=1e-5)
    assert not np.allclose(np.asarray(shared)[0], np.asarray(shared)[3])  # images differ
