"""The per-epoch BLEU that `rnnapps bench` times is the app's own evaluation on the same pairs."""

import dataclasses

from apps.translation.app import TranslationApp
from apps.translation.config import TranslationConfig
from apps.translation.predictor import TranslationPredictor
from shared.config import resolve_config
from shared.data.sources import parse_source
from shared.training import set_seeds, validation_subset


def test_val_bleu_equals_evaluate_on_the_same_validation_pairs(tmp_path):
    app = TranslationApp()
    config = resolve_config(TranslationConfig, "quick", ["epoch_metric_examples=120"])
    set_seeds(config.seed)
    splits = app.load_data(config, parse_source(None))
    # Untrained: its long, wrong translations still share words with the references (BLEU
    # above 0), so a decode or scoring that differs from evaluate's shows.
    model = app.build_model(config, splits)
    measure = app.epoch_metrics(config, splits)
    logged = measure(model)["val_bleu"]

    model.save(tmp_path / "model.keras")
    (tmp_path / "config.json").write_text(config.to_json())
    (tmp_path / "vocabulary.json").write_text(app.tokenizers(config, splits).to_json())
    pairs = validation_subset(splits.validation, 120, config.split_seed)
    scores = app.evaluate(
        TranslationPredictor(tmp_path, "keras"), dataclasses.replace(splits, test=pairs), config
    )
    assert scores["count"] == 120
    assert logged > 0
    assert logged == scores["bleu"]
    assert measure(model)["val_bleu"] == logged  # the same pairs every epoch


def test_the_target_is_issue_5s_bleu_on_the_logged_column():
    app = TranslationApp()
    target = app.run_quality_target({})
    assert (target.metric, target.goal, target.mode) == ("val_bleu", 95.0, "max")
    assert (
        app.epoch_metrics(
            resolve_config(TranslationConfig, "quick", ["epoch_metric_examples=0"]), None
        )
        is None
    )
