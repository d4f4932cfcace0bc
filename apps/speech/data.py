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
of training (``+f3`` is never heard in training if any ``*+f3`` voice is in test). The
phrase corpus also holds texts out: a fifth of its distinct phrase texts is never spoken
in training, so the test split has phrases whose text training never saw (scored apart
from the phrases whose text it did). Which voices and texts are held out depends only on
``split_seed``; the corpus itself is fixed, so every seed reuses its cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pathlib
import re
import sys
import time
import zlib

import numpy as np

# The labels, rates and alphabet predicting needs too live in the TensorFlow-free runtime.
from apps.speech.runtime import (
    ALPHABET,
    CLIP_SAMPLES,
    KEYWORDS,
    LABELS,
    MAX_TRANSCRIPTION_SECONDS,
    SAMPLE_RATE,
    SILENCE_INDEX,
    UNKNOWN_INDEX,
)
from shared.data.cache import cached_folder
from shared.data.overlap import cross_split_overlap, normalise_text
from shared.data.sources import load_tfds, parse_source
from shared.data.splits import Splits, stratified_split, take
from shared.errors import UserError
from shared.preprocessing import audio as audio_lib

SPLIT_NAMES = ("train", "validation", "test")

# Words for _unknown_: Speech Commands' own auxiliary words, then everyday words, with
# near-misses of the keywords ("yet", "note", "cup", "town", "lift", "light", "often",
# "shop", "goal"). Homophones of a keyword ("know", "write") are left out: they would
# be label noise, not negatives.
_UNKNOWN_TEXT = """
backward bed bird cat dog eight five follow forward four happy house learn marvin nine one
seven sheila six three tree two visual wow zero
yet yeah yell yellow yesterday nose note now nut gnome noon cup pup us upward dawn town
gown brown round sound lift loft lest lens light bright fight night kite ride rice rye
own often soft cough stock stuff step shop top drop stomp goal ghost coat goat
code dough low snow bow show toe
apple about above after again air also always animal answer baby back ball bank
basket bath beach bean bear beautiful bell belt bicycle big black blue boat body book
boot bottle box boy bread breakfast bridge brother butter button cake camera candle
car card carpet chair cheese chicken child circle city class clock cloud coffee cold
color computer cookie corner cotton country cousin cow cream cross crowd cushion dance
dark daughter day desk dinner doctor dollar door dream dress drink duck dust early earth
egg elephant engine evening eye face family farm father feather fence field finger fire
fish flag floor flower fly food foot forest fork friend frog fruit garden gate giraffe
girl glass glove gold grape grass green guitar hair hammer hand hat head heart hill
horse hospital hotel hour ice island jacket jam jelly juice jump key king kitchen knife
ladder lake lamp language laugh leaf lemon letter library lion lip little lock lunch
machine magazine mail man map market milk minute mirror money monkey moon morning mother
mountain mouse mouth music nail name needle nest newspaper number ocean orange oven
page paint paper parent park party pencil people pepper piano picture pig pillow pink
pizza planet plant plate pocket potato purple queen question rabbit rain red river road
robot rock roof room rose salt sand school sea seat shirt shoe shoulder silver sister
sky sleep smile snake soap sock song spoon spring square star station stone story street
sugar summer sun table tea teacher telephone tiger time tomato tooth towel toy train
travel truck umbrella uncle valley village violin voice wall watch water weather whale
wheel window wind winter wolf woman wood world yard zebra
"""
UNKNOWN_WORDS = list(dict.fromkeys(_UNKNOWN_TEXT.split()))  # drop repeats, keep order

# The engines of the default corpus. DECtalk and SAM are left out (their licences are
# unclear), Kokoro too (about 1.5 s a word). The deny-list of `shared.data.tts` (flite,
# kal, ARCTIC awb/rms/slt) is checked by every engine and again in `SpeechConfig.validate`.
DEFAULT_ENGINES = ("espeak", "festival", "pico", "piper")
_CORPUS_VERSION = "1"  # bump when the generating code changes what it writes
_QUICK_VARIANTS = ("", "f1", "f2", "f3", "f4", "m1", "m2", "m3", "m4", "croak", "whisper", "klatt")
# Variant fraction held out for validation and for test.
_HOLDOUT_FRACTION = 0.1
# Fraction of the distinct phrase texts that no training voice speaks.
_HELD_OUT_TEXT_FRACTION = 0.2


@dataclasses.dataclass(frozen=True)
class _Plan:
    """What a generated corpus holds: which voices and how many clips per voice."""

    accents: tuple[str, ...] | None  # None: every English accent eSpeak NG has
    variants: tuple[str, ...] | None  # None: every variant, plus "" for the plain voice
    keyword_renditions: int  # clips of each keyword per voice, each at its own rate and pitch
    unknown_per_voice: int
    phrases_per_voice: int


# Four phrases per voice: holding a fifth of the texts out of training costs about a fifth of
# the training phrases, and the fourth phrase gives them back.
_FULL = _Plan(None, None, keyword_renditions=2, unknown_per_voice=2, phrases_per_voice=4)
_QUICK = _Plan(("en-us", "en"), _QUICK_VARIANTS, 1, 1, 2)


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


def normalize_transcript(text: str) -> str:
    """Lowercase `text`, spell out numbers and keep only `ALPHABET` ("42-b" -> "forty two b")."""
    from num2words import num2words

    text = re.sub(r"\d+", lambda match: f" {num2words(int(match[0]), lang='en')} ", text)
    text = text.lower().replace(",", " ").replace("-", " ").replace("\u2019", "'")
    text = "".join(character for character in text if character in ALPHABET)
    return re.sub(r" +", " ", text).strip()


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


SAMPLE_WORDS = ("yes", "stop", "left")


def write_sample_clip(path: pathlib.Path, word: str, seed: int = 1234) -> pathlib.Path:
    """`word` spoken by eSpeak NG, centred in one second of 16 kHz audio, saved as a WAV.

    The voice is one of the default corpus's held-out test speakers for `seed`, so a
    model trained on that corpus has never heard it.
    """
    import soundfile

    from shared.data.espeak import Espeak

    _, test_speakers = _speaker_splits(_voices(_FULL), seed)
    speaker = sorted(test_speakers)[0]
    voice = "en-us" if speaker == "plain" else f"en-us+{speaker}"
    clip = _speak(Espeak(), word, voice, rate=160, pitch=50, max_samples=SAMPLE_RATE)
    second = np.zeros(SAMPLE_RATE, np.float32)
    start = (SAMPLE_RATE - len(clip)) // 2
    second[start : start + len(clip)] = clip
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), second, SAMPLE_RATE, subtype="PCM_16")
    return path


# --- the generated default corpus -------------------------------------------------------


def _voices(plan: _Plan) -> list[str]:
    from shared.data.espeak import Espeak

    speaker = Espeak()
    accents = plan.accents or tuple(speaker.accents("en"))
    variants = plan.variants if plan.variants is not None else ("", *speaker.variants())
    return [
        accent + (f"+{variant}" if variant else "") for accent in accents for variant in variants
    ]


def _plan_version(plan: _Plan, kind: str) -> str:
    described = json.dumps([_CORPUS_VERSION, kind, dataclasses.asdict(plan), UNKNOWN_WORDS])
    return f"{_CORPUS_VERSION}-{hashlib.sha256(described.encode()).hexdigest()[:12]}"


def _speak(speaker, text: str, voice: str, rate: int, pitch: int, max_samples: int) -> np.ndarray:
    """`text` at 16 kHz, trimmed of silence; spoken faster until it fits `max_samples`."""
    while True:
        raw = speaker.synthesize(text, voice, rate, pitch)
        clip = audio_lib.resample(
            audio_lib.trim_silence(raw, speaker.sample_rate), speaker.sample_rate, SAMPLE_RATE
        )
        if len(clip) <= max_samples or rate >= 400:
            return clip[:max_samples]
        rate += 40


def _write_corpus(folder: pathlib.Path, clips: list[np.ndarray], meta: dict, **columns) -> None:
    int16 = [np.clip(np.round(c * 32767), -32768, 32767).astype(np.int16) for c in clips]
    starts = np.concatenate([[0], np.cumsum([len(c) for c in int16])]).astype(np.int64)
    np.savez_compressed(
        folder / "corpus.npz",
        samples=np.concatenate(int16),
        starts=starts,
        **{name: np.asarray(values) for name, values in columns.items()},
    )
    (folder / "meta.json").write_text(json.dumps(meta, indent=1))


def _read_corpus(folder: pathlib.Path) -> tuple[list[np.ndarray], dict, dict]:
    with np.load(folder / "corpus.npz") as corpus:
        samples, starts = corpus["samples"], corpus["starts"]
        columns = {name: corpus[name] for name in corpus.files if name not in ("samples", "starts")}
    clips = [
        samples[a:b].astype(np.float32) / 32768.0
        for a, b in zip(starts[:-1], starts[1:], strict=True)
    ]
    return clips, columns, json.loads((folder / "meta.json").read_text())


def _keyword_plan(plan: _Plan) -> list[tuple[str, str, int, int]]:
    """Every clip of the keyword corpus as (voice, word, rate, pitch), drawn without speaking."""
    rng = np.random.default_rng(20240607)  # the corpus is fixed; `split_seed` only picks splits
    unknown_order = rng.permutation(len(UNKNOWN_WORDS))
    rows = []
    next_unknown = 0
    for voice in _voices(plan):
        chosen = [w for w in KEYWORDS for _ in range(plan.keyword_renditions)]
        for _ in range(plan.unknown_per_voice):
            # Cycle through a shuffled list so every unknown word gets about as many voices.
            chosen.append(UNKNOWN_WORDS[unknown_order[next_unknown % len(UNKNOWN_WORDS)]])
            next_unknown += 1
        for word in chosen:
            rows.append((voice, word, int(rng.integers(120, 241)), int(rng.integers(15, 86))))
    return rows


def _phrase_plan(plan: _Plan) -> list[tuple[str, str, int, int]]:
    """Every phrase the corpus tries to speak as (voice, text, rate, pitch), without speaking.

    The corpus keeps those that fit in `MAX_TRANSCRIPTION_SECONDS` when spoken.
    """
    rng = np.random.default_rng(20240608)
    rows = []
    for voice in _voices(plan):
        for _ in range(plan.phrases_per_voice):
            text = _random_phrase(rng)
            rows.append((voice, text, int(rng.integers(140, 221)), int(rng.integers(15, 86))))
    return rows


def keyword_metadata(quick: bool = False, engines=DEFAULT_ENGINES) -> dict[str, list[str]]:
    """The keyword corpus's ``voice``, ``word`` and ``engine`` columns, row for row, without
    generating audio (eSpeak NG's rows first, then each other engine's in `engines` order)."""
    _check_engines(engines)
    columns = {"voice": [], "word": [], "engine": []}
    for name in engines:
        if name == "espeak":
            rows = _keyword_plan(_QUICK if quick else _FULL)
        else:
            rows = _engine_plan(name, _ENGINES_QUICK if quick else _ENGINES_FULL)
        columns["voice"] += [row[0] for row in rows]
        columns["word"] += [row[1] for row in rows]
        columns["engine"] += [name] * len(rows)
    return columns


def phrase_metadata(quick: bool = False) -> dict[str, list[str]]:
    """The ``voice`` and ``text`` of every phrase the corpus tries to speak, without audio.

    A superset of the corpus's rows: generation drops a phrase that does not fit in 3 s
    even spoken fast (a few in a thousand), and splits never depend on which were dropped.
    """
    rows = _phrase_plan(_QUICK if quick else _FULL)
    return {
        "voice": [row[0] for row in rows],
        "text": [normalize_transcript(row[1]) for row in rows],
    }


def _build_keyword_corpus(folder: pathlib.Path, plan: _Plan) -> None:
    from shared.data.espeak import Espeak

    began = time.perf_counter()
    speaker = Espeak()
    clips, words, voices, rates, pitches = [], [], [], [], []
    for voice, word, rate, pitch in _keyword_plan(plan):
        clips.append(_speak(speaker, word, voice, rate, pitch, CLIP_SAMPLES))
        words.append(word)
        voices.append(voice)
        rates.append(rate)
        pitches.append(pitch)
    meta = {"clips": len(clips), "generation_seconds": round(time.perf_counter() - began, 2)}
    _write_corpus(folder, clips, meta, word=words, voice=voices, rate=rates, pitch=pitches)


def _build_transcription_corpus(folder: pathlib.Path, plan: _Plan) -> None:
    from shared.data.espeak import Espeak

    began = time.perf_counter()
    speaker = Espeak()
    max_samples = int(MAX_TRANSCRIPTION_SECONDS * SAMPLE_RATE)
    clips, texts, voices = [], [], []
    for voice, text, rate, pitch in _phrase_plan(plan):
        clip = _speak(speaker, text, voice, rate, pitch, max_samples + 1)
        if len(clip) > max_samples:
            continue  # too long even when spoken fast: a cut phrase would mislabel it
        clips.append(clip)
        texts.append(normalize_transcript(text))
        voices.append(voice)
    meta = {"clips": len(clips), "generation_seconds": round(time.perf_counter() - began, 2)}
    _write_corpus(folder, clips, meta, text=texts, voice=voices)


# --- other engines' voices (shared.data.tts) ---------------------------------------------

# Engines that can change a voice's pitch; the others speak at the voice's own.
_PITCHED_ENGINES = frozenset({"pico", "dectalk", "sam"})
# Split codes of `voice_parts` beyond train/validation/test (0/1/2): the held-out engine's
# validation and test voices, never in training nor in the Keras validation split.
HELD_OUT_VALIDATION, HELD_OUT_TEST = 3, 4


@dataclasses.dataclass(frozen=True)
class _EnginePlan:
    """What each non-eSpeak engine speaks: its voices and how many renditions per voice."""

    max_voices: int | None  # None: every allowed voice; else the first (English ones first)
    renditions: int  # per voice: each keyword this many times (one rate each), one other word


_ENGINES_FULL = _EnginePlan(None, renditions=16)
_ENGINES_QUICK = _EnginePlan(2, renditions=2)


def _engine_voices(name: str, plan: _EnginePlan) -> list[str]:
    from shared.data import tts

    infos = sorted(tts.engine(name).voice_info(), key=lambda i: (i.language != "en", i.voice))
    return [info.voice for info in infos[: plan.max_voices]]


def _engine_plan(name: str, plan: _EnginePlan) -> list[tuple[str, str, float, float | None]]:
    """Every clip `name` speaks as (``engine:voice``, word, rate, pitch), without speaking.

    Each rendition of a voice says the ten keywords and one other word at one speed factor
    (0.75-1.35) and, where the engine can, one pitch factor (0.8-1.25).
    """
    rng = np.random.default_rng([20240609, zlib.crc32(name.encode())])
    unknown_order = rng.permutation(len(UNKNOWN_WORDS))
    rows, next_unknown = [], 0
    for voice in _engine_voices(name, plan):
        for _ in range(plan.renditions):
            rate = round(float(rng.uniform(0.75, 1.35)), 3)
            pitch = round(float(rng.uniform(0.8, 1.25)), 3) if name in _PITCHED_ENGINES else None
            other = UNKNOWN_WORDS[unknown_order[next_unknown % len(UNKNOWN_WORDS)]]
            next_unknown += 1
            rows.extend((f"{name}:{voice}", word, rate, pitch) for word in (*KEYWORDS, other))
    return rows


def _speak_with(speaker, voice: str, words: list[str], rate: float, pitch) -> list[tuple]:
    """(clip trimmed of silence at 16 kHz, the rate used) for each word, every clip <= 1 s.

    One call speaks the whole list; a word the engine fails on (Festival's Italian diphones
    at speed) is spoken again slower, one that is too long faster.
    """

    def attempt(word: str, speed: float):
        try:
            audio = speaker.synthesise(word, voice, speed, pitch)[0]
        except RuntimeError:
            return None
        return audio_lib.trim_silence(audio, SAMPLE_RATE)

    try:
        first = [
            audio_lib.trim_silence(a, SAMPLE_RATE)
            for a in speaker.synthesise_many(words, voice, rate, pitch)
        ]
    except RuntimeError:
        first = [None] * len(words)
    spoken = []
    for word, clip in zip(words, first, strict=True):
        speed, failed, too_long = rate, 0, 0
        while clip is None or not len(clip) or len(clip) > CLIP_SAMPLES:
            if clip is None or not len(clip):
                failed += 1
                speed *= 0.85
            elif too_long < 2:
                too_long += 1
                speed *= 1.25
            else:
                # A voice that ignores the rate (Festival's HTS voices) and still needs more
                # than a second keeps its loudest second.
                clip = audio_lib.pad_or_crop(clip, CLIP_SAMPLES)
                break
            if failed > 6:
                raise RuntimeError(f"{speaker.name} {voice} could not speak {word!r}")
            speed = float(np.clip(speed, 0.3, 3.0))
            clip = attempt(word, speed)
        spoken.append((clip, round(speed, 3)))
    return spoken


def _build_engine_corpus(folder: pathlib.Path, name: str, plan: _EnginePlan) -> None:
    from shared.data import tts

    began = time.perf_counter()
    speaker = tts.engine(name)
    rows = _engine_plan(name, plan)
    groups: dict[tuple, list[int]] = {}
    for index, (voice, _, rate, pitch) in enumerate(rows):
        groups.setdefault((voice, rate, pitch), []).append(index)
    clips: list = [None] * len(rows)
    rates = [row[2] for row in rows]
    done, reported = 0, began
    for (voice, rate, pitch), indices in groups.items():
        words = [rows[i][1] for i in indices]
        spoken = _speak_with(speaker, voice.partition(":")[2], words, rate, pitch)
        for index, (clip, used) in zip(indices, spoken, strict=True):
            clips[index], rates[index] = clip, used
        done += len(indices)
        if time.perf_counter() - reported > 10 or done == len(rows):
            reported = time.perf_counter()
            print(
                f"speech corpus: {name} {done}/{len(rows)} clips ({reported - began:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
    meta = {"clips": len(clips), "generation_seconds": round(time.perf_counter() - began, 2)}
    _write_corpus(
        folder,
        clips,
        meta,
        word=[row[1] for row in rows],
        voice=[row[0] for row in rows],
        rate=rates,
        pitch=[np.nan if row[3] is None else row[3] for row in rows],
    )


def _engine_corpus(name: str, quick: bool) -> tuple[list[np.ndarray], dict, dict]:
    plan = _ENGINES_QUICK if quick else _ENGINES_FULL
    described = json.dumps([_CORPUS_VERSION, name, _engine_plan(name, plan)])
    version = f"{_CORPUS_VERSION}-{hashlib.sha256(described.encode()).hexdigest()[:12]}"
    folder = cached_folder(
        f"speech_keywords_{name}" + ("_quick" if quick else ""),
        lambda work: _build_in_subprocess(work, name, quick),
        version,
    )
    return _read_corpus(folder)


def _build_in_subprocess(folder: pathlib.Path, name: str, quick: bool) -> None:
    """`_build_engine_corpus` in a fresh Python: SVOX Pico's C library crashes (SIGSEGV)
    in a process that has loaded TensorFlow, which training always has."""
    import subprocess

    command = [sys.executable, "-m", "apps.speech.data", name, str(folder)]
    result = subprocess.run(command + (["--quick"] if quick else []), check=False)
    if result.returncode != 0:
        raise RuntimeError(f"generating the {name} keyword clips failed ({result.returncode})")


def _keyword_corpus(quick: bool, engines) -> tuple[list[np.ndarray], dict[str, list]]:
    """Every engine's keyword clips, eSpeak NG's first, with ``word``, ``voice``, ``engine``."""
    _check_engines(engines)
    clips, columns = [], {"word": [], "voice": [], "engine": []}
    for name in engines:
        if name == "espeak":
            more, extra, _ = _corpus("keywords", quick)
        else:
            more, extra, _ = _engine_corpus(name, quick)
        clips += more
        columns["word"] += extra["word"].tolist()
        columns["voice"] += extra["voice"].tolist()
        columns["engine"] += [name] * len(more)
    return clips, columns


def _check_engines(engines) -> None:
    from shared.data import tts

    for name in engines:
        tts.check_allowed(name)
    if "espeak" not in engines:
        raise UserError("the generated keyword corpus needs espeak among its engines")


def _number_words(number: int) -> str:
    return normalize_transcript(str(number))


_DEVICES = ["light", "lights", "lamp", "fan", "heater", "radio", "television", "kettle", "oven"]
_ROOMS = ["kitchen", "bedroom", "living room", "bathroom", "garage", "hallway", "office"]
_THINGS = ["door", "window", "garage door", "curtains", "blinds", "gate"]
_NAMES = ["mum", "dad", "anna", "peter", "maria", "john", "grandma", "the office"]
_GENRES = ["jazz", "rock", "classical", "some", "relaxing", "dance", "quiet"]
_COMMANDS = [
    "turn on the {device}",
    "turn off the {device}",
    "switch on the {room} {device}",
    "switch off the {device} in the {room}",
    "dim the {room} lights",
    "set a timer for {small} minutes",
    "set an alarm for {time}",
    "wake me up at {time}",
    "play {genre} music",
    "stop the music",
    "next song",
    "volume up",
    "volume down",
    "call {name}",
    "open the {thing}",
    "close the {thing}",
    "lock the {thing}",
    "what time is it",
    "what is the weather like",
    "set the temperature to {small} degrees",
    "remind me in {small} minutes",
]


def _random_time(rng: np.random.Generator) -> str:
    hour = _number_words(int(rng.integers(1, 13)))
    style = int(rng.integers(0, 5))
    if style == 0:
        return f"{hour} o'clock"
    if style == 1:
        return f"half past {hour}"
    if style == 2:
        return f"quarter {'past' if rng.random() < 0.5 else 'to'} {hour}"
    minute = int(rng.integers(1, 60))
    return (
        f"{hour} oh {_number_words(minute)}" if minute < 10 else f"{hour} {_number_words(minute)}"
    )


def _random_phrase(rng: np.random.Generator) -> str:
    kind = int(rng.integers(0, 3))
    if kind == 0:
        # Mostly small numbers: they are what people say, and they fit in 3 s.
        top = [10, 100, 1000, 10000][int(rng.choice(4, p=[0.25, 0.35, 0.3, 0.1]))]
        return _number_words(int(rng.integers(0, top)))
    if kind == 1:
        return _random_time(rng)
    template = _COMMANDS[int(rng.integers(0, len(_COMMANDS)))]
    return template.format(
        device=_DEVICES[int(rng.integers(0, len(_DEVICES)))],
        room=_ROOMS[int(rng.integers(0, len(_ROOMS)))],
        thing=_THINGS[int(rng.integers(0, len(_THINGS)))],
        name=_NAMES[int(rng.integers(0, len(_NAMES)))],
        genre=_GENRES[int(rng.integers(0, len(_GENRES)))],
        small=_number_words(int(rng.integers(2, 61))),
        time=_random_time(rng),
    )


def _corpus(kind: str, quick: bool) -> tuple[list[np.ndarray], dict, dict]:
    plan = _QUICK if quick else _FULL
    build = _build_keyword_corpus if kind == "keywords" else _build_transcription_corpus
    name = f"speech_{kind}_quick" if quick else f"speech_{kind}"
    folder = cached_folder(name, lambda work: build(work, plan), _plan_version(plan, kind))
    return _read_corpus(folder)


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
    clips, columns = _keyword_corpus(quick, engines)
    rng = np.random.default_rng(seed)
    words, voices, engine_column = columns["word"], columns["voice"], columns["engine"]
    labels = np.array([LABELS.index(w) if w in KEYWORDS else UNKNOWN_INDEX for w in words])
    # Words start anywhere in their second, as they do in recorded clips.
    offsets = [int(rng.integers(0, CLIP_SAMPLES - len(clip) + 1)) for clip in clips]
    part = voice_parts(voices, seed, held_out_engine)

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
        }

    # As many background-only clips as clips of one keyword, so _silence_ is a peer class,
    # split 80/10/10 like the voices.
    num_silence = int(np.sum((labels == 0) & (part <= 2)))
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
    info["held_out"] = held_out
    return Splits(*splits, source="default", extra=extra, info=info)


def _silence_clips(count: int, rng: np.random.Generator) -> np.ndarray:
    """Background-only clips: coloured-noise mixtures from near silence to loud room noise."""
    noise = audio_lib.background_noise((count, CLIP_SAMPLES), rng)
    level_db = rng.uniform(-70.0, -15.0, size=(count, 1)).astype(np.float32)
    return np.clip(noise * np.float32(10.0) ** (level_db / 20), -1.0, 1.0)


def _default_transcription(seed: int, quick: bool) -> Splits:
    clips, columns, meta = _corpus("transcription", quick)
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


# --- TFDS ---------------------------------------------------------------------------------


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


# --- the user's folders -------------------------------------------------------------------

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


if __name__ == "__main__":
    # python -m apps.speech.data ENGINE FOLDER [--quick]: one engine's keyword clips
    # (`_build_in_subprocess`).
    _quick = "--quick" in sys.argv[3:]
    _build_engine_corpus(
        pathlib.Path(sys.argv[2]), sys.argv[1], _ENGINES_QUICK if _quick else _ENGINES_FULL
    )
