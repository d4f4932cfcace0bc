"""Reading and writing melodies: MIDI, MusicXML and ABC in (music21), MIDI, MusicXML, ABC and
WAV out.

``read_melody`` turns a user's file or ABC text into an ``events.Tune`` the way the corpus
turns its tunes into them (``corpus.extract`` then ``corpus.to_tune``: the key and metre from
the file, chords to their top note, grace notes left out, odd durations as tied notes), so a
melody to continue is read as the training tunes were. What the corpus drops, a user gets as
one line (``shared.errors.UserError``) naming the input and the problem.

``abc_text`` writes ABC 2.1 by hand (music21 reads ABC but cannot write it) with the standard
library only, so the TensorFlow-free runtime can put a tune's ABC into its answer; only
reading and the MIDI and MusicXML writers import music21 (the ``train`` extra).

Example:
    tune = read_melody("X:1\\nM:6/8\\nL:1/8\\nK:G\\nD|GAB cde|dBG A2D|")
    write(tune, "tune.mid"); write(tune, "tune.wav", tempo=100)
    print(abc_text(tune))
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import Sequence
from fractions import Fraction

from apps.music import corpus, events, synth
from apps.music.events import Note, Tune
from apps.music.spelling import abc_length, abc_pitch, key_signature, spell
from shared.errors import UserError

READS = {".mid": "midi", ".midi": "midi", ".musicxml": "musicxml", ".xml": "musicxml"}
READS |= {".mxl": "musicxml", ".abc": "abc"}
WRITES = (".mid", ".midi", ".musicxml", ".xml", ".abc", ".wav")
# MIDI is read on a grid fine enough for every duration of events.DURATIONS (1/8 and 1/6).
MIDI_DIVISORS = (8, 6)
MIN_REST = min(events.DURATIONS)
GRID_TICKS = 10080  # MIDI ticks a quarter note, a multiple of 8 and 6 (music21 writes so)
# MIDI knows only major and minor and has no pickup bar: `write` adds a text event with the
# key and the pickup, which `read_melody` reads back (any other MIDI file goes without).
MIDI_TAG = "rnnapps music:"
DEFAULT_TEMPO = 120.0  # quarter notes a minute
_MODES_READ = {"ionian": "major", "aeolian": "minor"}  # music21's names for the same scales


def _short(source: str, length: int = 40) -> str:
    """ABC text or a string that names no file, as its first characters."""
    return source if len(source) <= length else source[: length - 3] + "..."


def _abc_name(text: str) -> str:
    return "ABC " + repr(_short(" ".join(text.split())))


# ---------------------------------------------------------------------------------------------
# Reading


def read_melody(source: str | pathlib.Path, paths: bool = True) -> Tune:
    """A melody from a file (.mid/.midi, .musicxml/.xml/.mxl, .abc) or from ABC text (a string
    with a ``K:`` field or a line break that names no file), as a ``Tune``.

    The key and metre come from the file (music21's key estimate when a file has no key
    signature); the highest part when there are several; chords give their top note; the
    first tune of an ABC file of several. Notes outside C3..C7 are moved by whole octaves
    when that brings them all in. A ``UserError`` names the input and what is wrong. With
    `paths` false (a text from a web request) only ABC text is read, never a file.
    """
    text = str(source)
    if not text.strip():
        raise UserError("melody: empty (give a melody file or ABC text)")
    if not paths:
        if "K:" in text or "\n" in text:
            return _read_abc(text, _abc_name(text))
        raise UserError(
            f"{_short(text, 200)}: not ABC text (give ABC with a K: field; files are not read here)"
        )
    path = pathlib.Path(text)
    try:
        exists = path.exists()
    except (OSError, ValueError):  # a long or odd string is no path
        exists = False
    if exists:
        name = text
        if path.is_dir():
            raise UserError(f"{name}: a folder, not a melody file")
        kind = READS.get(path.suffix.lower())
        if kind is None:
            raise UserError(f"{name}: unknown kind of file: give {', '.join(READS)}")
        try:
            data = path.read_bytes()
        except OSError as error:
            raise UserError(f"{name}: unreadable ({error.strerror or error})") from None
        if not data.strip():
            raise UserError(f"{name}: empty file")
        if kind == "abc":
            return _read_abc(_decode(data), name)
        return _read_score(path, kind, name)
    if "K:" in text or "\n" in text:
        return _read_abc(text, _abc_name(text))
    raise UserError(
        f"{_short(text, 200)}: no such file (give a {', '.join(READS)} file, or ABC text "
        "with a K: field)"
    )


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _one_line(error: Exception) -> str:
    return " ".join(f"{type(error).__name__}: {error}".split())[:160]


def _music21():
    try:
        import music21
    except ImportError:
        raise UserError(
            'reading MIDI, MusicXML and ABC needs music21: pip install "rnn-apps[train]"'
        ) from None
    return music21


def _read_abc(text: str, name: str) -> Tune:
    """The first tune of ABC text, read as ABC 2.1 (accidentals hold to the bar's end) like
    the corpus's tunes."""
    music21 = _music21()
    if not re.search(r"(?m)^X:", text):
        text = "X:1\n" + text
    abc = _first_abc_tune(text)
    try:
        score = music21.converter.parse(corpus.ABC_VERSION + abc, format="abc", forceSource=True)
    except Exception as error:  # music21 raises many types on bad ABC
        raise UserError(f"{name}: not readable as ABC ({_one_line(error)})") from None
    if isinstance(score, music21.stream.Opus):
        score = score.scores[0]
    return _tune_of(score, name, abc=abc)


def _first_abc_tune(text: str) -> str:
    """The first tune of ABC text (from its X: line), with the fields of the file's header
    before it (as ``corpus.abc_tunes`` splits a corpus file)."""
    chunks = re.split(r"(?m)^(?=X:)", text)
    header = "" if chunks[0].lstrip().startswith("X:") else chunks.pop(0)
    fields = "".join(line + "\n" for line in header.splitlines() if re.match(r"^[A-Za-z]:", line))
    first, _, rest = chunks[0].partition("\n")
    return first + "\n" + fields + rest


def _read_score(path: pathlib.Path, kind: str, name: str) -> Tune:
    music21 = _music21()
    tag = None
    try:
        if kind == "midi":
            midi_file = music21.midi.MidiFile()
            midi_file.open(str(path))
            try:
                midi_file.read()
            finally:
                midi_file.close()
            tag = _midi_tag(midi_file)
            _on_grid(midi_file)
            score = music21.midi.translate.midiFileToStream(midi_file, quantizePost=False)
        else:
            score = music21.converter.parse(path, format="musicxml", forceSource=True)
    except Exception as error:  # music21 raises many types on a damaged file
        what = "MIDI" if kind == "midi" else "MusicXML"
        raise UserError(f"{name}: not readable as {what} ({_one_line(error)})") from None
    return _tune_of(score, name, midi=kind == "midi", tag=tag)


def _on_grid(midi_file) -> None:
    """Every event moved to the nearest multiple of 1/8 or 1/6 of a quarter note (the finest
    durations of the vocabulary), at ``GRID_TICKS`` a quarter note so all are exact. music21's
    own quantising rounds each note's length alone: a note held from 11/6 to 11/4 (a triplet
    sixteenth tied to a dotted eighth) came back 7/8 long, not 11/12."""
    from music21.midi import DeltaTime

    per_quarter = midi_file.ticksPerQuarterNote
    if not per_quarter or per_quarter <= 0:  # SMPTE time: left to music21
        return
    for track in midi_file.tracks:
        now = before = 0
        for event in track.events:
            if isinstance(event, DeltaTime):
                now += event.time
                quarters = Fraction(now, per_quarter)
                snapped = min(
                    (Fraction(round(quarters * d), d) for d in MIDI_DIVISORS),
                    key=lambda point: abs(point - quarters),
                )
                ticks = int(snapped * GRID_TICKS)
                event.time, before = ticks - before, ticks
    midi_file.ticksPerQuarterNote = GRID_TICKS


def _midi_tag(midi_file) -> dict:
    """The key and pickup that ``write`` stored in a MIDI text event ({} in other files)."""
    from music21.midi import MetaEvents

    for track in midi_file.tracks:
        for event in track.events:
            if getattr(event, "type", None) == MetaEvents.TEXT_EVENT and event.data:
                text = event.data.decode("utf-8", "replace")
                if text.startswith(MIDI_TAG):
                    return dict(
                        part.strip().split(" ", 1)
                        for part in text[len(MIDI_TAG) :].split(";")
                        if " " in part.strip()
                    )
    return {}


def _highest_part(score):
    """The part whose notes sound highest on average (chords by their top note), or None."""
    from music21 import stream

    parts = list(score.parts) if hasattr(score, "parts") else []
    if not parts and isinstance(score, stream.Stream):
        parts = [score]
    best, best_mean = None, None
    for part in parts:
        pitches = [max(p.midi for p in n.pitches) for n in part.recurse().notes if n.pitches]
        if pitches and (best_mean is None or sum(pitches) / len(pitches) > best_mean):
            best, best_mean = part, sum(pitches) / len(pitches)
    return best


def _tune_of(score, name: str, abc: str | None = None, midi: bool = False, tag=None) -> Tune:
    """A parsed score -> the tune, through the corpus's own extraction."""
    from music21 import stream

    part = _highest_part(score)
    if part is None:
        raise UserError(f"{name}: no melody (no notes)")
    # music21 makes no bars of ABC with fewer than two bar lines: bar it by its metre.
    if not part.getElementsByClass(stream.Measure) and part.recurse().getElementsByClass(
        "TimeSignature"
    ):
        part = part.makeMeasures()
    raw = corpus.extract(stream.Score([part]), "user", abc)
    if raw.get("key") is None or "tonic" not in raw["key"]:
        raw["key"] = _key_without_mode(part, raw.get("key"))
    if raw["key"].get("mode") in _MODES_READ:
        raw["key"]["mode"] = _MODES_READ[raw["key"]["mode"]]
    if midi:
        _midi_bars(raw, tag or {})
    raw["bars"] = _in_range(raw.get("bars") or [], name)
    return _to_tune(raw, name)


def _key_without_mode(part, found: dict | None) -> dict:
    """A key for a file without one: with a signature alone, its major or its relative minor
    by the last note (as the corpus reads the Humdrum chorales); with none, music21's
    estimate (Krumhansl-Schmuckler), major or minor."""
    if found is not None and "sharps" in found:
        major = (7 * found["sharps"]) % 12
        minor = (major + 9) % 12
        last = part.recurse().notes.last()
        if last is not None and max(p.midi for p in last.pitches) % 12 == minor:
            return {"sharps": found["sharps"], "tonic": minor, "mode": "minor"}
        return {"sharps": found["sharps"], "tonic": major, "mode": "major"}
    if not part.recurse().notes:
        return {}
    estimate = part.analyze("key")
    return {"sharps": estimate.sharps, "tonic": estimate.tonic.pitchClass, "mode": estimate.mode}


def _rest_run(bar: list, length: Fraction) -> list:
    """`bar` without `length` quarter notes of rests at its start (a rest cut if need be)."""
    out = list(bar)
    while length > 0 and out and out[0][0] is None:
        duration = Fraction(out[0][1])
        if duration <= length:
            out.pop(0)
            length -= duration
        else:
            out[0] = [None, str(duration - length), ""]
            length = Fraction(0)
    return out


def _midi_bars(raw: dict, tag: dict) -> None:
    """MIDI has no rests, pickups or modes, only sound and silence. Another program's file:
    the silence before the first note and after the last is no part of the tune (the first
    bar is a pickup when the first note comes late in it). A file ``write`` made: its text
    event gives the key, the pickup (written after a rest that fills its bar, so bar lines
    fall in time) and the length (a tune may end in rests)."""
    bars = [_held(bar) for bar in raw.get("bars") or []]
    full = events.bar_length(raw["metres"][0]) if raw.get("metres") else None
    if not tag or full is None:
        while bars and all(pitch is None for pitch, _, _ in bars[0]):
            bars.pop(0)
        while bars and all(pitch is None for pitch, _, _ in bars[-1]):
            bars.pop()
        if bars:
            bars[0] = _rest_run(bars[0], sum((Fraction(d) for _, d, _ in bars[0]), Fraction(0)))
            while bars[-1] and bars[-1][-1][0] is None:
                bars[-1].pop()
        raw["bars"] = bars
        return
    try:
        tonic, mode = events.key_parts(tag.get("key", ""))
        raw["key"] = {"tonic": tonic, "mode": mode}
    except ValueError:
        pass  # a tag without a key we know: the key signature's
    pickup = Fraction(tag["pickup"]) if "pickup" in tag else None
    if pickup is not None and bars:
        bars[0] = _rest_run(bars[0], full - pickup)
    if "length" in tag:
        bars = _to_length(bars, Fraction(tag["length"]), full, pickup)
    raw["bars"] = bars


def _held(bar: list) -> list:
    """A silence shorter than the shortest duration (1/8 of a quarter note) after a note is
    that note held: a played note is let go a little early."""
    out: list = []
    for pitch, duration, tied in bar:
        if pitch is None and out and out[-1][0] is not None and Fraction(duration) < MIN_REST:
            length = Fraction(out[-1][1]) + Fraction(duration)
            out[-1] = [out[-1][0], f"{length.numerator}/{length.denominator}", out[-1][2]]
        else:
            out.append([pitch, duration, tied])
    return out


def _to_length(bars: list, length: Fraction, full: Fraction, pickup: Fraction | None) -> list:
    """Raw bars cut or filled with rests (split at the bar lines) to `length` quarter notes."""
    kept, total = [], Fraction(0)
    for bar in bars:
        row = []
        for pitch, duration, tied in bar:
            duration = min(Fraction(duration), length - total)
            if duration > 0:
                row.append([pitch, f"{duration.numerator}/{duration.denominator}", tied])
                total += duration
        if row:
            kept.append(row)
    missing = length - total
    if missing > 0 and kept:
        capacity = pickup if pickup is not None and len(kept) == 1 else full
        room = capacity - sum((Fraction(d) for _, d, _ in kept[-1]), Fraction(0))
        if room > 0:
            add = min(room, missing)
            kept[-1].append([None, f"{add.numerator}/{add.denominator}", ""])
            missing -= add
    while missing > 0:
        add = min(full, missing)
        kept.append([[None, f"{add.numerator}/{add.denominator}", ""]])
        missing -= add
    return kept


def _in_range(bars: list, name: str) -> list:
    """The raw bars moved by whole octaves into C3..C7 when they are outside and fit."""
    pitches = [pitch for bar in bars for pitch, _, _ in bar if pitch is not None]
    if not pitches:
        return bars
    low, high = min(pitches), max(pitches)
    if low >= events.LOWEST and high <= events.HIGHEST:
        return bars
    for shift in sorted(range(-60, 61, 12), key=abs):
        if low + shift >= events.LOWEST and high + shift <= events.HIGHEST:
            return [[[None if p is None else p + shift, d, t] for p, d, t in bar] for bar in bars]
    raise UserError(
        f"{name}: notes from {_pitch_name(low)} to {_pitch_name(high)} do not fit in the "
        f"{_pitch_name(events.LOWEST)}..{_pitch_name(events.HIGHEST)} the model knows, even "
        "moved by octaves"
    )


def _pitch_name(pitch: int) -> str:
    return f"{events.TONICS[pitch % 12]}{pitch // 12 - 1}"


def _to_tune(raw: dict, name: str) -> Tune:
    """``corpus.to_tune``, its reasons for dropping a tune as one line naming the input; a
    short melody (the corpus keeps 8 notes or more) is a melody all the same."""
    try:
        return corpus.to_tune(raw)
    except corpus.Dropped as why:
        detail = str(why).partition(": ")[2]
        if why.reason == "too_short":
            return _short_tune(raw)
        raise UserError(f"{name}: {_problem(why.reason, detail, raw)}") from None


def _short_tune(raw: dict) -> Tune:
    """What ``corpus.to_tune`` would give a tune it drops for having few notes (it checks
    that last, so the rest holds)."""
    metre = raw["metres"][0]
    changes = corpus.Counter()
    bars = corpus._notes(raw["bars"], changes)
    bars = corpus._merge_short_bars(bars, events.bar_length(metre), changes)
    return Tune(corpus._key(raw), metre, bars)


def _problem(reason: str, detail: str, raw: dict) -> str:
    if reason == "no_melody":
        return "no melody (no notes)"
    if reason == "no_metre":
        return "no metre (give one, as M:6/8 in ABC)"
    if reason == "metre_changes":
        several = f" ({detail})" if " " in detail else ""  # ABC's are counted, not listed
        return f"the metre changes{several}: give a tune in one metre"
    if reason == "unknown_metre":
        return f"metre {detail} is not one the model knows ({' '.join(events.METRES)})"
    if reason == "unknown_key":
        found = raw.get("key") or {}
        tonic = events.TONICS[found["tonic"]] + " " if "tonic" in found else ""
        return f"key {tonic}{detail}: the model knows the modes {', '.join(events.MODES)}"
    if reason == "duration":
        return (
            f"a note of {detail} quarter notes (a quintuplet or another tuplet) that no tied "
            "durations of the model make"
        )
    if reason == "irregular_bars":
        metre = raw["metres"][0]
        return (
            f"{_bad_bar(raw['bars'], events.bar_length(metre))} does not fill the {metre} "
            "metre (only the first and the last bar may be shorter)"
        )
    return corpus.DROP_REASONS.get(reason, reason)


def _bad_bar(bars: list, full: Fraction) -> str:
    """The first bar (counted as written, from 1) that breaks ``events.bars_valid``."""
    totals = [sum((Fraction(d) for _, d, _ in bar), Fraction(0)) for bar in bars if bar]
    for index, total in enumerate(totals):
        if total > full:
            return f"bar {index + 1} ({total} quarter notes)"
        joined = index + 1 < len(totals) and total + totals[index + 1] == full
        after_join = index > 0 and totals[index - 1] + total == full and totals[index - 1] < full
        if total < full and 0 < index < len(totals) - 1 and not joined and not after_join:
            return f"bar {index + 1} ({total} quarter notes)"
    return "a bar"


# ---------------------------------------------------------------------------------------------
# Writing


def write(
    tune: Tune, path: str | pathlib.Path, tempo: float = DEFAULT_TEMPO, title: str = ""
) -> pathlib.Path:
    """Write `tune` by `path`'s suffix: .mid/.midi (music21), .musicxml/.xml (music21), .abc
    (``abc_text``) or .wav (``synth``, at `tempo` quarter notes a minute). Returns the path."""
    path = pathlib.Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITES:
        raise UserError(f"{path}: unknown kind of file to write: give {', '.join(WRITES)}")
    if tempo <= 0:
        raise UserError(f"tempo {tempo}: must be above 0 (quarter notes a minute)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".abc":
            path.write_text(abc_text(tune, title=title), encoding="utf-8")
        elif suffix == ".wav":
            synth.write_wav(path, tune, tempo=tempo)
        elif suffix in (".mid", ".midi"):
            _write_midi(tune, path, tempo, title)
        else:
            score = _score(tune, tempo, title)
            score.write("musicxml", fp=str(path))
    except OSError as error:
        raise UserError(f"{path}: cannot be written ({error.strerror or error})") from None
    return path


def _pickup(tune: Tune) -> Fraction | None:
    """The first bar's length when it is shorter than the metre (and not the only bar)."""
    first = sum((n.duration for n in tune.bars[0]), Fraction(0)) if tune.bars else Fraction(0)
    full = events.bar_length(tune.metre)
    return first if 0 < first < full and len(tune.bars) > 1 else None


def _m21_tonic(key: str) -> str:
    tonic, _, _ = key.partition(" ")
    return tonic[0] + tonic[1:].replace("b", "-")  # music21 writes flats as "-"


def _score(tune: Tune, tempo: float, title: str = "", pad_pickup: bool = False):
    """The tune as a music21 score of one part: a measure per bar (the pickup a short first
    measure, or padded with a rest for MIDI), ties, the key, the metre and the tempo."""
    from music21 import key, metadata, meter, note, stream, tie
    from music21 import tempo as tempo_marks

    _, mode = events.key_parts(tune.key)
    full = events.bar_length(tune.metre)
    pickup = _pickup(tune)
    part = stream.Part(id="melody")
    part.partName = "Melody"
    held = False  # the note before was tied into this one
    for index, bar in enumerate(tune.bars):
        measure = stream.Measure(number=index + (0 if pickup is not None else 1))
        if index == 0:
            measure.append(meter.TimeSignature(tune.metre))
            measure.append(key.Key(_m21_tonic(tune.key), mode))
            measure.append(tempo_marks.MetronomeMark(number=tempo))
            if pickup is not None and pad_pickup:
                measure.append(note.Rest(quarterLength=full - pickup))
        for item in bar:
            if item.pitch is None:
                element = note.Rest(quarterLength=item.duration)
                element.fullMeasure = False  # a lone rest in a short bar is not a bar's rest
            else:
                element = note.Note(item.pitch, quarterLength=item.duration)
                if item.tied or held:
                    kind = "continue" if item.tied and held else "start" if item.tied else "stop"
                    element.tie = tie.Tie(kind)
            held = item.pitch is not None and item.tied
            measure.append(element)
        total = sum((n.duration for n in bar), Fraction(0))
        if index == 0 and pickup is not None and not pad_pickup:
            measure.paddingLeft = full - total
        elif index == len(tune.bars) - 1 and total < full:
            measure.paddingRight = full - total  # no rest added to fill it
        part.append(measure)
    score = stream.Score([part])
    score.metadata = metadata.Metadata(
        title=title or f"Melody in {tune.key}, {tune.metre}", composer="rnn-apps"
    )
    return score


def _write_midi(tune: Tune, path: pathlib.Path, tempo: float, title: str) -> None:
    """A MIDI file of the tune, the pickup padded to a whole bar and a text event naming the
    key (MIDI's own knows only major and minor), the pickup and the length."""
    from music21.midi import DeltaTime, MetaEvents, MidiEvent, translate

    midi_file = translate.streamToMidiFile(_score(tune, tempo, title, pad_pickup=True))
    total = sum((n.duration for n in tune.notes), Fraction(0))
    fields = [f"key {tune.key}", f"length {total}"]
    pickup = _pickup(tune)
    if pickup is not None:
        fields.append(f"pickup {pickup}")
    track = next((t for t in midi_file.tracks if t.hasNotes()), midi_file.tracks[0])
    event = MidiEvent(track, type=MetaEvents.TEXT_EVENT)
    event.data = f"{MIDI_TAG} {'; '.join(fields)}".encode()
    track.events[0:0] = [DeltaTime(track, time=0), event]
    midi_file.open(str(path), "wb")
    try:
        midi_file.write()
    finally:
        midi_file.close()


# ---------------------------------------------------------------------------------------------
# ABC (standard library only)

_ABC_MODES = {"major": "", "minor": "m", "dorian": "dor", "mixolydian": "mix"}
_ACCIDENTALS = {-1: "_", 0: "=", 1: "^"}


UNIT = Fraction(1, 2)  # L:1/8, an eighth note, in quarter notes


def _triplet(duration: Fraction) -> bool:
    return duration.denominator % 3 == 0


def _beat(metre: str) -> Fraction:
    top, _, bottom = metre.partition("/")
    if bottom == "8" and int(top) % 3 == 0:
        return Fraction(3, 2)  # compound metres: a dotted quarter
    return Fraction(4, int(bottom))


def _abc_bar(bar: Sequence[Note], signature: dict[str, int], beat: Fraction) -> str:
    """One bar's notes. An accidental is written whenever the note differs from the key, and
    again for every later note of its letter in the bar (in any octave), so the bar reads the
    same whichever way a reader carries accidentals. Triplet notes (1/3, 1/6) go in tuplets of
    three, ``(3``, and ``(3:2:n`` for the one or two left of a run (music21 reads one digit
    of n)."""
    out = []
    touched: set[str] = set()
    position = Fraction(0)
    tuplet_left = 0  # notes still inside the open tuplet
    for index, note in enumerate(bar):
        if position and position % beat == 0 and not tuplet_left:
            out.append(" ")
        if _triplet(note.duration) and not tuplet_left:
            run = 0
            while index + run < len(bar) and _triplet(bar[index + run].duration):
                run += 1
            tuplet_left = min(run, 3)
            out.append("(3" if tuplet_left == 3 else f"(3:2:{tuplet_left}")
        written = note.duration
        if tuplet_left:
            written *= Fraction(3, 2)
            tuplet_left -= 1
        length = abc_length(written / UNIT)
        if note.pitch is None:
            out.append("z" + length)
        else:
            letter, alteration, octave = spell(note.pitch, signature)
            mark = ""
            if alteration != signature[letter] or letter in touched:
                mark = _ACCIDENTALS[alteration]
                touched.add(letter)
            out.append(mark + abc_pitch(letter, octave) + length + ("-" if note.tied else ""))
        position += note.duration
    return "".join(out)


def abc_text(tune: Tune, title: str = "", number: int = 1, bars_per_line: int = 4) -> str:
    """The tune as ABC 2.1 text: X:, T:, M:, L:1/8, K: (tonic and mode: ``K:Ador``), then the
    bars, `bars_per_line` to a line. ``read_melody`` reads it back to the same tune.

    Example:
        >>> from fractions import Fraction as F
        >>> tune = Tune("G major", "6/8", [[Note(62, F(1, 2))], [Note(67, F(3, 2), True)],
        ...                                [Note(67, F(1, 2)), Note(66, F(1))]])
        >>> print(abc_text(tune, title="A jig"))
        %abc-2.1
        X:1
        T:A jig
        M:6/8
        L:1/8
        K:G
        D | G3- | GF2 |
        <BLANKLINE>
    """
    tonic, mode = tune.key.split(" ")
    signature = key_signature(tune.key)
    beat = _beat(tune.metre)
    lines = [
        corpus.ABC_VERSION.strip(),
        f"X:{number}",
        f"T:{title or f'Melody in {tune.key}'}",
        f"M:{tune.metre}",
        "L:1/8",
        f"K:{tonic}{_ABC_MODES[mode]}",
    ]
    bars = [_abc_bar(bar, signature, beat) for bar in tune.bars]
    # Every bar line a plain "|": music21 makes no bars of ABC with fewer than two.
    for start in range(0, len(bars), bars_per_line):
        lines.append(" | ".join(bars[start : start + bars_per_line]) + " |")
    return "\n".join(lines) + "\n"
