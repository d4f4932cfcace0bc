"""CausalFrames and LogMelSpectrogram: the log-mel front end every audio model computes in-graph."""

import numpy as np
import pytest

from shared.layers.causal_frames import CausalFrames
from shared.layers.log_mel_spectrogram import LogMelSpectrogram, mel_filterbank
from shared.testing import check_layer


def test_causal_frames_end_on_hop_boundaries(tmp_path):
    waveform = np.arange(2 * 1600, dtype=np.float32).reshape(2, 1600)
    frames = check_layer(
        lambda: CausalFrames(512, 320, name="frames"),
        waveform,
        tmp_path,
        expected_output_shape=(2, 5, 512),
        trainable=False,
    )
    padded = np.pad(waveform, ((0, 0), (192, 0)))
    for t in range(5):
        # Frame t is the 512 samples that end where hop t ends, zeros before the clip.
        np.testing.assert_array_equal(frames[:, t], padded[:, t * 320 : t * 320 + 512])


@pytest.mark.parametrize("frame_length, hop_length", [(100, 320), (700, 320), (320, 0)])
def test_causal_frames_checks_its_arguments(frame_length, hop_length):
    with pytest.raises(ValueError, match="frame_length|hop_length"):
        CausalFrames(frame_length, hop_length)


def test_mel_filterbank_is_triangles_covering_the_band():
    matrix = mel_filterbank(40, 512, 16000, 20.0, 8000.0)
    assert matrix.shape == (257, 40) and matrix.min() >= 0 and matrix.max() <= 1.0
    assert np.all(matrix.max(axis=0) > 0.5)  # no empty band
    peaks = matrix.argmax(axis=0)
    assert np.all(np.diff(peaks) >= 0)  # bands rise with frequency


def test_log_mel_matches_a_numpy_reference(tmp_path):
    rng = np.random.default_rng(0)
    frames = rng.standard_normal((2, 3, 512)).astype(np.float32)
    features = check_layer(
        lambda: LogMelSpectrogram(40, 16000, name="log_mel"),
        frames,
        tmp_path,
        expected_output_shape=(2, 3, 40),
        trainable=False,
    )
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(512) / 512)
    power = np.abs(np.fft.rfft(frames * window, axis=-1)) ** 2
    expected = np.log(power @ mel_filterbank(40, 512, 16000, 20.0, 8000.0) + 1e-6)
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-4)


def test_log_mel_of_a_tone_peaks_in_its_band():
    time = np.arange(512) / 16000
    tone = np.sin(2 * np.pi * 1000 * time).astype(np.float32)[None, None, :]
    features = np.asarray(LogMelSpectrogram(40, 16000, name="log_mel")(tone))[0, 0]
    centers = mel_filterbank(40, 512, 16000, 20.0, 8000.0).argmax(axis=0) * 16000 / 512
    assert abs(centers[features.argmax()] - 1000) < 150
    silence = np.asarray(LogMelSpectrogram(40, name="log_mel")(np.zeros((1, 1, 512), "float32")))
    np.testing.assert_allclose(silence, np.log(1e-6), rtol=1e-6)  # finite for digital silence


def test_log_mel_rejects_bad_arguments():
    with pytest.raises(ValueError, match="num_mel_bins"):
        LogMelSpectrogram(0)
    with pytest.raises(ValueError, match="max_frequency"):
        LogMelSpectrogram(40, 16000, max_frequency=9000)
    with pytest.raises(ValueError, match="power of two"):
        LogMelSpectrogram(40)(np.zeros((1, 1, 500), "float32"))


def test_int8_conversion_keeps_the_front_end_in_float():
    import keras

    from shared.export import convert_to_tflite
    from shared.runtime.litert import LiteRTModel

    waveform = keras.Input(batch_shape=(1, 16000), name="waveform")
    frames = CausalFrames(512, 320, name="frames")(waveform)
    model = keras.Model(waveform, {"features": LogMelSpectrogram(40, name="log_mel")(frames)})
    rng = np.random.default_rng(3)
    # Speech-like dynamic range: a loud burst in near silence.
    clip = (1e-4 * rng.standard_normal(16000)).astype(np.float32)
    clip[4000:8000] += 0.5 * np.sin(np.arange(4000) * 0.3).astype(np.float32)
    expected = np.asarray(model(clip[None])["features"])
    runner = LiteRTModel(convert_to_tflite(model, "int8"))
    np.testing.assert_allclose(runner(waveform=clip[None])["features"], expected, atol=1e-3)
