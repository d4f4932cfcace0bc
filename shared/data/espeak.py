"""eSpeak NG over ctypes: an offline speech synthesizer for generated speech corpora.

The ``espeakng-loader`` wheel ships ``libespeak-ng`` and its voice data. With
synchronous output and a synth callback it speaks a word in about a millisecond,
in a dozen English accents times about a hundred voice variants (``+f3``,
``+m2``, ``+whisper``, ``+croak`` ...), which is what makes a speaker-independent
synthetic corpus possible: hold some variants out and test on voices never heard.
"""

from __future__ import annotations

import ctypes
import pathlib
import threading

import numpy as np

# Values from espeak-ng's speak_lib.h.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_ESPEAK_RATE = 1
_ESPEAK_PITCH = 3
_CHARS_UTF8 = 1
_ESPEAK_OK = 0

# Voices whose language code starts with "en" but that are not an English accent of
# ordinary text: en-shaw reads the Shavian alphabet and only repeats "en" for Latin text.
_NOT_ACCENTS = frozenset({"en-shaw"})

_SYNTH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class _Voice(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_char_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


class Espeak:
    """The eSpeak NG synthesizer shipped by ``espeakng-loader``, driven through ctypes.

    libespeak-ng keeps one global state per process, so every instance shares one
    loaded library and synthesis is serialised by a lock.

    Attributes:
        sample_rate: the rate of the audio `synthesize` returns (22,050 Hz).

    Example:
        >>> speaker = Espeak()
        >>> audio = speaker.synthesize("yes", voice="en-us+f3", rate=160, pitch=60)
        >>> audio.dtype, speaker.sample_rate
        (dtype('float32'), 22050)
    """

    _lock = threading.Lock()
    _library: ctypes.CDLL | None = None
    _data_path: pathlib.Path | None = None
    _sample_rate = 0
    _chunks: list[np.ndarray] = []
    _callback = None  # keep the ctypes callback alive as long as the library
    _current_voice: str | None = None

    def __init__(self) -> None:
        with Espeak._lock:
            if Espeak._library is None:
                Espeak._load()

    @classmethod
    def _load(cls) -> None:
        import espeakng_loader

        library = ctypes.CDLL(espeakng_loader.get_library_path())
        data_path = pathlib.Path(espeakng_loader.get_data_path())
        library.espeak_Initialize.argtypes = [
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_int,
        ]
        library.espeak_Initialize.restype = ctypes.c_int
        library.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
        library.espeak_SetSynthCallback.restype = None
        library.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        library.espeak_SetVoiceByName.restype = ctypes.c_int
        library.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        library.espeak_SetParameter.restype = ctypes.c_int
        library.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        library.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        library.espeak_Synth.argtypes = [
            ctypes.c_void_p,  # text
            ctypes.c_size_t,  # size in bytes, including the terminator
            ctypes.c_uint,  # position
            ctypes.c_int,  # position type
            ctypes.c_uint,  # end position
            ctypes.c_uint,  # flags
            ctypes.c_void_p,  # unique identifier
            ctypes.c_void_p,  # user data
        ]
        library.espeak_Synth.restype = ctypes.c_int

        sample_rate = library.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, str(data_path).encode(), 0
        )
        if sample_rate <= 0:
            raise RuntimeError(f"espeak_Initialize failed with {sample_rate} for {data_path}")

        def collect(samples, count, _events):
            # Called from inside espeak_Synth on this thread; a zero count marks the end.
            if count > 0:
                cls._chunks.append(np.ctypeslib.as_array(samples, shape=(count,)).copy())
            return 0

        cls._callback = _SYNTH_CALLBACK(collect)
        library.espeak_SetSynthCallback(cls._callback)
        cls._library, cls._data_path, cls._sample_rate = library, data_path, sample_rate

    @property
    def sample_rate(self) -> int:
        """The sample rate of synthesized audio in Hz."""
        return Espeak._sample_rate

    def accents(self, language: str = "en") -> list[str]:
        """Voice names (lowercase, e.g. ``en-us``, ``en-gb-scotland``) speaking `language`."""
        voice_list = Espeak._library.espeak_ListVoices(None)
        names = set()
        index = 0
        while voice_list[index]:
            identifier = voice_list[index].contents.identifier.decode()
            name = identifier.rsplit("/", 1)[-1].lower()
            if (name == language or name.startswith(language + "-")) and name not in _NOT_ACCENTS:
                names.add(name)
            index += 1
        return sorted(names)

    def variants(self) -> list[str]:
        """Voice variant names from the data folder (``f3``, ``m2``, ``whisper`` ...).

        Names with spaces are left out so that a voice is always one plain token.
        """
        folder = Espeak._data_path / "voices" / "!v"
        return sorted(p.name for p in folder.iterdir() if p.is_file() and " " not in p.name)

    def voices(self, language: str = "en") -> list[str]:
        """Every accent of `language`, plain and with every variant: ``en-us``, ``en-us+f3`` ..."""
        variants = self.variants()
        voices = []
        for accent in self.accents(language):
            voices.append(accent)
            voices.extend(f"{accent}+{variant}" for variant in variants)
        return voices

    def synthesize(
        self, text: str, voice: str = "en", rate: int = 175, pitch: int = 50
    ) -> np.ndarray:
        """Speak `text`; return mono float32 samples in [-1, 1] at `sample_rate`.

        Args:
            text: what to say.
            voice: an accent with an optional variant, e.g. ``en-gb-scotland+m3``.
            rate: speaking rate in words per minute (80 to 450; 175 is normal).
            pitch: base pitch, 0 to 100 (50 is normal).
        """
        if not text.strip():
            raise ValueError(f"text must not be empty, got {text!r}")
        if not 80 <= rate <= 450:
            raise ValueError(f"rate must be in [80, 450] words per minute, got {rate}")
        if not 0 <= pitch <= 100:
            raise ValueError(f"pitch must be in [0, 100], got {pitch}")
        library = Espeak._library
        with Espeak._lock:
            if voice != Espeak._current_voice:
                self._check_variant(voice)
                if library.espeak_SetVoiceByName(voice.encode()) != _ESPEAK_OK:
                    raise ValueError(f"voice {voice!r} is not an eSpeak NG voice")
                Espeak._current_voice = voice
            library.espeak_SetParameter(_ESPEAK_RATE, int(rate), 0)
            library.espeak_SetParameter(_ESPEAK_PITCH, int(pitch), 0)
            Espeak._chunks = []
            encoded = text.encode("utf-8") + b"\0"
            status = library.espeak_Synth(encoded, len(encoded), 0, 0, 0, _CHARS_UTF8, None, None)
            chunks, Espeak._chunks = Espeak._chunks, []
        if status != _ESPEAK_OK:
            raise RuntimeError(f"espeak_Synth failed with status {status} for {text!r}")
        if not chunks:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(chunks).astype(np.float32) / 32768.0

    def _check_variant(self, voice: str) -> None:
        # eSpeak silently ignores an unknown variant; a typo would then pass as a new voice.
        _, plus, variant = voice.partition("+")
        if plus and variant not in self.variants():
            raise ValueError(f"voice {voice!r}: unknown variant {variant!r}")
