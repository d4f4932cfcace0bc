"""Melodies as events: the vocabulary, ``Tune``, encoding and decoding, bars, transposition.

Runs on device: the standard library only (the future runtime imports it).

A tune is a key, a metre and its bars, each bar a list of notes and rests with durations in
quarter notes (``Note``). It is written as events, in the spirit of Magenta's MelodyRNN and
folk-rnn:

    <start KEY METRE>  then per note: PITCH DURATION [tie]  per rest: rest DURATION
    |  between two bars,  <end>  after the last

- ``<start G major 6/8>``: one token per (key, metre): 12 tonics x ``MODES`` x ``METRES``, so
  a tune can be conditioned on its key and metre. The metres and modes are the ones the
  corpus uses often enough to learn (``README.md`` counts them); every tonic is there, since
  transposition moves a tune to any key.
- ``p48`` .. ``p96``: pitches, MIDI numbers ``LOWEST`` .. ``HIGHEST`` (C3 .. C7).
- ``d1/4`` ..: durations, ``DURATIONS`` in quarter notes, triplets included. A longer or odd
  note is written as tied notes of these durations.
- ``tie``: the note before it is held into the next one (same pitch): one sound over a bar line.
- ``rest``, ``|`` (bar line), ``<end>``; id 0 is ``<pad>`` (never in a tune).

Example:
    >>> tune = Tune("G major", "3/4", [[Note(67, Fraction(2)), Note(None, Fraction(1))],
    ...                                [Note(71, Fraction(3))]])
    >>> [VOCABULARY[i] for i in encode(tune)]
    ['<start G major 3/4>', 'p67', 'd2', 'rest', 'd1', '|', 'p71', 'd3', '<end>']
    >>> decode(encode(tune)) == tune, bars_valid(tune)
    (True, True)
    >>> transpose(tune, 2).key, canonical(tune) == canonical(transpose(tune, -5))
    ('A major', True)
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from fractions import Fraction

TONICS = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MODES = ("major", "minor", "dorian", "mixolydian")
# The metres of at least 20 kept tunes of the corpus (README.md counts them); 12/8 has 3.
METRES = (
    "2/4", "3/4", "4/4", "2/2", "3/8", "6/8", "9/8", "6/4", "3/2", "4/2", "3/1", "4/1", "6/2",
)  # fmt: skip
LOWEST, HIGHEST = 48, 96  # C3 .. C7
DURATIONS = tuple(
    Fraction(text)
    for text in (
        "1/8", "1/6", "1/4", "1/3", "3/8", "1/2", "3/4", "1", "3/2", "2", "3", "4", "6", "8",
    )
)  # fmt: skip
# Pitch classes of each mode's scale above its tonic; minor adds the leading note (its
# harmonic and melodic forms raise the seventh at cadences).
SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
}

PAD, END, BAR, REST, TIE = "<pad>", "<end>", "|", "rest", "tie"


def _duration_name(duration: Fraction) -> str:
    return f"d{duration.numerator}" if duration.denominator == 1 else f"d{duration}"


def _vocabulary() -> list[str]:
    names = [PAD, END, BAR, REST, TIE]
    names += [f"p{pitch}" for pitch in range(LOWEST, HIGHEST + 1)]
    names += [_duration_name(d) for d in DURATIONS]
    names += [
        f"<start {tonic} {mode} {metre}>" for metre in METRES for mode in MODES for tonic in TONICS
    ]
    return names


VOCABULARY: list[str] = _vocabulary()
ID: dict[str, int] = {name: index for index, name in enumerate(VOCABULARY)}
PAD_ID, END_ID, BAR_ID, REST_ID, TIE_ID = (ID[n] for n in (PAD, END, BAR, REST, TIE))
FIRST_PITCH_ID = ID[f"p{LOWEST}"]
FIRST_DURATION_ID = ID[_duration_name(DURATIONS[0])]
FIRST_START_ID = FIRST_DURATION_ID + len(DURATIONS)
DURATION_INDEX = {d: i for i, d in enumerate(DURATIONS)}
_DURATION_IDS = {
    (d.numerator, d.denominator): FIRST_DURATION_ID + i for i, d in enumerate(DURATIONS)
}


@dataclasses.dataclass(frozen=True)
class Note:
    """A note (MIDI `pitch`) or a rest (`pitch` None) of `duration` quarter notes; `tied`: held
    into the next note, which has the same pitch (one sound across a bar line)."""

    pitch: int | None
    duration: Fraction
    tied: bool = False

    def __post_init__(self) -> None:
        if type(self.duration) is not Fraction:
            object.__setattr__(self, "duration", Fraction(self.duration))
        if self.pitch is not None and type(self.pitch) is not int:
            object.__setattr__(self, "pitch", int(self.pitch))


@dataclasses.dataclass(frozen=True)
class Tune:
    """A melody: its `key` ("G major", a tonic of ``TONICS`` and a mode of ``MODES``), its
    `metre` ("6/8") and its bars, each a sequence of ``Note``."""

    key: str
    metre: str
    bars: tuple[tuple[Note, ...], ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "bars", tuple(tuple(bar) for bar in self.bars))

    @property
    def notes(self) -> list[Note]:
        """Every note and rest, in order."""
        return [note for bar in self.bars for note in bar]

    @property
    def tonic(self) -> int:
        """The tonic's pitch class (0 = C)."""
        return key_parts(self.key)[0]

    @property
    def mode(self) -> str:
        return key_parts(self.key)[1]


def key_parts(key: str) -> tuple[int, str]:
    """ "G major" -> (7, "major"); a ValueError for a tonic or mode outside the vocabulary."""
    tonic, _, mode = key.partition(" ")
    if tonic not in TONICS or mode not in MODES:
        raise ValueError(f"key {key!r}: expected a tonic of {TONICS} and a mode of {MODES}")
    return TONICS.index(tonic), mode


def key_name(tonic: int, mode: str) -> str:
    """(pitch class, mode) -> "G major"."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not one of {MODES}")
    return f"{TONICS[tonic % 12]} {mode}"


def bar_length(metre: str) -> Fraction:
    """Quarter notes in a full bar: "6/8" -> 3."""
    top, _, bottom = metre.partition("/")
    return Fraction(int(top) * 4, int(bottom))


def start_id(key: str, metre: str) -> int:
    """The start token of (key, metre)."""
    tonic, mode = key_parts(key)
    if metre not in METRES:
        raise ValueError(f"metre {metre!r} is not one of {METRES}")
    return FIRST_START_ID + (METRES.index(metre) * len(MODES) + MODES.index(mode)) * 12 + tonic


def start_of(token: int) -> tuple[str, str]:
    """A start token's (key, metre)."""
    index = token - FIRST_START_ID
    if not 0 <= index < 12 * len(MODES) * len(METRES):
        raise ValueError(f"token {token} is not a start token")
    metre, rest = divmod(index, 12 * len(MODES))
    mode, tonic = divmod(rest, 12)
    return key_name(tonic, MODES[mode]), METRES[metre]


def is_start(token: int) -> bool:
    return FIRST_START_ID <= token < len(VOCABULARY)


def is_pitch(token: int) -> bool:
    return FIRST_PITCH_ID <= token < FIRST_PITCH_ID + HIGHEST - LOWEST + 1


def is_duration(token: int) -> bool:
    return FIRST_DURATION_ID <= token < FIRST_START_ID


def encode(tune: Tune) -> list[int]:
    """The tune's events: start, then each bar's notes (pitch or rest, duration, tie), bar
    lines between bars, end. A ValueError names what the vocabulary cannot hold."""
    ids = [start_id(tune.key, tune.metre)]
    for index, bar in enumerate(tune.bars):
        if index:
            ids.append(BAR_ID)
        for note in bar:
            if note.pitch is None:
                ids.append(REST_ID)
            elif LOWEST <= note.pitch <= HIGHEST:
                ids.append(FIRST_PITCH_ID + note.pitch - LOWEST)
            else:
                raise ValueError(f"pitch {note.pitch} is outside {LOWEST}..{HIGHEST}")
            duration = _DURATION_IDS.get((note.duration.numerator, note.duration.denominator))
            if duration is None:
                raise ValueError(f"duration {note.duration} is not one of the DURATIONS")
            ids.append(duration)
            if note.tied:
                if note.pitch is None:
                    raise ValueError("a rest cannot be tied")
                ids.append(TIE_ID)
    ids.append(END_ID)
    return ids


def decode(ids: Iterable[int], strict: bool = True) -> Tune:
    """Events -> the tune. Strict: anything out of place (no start token first, a pitch
    without its duration, a token after ``<end>`` ...) is a ValueError. Not strict (a sampled
    sequence): such tokens are skipped, padding ignored, and decoding stops at ``<end>`` or
    the sequence's end; with no start token first the key and metre are "C major" and 4/4."""
    ids = [int(i) for i in ids]
    if not strict:
        ids = [i for i in ids if i != PAD_ID]
    if ids and is_start(ids[0]):
        key, metre = start_of(ids[0])
        ids = ids[1:]
    elif strict:
        raise ValueError("a tune starts with a start token")
    else:
        key, metre = "C major", "4/4"
    bars: list[list[Note]] = [[]]
    pending: int | None = None  # a pitch (or -1 for a rest) waiting for its duration
    ended = False
    for position, token in enumerate(ids):

        def bad(why: str, position=position, token=token) -> None:
            if strict:
                raise ValueError(f"event {position + 1} ({VOCABULARY[token]}): {why}")

        if token < 0 or token >= len(VOCABULARY):
            raise ValueError(f"event {position + 1}: id {token} is outside the vocabulary")
        if ended:
            bad("after <end>")
            break
        if pending is not None and not is_duration(token):
            bad("a pitch or rest without its duration")
            pending = None
        if is_pitch(token):
            pending = token - FIRST_PITCH_ID + LOWEST
        elif token == REST_ID:
            pending = -1
        elif is_duration(token):
            if pending is None:
                bad("a duration without a pitch or rest")
                continue
            pitch = None if pending == -1 else pending
            bars[-1].append(Note(pitch, DURATIONS[token - FIRST_DURATION_ID]))
            pending = None
        elif token == TIE_ID:
            last = bars[-1][-1] if bars[-1] else None
            if last is None or last.pitch is None or last.tied:
                bad("a tie after no note")
                continue
            bars[-1][-1] = dataclasses.replace(last, tied=True)
        elif token == BAR_ID:
            bars.append([])
        elif token == END_ID:
            ended = True
        else:  # another start token, padding
            bad("out of place")
    if strict and not ended:
        raise ValueError("a tune ends with <end>")
    if pending is not None and strict:
        raise ValueError("the last pitch or rest has no duration")
    return Tune(key, metre, bars)


def bars_valid(tune: Tune) -> bool:
    """Every bar fills the metre, except that the first bar (a pickup, an anacrusis) and the
    last (the rest of the pickup's bar) may be shorter; no bar is empty or longer than the
    metre. A one-bar tune may be shorter too."""
    full = bar_length(tune.metre)
    if not tune.bars:
        return False
    for index, bar in enumerate(tune.bars):
        total = sum((note.duration for note in bar), Fraction(0))
        if total == 0 or total > full:
            return False
        if total < full and 0 < index < len(tune.bars) - 1:
            return False
    return True


def transpose(tune: Tune, semitones: int) -> Tune:
    """The tune `semitones` higher (lower if negative), its key too. Pitches may leave
    ``LOWEST``..``HIGHEST`` (``encode`` then refuses); ``transpositions`` says which fit."""
    tonic, mode = key_parts(tune.key)
    bars = [
        [
            dataclasses.replace(n, pitch=None if n.pitch is None else n.pitch + semitones)
            for n in bar
        ]
        for bar in tune.bars
    ]
    return Tune(key_name(tonic + semitones, mode), tune.metre, bars)


def transpositions(tune: Tune, low: int = -6, high: int = 6) -> list[int]:
    """The shifts in ``low..high`` semitones that keep every pitch in the vocabulary's range."""
    pitches = [n.pitch for n in tune.notes if n.pitch is not None]
    if not pitches:
        return list(range(low, high + 1))
    return [
        shift
        for shift in range(low, high + 1)
        if min(pitches) + shift >= LOWEST and max(pitches) + shift <= HIGHEST
    ]


def sounding(tune: Tune) -> list[Note]:
    """The notes as heard: tied notes joined into one (bar lines ignored), rests kept."""
    out: list[Note] = []
    holding = False
    for note in tune.notes:
        if holding and note.pitch == out[-1].pitch:
            out[-1] = Note(note.pitch, out[-1].duration + note.duration)
        else:
            out.append(Note(note.pitch, note.duration) if note.tied else note)
        holding = note.tied
    return out


def canonical(tune: Tune) -> tuple:
    """What stays when a tune is transposed or written in other note values: the interval of
    every sounding note from the one before (None for a rest; the first note 0) and its
    duration over the tune's commonest note duration, as a reduced (numerator, denominator)
    (a reel in 2/4 with sixteenths and the same reel in 4/4 with eighths are one). Bar lines,
    ties, key and metre are left out. Equal for the same tune in any key or octave; use it to
    find duplicates."""
    notes = sounding(tune)
    if not notes:
        return ()
    durations = [(n.duration.numerator, n.duration.denominator) for n in notes]
    pitched = [d for n, d in zip(notes, durations, strict=True) if n.pitch is not None]
    unit_top, unit_bottom = Counter(pitched or durations).most_common(1)[0][0]
    out = []
    previous = None
    for note, (top, bottom) in zip(notes, durations, strict=True):
        if note.pitch is None:
            step = None
        else:
            step = 0 if previous is None else note.pitch - previous
            previous = note.pitch
        numerator, denominator = top * unit_bottom, bottom * unit_top
        divisor = math.gcd(numerator, denominator)
        out.append((step, numerator // divisor, denominator // divisor))
    return tuple(out)


def incipit(tune: Tune, steps: int = 16) -> tuple[int, ...] | None:
    """The first `steps` melodic intervals with repeated notes and rests left out, rhythm
    ignored: the same tune with other ornaments, rhythms or note repetitions (a variant)
    usually keeps it. None for a tune with fewer intervals."""
    pitches = [n.pitch for n in sounding(tune) if n.pitch is not None]
    changes = [b - a for a, b in zip(pitches, pitches[1:], strict=False) if b != a]
    return tuple(changes[:steps]) if len(changes) >= steps else None


def in_key(pitch: int, key: str) -> bool:
    """Whether `pitch` belongs to the scale of `key` (``SCALES``)."""
    tonic, mode = key_parts(key)
    return (pitch - tonic) % 12 in SCALES[mode]


def split_duration(duration: Fraction, parts: int = 3) -> list[Fraction] | None:
    """`duration` as at most `parts` durations of ``DURATIONS``, longest first (to be tied),
    or None when none add up to it (a quintuplet, say)."""
    duration = Fraction(duration)
    if duration in DURATION_INDEX:
        return [duration]
    if parts <= 1:
        return None
    for first in sorted((d for d in DURATIONS if d < duration), reverse=True):
        rest = split_duration(duration - first, parts - 1)
        if rest is not None and rest[0] <= first:
            return [first, *rest]
    return None


def names(ids: Sequence[int]) -> list[str]:
    """The tokens' names (for reading and debugging)."""
    return [VOCABULARY[int(i)] for i in ids]
