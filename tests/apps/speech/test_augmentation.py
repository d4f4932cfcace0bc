"""Waveform augmentation draws afresh every epoch, from (seed, epoch) alone (exact resume)."""

import numpy as np
import pytest
import tensorflow as tf

from apps.speech import augment, data
from apps.speech.app import SpeechApp
from apps.speech.config import SpeechConfig
from apps.speech.runtime import TRANSCRIPTION_SAMPLES
from shared.config import resolve_config
from shared.data.splits import Splits
from shared.training import training_epoch

ROWS = 12


@pytest.fixture
def splits():
    """Tiny splits of one tone: shuffling leaves a batch as it was, augmentation does not."""
    tones = 0.3 * np.sin(np.arange(data.CLIP_SAMPLES) / 7.0).astype(np.float32)
    keywords = {
        "audio": np.stack([tones] * ROWS),
        "label": np.arange(ROWS) % len(data.LABELS),
    }
    phrase_texts = ["yes", "no", "up", "down"]
    phrases = Splits(
        train={"audio": [np.tile(tones, 2)] * 4, "text": phrase_texts},
        validation={"audio": [np.tile(tones, 2)] * 4, "text": phrase_texts},
        test={"audio": [], "text": []},
    )
    return Splits(keywords, keywords, keywords, info={"transcription": phrases})


def _config(**overrides) -> SpeechConfig:
    settings = ["batch_size=4", "transcription_batch_size=2", "noise_probability=0.9"]
    settings += [f"{name}={value}" for name, value in overrides.items()]
    return resolve_config(SpeechConfig, "quick", settings)


def _epoch(dataset, epoch: int) -> list[dict]:
    """The training inputs of `epoch`, in order."""
    training_epoch().assign(epoch)
    return [inputs for inputs, _ in dataset.as_numpy_iterator()]


def _same(first: list[dict], second: list[dict], key: str) -> bool:
    return len(first) == len(second) and all(
        np.array_equal(a[key], b[key]) for a, b in zip(first, second, strict=True)
    )


def test_each_epoch_hears_new_augmentation_and_a_resumed_epoch_the_same(splits):
    app = SpeechApp()
    config = _config()
    try:
        train = app._dataset(config, splits, "train", training=True)
        assert int(train.cardinality()) == ROWS // 4  # an epoch is still the keyword batches
        epoch_0, epoch_1 = _epoch(train, 0), _epoch(train, 1)
        assert len(epoch_0) == ROWS // 4
        assert epoch_0[0]["keyword_audio"].shape == (4, data.CLIP_SAMPLES)
        assert epoch_0[0]["phrase_audio"].shape == (2, TRANSCRIPTION_SAMPLES)
        assert not _same(epoch_0, epoch_1, "keyword_audio")
        assert not _same(epoch_0, epoch_1, "phrase_audio")
        # Rows of a batch, and the keyword and phrase batches, draw apart from each other.
        first = epoch_0[0]
        assert not np.array_equal(first["keyword_audio"][0], first["keyword_audio"][1])
        assert not np.allclose(
            first["keyword_audio"][0], first["phrase_audio"][0, : data.CLIP_SAMPLES]
        )
        # A resumed process builds its pipeline afresh and starts at epoch 1.
        fresh = app._dataset(config, splits, "train", training=True)
        assert _same(_epoch(fresh, 1), epoch_1, "keyword_audio")
        assert _same(_epoch(fresh, 1), epoch_1, "phrase_audio")
        assert _same(_epoch(train, 0), epoch_0, "keyword_audio")
        # Another seed draws other augmentation for the same epoch.
        other = app._dataset(_config(seed=config.seed + 1), splits, "train", training=True)
        assert not _same(_epoch(other, 0), epoch_0, "keyword_audio")
    finally:
        training_epoch().assign(0)


def test_validation_is_not_augmented(splits):
    app = SpeechApp()
    validation = app._dataset(_config(), splits, "validation", training=False)
    training_epoch().assign(0)
    inputs, _ = next(iter(validation.as_numpy_iterator()))
    np.testing.assert_array_equal(inputs["keyword_audio"], splits.validation["audio"][:4])


# --- each augmentation alone: seeded, shapes and levels as claimed (apps/speech/augment.py) ---


def _word(seed: int = 0) -> np.ndarray:
    """Two clips of a 'word': a 300 ms vowel-like harmonic tone (200 Hz) in one second."""
    time = np.arange(data.CLIP_SAMPLES) / data.SAMPLE_RATE
    tone = sum(np.sin(2 * np.pi * 200 * k * time) / k for k in range(1, 20))
    envelope = ((time > 0.3) & (time < 0.6)).astype(np.float64)
    clip = (0.3 * tone * envelope).astype(np.float32)
    noise = np.random.default_rng(seed).normal(0, 1e-3, clip.shape).astype(np.float32)
    return np.stack([clip, clip + noise])


def _column(values) -> tf.Tensor:
    return tf.constant(np.asarray(values, np.float32)[:, None])


def _spectrum_centroid(audio: np.ndarray) -> np.ndarray:
    power = np.abs(np.fft.rfft(audio, axis=-1)) ** 2
    frequency = np.fft.rfftfreq(audio.shape[-1], 1 / data.SAMPLE_RATE)
    return (power * frequency).sum(-1) / power.sum(-1)


def _active_seconds(audio: np.ndarray) -> np.ndarray:
    return (np.abs(audio) > 0.01).sum(-1) / data.SAMPLE_RATE


def test_change_speed_shortens_and_raises():
    clips = _word()
    out = augment.change_speed(tf.constant(clips), _column([1.25, 0.8])).numpy()
    assert out.shape == clips.shape
    duration = _active_seconds(out) / _active_seconds(clips)
    assert duration[0] == pytest.approx(0.8, abs=0.02) and duration[1] == pytest.approx(
        1.25, abs=0.03
    )
    ratio = _spectrum_centroid(out) / _spectrum_centroid(clips)
    assert ratio[0] == pytest.approx(1.25, rel=0.05) and ratio[1] == pytest.approx(0.8, rel=0.05)
    same = augment.change_speed(tf.constant(clips), _column([1.0, 1.0])).numpy()
    np.testing.assert_allclose(same, clips, atol=1e-6)


def _peak_hz(audio: np.ndarray) -> np.ndarray:
    power = np.abs(np.fft.rfft(audio, axis=-1)) ** 2
    return np.fft.rfftfreq(audio.shape[-1], 1 / data.SAMPLE_RATE)[power.argmax(-1)]


def test_warp_spectrum_moves_frequencies_and_keeps_timing():
    clips = _word()
    out = augment.warp_spectrum(tf.constant(clips), _column([1.1, 0.9])).numpy()
    assert out.shape == clips.shape
    # The 200 Hz fundamental (the strongest partial) moves to 220 and 180 Hz.
    np.testing.assert_allclose(_peak_hz(out), [220.0, 180.0], atol=3.0)
    level = np.sqrt(np.mean(out**2, -1)) / np.sqrt(np.mean(clips**2, -1))
    assert np.all((level > 0.5) & (level < 1.5))
    np.testing.assert_allclose(_active_seconds(out), _active_seconds(clips), atol=0.03)
    same = augment.warp_spectrum(tf.constant(clips), _column([1.0, 1.0])).numpy()
    assert np.abs(same - clips)[:, 512:].max() < 5e-3  # the phase, accumulated, drifts a little


def test_room_impulse_responses_decay_as_drawn():
    first = augment.room_impulse_responses(4, np.random.default_rng(3), rt60=(0.4, 0.4))
    again = augment.room_impulse_responses(4, np.random.default_rng(3), rt60=(0.4, 0.4))
    np.testing.assert_array_equal(first, again)  # seeded
    assert first.shape == (4, 8000) and first.dtype == np.float32
    assert np.all(first[:, 0] >= 1.0 - 0.05)  # the direct path
    # 60 dB in 0.4 s: the tail's energy falls ~30 dB from the first to the third 100 ms.
    energy = [np.sum(first[:, 1 + a : b] ** 2) for a, b in ((0, 1600), (3200, 4800))]
    assert 10 * np.log10(energy[0] / energy[1]) == pytest.approx(30, abs=6)


def test_reverberate_spreads_the_word_and_keeps_the_level():
    clips = _word()
    rooms = augment.room_impulse_responses(2, np.random.default_rng(0), rt60=(0.6, 0.6))
    out = augment.reverberate(tf.constant(clips), tf.constant(rooms)).numpy()
    assert out.shape == clips.shape
    rms = np.sqrt(np.mean(out**2, -1)) / np.sqrt(np.mean(clips**2, -1))
    np.testing.assert_allclose(rms, 1.0, rtol=1e-3)
    after = slice(int(0.65 * data.SAMPLE_RATE), int(0.8 * data.SAMPLE_RATE))  # past the word
    assert np.all(np.abs(clips[0, after]).max() < 1e-6 < np.abs(out[:, after]).max(-1))


def test_band_limit_and_mu_law():
    clips = _word()
    out = augment.band_limit(tf.constant(clips), _column([300, 300]), _column([3400, 3400]))
    power = np.abs(np.fft.rfft(out.numpy(), axis=-1)) ** 2
    frequency = np.fft.rfftfreq(clips.shape[-1], 1 / data.SAMPLE_RATE)
    kept = power[:, (frequency > 400) & (frequency < 3300)].sum(-1)
    assert np.all(power[:, (frequency < 200) | (frequency > 3500)].sum(-1) < 1e-6 * kept)
    coded = augment.mu_law(tf.constant(clips)).numpy()
    assert len(np.unique(coded)) <= 256  # 8 bits
    error = np.sqrt(np.mean((coded - clips) ** 2)) / np.sqrt(np.mean(clips**2))
    assert 1e-4 < error < 0.05  # about 38 dB SNR, as G.711


def test_babble_is_other_clips_at_unit_level():
    clips = np.stack([_word()[0], 0.5 * _word()[0][::-1], 0.2 * _word()[0]])
    out = augment.babble(tf.constant(clips), tf.constant([[0, 0, 0]] * 3, tf.int32)).numpy()
    assert out.shape == clips.shape
    np.testing.assert_allclose(np.sqrt(np.mean(out**2, -1)), 1.0, rtol=1e-4)
    # Clip 0 hears clips 2, 1 and 0 (the batch rolled by 1, 2, 3): with no shift, their sum.
    expected = clips[2] + clips[1] + clips[0]
    np.testing.assert_allclose(out[0], expected / np.sqrt(np.mean(expected**2)), atol=1e-5)


AUGMENTATIONS = {
    "speed_probability": 1.0,
    "vtlp_probability": 1.0,
    "reverb_probability": 1.0,
    "babble_probability": 1.0,
    "channel_probability": 1.0,
    "codec_probability": 1.0,
}


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_each_augmentation_is_seeded_and_changes_the_audio(name):
    clips = tf.constant(np.concatenate([_word(), _word(1)[::-1]]))
    base = ["noise_probability=0", "max_shift_ms=0", "gain_db=0,0"]
    plain = resolve_config(SpeechConfig, "quick", base)
    config = resolve_config(SpeechConfig, "quick", [*base, f"{name}=1.0"])
    app = SpeechApp()
    value = tf.constant(7, tf.int64)
    untouched = app._augmenter(plain, data.CLIP_SAMPLES, salt=0)(clips, value).numpy()
    np.testing.assert_allclose(untouched, clips.numpy(), atol=1e-6)  # every step off
    out = app._augmenter(config, data.CLIP_SAMPLES, salt=0)(clips, value).numpy()
    again = app._augmenter(config, data.CLIP_SAMPLES, salt=0)(clips, value).numpy()
    np.testing.assert_array_equal(out, again)  # same seed, same audio
    assert out.shape == clips.shape and np.abs(out).max() <= 1.0
    assert not np.allclose(out, clips.numpy(), atol=1e-3)
    other = app._augmenter(config, data.CLIP_SAMPLES, salt=0)(clips, value + 1).numpy()
    if name != "codec_probability":  # mu-law draws nothing
        assert not np.allclose(out, other)


def test_every_augmentation_together_on_phrases():
    config = resolve_config(SpeechConfig, "quick", [f"{k}={v}" for k, v in AUGMENTATIONS.items()])
    phrases = tf.constant(np.tile(_word(), (2, 3)))  # [4, 48000]
    out = SpeechApp()._augmenter(config, TRANSCRIPTION_SAMPLES, salt=1)(
        phrases, tf.constant(3, tf.int64)
    )
    assert out.shape == (4, TRANSCRIPTION_SAMPLES) and np.all(np.isfinite(out.numpy()))
