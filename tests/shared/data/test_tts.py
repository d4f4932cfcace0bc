"""Tests for the offline speech engines behind one interface (shared/data/tts.py)."""

import numpy as np
import pytest

from shared.data import tts
from tests.shared.data.pitch import fundamental_frequency

FORBIDDEN = [
    ("flite", ""),
    ("flite", "cmu_us_bdl"),
    ("freetts", "kevin16"),
    ("mimic1", "ap"),
    ("festival", "kal_diphone"),
    ("festival", "kallpc16k"),
    ("festival", "cmu_us_kal_com_hts"),
    ("festival", "cmu_us_slt_arctic_hts"),
    ("festival", "cmu_us_awb_arctic_clunits"),
    ("festival", "CMU_US_RMS_ARCTIC_CLUNITS"),
    ("mimic3", "en_US/cmu-arctic_low#slt"),
    ("piper", "en_US-arctic-medium#awb"),
    ("rhvoice", "alan"),
    ("rhvoice", "slt"),
]
ALLOWED = [
    ("festival", "ked_diphone"),
    ("festival", "cmu_us_bdl_arctic_clunits"),
    ("festival", "cmu_us_clb_arctic_clunits"),
    ("mimic3", "en_US/cmu-arctic_low#ksp"),
    ("espeak", "en-us+klatt"),
    ("espeak", "en-gb-scotland+m3"),
    ("piper", "en_US-joe-medium"),
    ("kokoro", "jf_alpha"),
    ("sam", "little_robot"),
]


def available(name: str) -> tts.Engine:
    """The engine, or a skip naming what is missing."""
    reason = tts.unavailable().get(name)
    if reason:
        pytest.skip(f"{name} is not installed here: {reason}")
    return tts.engine(name)


def english_voice(engine: tts.Engine) -> str:
    voices = engine.voices()
    for preferred in ("ked_diphone", "en-us", "en-US", "paul", "sam"):
        if preferred in voices:
            return preferred
    return voices[0]


@pytest.mark.parametrize("engine_name, voice", FORBIDDEN)
def test_deny_list_refuses_the_held_out_engines_and_voices(engine_name, voice):
    assert tts.is_forbidden(engine_name, voice)
    with pytest.raises(ValueError, match="deny-list"):
        tts.check_allowed(engine_name, voice)


@pytest.mark.parametrize("engine_name, voice", ALLOWED)
def test_deny_list_lets_other_engines_and_arctic_speakers_through(engine_name, voice):
    assert not tts.is_forbidden(engine_name, voice)
    tts.check_allowed(engine_name, voice)


def test_a_forbidden_engine_cannot_be_opened():
    with pytest.raises(ValueError, match="deny-list"):
        tts.engine("flite")
    with pytest.raises(ValueError, match="unknown speech engine"):
        tts.engine("no-such-engine")


def test_an_installed_forbidden_festival_voice_is_hidden_and_refused(monkeypatch):
    # As if festvox-kallpc16k and festvox-us-slt-hts were installed beside ked.
    monkeypatch.setattr(tts.shutil, "which", lambda name: f"/usr/bin/{name}")
    engine = tts.FestivalEngine()
    engine.__dict__["_installed_voices"] = {
        "ked_diphone": "english",
        "kal_diphone": "english",
        "cmu_us_slt_arctic_hts": "english",
    }

    def never_run(*args, **kwargs):
        raise AssertionError("festival must not be started for a forbidden voice")

    monkeypatch.setattr(tts.subprocess, "run", never_run)
    assert engine.voices() == ["ked_diphone"]
    for voice in ("kal_diphone", "cmu_us_slt_arctic_hts"):
        with pytest.raises(ValueError, match="deny-list"):
            engine.synthesise("yes", voice)


def test_a_missing_engine_says_what_to_install(monkeypatch):
    monkeypatch.setattr(tts.shutil, "which", lambda name: None)
    with pytest.raises(tts.EngineUnavailable, match="apt-get install"):
        tts.FestivalEngine()
    assert "festival" in tts.unavailable()


@pytest.mark.parametrize("engine_name", list(tts.ENGINES))
def test_each_engine_says_yes_at_16khz(engine_name):
    engine = available(engine_name)
    voice = english_voice(engine)
    audio, sample_rate = engine.synthesise("yes", voice)
    assert sample_rate == tts.SAMPLE_RATE == 16_000
    assert audio.dtype == np.float32 and audio.ndim == 1
    # A one-syllable word: longer than 0.15 s, shorter than 1.5 s, loud, within [-1, 1].
    assert 0.15 < len(audio) / sample_rate < 1.5, len(audio) / sample_rate
    assert np.sqrt(np.mean(audio**2)) > 0.01
    assert np.abs(audio).max() <= 1.0


@pytest.mark.parametrize("engine_name", list(tts.ENGINES))
def test_each_engine_refuses_a_forbidden_voice_and_lists_none(engine_name):
    engine = available(engine_name)
    assert not [v for v in engine.voices() if tts.is_forbidden(engine_name, v)]
    with pytest.raises(ValueError, match="deny-list"):
        engine.synthesise("yes", "cmu_us_slt_arctic_hts")
    with pytest.raises(ValueError, match="unknown voice"):
        engine.synthesise("yes", "no-such-voice")


@pytest.mark.parametrize("engine_name", ["espeak", "festival", "pico", "dectalk", "sam", "piper"])
def test_a_faster_rate_gives_shorter_audio(engine_name):
    engine = available(engine_name)
    voice = english_voice(engine)
    slow, fast = (engine.synthesise("seven", voice, rate=r)[0] for r in (0.7, 1.5))
    assert len(fast) < 0.85 * len(slow)


def test_engines_without_pitch_control_say_so():
    for name in ("festival", "piper", "kokoro"):
        if name in tts.unavailable():
            continue
        engine = tts.engine(name)
        with pytest.raises(ValueError, match="cannot change pitch"):
            engine.synthesise("yes", english_voice(engine), pitch=1.3)


@pytest.mark.parametrize("engine_name", ["espeak", "pico", "dectalk", "sam"])
def test_a_higher_pitch_raises_the_fundamental(engine_name):
    engine = available(engine_name)
    voice = english_voice(engine)
    low, high = (engine.synthesise("no", voice, pitch=p)[0] for p in (0.8, 1.4))
    assert fundamental_frequency(high) > 1.15 * fundamental_frequency(low)


def test_festival_speaks_a_batch_in_one_process_in_order():
    engine = available("festival")
    words = ["yes", "stop", "go"]
    batch = engine.synthesise_many(words, "ked_diphone")
    singles = [engine.synthesise(word, "ked_diphone")[0] for word in words]
    assert [len(a) for a in batch] == [len(a) for a in singles]
    np.testing.assert_allclose(batch[1], singles[1], atol=1e-6)


def test_kokoro_reads_english_phonemes():
    engine = available("kokoro")
    assert engine.phonemes("yes") == "jˈɛs"
    assert engine.phonemes("right") == "ɹˈIt"  # the diphthong is one Kokoro symbol


def test_catalogue_lists_every_allowed_voice_once_with_metadata():
    catalogue = tts.catalogue()
    pairs = [(info.engine, info.voice) for info in catalogue]
    assert len(pairs) == len(set(pairs))
    assert {info.engine for info in catalogue} == {e.name for e in tts.engines()}
    assert not [pair for pair in pairs if tts.is_forbidden(*pair)]
    for info in catalogue:
        assert info.language and info.method


def test_pico_speaks_in_a_process_that_has_loaded_tensorflow():
    """Pico's C code crashes beside TensorFlow (a segfault, status -11, before the fix);
    there it speaks from an interpreter of its own. Run in a child, so a crash is seen."""
    import subprocess
    import sys

    available("pico")
    script = (
        "import tensorflow\n"
        "from shared.data import tts\n"
        "audio, rate = tts.engine('pico').synthesise('yes', 'en-US')\n"
        "print(rate, audio.size, float(abs(audio).max()))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-1000:]
    rate, size, peak = result.stdout.split()[-3:]
    assert int(rate) == 16000 and int(size) > 3000 and float(peak) > 0.05
