"""Tests for audio loading, resampling, fitting and augmentation."""

import numpy as np
import pytest
import soundfile

from shared.errors import UserError
from shared.preprocessing import audio


def tone(frequency: float, seconds: float, sample_rate: int, amplitude: float = 0.5) -> np.ndarray:
    time = np.arange(int(seconds * sample_rate)) / sample_rate
    return (amplitude * np.sin(2 * np.pi * frequency * time)).astype(np.float32)


def peak_frequency(signal: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(signal))
    return float(np.fft.rfftfreq(len(signal), 1 / sample_rate)[np.argmax(spectrum)])


def spectral_slope(noise: np.ndarray) -> float:
    """Log-log slope of the mean power spectrum between 1% and 40% of the sample rate."""
    power = (np.abs(np.fft.rfft(noise, axis=-1)) ** 2).reshape(-1, noise.shape[-1] // 2 + 1)
    frequencies = np.fft.rfftfreq(noise.shape[-1])
    band = (frequencies > 0.01) & (frequencies < 0.4)
    return float(np.polyfit(np.log(frequencies[band]), np.log(power.mean(0)[band]), 1)[0])


# --- load_audio ---------------------------------------------------------------------------


def test_load_audio_makes_stereo_mono_and_resamples(tmp_path):
    left, right = tone(440, 0.5, 44100, 0.6), tone(440, 0.5, 44100, 0.2)
    path = tmp_path / "stereo.wav"
    soundfile.write(path, np.stack([left, right], axis=1), 44100, subtype="PCM_16")
    loaded = audio.load_audio(path, sample_rate=16000)
    assert loaded.dtype == np.float32 and loaded.ndim == 1
    assert abs(len(loaded) - 8000) <= 1
    assert abs(peak_frequency(loaded, 16000) - 440) < 5
    assert np.abs(loaded).max() == pytest.approx(0.4, abs=0.02)  # the mean of 0.6 and 0.2


def test_load_audio_reads_flac_at_its_own_rate(tmp_path):
    path = tmp_path / "clip.flac"
    soundfile.write(path, tone(1000, 1.0, 8000), 8000)
    loaded = audio.load_audio(path, sample_rate=16000)
    assert abs(len(loaded) - 16000) <= 1
    assert abs(peak_frequency(loaded, 16000) - 1000) < 5


def corrupt_header(path):
    soundfile.write(path, tone(440, 0.2, 16000), 16000)
    data = bytearray(path.read_bytes())
    data[8:16] = b"JUNKJUNK"  # "WAVEfmt " is what makes it a WAV file
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "make, problem",
    [
        (lambda path: None, "no such file"),
        (lambda path: path.mkdir(), "folder"),
        (lambda path: path.write_bytes(b""), "empty file"),
        (lambda path: path.write_text("just some text, not audio\n" * 20), "not a readable audio"),
        (corrupt_header, "not a readable audio"),
        (lambda path: soundfile.write(path, np.zeros(1600), 16000), "silent"),
        (lambda path: soundfile.write(path, np.zeros((0, 1)), 16000), "no samples"),
    ],
)
def test_load_audio_bad_files_raise_one_line_user_error(tmp_path, make, problem):
    path = tmp_path / "input.wav"
    make(path)
    with pytest.raises(UserError) as raised:
        audio.load_audio(path)
    message = str(raised.value)
    assert str(path) in message and problem in message and "\n" not in message


def test_load_audio_allows_silence_when_asked(tmp_path):
    path = tmp_path / "quiet.wav"
    soundfile.write(path, np.zeros(1600), 16000)
    assert not audio.load_audio(path, allow_silent=True).any()


# --- resampling and fitting ---------------------------------------------------------------


def test_resample_keeps_frequency_and_duration_for_clips_and_batches():
    clip = tone(1000, 1.0, 22050)
    single = audio.resample(clip, 22050, 16000)
    assert single.shape == (16000,) and abs(peak_frequency(single, 16000) - 1000) < 2
    batch = audio.resample(np.stack([clip, 0.5 * clip]), 22050, 16000)
    assert batch.shape == (2, 16000)
    np.testing.assert_allclose(batch[0], single, atol=1e-6)
    np.testing.assert_allclose(batch[1], 0.5 * single, atol=1e-6)


def test_trim_silence_keeps_only_the_sound():
    sample_rate = 16000
    signal = np.concatenate([np.zeros(8000), tone(300, 0.25, sample_rate), np.zeros(12000)])
    trimmed = audio.trim_silence(signal, sample_rate, margin_seconds=0.0)
    assert abs(len(trimmed) - 4000) <= 2 * sample_rate // 100
    assert np.abs(trimmed).max() == pytest.approx(0.5, abs=0.01)


def test_pad_or_crop_pads_centred_or_at_offset_and_crops_to_the_loudest_window():
    clip = np.ones(4, dtype=np.float32)
    assert audio.pad_or_crop(clip, 8).tolist() == [0, 0, 1, 1, 1, 1, 0, 0]
    assert audio.pad_or_crop(clip, 8, offset=4).tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    long = np.zeros(100, dtype=np.float32)
    long[70:75] = 1.0
    cropped = audio.pad_or_crop(long, 10)
    assert cropped.sum() == 5.0  # the whole burst is kept
    assert audio.pad_or_crop(long, 10, offset=0).sum() == 0.0
    with pytest.raises(ValueError, match="offset"):
        audio.pad_or_crop(clip, 8, offset=5)


# --- noise --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "color, slope", [("white", 0.0), ("pink", -1.0), ("brown", -2.0), ("blue", 1.0)]
)
def test_colored_noise_has_its_spectral_slope_and_unit_rms(color, slope):
    rng = np.random.default_rng(0)
    small = audio.colored_noise((16, 8192), color, rng)  # one long signal cut into rows
    large = audio.colored_noise((80, 16384), color, rng)  # random windows of the noise bank
    for noise in (small, large):
        assert abs(spectral_slope(noise) - slope) < 0.2
        np.testing.assert_allclose(np.sqrt(np.mean(noise**2, axis=-1)), 1.0, rtol=1e-3)
        assert noise.dtype == np.float32


def test_colored_noise_is_reproducible_from_the_generator():
    first = audio.colored_noise(1000, "pink", np.random.default_rng(3))
    again = audio.colored_noise(1000, "pink", np.random.default_rng(3))
    other = audio.colored_noise(1000, "pink", np.random.default_rng(4))
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    with pytest.raises(ValueError, match="color"):
        audio.colored_noise(10, "plaid", np.random.default_rng(0))


def test_background_noise_mixes_colours_differently_per_row():
    noise = audio.background_noise((64, 8192), np.random.default_rng(1))
    assert noise.shape == (64, 8192)
    np.testing.assert_allclose(np.sqrt(np.mean(noise**2, axis=-1)), 1.0, rtol=1e-3)
    slopes = [spectral_slope(row[None]) for row in noise]
    assert max(slopes) - min(slopes) > 1.0  # hissy rows and rumbling rows


def test_mix_at_snr_hits_the_requested_ratio_per_row():
    rng = np.random.default_rng(2)
    signal = np.stack([tone(440, 0.5, 16000), tone(880, 0.5, 16000, 0.1)])
    noise = audio.colored_noise(signal.shape, "white", rng)
    snr = np.array([0.0, 20.0])
    mixed = audio.mix_at_snr(signal, noise, snr)
    added = mixed - signal
    measured = 10 * np.log10(np.mean(signal**2, axis=-1) / np.mean(added**2, axis=-1))
    np.testing.assert_allclose(measured, snr, atol=1e-3)


# --- augmentation -------------------------------------------------------------------------


def test_time_shift_moves_each_row_within_the_limit():
    clips = np.zeros((200, 1000), dtype=np.float32)
    clips[:, 500] = 1.0
    shifted = audio.time_shift(clips, 100, np.random.default_rng(0))
    positions = np.argmax(shifted, axis=1)
    assert shifted.sum() == 200  # nothing lost, nothing wrapped around
    assert positions.min() >= 400 and positions.max() <= 600
    assert len(set(positions.tolist())) > 50
    assert np.array_equal(audio.time_shift(clips, 0, np.random.default_rng(0)), clips)
    edge = np.zeros((50, 10), dtype=np.float32)
    edge[:, 0] = 1.0
    # Shifting left pushes the impulse out; no sample wraps around to the end.
    assert audio.time_shift(edge, 10, np.random.default_rng(1))[:, 1:].sum() <= 50


def test_random_gain_scales_each_row_in_range_and_clips():
    clips = np.full((100, 50), 0.1, dtype=np.float32)
    louder = audio.random_gain(clips, np.random.default_rng(0), min_db=-6.0, max_db=6.0)
    gains_db = 20 * np.log10(louder[:, 0] / 0.1)
    assert gains_db.min() >= -6.0 - 1e-4 and gains_db.max() <= 6.0 + 1e-4
    assert gains_db.std() > 2.0
    assert np.all(louder == louder[:, :1])  # one gain per row
    loud = audio.random_gain(np.full(10, 0.9, np.float32), np.random.default_rng(0), 12, 12)
    assert np.all(loud == 1.0)


def test_add_background_noise_respects_probability_and_snr_range():
    rng = np.random.default_rng(0)
    clips = np.tile(tone(440, 0.25, 16000, 0.3), (40, 1))
    assert np.array_equal(audio.add_background_noise(clips, rng, probability=0.0), clips)
    noisy = audio.add_background_noise(clips, rng, snr_db=(10.0, 20.0), probability=1.0)
    added = noisy - clips
    snr = 10 * np.log10(np.mean(clips**2, axis=-1) / np.mean(added**2, axis=-1))
    assert snr.min() > 10.0 - 0.1 and snr.max() < 20.0 + 0.1


def test_augment_waveforms_is_seeded():
    clips = np.tile(tone(440, 0.25, 16000, 0.3), (8, 1))
    first = audio.augment_waveforms(clips, np.random.default_rng(5))
    again = audio.augment_waveforms(clips, np.random.default_rng(5))
    other = audio.augment_waveforms(clips, np.random.default_rng(6))
    assert first.shape == clips.shape and first.dtype == np.float32
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert np.abs(first).max() <= 1.0


def test_spec_augment_masks_whole_frames_and_bins():
    features = np.arange(1, 50 * 20 + 1, dtype=np.float32).reshape(50, 20)
    masked = audio.spec_augment(
        features,
        np.random.default_rng(0),
        time_masks=2,
        max_time_width=5,
        frequency_masks=1,
        max_frequency_width=4,
        mask_value=0.0,
    )
    assert features.min() > 0  # the input is untouched
    hidden = masked == 0
    assert np.array_equal(masked[~hidden], features[~hidden])
    full_frames = hidden.all(axis=1).sum()
    full_bins = hidden.all(axis=0).sum()
    assert 0 < full_frames <= 10 and 0 < full_bins <= 4
    # Every hidden cell lies in a hidden frame or a hidden bin.
    assert np.all(hidden == (hidden.all(axis=1)[:, None] | hidden.all(axis=0)[None, :]))


def test_spec_augment_gives_each_example_of_a_batch_its_own_masks():
    batch = np.ones((8, 40, 16), dtype=np.float32)
    masked = audio.spec_augment(batch, np.random.default_rng(1), mask_value=-1.0)
    patterns = {(m == -1.0).tobytes() for m in masked}
    assert len(patterns) > 1
    default = audio.spec_augment(batch * 3, np.random.default_rng(1))
    assert np.all(default == 3.0)  # the default mask value is the example's mean
