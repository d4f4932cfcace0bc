import pytest

from apps.sentiment.config import SentimentConfig
from shared.config import resolve_config
from shared.errors import UserError


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["tfidf_ngrams=0,2"], "--set tfidf_ngrams=0,2: give one or more n-gram lengths"),
        (["tfidf_c_values=1,-4"], "--set tfidf_c_values=1.0,-4.0: give one or more C values"),
        (["cell=transformer"], "--set cell=transformer: choose from"),
        (["token_dropout_rate=1"], "--set token_dropout_rate=1.0: must be in"),
        (["epoch_metric_examples=-1"], "--set epoch_metric_examples=-1: must be 0 or more"),
    ],
)
def test_bad_settings_name_the_field(overrides, message):
    with pytest.raises(UserError, match=message.replace(".", r"\.")):
        resolve_config(SentimentConfig, "demo", overrides)


def test_the_demo_grid_is_the_small_one():
    """4 TF-IDF fits in the demo (1-2-grams, C 1 and 4, with and without class weights);
    the default preset keeps the full grid of 36."""
    demo = resolve_config(SentimentConfig, "demo")
    assert (demo.tfidf_ngrams, demo.tfidf_c_values) == ((2,), (1.0, 4.0))
    default = resolve_config(SentimentConfig, "default")
    assert len(default.tfidf_ngrams) * len(default.tfidf_c_values) * 2 == 36
