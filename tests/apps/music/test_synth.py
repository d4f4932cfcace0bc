"""The synthesiser: a WAV that soundfile decodes, as long as the tune, silent in its rests."""

from fractions import Fraction as F

import numpy as np
import pytest
import soundfile

from apps.music import synth
from apps.music.events import Note, Tune

TUNE = Tune(
    "C major",
    "3/4",
    [
        [Note(60, F(1)), Note(64, F(1, 2)), Note(67, F(1, 2)), Note(72, F(1), tied=True)],
        [Note(72, F(1)), Note(None, F(1)), Note(67, F(1, 3)), Note(64, F(1, 3)), Note(60, F(1, 3))],
    ],
)  # six quarter notes


@pytest.mark.parametrize(("tempo", "rate"), [(120, 22050), (90, 16000)])
def test_the_wav_decodes_with_the_expected_length(tmp_path, tempo, rate):
    path = synth.write_wav(tmp_path / "tune.wav", TUNE, tempo=tempo, sample_rate=rate)
    samples, read_rate = soundfile.read(path, dtype="int16")
    info = soundfile.info(path)
    assert (read_rate, info.channels, info.subtype) == (rate, 1, "PCM_16")
    assert len(samples) == round(6 * 60 / tempo * rate)
    np.testing.assert_array_equal(samples, synth.render(TUNE, tempo, rate))


def test_rests_are_silent_and_notes_sound_without_clipping():
    rate, tempo = 8000, 60  # one quarter note a second
    samples = synth.render(TUNE, tempo, rate).astype(np.int32)
    rest = samples[4 * rate : 5 * rate]  # the fifth quarter note is the rest
    assert np.all(rest == 0)
    assert np.abs(samples[: rate // 2]).max() > 10_000
    assert np.abs(samples).max() <= round(0.5 * 32767)
    # The tie: no fade between the two halves of the held C5 (quarter notes 3 and 4).
    held = np.abs(samples[int(2.9 * rate) : int(3.1 * rate)])
    assert held.max() > 3_000


def test_the_pitch_is_the_notes():
    rate = 16000
    tune = Tune("A major", "4/4", [[Note(69, F(4))]])
    samples = synth.render(tune, 60, rate).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples))
    assert np.argmax(spectrum) * rate / len(samples) == pytest.approx(440, abs=1)
    assert synth.frequency(81) == pytest.approx(880)


def test_silly_settings_are_refused():
    with pytest.raises(ValueError):
        synth.render(TUNE, tempo=0)
