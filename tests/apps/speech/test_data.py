"""Tests for the speech app's data: the generated corpora, TFDS and the user's folders."""

import hashlib

import numpy as np
import pytest
import soundfile
import tensorflow as tf
import tensorflow_datasets as tfds

from apps.speech import data, generator
from apps.speech.config import SpeechConfig
from shared.config import resolve_config
from shared.data import tts
from shared.data.overlap import (
    assert_no_overlap,
    cross_split_overlap,
    normalise_text,
    overlap_rows,
)
from shared.errors import UserError

SPLIT_SEED = SpeechConfig().split_seed  # what every default run splits with


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNAPPS_DATA", str(tmp_path / "cache"))
    return tmp_path / "cache"


def tone(frequency: float, seconds: float, sample_rate: int) -> np.ndarray:
    time = np.arange(int(seconds * sample_rate)) / sample_rate
    return (0.5 * np.sin(2 * np.pi * frequency * time)).astype(np.float32)


def speakers(split) -> set[str]:
    return {data.speaker_of(v) for v in split["voice"] if v != "noise"}


def test_labels_are_the_speech_commands_twelve():
    assert data.LABELS == [
        "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go",
        "_unknown_", "_silence_",
    ]  # fmt: skip
    assert len(generator.UNKNOWN_WORDS) >= 200
    homophones = {"know", "write", "right", "rite", "ok"}
    assert not set(generator.UNKNOWN_WORDS) & (set(data.KEYWORDS) | homophones)


def test_quick_keyword_corpus_holds_whole_voices_out(cache):
    splits = data.load_keyword_data(quick=True)
    for split in (splits.train, splits.validation, splits.test):
        audio, label = split["audio"], split["label"]
        assert audio.dtype == np.float32 and audio.shape[1:] == (16000,)
        assert len(audio) == len(label) == len(split["voice"]) > 0
        assert set(label.tolist()) == set(range(12))  # every label in every split
        assert np.abs(audio).max() <= 1.0
        words = audio[label != data.SILENCE_INDEX]
        assert np.all(np.abs(words).max(axis=1) > 0.05)  # every word clip holds speech
        assert np.all(np.asarray(split["voice"])[label == data.SILENCE_INDEX] == "noise")
    train, validation, test = (
        speakers(splits.train),
        speakers(splits.validation),
        speakers(splits.test),
    )
    assert train and validation and test
    assert not (train & test) and not (train & validation) and not (validation & test)
    assert test == set(splits.info["test_speakers"])
    assert_no_overlap(splits.info["overlap"], "voices")
    # Each held-out speaker is heard in every accent, so the split is by voice, not by accent.
    espeak_test = [v for v in splits.test["voice"] if data.engine_of(v) == "espeak"]
    assert {v.split("+")[0] for v in espeak_test} == {"en-us", "en"}


def test_quick_corpus_records_engines_and_holds_one_engine_out(cache):
    splits = data.load_keyword_data(quick=True)  # held_out_engine="pico" by default
    held = splits.info["held_out_engine"]
    for split in (splits.train, splits.validation, splits.test):
        assert len(split["engine"]) == len(split["label"])
        for voice, engine in zip(split["voice"], split["engine"], strict=True):
            assert engine == ("noise" if voice == "noise" else data.engine_of(voice))
        assert "pico" not in split["engine"]  # never in training, validation or test
    assert {"espeak", "festival", "piper"} <= set(splits.train["engine"])
    # eSpeak NG stays most of the training clips.
    assert splits.train["engine"].count("espeak") > 0.6 * len(splits.train["engine"])
    test = splits.extra["pico_voices"]
    assert set(test["engine"]) == {"pico"} and set(test["label"].tolist()) == set(range(10))
    assert test["audio"].shape[1:] == (16000,) and test["audio"].dtype == np.float32
    assert "pico" in splits.info["held_out"]["pico_voices"]
    assert set(held["validation"]["engine"]) == {"pico"} == set(held["test_other_words"]["engine"])
    assert set(held["test_other_words"]["label"].tolist()) == {data.UNKNOWN_INDEX}
    assert not set(held["validation"]["voice"]) & set(test["voice"])  # its own two halves
    assert held["validation_voices"] and held["test_voices"]
    assert_no_overlap(splits.info["overlap"], "voices")
    assert "train/pico_test" in splits.info["overlap"]
    # Without a held-out engine, pico's voices are split by voice like festival's.
    every = data.load_keyword_data(quick=True, held_out_engine="")
    assert "pico" in every.train["engine"] and not every.extra


def test_other_engines_voices_are_engine_qualified():
    assert data.speaker_of("festival:ked_diphone") == "festival:ked_diphone"
    assert data.speaker_of("en-us+f3") == "f3" and data.speaker_of("en") == "plain"
    assert data.engine_of("pico:en-US") == "pico" and data.engine_of("en-us+f3") == "espeak"
    assert data.engine_of("noise") == ""


def test_keyword_corpus_is_cached_and_seed_only_changes_splits(cache, monkeypatch):
    first = data.load_keyword_data(quick=True, seed=1)
    assert (cache / "speech_keywords_quick" / "corpus.npz").is_file()

    def must_not_build(*args, **kwargs):
        raise AssertionError("the cached corpus was generated again")

    monkeypatch.setattr(generator, "_build_keyword_corpus", must_not_build)
    again = data.load_keyword_data(quick=True, seed=1)
    np.testing.assert_array_equal(first.test["audio"], again.test["audio"])
    other = data.load_keyword_data(quick=True, seed=2)
    assert other.info["test_speakers"] != first.info["test_speakers"]

    def total(splits):  # every clip, in a split or left out for its held-out word
        kept = sum(len(s["label"]) for s in (splits.train, splits.validation, splits.test))
        return kept + splits.info["clips_left_out_of_training"]

    assert total(first) == total(other)
    assert first.info["held_out_words"] != other.info["held_out_words"]


def test_quick_transcription_corpus(cache):
    splits = data.load_transcription_data(quick=True)
    for split in (splits.train, splits.validation, splits.test):
        assert len(split["audio"]) == len(split["text"]) == len(split["voice"]) > 0
        for clip, text in zip(split["audio"], split["text"], strict=True):
            assert clip.dtype == np.float32 and clip.ndim == 1
            assert 0.2 * 16000 < len(clip) <= 3 * 16000
            assert text and set(text) <= set(data.ALPHABET) and text == text.strip()
    assert not speakers(splits.train) & speakers(splits.test)
    assert not speakers(splits.train) & speakers(splits.validation)
    assert_no_overlap(splits.info["overlap"]["voices"], "voices")
    assert_no_overlap(splits.info["overlap"]["unseen_texts"], "unseen-text phrases")
    trained = {normalise_text(text) for text in splits.train["text"]}
    for split in (splits.validation, splits.test):
        expected = [normalise_text(text) in trained for text in split["text"]]
        assert split["text_seen"].tolist() == expected


# --- split hygiene at the default size, from the corpus's metadata (no audio is generated) ---


def split_columns(columns: dict, part: np.ndarray) -> dict[str, dict[str, list]]:
    return {
        name: {key: [v for v, p in zip(values, part, strict=True) if p == index]
               for key, values in columns.items()}
        for index, name in enumerate(data.SPLIT_NAMES)
    }  # fmt: skip


@pytest.fixture(scope="module")
def default_keywords():
    # The default preset's corpus: every engine it speaks with.
    columns = generator.keyword_metadata(quick=False, engines=generator.DEFAULT_PRESET_ENGINES)
    return split_columns(columns, data.keyword_parts(columns["word"], columns["voice"], SPLIT_SEED))


@pytest.fixture(scope="module")
def default_phrases():
    columns = data.phrase_metadata(quick=False)
    part, held_out = data.phrase_parts(columns["text"], columns["voice"], SPLIT_SEED)
    return split_columns(columns, part), held_out


def test_default_keyword_corpus_shares_no_voice_across_splits(default_keywords):
    splits = default_keywords
    assert len(splits["test"]["voice"]) > 1500  # the whole default corpus: ~830 voices
    report = data.voice_overlap({name: split["voice"] for name, split in splits.items()})
    assert set(report) == {"train/validation", "train/test", "validation/test"}
    assert_no_overlap(report, "keyword voices")
    # Stricter than the names: a variant (``+f3``) heard in training is in no other split.
    variants = {
        name: [data.speaker_of(v) for v in split["voice"]] for name, split in splits.items()
    }
    assert_no_overlap(cross_split_overlap(variants, normalise=None), "voice variants")


def test_default_keyword_corpus_holds_other_words_out_of_training(default_keywords):
    never = data.held_out_words(SPLIT_SEED)
    assert len(never) == round(0.2 * len(generator.UNKNOWN_WORDS))
    assert not never & set(data.KEYWORDS)
    heard = set(default_keywords["train"]["word"]) | set(default_keywords["validation"]["word"])
    assert not never & heard  # no training or validation clip says a held-out word
    test_words = default_keywords["test"]["word"]
    unheard = [w for w in test_words if w in never]
    heard_others = [w for w in test_words if w not in never and w not in data.KEYWORDS]
    # Both _unknown_ figures stand on enough clips.
    assert len(unheard) >= 30 and len(heard_others) >= 100, (len(unheard), len(heard_others))
    report = cross_split_overlap(
        {"train": default_keywords["train"]["word"], "test_never_heard": unheard}, normalise=None
    )
    assert_no_overlap(report, "held-out words")
    # Another split seed holds other words out.
    assert data.held_out_words(SPLIT_SEED + 1) != never


def test_default_phrase_split_holds_voices_and_texts_out(default_phrases):
    splits, held_out = default_phrases
    report = data.voice_overlap({name: split["voice"] for name, split in splits.items()})
    assert_no_overlap(report, "phrase voices")
    trained = {normalise_text(text) for text in splits["train"]["text"]}
    assert held_out and not held_out & trained  # held-out texts are never spoken in training
    test = splits["test"]["text"]
    unseen = [text for text in test if normalise_text(text) not in trained]
    assert_no_overlap(
        cross_split_overlap({"train": splits["train"]["text"], "test_unseen": unseen}),
        "unseen-text phrases",
    )
    # Both figures stand on enough phrases: before texts were held out, 63 of 240 were unseen.
    seen = len(test) - len(unseen)
    assert len(unseen) >= 100 and seen >= 100, (len(unseen), seen)
    assert sum(normalise_text(text) in held_out for text in test) >= 50


def test_overlap_checks_fail_on_a_planted_duplicate(default_keywords, default_phrases):
    voices = {name: list(split["voice"]) for name, split in default_keywords.items()}
    voices["test"].append(voices["train"][0])  # one training voice's clip planted in test
    report = data.voice_overlap(voices)
    assert overlap_rows(report) == 1 and report["train/test"]["examples"] == [voices["train"][0]]
    with pytest.raises(AssertionError, match="train/test"):
        assert_no_overlap(report, "keyword voices")

    splits, _ = default_phrases
    planted = splits["train"]["text"][0].upper() + "!"  # a training text, differently written
    report = cross_split_overlap({"train": splits["train"]["text"], "test_unseen": [planted]})
    with pytest.raises(AssertionError, match="train/test_unseen"):
        assert_no_overlap(report, "unseen-text phrases")


def test_default_corpus_holds_the_engine_out_and_never_uses_the_deny_list():
    columns = generator.keyword_metadata(quick=False, engines=generator.DEFAULT_PRESET_ENGINES)
    engines = columns["engine"]
    assert set(engines) == set(generator.DEFAULT_PRESET_ENGINES)
    assert SpeechConfig.PRESETS["default"]["engines"] == generator.DEFAULT_PRESET_ENGINES
    assert engines.count("espeak") > 0.7 * len(engines)  # held-out eSpeak voices stay a split
    for voice, engine in zip(columns["voice"], engines, strict=True):
        assert data.engine_of(voice) == engine
    for voice in set(columns["voice"]):
        assert not tts.is_forbidden(data.engine_of(voice), voice.partition(":")[2] or voice)
    part = data.voice_parts(columns["voice"], SPLIT_SEED, held_out_engine="pico")
    pico = np.array([e == "pico" for e in engines])
    assert set(part[pico].tolist()) == {data.HELD_OUT_VALIDATION, data.HELD_OUT_TEST}
    assert not np.any(part[~pico] >= data.HELD_OUT_VALIDATION)
    halves = {
        index: {v for v, p in zip(columns["voice"], part, strict=True) if p == index}
        for index in (data.HELD_OUT_VALIDATION, data.HELD_OUT_TEST)
    }
    assert not halves[3] & halves[4]
    for half in halves.values():  # one English pico voice in each half
        assert len(half & {"pico:en-US", "pico:en-GB"}) == 1
    # Festival has enough voices to hold some out; every split is clean of shared voices.
    festival = {
        index: {v for v, p, e in zip(columns["voice"], part, engines, strict=True)
                if p == index and e == "festival"}
        for index in range(3)
    }  # fmt: skip
    assert all(festival.values())
    named = {name: [v for v, p in zip(columns["voice"], part, strict=True) if p == index]
             for index, name in enumerate([*data.SPLIT_NAMES, "pico_validation", "pico_test"])}  # fmt: skip
    assert_no_overlap(data.voice_overlap(named), "voices across engines")


def test_metadata_matches_the_generated_corpus(cache):
    """The metadata the hygiene tests read is the corpus's, row for row (quick corpus)."""
    _, columns = generator.keyword_corpus(True, data.DEFAULT_ENGINES)
    metadata = generator.keyword_metadata(quick=True)
    assert columns == metadata
    _, columns, _ = generator.generated_corpus("transcription", quick=True)
    metadata = data.phrase_metadata(quick=True)
    rows = list(zip(metadata["voice"], metadata["text"], strict=True))
    kept = list(zip(columns["voice"].tolist(), columns["text"].tolist(), strict=True))
    iterator = iter(rows)
    assert all(row in iterator for row in kept)  # the corpus keeps a subsequence (<= 3 s)


def test_normalize_transcript():
    assert data.normalize_transcript("Forty-Two!") == "forty two"
    assert data.normalize_transcript("  Nine O\u2019Clock, please ") == "nine o'clock please"
    assert data.normalize_transcript("Room 1234") == "room one thousand two hundred and thirty four"


def test_random_phrases_cover_numbers_times_and_commands():
    rng = np.random.default_rng(0)
    phrases = [generator._random_phrase(rng) for _ in range(300)]
    assert any("o'clock" in p or "past" in p for p in phrases)
    assert any(p.startswith("turn ") or p.startswith("set ") for p in phrases)
    assert any(p in ("seven", "forty two", "ninety nine") or " hundred" in p for p in phrases)
    assert all(data.normalize_transcript(p) == p for p in phrases)


# --- TFDS ---------------------------------------------------------------------------------

TFDS_NAMES = ["down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes"]
TFDS_NAMES += ["_silence_", "_unknown_"]


def test_tfds_speech_commands_maps_labels_by_name(cache):
    def as_dataset(self, *args, **kwargs):
        examples = [
            {"audio": (np.arange(800 + 100 * i) % 200 * 50).astype(np.int16), "label": i}
            for i in range(12)
        ]
        return tf.data.Dataset.from_generator(
            lambda: iter(examples),
            output_types=self.info.features.dtype,
            output_shapes=self.info.features.shape,
        )

    with tfds.testing.mock_data(as_dataset_fn=as_dataset):
        splits = data.load_keyword_data("tfds:speech_commands")
    assert splits.source == "tfds:speech_commands"
    for split in (splits.train, splits.validation, splits.test):
        assert split["audio"].shape == (12, 16000) and split["audio"].dtype == np.float32
        expected = [data.LABELS.index(name) for name in TFDS_NAMES]
        assert split["label"].tolist() == expected
        assert np.abs(split["audio"]).max() == pytest.approx(199 * 50 / 32768)


def test_tfds_speech_commands_with_random_mock_data(cache):
    with tfds.testing.mock_data(num_examples=5):
        splits = data.load_keyword_data("tfds:speech_commands")
    assert splits.train["audio"].shape == (5, 16000)
    assert splits.test["label"].min() >= 0 and splits.test["label"].max() < 12


def test_tfds_other_names_are_user_errors(cache):
    with pytest.raises(UserError, match="tfds:mnist"):
        data.load_keyword_data("tfds:mnist")
    with pytest.raises(UserError, match="tfds"):
        data.load_transcription_data("tfds:librispeech")


# --- folders ------------------------------------------------------------------------------


def write_clip(path, frequency=440.0, sample_rate=16000, stereo=False, seconds=0.6):
    path.parent.mkdir(parents=True, exist_ok=True)
    signal = tone(frequency, seconds, sample_rate)
    soundfile.write(path, np.stack([signal, signal], 1) if stereo else signal, sample_rate)


def speaker_in_bucket(wanted: int, prefix: str) -> str:
    """A speaker id that the Speech Commands hash puts in train (0), validation (1), test (2)."""
    for number in range(1000):
        name = f"{prefix}{number}"
        bucket = int(hashlib.sha1(name.encode()).hexdigest(), 16) % 100
        if (wanted == 1 and bucket < 10) or (wanted == 2 and 10 <= bucket < 20):
            return name
        if wanted == 0 and bucket >= 20:
            return name
    raise AssertionError("no speaker found")


def test_folder_of_speech_commands_layout_splits_by_speaker(tmp_path, cache):
    root = tmp_path / "clips"
    chosen = {
        part: [speaker_in_bucket(part, f"s{part}x{k}_") for k in range(2)] for part in range(3)
    }
    for names in chosen.values():
        for name in names:
            write_clip(
                root / "yes" / f"{name}_nohash_0.wav", 44100 // 100, sample_rate=44100, stereo=True
            )
            write_clip(root / "bed" / f"{name}_nohash_0.flac", 300, sample_rate=8000)
    noise = np.random.default_rng(0).uniform(-0.1, 0.1, 20 * 16000).astype(np.float32)
    (root / "_background_noise_").mkdir()
    soundfile.write(root / "_background_noise_" / "hum.wav", noise, 16000)
    splits = data.load_keyword_data(str(root))
    for part, split in enumerate((splits.train, splits.validation, splits.test)):
        assert split["audio"].shape[1:] == (16000,)
        voices = set(split["voice"]) - {"noise"}
        assert voices == set(chosen[part])
        labels = split["label"].tolist()
        assert labels.count(data.LABELS.index("yes")) == 2
        assert labels.count(data.UNKNOWN_INDEX) == 2  # "bed" is another word
        assert data.SILENCE_INDEX in labels
    assert splits.train["label"].tolist().count(data.SILENCE_INDEX) == 16  # 80% of 20 s
    yes_clip = splits.train["audio"][splits.train["label"] == 0][0]
    assert abs(np.count_nonzero(np.abs(yes_clip) > 1e-3) - 9600) < 300  # 0.6 s, resampled


def test_folder_with_validation_and_testing_lists(tmp_path, cache):
    root = tmp_path / "clips"
    for label in ("no", "stop", "_silence_"):
        for index in range(5):
            write_clip(root / label / f"clip{index}.wav", 200 + 50 * index)
    (root / "validation_list.txt").write_text("no/clip0.wav\nstop/clip0.wav\n_silence_/clip0.wav\n")
    (root / "testing_list.txt").write_text("no/clip1.wav\nstop/clip1.wav\n_silence_/clip1.wav\n")
    splits = data.load_keyword_data(f"file:{root}")
    assert len(splits.train["label"]) == 9
    assert sorted(splits.test["label"].tolist()) == [1, 8, 11]
    assert sorted(splits.validation["label"].tolist()) == [1, 8, 11]


def test_folder_without_speaker_ids_is_stratified(tmp_path, cache):
    root = tmp_path / "mine"
    for label in ("left", "right"):
        for index in range(10):
            write_clip(root / label / f"take{index}.wav", 300 + 20 * index, sample_rate=22050)
    splits = data.load_keyword_data(str(root), seed=3)
    assert sorted(splits.test["label"].tolist()) == [4, 5]
    assert sorted(splits.validation["label"].tolist()) == [4, 5]
    assert len(splits.train["label"]) == 16


def test_folder_errors_name_the_problem(tmp_path, cache):
    root = tmp_path / "bad"
    write_clip(root / "banana" / "a.wav")
    with pytest.raises(UserError, match="no sub-folder named after a keyword"):
        data.load_keyword_data(str(root))
    (root / "yes").mkdir()
    (root / "yes" / "broken.wav").write_text("not audio")
    with pytest.raises(UserError, match="broken.wav"):
        data.load_keyword_data(str(root))
    with pytest.raises(UserError, match="unknown source"):
        data.load_keyword_data(str(tmp_path / "missing"))


def test_transcription_folder_reads_a_tsv(tmp_path, cache):
    root = tmp_path / "phrases"
    lines = []
    for index in range(10):
        write_clip(root / f"p{index}.wav", 300 + 10 * index, sample_rate=44100, seconds=1.0)
        lines.append(f"p{index}.wav\tTurn on the light, number {index}!")
    (root / "transcripts.tsv").write_text("\n".join(lines) + "\n")
    splits = data.load_transcription_data(str(root))
    rows = splits.train["text"] + splits.validation["text"] + splits.test["text"]
    assert len(rows) == 10 and len(splits.test["text"]) == 1
    assert "turn on the light number zero" in rows
    assert all(abs(len(clip) - 16000) <= 1 for clip in splits.train["audio"])
    (root / "transcripts.tsv").write_text("p0.wav without a tab\n")
    with pytest.raises(UserError, match="transcripts.tsv:1"):
        data.load_transcription_data(str(root))


def test_deny_listed_engines_are_refused():
    for engines in (["espeak", "flite"], ["espeak", "festival", "mimic1"]):
        with pytest.raises(UserError, match="deny-list"):
            resolve_config(SpeechConfig, "quick", [f"engines={','.join(engines)}"])
        with pytest.raises(ValueError, match="deny-list"):
            generator.keyword_metadata(quick=True, engines=engines)
    with pytest.raises(UserError, match="held_out_engine"):
        resolve_config(SpeechConfig, "quick", ["engines=espeak,festival", "held_out_engine=pico"])
    # No engine's voice list offers a deny-listed voice (kal, awb, rms, slt).
    for engine in data.DEFAULT_ENGINES:
        for voice in (
            generator._engine_voices(engine, generator._ENGINES_FULL) if engine != "espeak" else []
        ):
            assert not tts.is_forbidden(engine, voice)


def test_the_kept_epoch_is_chosen_on_the_held_out_engine_by_default():
    from apps.speech.app import SpeechApp

    app = SpeechApp()
    monitor = app.monitor_for
    default = resolve_config(SpeechConfig, "default")
    assert monitor(default) == ("val_pico_keyword_accuracy", "max")
    other = resolve_config(SpeechConfig, "default", ["held_out_engine=festival"])
    assert monitor(other) == ("val_festival_keyword_accuracy", "max")
    assert monitor(resolve_config(SpeechConfig, "default", ["held_out_engine="])) == (
        "val_loss",
        "min",
    )
    assert monitor(resolve_config(SpeechConfig, "quick")) == ("val_loss", "min")
    with pytest.raises(UserError, match="keep_epoch_by"):
        resolve_config(SpeechConfig, "default", ["keep_epoch_by=val_accuracy"])
