"""The apps' configs reject counts below their minimum with one message (BaseConfig's
``require_at_least``)."""

import pytest

from apps.captioning.config import CaptioningConfig
from apps.text_generation.config import TextGenerationConfig
from apps.translation.config import TranslationConfig
from apps.video.config import VideoConfig
from shared.config import resolve_config
from shared.errors import UserError


@pytest.mark.parametrize(
    "config_class, overrides, message",
    [
        (CaptioningConfig, ["beam_width=0"], "--set beam_width=0: must be at least 1"),
        (CaptioningConfig, ["max_tokens=7"], "--set max_tokens=7: must be at least 8"),
        (TextGenerationConfig, ["sample_length=0"], "--set sample_length=0: must be at least 1"),
        (
            TextGenerationConfig,
            ["tokenizer=subword", "subword_vocabulary=4"],
            "--set subword_vocabulary=4: must be at least 8",
        ),
        (TranslationConfig, ["min_count=-1"], "--set min_count=-1: must be at least 1"),
        (
            TranslationConfig,
            ["target_max_tokens=3"],
            "--set target_max_tokens=3: must be at least 8",
        ),
        (VideoConfig, ["units=0"], "--set units=0: must be at least 1"),
    ],
)
def test_a_count_below_its_minimum_is_a_user_error(config_class, overrides, message):
    with pytest.raises(UserError) as caught:
        resolve_config(config_class, "quick", overrides)
    assert str(caught.value) == message
    resolve_config(config_class, "quick")  # the preset itself passes
