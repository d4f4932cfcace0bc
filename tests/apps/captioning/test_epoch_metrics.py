"""The per-epoch BLEU-4 that `rnnapps bench` times is the app's own evaluation on the same images."""

import dataclasses

from apps.captioning.app import CaptioningApp
from apps.captioning.config import CaptioningConfig
from apps.captioning.predictor import CaptionPredictor
from shared.config import resolve_config
from shared.data.sources import parse_source
from shared.training import set_seeds


def test_val_bleu4_equals_evaluate_on_the_same_validation_images(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNAPPS_DATA", str(tmp_path / "data"))
    app = CaptioningApp()
    config = resolve_config(CaptioningConfig, "quick")
    set_seeds(config.seed)
    splits = app.load_data(config, parse_source(None))
    # Untrained: its captions still share a few words with the references (BLEU-4 above 0),
    # so a decode or scoring that differs from evaluate's shows.
    model = app.build_model(config, splits)
    logged = app.epoch_metrics(config, splits)(model)["val_bleu4"]

    model.save(tmp_path / "model.keras")
    (tmp_path / "config.json").write_text(config.to_json())
    (tmp_path / "vocabulary.json").write_text(app.tokenizer(config, splits).to_json())
    # The quick preset's validation split is smaller than the subset: all of it is scored.
    validation = dataclasses.replace(splits, test=splits.validation, extra={})
    scores = app.evaluate(CaptionPredictor(tmp_path, "keras"), validation, config)
    assert scores["count"] == len(splits.validation["image"]) < config.epoch_metric_examples
    assert logged > 0
    assert logged == scores["bleu4"]
