"""Spelling pitches in a key: letters and accidentals, as ABC and the piano roll write them.

Standard library and ``apps.music.events`` only, so the piano roll of an answer (the server's
figure, ``apps.music.answer_figure``) needs no music21; ``apps.music.render`` writes ABC with it.
"""

from __future__ import annotations

from fractions import Fraction

from apps.music import events

_LETTERS = "CDEFGAB"
_NATURAL = (0, 2, 4, 5, 7, 9, 11)  # C D E F G A B
_SCALES = {  # seven degrees above the tonic, one per letter
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
}


def key_signature(key: str) -> dict[str, int]:
    """Each letter's alteration (-1 flat, 0, +1 sharp) in `key` ("Eb dorian": B E A D G flat),
    the tonic spelled as ``events.TONICS`` spells it."""
    tonic, mode = events.key_parts(key)
    letter = _LETTERS.index(key[0])
    signature = {}
    for degree, interval in enumerate(_SCALES[mode]):
        name = _LETTERS[(letter + degree) % 7]
        natural = _NATURAL[_LETTERS.index(name)]
        signature[name] = ((tonic + interval - natural + 6) % 12) - 6
    return signature


def spell(pitch: int, signature: dict[str, int]) -> tuple[str, int, int]:
    """(letter, alteration, octave) of a MIDI pitch in a key: the key's own note when it has
    one, else a natural, else a sharp in a key of sharps (or none) and a flat in one of flats."""
    options = []
    for letter, natural in zip(_LETTERS, _NATURAL, strict=True):
        alteration = ((pitch - natural + 6) % 12) - 6
        if abs(alteration) <= 1:
            options.append((letter, alteration))
    flats = sum(signature.values()) < 0

    def rank(option: tuple[str, int]) -> tuple[int, int]:
        letter, alteration = option
        if signature[letter] == alteration:
            return (0, 0)
        if alteration == 0:
            return (1, 0)
        return (2, 0 if (alteration < 0) == flats else 1)

    letter, alteration = min(options, key=rank)
    octave = (pitch - alteration - _NATURAL[_LETTERS.index(letter)]) // 12 - 1
    return letter, alteration, octave


def abc_pitch(letter: str, octave: int) -> str:
    """C4 (middle C) is ``C``, C5 ``c``, C6 ``c'``, C3 ``C,``."""
    if octave >= 5:
        return letter.lower() + "'" * (octave - 5)
    return letter + "," * (4 - octave)


def abc_length(units: Fraction) -> str:
    """A length in units of L: ("" for 1, "3/2", "/" for 1/2, "/4")."""
    if units == 1:
        return ""
    if units.denominator == 1:
        return str(units.numerator)
    if units.numerator == 1:
        return "/" if units.denominator == 2 else f"/{units.denominator}"
    return f"{units.numerator}/{units.denominator}"
