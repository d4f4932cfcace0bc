"""Speech data: keyword clips (Speech Commands' 12 labels) and short transcribed phrases.

Sources (``--data``):
  ``default``               speech generated offline by eSpeak NG in 8 English accents x
                            ~100 voice variants, plus Festival, SVOX Pico and Piper voices
                            (``shared.data.tts``), cached under ``data/``; one whole
                            engine (``held_out_engine``) is never trained or validated on
  ``tfds:speech_commands``  the Speech Commands v0.02 12-label task (keywords only)
  a folder                  keywords: one sub-folder of WAV/FLAC files per label (the raw
                            Speech Commands layout works as is); transcription: audio
                            files plus ``transcripts.tsv`` (``file<TAB>text`` lines)

Splits are speaker-independent: the generated corpus holds whole voice variants out
of training (``+f3`` is never heard in training if any ``*+f3`` voice is in test), and a
fifth of the other words behind ``_unknown_`` is never said in training or validation
(``held_out_words``), so ``_unknown_`` is also scored on words never heard. The
phrase corpus also holds texts out: a fifth of its distinct phrase texts is never spoken
in training, so the test split has phrases whose text training never saw (scored apart
from the phrases whose text it did). Which voices and texts are held out depends only on
``split_seed``; the corpus itself is fixed, so every seed reuses its cache.
"""

from __future__ import annotations

import hashlib
import pathlib
import re
import zlib

import numpy as np

from apps.speech.generator import (
    DEFAULT_ENGINES,
    FULL_PLAN,
    UNKNOWN_WORDS,
    espeak_voices,
    generated_corpus,
    keyword_corpus,
    normalize_transcript,
    phrase_metadata,
    speak,
)

# The labels, rates and alphabet predicting needs too live in the TensorFlow-free runtime.
from apps.speech.runtime import (
    ALPHABET,
    CLIP_SAMPLES,
    KEYWORDS,
    LABELS,
    MAX_TRANSCRIPTION_SECONDS,
    SAMPLE_RATE,
    SAMPLE_WORDS,  # noqa: F401  (re-exported: the demo's words, with write_sample_clip)
    SILENCE_INDEX,
    UNKNOWN_INDEX,
)
from shared.data.overlap import cross_split_overlap, normalise_text
from shared.data.sources import load_tfds, parse_source
from shared.data.splits import Splits, stratified_split, take
from shared.errors import UserError
from shared.preprocessing import audio as audio_lib

SPLIT_NAMES = ("train", "validation", "test")


# Variant fraction held out for validation and for test.
_HOLDOUT_FRACTION = 0.1


# Fraction of the distinct phrase texts that no training voice speaks.
_HELD_OUT_TEXT_FRACTION = 0.2


# Fraction of the other words (behind _unknown_) that no training or validation voice says.
_HELD_OUT_WORD_FRACTION = 0.2


def load_keyword_data(
    source: str = "default",
    seed: int = 1234,
    quick: bool = False,
    engines=DEFAULT_ENGINES,
    held_out_engine: str = "pico",
) -> Splits:
    """Keyword-spotting splits with columns ``audio`` (float32 [n, 16000]), ``label``, ``voice``
    and ``engine``.

    `label` indexes `LABELS`; `voice` names the speaker ("" where a source has none;
    ``engine:voice`` for engines other than eSpeak NG); `engine` the synthesiser that spoke
    it (``noise`` for background clips, "" where unknown). `seed` (the config's
    ``split_seed``) fixes the held-out voices, the placement of words in their clip and the
    noise clips; `quick` generates a small corpus (tests). The default corpus is spoken by
    `engines`; `held_out_engine` ("" for none) is in no split: its test voices' keyword
    clips are ``extra["<engine>_voices"]``, and ``info["held_out_engine"]`` holds its
    validation part and its test voices' other words. ``info["overlap"]`` reports voices
    shared across splits, the held-out engine's parts included (none, for the default).
    """
    parsed = parse_source(source)
    if parsed.kind == "default":
        return _default_keywords(seed, quick, tuple(engines), held_out_engine)
    if parsed.kind == "tfds":
        return _tfds_keywords(parsed.value)
    return _folder_keywords(pathlib.Path(parsed.value), seed)


def load_transcription_data(
    source: str = "default", seed: int = 1234, quick: bool = False
) -> Splits:
    """Transcription splits with columns ``audio`` (list of float32 arrays), ``text``, ``voice``
    and, in validation and test, ``text_seen`` (the phrase's normalised text occurs in training).

    Clips are at most `MAX_TRANSCRIPTION_SECONDS` at 16 kHz; texts use only
    `ALPHABET`. The default corpus holds voices out like `load_keyword_data` and also
    holds texts out of training (`phrase_parts`); `seed` is the config's ``split_seed``.
    ``info["overlap"]`` reports voices shared across splits and unseen-text test phrases
    whose text is in training (none, for the default).
    """
    parsed = parse_source(source)
    if parsed.kind == "default":
        return _default_transcription(seed, quick)
    if parsed.kind == "tfds":
        # LibriSpeech-style corpora hold 10-35 s utterances: almost none fit a 3 s model.
        raise UserError(
            f"--data {source!r}: transcription has no TFDS source; use 'default' or a folder"
        )
    return _folder_transcription(pathlib.Path(parsed.value), seed)


def speaker_of(voice: str) -> str:
    """The held-out unit of a generated voice: an eSpeak NG variant (``en-us+f3`` -> ``f3``),
    or another engine's whole voice, named with its engine (``festival:ked_diphone``)."""
    if ":" in voice:
        return voice
    _, plus, variant = voice.partition("+")
    return variant if plus else "plain"


def engine_of(voice: str) -> str:
    """The engine that spoke `voice` (``festival:ked_diphone`` -> ``festival``; an
    unqualified generated voice is eSpeak NG's); "" for rows without a speaker."""
    if voice in ("", "noise"):
        return ""
    engine, colon, _ = voice.partition(":")
    return engine if colon else "espeak"


def write_sample_clip(path: pathlib.Path, word: str, seed: int = 1234) -> pathlib.Path:
    """`word` spoken by eSpeak NG, centred in one second of 16 kHz audio, saved as a WAV.

    The voice is one of the default corpus's held-out test speakers for `seed`, so a
    model trained on that corpus has never heard it.
    """
    import soundfile

    from shared.data.espeak import Espeak

    _, test_speakers = _speaker_splits(espeak_voices(FULL_PLAN), seed)
    speaker = sorted(test_speakers)[0]
    voice = "en-us" if speaker == "plain" else f"en-us+{speaker}"
    clip = speak(Espeak(), word, voice, rate=160, pitch=50, max_samples=SAMPLE_RATE)
    second = np.zeros(SAMPLE_RATE, np.float32)
    start = (SAMPLE_RATE - len(clip)) // 2
    second[start : start + len(clip)] = clip
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), second, SAMPLE_RATE, subtype="PCM_16")
    return path


# Split codes of `voice_parts` beyond train/validation/test (0/1/2): the held-out engine's
# validation and test voices, never in training nor in the Keras validation split.
HELD_OUT_VALIDATION, HELD_OUT_TEST = 3, 4


def _speaker_splits(voices: list[str], seed: int) -> tuple[set[str], set[str]]:
    """The validation and test speakers (variants), chosen by `seed`, disjoint from training."""
    speakers = sorted({speaker_of(v) for v in voices})
    order = [speakers[i] for i in np.random.default_rng(seed).permutation(len(speakers))]
    held = max(1, int(round(_HOLDOUT_FRACTION * len(speakers))))
    return set(order[:held]), set(order[held : 2 * held])


def _part(voice: str, validation: set[str], test: set[str]) -> int:
    speaker = speaker_of(voice)
    return 2 if speaker in test else 1 if speaker in validation else 0


def voice_parts(voices: list[str], seed: int, held_out_engine: str = "") -> np.ndarray:
    """The split of each row's voice, chosen by `seed`: 0/1/2 for train/validation/test,
    `HELD_OUT_VALIDATION`/`HELD_OUT_TEST` for the voices of `held_out_engine`.

    eSpeak NG holds whole variants out (as ever: the same ones whatever other engines the
    corpus has); every other engine holds a tenth of its voices out for validation and a
    tenth for test (none, if it has fewer than five). The held-out engine is never in
    training or validation: half its voices (English ones spread over both halves) form
    its own validation part, on which augmentation and training length are chosen, the
    other half its test part.
    """
    voices = list(voices)
    engine_column = [engine_of(v) for v in voices]
    espeak = [v for v, e in zip(voices, engine_column, strict=True) if e == "espeak"]
    validation, test = _speaker_splits(espeak, seed) if espeak else (set(), set())
    for engine in sorted(set(engine_column) - {"espeak", ""}):
        names = sorted({v for v, e in zip(voices, engine_column, strict=True) if e == engine})
        rng = np.random.default_rng([seed, zlib.crc32(engine.encode())])
        order = [names[i] for i in rng.permutation(len(names))]
        if engine == held_out_engine:
            english = _english_voices(engine)
            order = [v for v in order if v in english] + [v for v in order if v not in english]
            halves = {v: HELD_OUT_TEST if i % 2 == 0 else HELD_OUT_VALIDATION
                             for i, v in enumerate(order)}  # fmt: skip
            validation |= {v for v, part in halves.items() if part == HELD_OUT_VALIDATION}
            test |= {v for v, part in halves.items() if part == HELD_OUT_TEST}
            continue
        held = int(round(_HOLDOUT_FRACTION * len(names))) if len(names) >= 5 else 0
        validation |= set(order[:held])
        test |= set(order[held : 2 * held])
    parts = np.array([_part(v, validation, test) for v in voices], dtype=np.int64)
    if held_out_engine:
        mine = np.array([e == held_out_engine for e in engine_column], dtype=bool)
        parts[mine] += HELD_OUT_VALIDATION - 1  # 1 -> 3 (validation), 2 -> 4 (test)
    return parts


def held_out_words(seed: int) -> set[str]:
    """The other words no training or validation clip says, chosen by `seed`: a
    `_HELD_OUT_WORD_FRACTION` of ``UNKNOWN_WORDS``. Test voices say them beside words
    training heard, so ``_unknown_`` is scored on words never heard, apart."""
    count = int(round(_HELD_OUT_WORD_FRACTION * len(UNKNOWN_WORDS)))
    chosen = np.random.default_rng([seed, 2]).permutation(len(UNKNOWN_WORDS))[:count]
    return {UNKNOWN_WORDS[i] for i in chosen}


def keyword_parts(
    words: list[str], voices: list[str], seed: int, held_out_engine: str = ""
) -> np.ndarray:
    """`voice_parts`, with the clips of `held_out_words` left out (-1) of training and
    validation: a test voice saying one of them says a word the model never heard."""
    part = voice_parts(voices, seed, held_out_engine)
    never = held_out_words(seed)
    unheard = np.array([word in never for word in words], dtype=bool)
    part[((part == 0) | (part == 1)) & unheard] = -1
    return part


def _english_voices(engine: str) -> set[str]:
    """``engine:voice`` names of `engine`'s English voices (none if it is not installed)."""
    from shared.data import tts

    try:
        infos = tts.engine(engine).voice_info()
    except tts.EngineUnavailable:
        return set()
    return {f"{engine}:{info.voice}" for info in infos if info.language == "en"}


def phrase_parts(
    texts: list[str], voices: list[str], seed: int, plan: dict[str, list[str]] | None = None
) -> tuple[np.ndarray, set[str]]:
    """The split of each phrase, by voice and by text, and the texts held out of training.

    A random `_HELD_OUT_TEXT_FRACTION` of the distinct normalised texts (chosen by `seed`)
    is never spoken in training: a training voice's phrase with such a text is left out
    (-1). Held-out voices read both kinds, so the test split scores phrases whose text
    training never saw beside phrases whose text it did. `plan` (``phrase_metadata``, every
    phrase generation tried) decides which voices and texts are held out, so the split
    does not depend on which phrases generation dropped; by default, the rows themselves.
    """
    plan = plan or {"text": texts, "voice": voices}
    validation, test = _speaker_splits(plan["voice"], seed)
    part = np.array([_part(v, validation, test) for v in voices], dtype=np.int64)
    distinct = sorted({normalise_text(text) for text in plan["text"]})
    count = int(round(_HELD_OUT_TEXT_FRACTION * len(distinct)))
    chosen = np.random.default_rng([seed, 1]).permutation(len(distinct))[:count]
    held_out = {distinct[i] for i in chosen}
    in_held_out = np.array([normalise_text(text) in held_out for text in texts], dtype=bool)
    part[(part == 0) & in_held_out] = -1
    return part, held_out


def voice_overlap(voices: dict[str, list[str]]) -> dict[str, dict]:
    """`cross_split_overlap` of voice names (as they are), ignoring rows without a speaker.

    `voices`: split name -> the ``voice`` column. Background-noise rows (``"noise"``) and
    sources without speaker ids (``""``) name no voice.
    """
    return cross_split_overlap(
        {name: [v for v in column if v not in ("", "noise")] for name, column in voices.items()},
        normalise=None,
    )


def mark_seen_texts(splits: Splits) -> Splits:
    """Add ``text_seen`` to validation and test (the text occurs in training, normalised) and
    ``info["overlap"]``: voices across splits, and unseen-text test phrases against training."""
    trained = {normalise_text(text) for text in splits.train["text"]}
    for part in (splits.validation, splits.test):
        part["text_seen"] = np.array([normalise_text(t) in trained for t in part["text"]], bool)
    unseen = [
        t for t, seen in zip(splits.test["text"], splits.test["text_seen"], strict=True) if not seen
    ]
    splits.info["overlap"] = {
        "voices": voice_overlap({name: getattr(splits, name)["voice"] for name in SPLIT_NAMES}),
        "unseen_texts": cross_split_overlap({"train": splits.train["text"], "test_unseen": unseen}),
    }
    return splits


def _default_keywords(seed: int, quick: bool, engines: tuple, held_out_engine: str) -> Splits:
    if held_out_engine and held_out_engine not in engines:
        raise UserError(f"held_out_engine={held_out_engine!r} is not among engines {engines}")
    clips, columns = keyword_corpus(quick, engines)
    rng = np.random.default_rng(seed)
    words, voices, engine_column = columns["word"], columns["voice"], columns["engine"]
    labels = np.array([LABELS.index(w) if w in KEYWORDS else UNKNOWN_INDEX for w in words])
    # Words start anywhere in their second, as they do in recorded clips.
    offsets = [int(rng.integers(0, CLIP_SAMPLES - len(clip) + 1)) for clip in clips]
    part = keyword_parts(words, voices, seed, held_out_engine)

    def rows_of(chosen: np.ndarray, silence: int = 0) -> dict:
        # Each split's array is filled in place: a 20,000-clip corpus is 1.3 GB of float32.
        audio = np.zeros((len(chosen) + silence, CLIP_SAMPLES), dtype=np.float32)
        for out_row, row in enumerate(chosen):
            audio[out_row, offsets[row] : offsets[row] + len(clips[row])] = clips[row]
        audio[len(chosen) :] = _silence_clips(silence, rng)
        return {
            "audio": audio,
            "label": np.concatenate([labels[chosen], np.full(silence, SILENCE_INDEX)]).astype(
                np.int64
            ),
            "voice": [voices[row] for row in chosen] + ["noise"] * silence,
            "engine": [engine_column[row] for row in chosen] + ["noise"] * silence,
            "word": [words[row] for row in chosen] + [""] * silence,
        }

    # As many background-only clips as clips of one keyword, so _silence_ is a peer class,
    # split 80/10/10 like the voices.
    num_silence = int(np.sum((labels == 0) & (part >= 0) & (part <= 2)))
    silence_part = np.zeros(num_silence, dtype=np.int64)
    held = int(round(_HOLDOUT_FRACTION * num_silence))
    silence_part[:held], silence_part[held : 2 * held] = 1, 2
    splits = [
        rows_of(np.flatnonzero(part == index), int(np.sum(silence_part == index)))
        for index in range(3)
    ]
    voice_sets = {name: split["voice"] for name, split in zip(SPLIT_NAMES, splits, strict=True)}
    extra, held_out = {}, {}
    speaker_parts = {index: sorted({speaker_of(voices[r]) for r in np.flatnonzero(part == index)})
                     for index in range(5)}  # fmt: skip
    info = {
        "labels": LABELS,
        "sample_rate": SAMPLE_RATE,
        "engines": list(engines),
        "validation_speakers": speaker_parts[1],
        "test_speakers": speaker_parts[2],
        "clips_per_engine": {e: engine_column.count(e) for e in engines},
    }
    if held_out_engine:
        validation = rows_of(np.flatnonzero(part == HELD_OUT_VALIDATION))
        test = rows_of(np.flatnonzero(part == HELD_OUT_TEST))
        keywords = test["label"] < len(KEYWORDS)
        name = f"{held_out_engine}_voices"
        extra[name] = take(test, np.flatnonzero(keywords))
        voices_said = ", ".join(v.partition(":")[2] for v in speaker_parts[HELD_OUT_TEST])
        held_out[name] = (
            f"the ten keywords spoken by {held_out_engine} ({voices_said}), an engine never "
            "heard in training (its other voices validate)"
        )
        info["held_out_engine"] = {
            "engine": held_out_engine,
            "validation": validation,
            "test_other_words": take(test, np.flatnonzero(~keywords)),
            "validation_voices": speaker_parts[HELD_OUT_VALIDATION],
            "test_voices": speaker_parts[HELD_OUT_TEST],
        }
        voice_sets[f"{held_out_engine}_validation"] = validation["voice"]
        voice_sets[f"{held_out_engine}_test"] = test["voice"]
    # Silence clips are fresh noise drawn per split: no voice, nothing to share.
    info["overlap"] = voice_overlap(voice_sets)
    info["held_out_words"] = sorted(held_out_words(seed))
    info["clips_left_out_of_training"] = int(np.sum(part == -1))  # held-out words
    info["held_out"] = held_out
    return Splits(*splits, source="default", extra=extra, info=info)


def _silence_clips(count: int, rng: np.random.Generator) -> np.ndarray:
    """Background-only clips: coloured-noise mixtures from near silence to loud room noise."""
    noise = audio_lib.background_noise((count, CLIP_SAMPLES), rng)
    level_db = rng.uniform(-70.0, -15.0, size=(count, 1)).astype(np.float32)
    return np.clip(noise * np.float32(10.0) ** (level_db / 20), -1.0, 1.0)


def _default_transcription(seed: int, quick: bool) -> Splits:
    clips, columns, meta = generated_corpus("transcription", quick)
    texts, voices = columns["text"].tolist(), columns["voice"].tolist()
    all_rows = {"audio": clips, "text": texts, "voice": voices}
    plan = phrase_metadata(quick)
    part, held_out = phrase_parts(texts, voices, seed, plan)
    train, validation, test = (take(all_rows, np.flatnonzero(part == index)) for index in range(3))
    validation_speakers, test_speakers = _speaker_splits(plan["voice"], seed)
    info = {
        "alphabet": ALPHABET,
        "sample_rate": SAMPLE_RATE,
        "validation_speakers": sorted(validation_speakers),
        "test_speakers": sorted(test_speakers),
        "held_out_texts": len(held_out),
        "phrases_left_out_of_training": int(np.sum(part == -1)),
        "generation_seconds": meta["generation_seconds"],
    }
    return mark_seen_texts(Splits(train, validation, test, source="default", info=info))


def _tfds_keywords(name: str) -> Splits:
    import tensorflow_datasets as tfds

    if name != "speech_commands":
        raise UserError(f"--data tfds:{name}: the keyword task reads tfds:speech_commands")
    datasets, info = load_tfds(name, split=["train", "validation", "test"], with_info=True)
    names = info.features["label"].names
    # TFDS orders labels alphabetically; map each to our LABELS index by name.
    mapping = np.array([LABELS.index(n) if n in LABELS else UNKNOWN_INDEX for n in names])
    splits = []
    for dataset in datasets:
        audio, labels = [], []
        for example in tfds.as_numpy(dataset):
            samples = np.asarray(example["audio"], dtype=np.float32) / 32768.0
            audio.append(audio_lib.pad_or_crop(samples, CLIP_SAMPLES))
            labels.append(int(mapping[int(example["label"])]))
        splits.append(
            {
                "audio": np.stack(audio) if audio else np.zeros((0, CLIP_SAMPLES), np.float32),
                "label": np.asarray(labels, dtype=np.int64),
                "voice": [""] * len(labels),  # TFDS drops the speaker ids
            }
        )
    # TFDS drops the speaker ids: Speech Commands' own split is by speaker (its hash lists).
    info_out = {"labels": LABELS, "sample_rate": SAMPLE_RATE}
    return Splits(*splits, source=f"tfds:{name}", info=info_out)


_BACKGROUND_FOLDER = "_background_noise_"


_SPEAKER_PATTERN = re.compile(r"^(?P<speaker>.+)_nohash_\d+$")


def _label_of_folder(name: str) -> int:
    lowered = name.lower()
    if lowered in KEYWORDS:
        return LABELS.index(lowered)
    if lowered in ("_silence_", "silence", _BACKGROUND_FOLDER):
        return SILENCE_INDEX
    return UNKNOWN_INDEX  # any other word, as in Speech Commands


def _audio_files(folder: pathlib.Path) -> list[pathlib.Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in audio_lib.AUDIO_EXTENSIONS
    )


def _folder_keywords(root: pathlib.Path, seed: int) -> Splits:
    if not root.is_dir():
        raise UserError(f"{root}: give a folder with one sub-folder of audio files per label")
    label_folders = sorted(p for p in root.iterdir() if p.is_dir() and _audio_files(p))
    if not any(p.name.lower() in KEYWORDS for p in label_folders):
        raise UserError(
            f"{root}: no sub-folder named after a keyword ({', '.join(KEYWORDS)}) holds audio files"
        )
    lists = {name: _read_list(root / f"{name}_list.txt") for name in ("validation", "testing")}
    rows = {"audio": [], "label": [], "voice": [], "part": []}
    background = []
    for label_folder in label_folders:
        label = _label_of_folder(label_folder.name)
        for path in _audio_files(label_folder):
            if label_folder.name == _BACKGROUND_FOLDER:
                background.append(path)
                continue
            relative = path.relative_to(root).as_posix()
            match = _SPEAKER_PATTERN.match(path.stem)
            samples = audio_lib.load_audio(path, SAMPLE_RATE, allow_silent=label == SILENCE_INDEX)
            rows["audio"].append(audio_lib.pad_or_crop(samples, CLIP_SAMPLES))
            rows["label"].append(label)
            rows["voice"].append(match["speaker"] if match else "")
            rows["part"].append(
                1 if relative in lists["validation"] else 2 if relative in lists["testing"] else -1
            )
    for path in background:
        _add_background_chunks(path, rows)
    audio = np.stack(rows["audio"])
    columns = {
        "audio": audio,
        "label": np.asarray(rows["label"], dtype=np.int64),
        "voice": rows["voice"],
    }
    part = np.asarray(rows["part"])
    unassigned = np.flatnonzero(part == -1)
    if lists["validation"] or lists["testing"]:
        part[unassigned] = 0  # the Speech Commands lists name validation and test; the rest trains
    elif all(rows["voice"][i] for i in unassigned):
        # Speaker ids in the file names: split by speaker, as Speech Commands does.
        part[unassigned] = [_hash_part(rows["voice"][i]) for i in unassigned]
    else:
        strata = columns["label"][unassigned]
        order = stratified_split({"row": unassigned}, strata, (0.8, 0.1), seed)
        for index, chosen in enumerate(order):
            part[chosen["row"]] = index
    splits = [take(columns, np.flatnonzero(part == index)) for index in range(3)]
    for name, split in zip(("train", "validation", "test"), splits, strict=True):
        if len(split["label"]) == 0:
            raise UserError(f"{root}: too few audio files to fill the {name} split")
    info = {
        "labels": LABELS,
        "sample_rate": SAMPLE_RATE,
        "overlap": voice_overlap(
            {name: split["voice"] for name, split in zip(SPLIT_NAMES, splits, strict=True)}
        ),
    }
    return Splits(*splits, source=str(root), info=info)


def _read_list(path: pathlib.Path) -> set[str]:
    if not path.is_file():
        return set()
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}


def _hash_part(speaker: str) -> int:
    """0/1/2 for train/validation/test from a stable hash of the speaker (80/10/10)."""
    bucket = int(hashlib.sha1(speaker.encode()).hexdigest(), 16) % 100
    return 1 if bucket < 10 else 2 if bucket < 20 else 0


def _add_background_chunks(path: pathlib.Path, rows: dict) -> None:
    """Cut a long noise recording into one-second _silence_ clips.

    The first 80% of the recording trains, the next 10% validates and the last
    10% tests, so no split hears a stretch of noise another one trained on.
    """
    samples = audio_lib.load_audio(path, SAMPLE_RATE, allow_silent=True)
    count = len(samples) // CLIP_SAMPLES
    for index in range(count):
        fraction = index / count
        rows["audio"].append(samples[index * CLIP_SAMPLES : (index + 1) * CLIP_SAMPLES])
        rows["label"].append(SILENCE_INDEX)
        rows["voice"].append("noise")
        rows["part"].append(0 if fraction < 0.8 else 1 if fraction < 0.9 else 2)


def _folder_transcription(root: pathlib.Path, seed: int) -> Splits:
    listing = root / "transcripts.tsv" if root.is_dir() else root
    if not listing.is_file() or listing.suffix != ".tsv":
        raise UserError(f"{root}: give a folder with a transcripts.tsv of 'file<TAB>text' lines")
    audio, texts, voices = [], [], []
    for number, line in enumerate(listing.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        file_name, tab, text = line.partition("\t")
        if not tab or not normalize_transcript(text):
            raise UserError(f"{listing}:{number}: expected 'file<TAB>text', got {line[:60]!r}")
        samples = audio_lib.load_audio(listing.parent / file_name, SAMPLE_RATE)
        if len(samples) > MAX_TRANSCRIPTION_SECONDS * SAMPLE_RATE:
            samples = audio_lib.trim_silence(samples, SAMPLE_RATE)
        if len(samples) > MAX_TRANSCRIPTION_SECONDS * SAMPLE_RATE:
            raise UserError(
                f"{listing.parent / file_name}: longer than {MAX_TRANSCRIPTION_SECONDS:g} s"
            )
        audio.append(samples)
        texts.append(normalize_transcript(text))
        voices.append("")
    if len(audio) < 3:
        raise UserError(f"{listing}: needs at least 3 clips for train/validation/test")
    columns = {"audio": audio, "text": texts, "voice": voices}
    train, validation, test = stratified_split(columns, np.zeros(len(audio)), (0.8, 0.1), seed)
    info = {"alphabet": ALPHABET, "sample_rate": SAMPLE_RATE}
    return mark_seen_texts(Splits(train, validation, test, source=str(root), info=info))
