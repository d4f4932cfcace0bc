"""Tests for the eSpeak NG synthesizer over ctypes."""

import numpy as np
import pytest

from shared.data.espeak import Espeak
from tests.shared.data.pitch import fundamental_frequency


@pytest.fixture(scope="module")
def speaker():
    return Espeak()


def test_lists_english_accents_and_variants(speaker):
    accents = speaker.accents("en")
    assert {"en", "en-us", "en-gb-scotland", "en-029"} <= set(accents)
    assert "en-shaw" not in accents
    assert {"f1", "f5", "m1", "m7", "croak", "whisper"} <= set(speaker.variants())
    voices = speaker.voices("en")
    assert "en-us+f3" in voices and "en-gb-scotland" in voices
    assert len(voices) == len(accents) * (len(speaker.variants()) + 1)


def test_synthesizes_a_word_as_float_audio(speaker):
    audio = speaker.synthesize("yes", "en-us", rate=175, pitch=50)
    assert speaker.sample_rate == 22050
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert 0.15 < len(audio) / speaker.sample_rate < 1.0
    assert 0.05 < np.abs(audio).max() <= 1.0


def test_rate_changes_duration_and_pitch_changes_frequency(speaker):
    slow = speaker.synthesize("seventeen", "en", rate=90)
    fast = speaker.synthesize("seventeen", "en", rate=350)
    assert len(slow) > 1.8 * len(fast)
    low = fundamental_frequency(speaker.synthesize("aaah", "en", pitch=30), speaker.sample_rate)
    high = fundamental_frequency(speaker.synthesize("aaah", "en", pitch=95), speaker.sample_rate)
    assert high > 1.3 * low


def test_voices_sound_different(speaker):
    female = speaker.synthesize("aaah", "en+f3", pitch=50)
    male = speaker.synthesize("aaah", "en+m3", pitch=50)
    rate = speaker.sample_rate
    assert fundamental_frequency(female, rate) > 1.3 * fundamental_frequency(male, rate)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"text": "yes", "voice": "xx-nope"}, "voice"),
        ({"text": "yes", "voice": "en+nope"}, "variant"),
        ({"text": "  "}, "text"),
        ({"text": "yes", "rate": 20}, "rate"),
        ({"text": "yes", "pitch": 101}, "pitch"),
    ],
)
def test_rejects_bad_arguments(speaker, kwargs, message):
    with pytest.raises(ValueError, match=message):
        speaker.synthesize(**kwargs)
    # A failed call leaves the synthesizer usable.
    assert len(speaker.synthesize("no", "en-us")) > 0
