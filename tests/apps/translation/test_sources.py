"""The app trains on every kind of source: TFDS (mocked) and a TSV file of pairs."""

import numpy as np
import pytest
import tensorflow as tf

from apps.translation.app import TranslationApp
from apps.translation.config import TranslationConfig
from shared.config import resolve_config
from shared.data.sources import parse_source

TED = {
    "train": [("olá mundo", "hello world"), ("obrigado", "thank you"), ("sim", "yes")] * 4,
    "validation": [("não", "no")],
    "test": [("bom dia", "good morning"), ("boa noite", "good night")],
}


def one_training_step(app, config, splits):
    model = app.build_model(config, splits)
    train, validation = app.make_datasets(config, splits)
    inputs, targets, weights = next(iter(train))
    # Batches are cut to their longest row; the loss ignores padding.
    assert inputs["decoder_input_ids"].shape == targets.shape == weights.shape
    assert np.all(inputs["decoder_input_ids"][:, 0] == 2)  # the start token
    history = model.fit(train, validation_data=validation, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    return model


def test_tfds_ted_source_trains(monkeypatch, tmp_path):
    import tensorflow_datasets as tfds

    def as_dataset(self, split, **kwargs):
        pairs = TED[str(split)]
        return tf.data.Dataset.from_tensor_slices(
            {"pt": [p for p, _ in pairs], "en": [e for _, e in pairs]}
        )

    app = TranslationApp()
    config = resolve_config(TranslationConfig, "quick")
    with tfds.testing.mock_data(as_dataset_fn=as_dataset):
        splits = app.load_data(config, parse_source("tfds:ted_hrlr_translate/pt_to_en"))
    assert splits.test["source"] == ["bom dia", "boa noite"]
    tokenizers = app.tokenizers(config, splits)
    assert "mundo" in tokenizers.source.vocabulary and "world" in tokenizers.target.vocabulary
    one_training_step(app, config, splits)


def test_tsv_file_source_trains_and_skips_over_long_pairs(tmp_path):
    lines = [f"Sentence number {i}.\tFrase número {i}.\tCC-BY 2.0 #{i}" for i in range(30)]
    lines.append(("very " * 40) + "long\tmuy larga")
    path = tmp_path / "spa.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    app = TranslationApp()
    config = resolve_config(TranslationConfig, "quick")
    splits = app.load_data(config, parse_source(str(path)))
    assert splits.source == f"file:{path}"
    tokenizers = app.tokenizers(config, splits)
    assert "##." in tokenizers.target.vocabulary  # the full stop is written attached
    columns = {
        "source": ["Sentence number 1.", ("very " * 40) + "long"],
        "target": ["Frase número 1.", "muy larga"],
        "kind": ["sentence", "sentence"],
    }
    kept = app._dataset(config, splits, columns, training=False)
    assert sum(int(batch[1].shape[0]) for batch in kept) == 1  # the over-long pair is left out
    one_training_step(app, config, splits)


def test_default_source_vocabulary_covers_every_test_unit(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNAPPS_DATA", str(tmp_path))
    app = TranslationApp()
    config = resolve_config(TranslationConfig, "quick")
    splits = app.load_data(config, parse_source(None))
    tokenizers = app.tokenizers(config, splits)
    for text in splits.test["target"]:
        assert 1 not in tokenizers.target.ids(text), text  # the target is always writable
    unknown = sum(1 in tokenizers.source.ids(text) for text in splits.test["source"])
    assert unknown <= len(splits.test["source"]) * 0.05
    assert all(
        len(tokenizers.source.units(t)) <= config.max_source_length for t in splits.test["source"]
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("cell=transformer", "cell=transformer"),
        ("beam_width=0", "beam_width=0"),
        ("epoch_metric_examples=-1", "epoch_metric_examples=-1"),
    ],
)
def test_bad_config_is_a_user_error(override, message):
    from shared.errors import UserError

    with pytest.raises(UserError, match=message):
        resolve_config(TranslationConfig, "quick", [override])
