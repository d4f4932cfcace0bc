"""The embedded corpus: real melodies shipped inside the music21 wheel, parsed once and cached.

Four collections (``COLLECTIONS``): the Essen folksong collection, O'Neill's "1850" and Ryan's
Mammoth Collection (ABC files, many tunes to a file except Ryan's, one tune a file), and the
Bach chorales (MusicXML, three Humdrum files; the soprano line is the melody). Parsing all of
them with music21 takes minutes (``README.md`` has the measured time), so it happens once: the
notes as music21 reads them (``raw``: pitch, duration, tie, per bar; the source's key and
metre) are cached under ``data/music_corpus/`` by ``shared.data.cache.cached_folder``, which
rebuilds the folder when ``RAW_VERSION`` changes or a file is damaged. Turning raw tunes into
``events.Tune`` (``to_tune``) is fast and happens on every load, so a change of the event
vocabulary needs no new parse, and it says why each tune it drops cannot be represented
(``DROP_REASONS``).

Parsing needs music21 (the ``train`` extra); loading a finished cache does not import it.

Example:
    corpus = load_corpus()                       # parses on first use, minutes; then seconds
    corpus.records[0].tune.key, corpus.dropped["essen"]
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import functools
import gzip
import json
import multiprocessing
import os
import pathlib
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from fractions import Fraction

from apps.music import events
from apps.music.events import Note, Tune
from shared.data.cache import cached_folder
from shared.errors import UserError

ABC_VERSION = "%abc-2.1\n"  # accidentals hold to the end of the bar (see Item.parse)
RAW_VERSION = "2"  # bump when the extraction from music21 changes: the cache is rebuilt
CACHE_NAME = "music_corpus"


@dataclasses.dataclass(frozen=True)
class Collection:
    """One collection of the corpus: where it sits in music21's corpus and what it is."""

    name: str
    folder: str  # under music21/corpus/
    kind: str  # "abc" or "score" (MusicXML, Humdrum)
    title: str
    source: str
    licence: str


_MUSIC21_LICENCE = (
    "music21's corpus licence (music21/corpus/license.txt): distributed with the encoders' "
    "permission, out of copyright in the US or licensed for use, possibly not for commercial "
    "use; music21 itself is BSD-3-Clause"
)

COLLECTIONS: dict[str, Collection] = {
    c.name: c
    for c in (
        Collection(
            "essen",
            "essenFolksong",
            "abc",
            "Essen Folksong Collection (EsAC)",
            "Helmut Schaffrath's Essen Associative Code database (German, other European and "
            "Chinese folk songs), continued by Ewa Dahlig-Turek; ABC by Seymour Schlien",
            "non-commercial distribution and use in music21 permitted by E. Dahlig-Turek; "
            "ABC distributed by S. Schlien's permission; 'legal status unclear' "
            "(music21/corpus/essenFolksong/license.txt)",
        ),
        Collection(
            "oneills",
            "oneills1850",
            "abc",
            "O'Neill's Music of Ireland (the 1850 melodies, 1903)",
            "Francis O'Neill, Chicago 1903 (public domain); ABC transcribed by volunteers "
            "(Norbert Paap, Henrik Norbeck, Bob Safranek, John Chambers and others)",
            _MUSIC21_LICENCE,
        ),
        Collection(
            "ryans",
            "ryansMammoth",
            "abc",
            "Ryan's Mammoth Collection (1883)",
            "William Bradbury Ryan, Boston 1883 (public domain); ABC contributed by Ray Davies, "
            "Bob Puckette, John Walsh, John Chambers and others",
            _MUSIC21_LICENCE,
        ),
        Collection(
            "chorales",
            "bach",
            "score",
            "J. S. Bach's four-part chorales (soprano line)",
            "Bach's harmonisations (public domain); MusicXML encoded by Margaret Greentree "
            "(jsbchorales.net, 2004-2008), three in Humdrum (**kern)",
            _MUSIC21_LICENCE,
        ),
    )
}

MIN_NOTES = 8
# Why a tune is not in the corpus, in the order `to_tune` checks.
DROP_REASONS = {
    "parse_error": "music21 could not parse it",
    "no_melody": "no soprano part, or no notes",
    "no_metre": "no metre (Essen's free-metre songs, M: none)",
    "metre_changes": "more than one metre",
    "unknown_metre": "a metre outside events.METRES",
    "unknown_key": "a key signature without a tonic, or a mode outside events.MODES",
    "duration": "a duration no sum of events.DURATIONS makes (quintuplets, other tuplets)",
    "pitch_range": "a pitch outside events.LOWEST..events.HIGHEST",
    "irregular_bars": "a bar inside the tune that does not fill the metre (events.bars_valid)",
    "too_short": f"fewer than {MIN_NOTES} notes",
}


def music21_corpus_root() -> pathlib.Path:
    """The corpus folder inside the installed music21 wheel."""
    try:
        import music21
    except ImportError as error:
        raise UserError(
            'the music corpus is parsed with music21: pip install "rnn-apps[train]"'
        ) from error
    return pathlib.Path(music21.__file__).parent / "corpus"


def collection_files(collection: Collection, root: pathlib.Path) -> list[pathlib.Path]:
    """The collection's files in music21's corpus, sorted (licence notes left out)."""
    suffixes = {".abc"} if collection.kind == "abc" else {".mxl", ".xml", ".krn"}
    folder = root / collection.folder
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in suffixes)


# ---------------------------------------------------------------------------------------------
# Parsing with music21 (slow; its result is cached)


def _read_text(path: pathlib.Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def abc_tunes(path: pathlib.Path) -> list[tuple[int | None, str]]:
    """The tunes of an ABC file as (X: number, the tune's ABC text with the file's header)."""
    text = _read_text(path)
    chunks = re.split(r"(?m)^(?=X:)", text)
    header = "" if chunks[0].lstrip().startswith("X:") else chunks.pop(0)
    header_fields = "".join(
        line + "\n" for line in header.splitlines() if re.match(r"^[A-Za-z]:", line)
    )
    tunes = []
    for chunk in chunks:
        if not chunk.startswith("X:"):
            continue
        number = re.match(r"X:\s*(\d+)", chunk)
        first, _, rest = chunk.partition("\n")
        tunes.append(
            (int(number.group(1)) if number else None, first + "\n" + header_fields + rest)
        )
    return tunes


def _fraction_text(quarter_length) -> str:
    value = Fraction(quarter_length).limit_denominator(10_000)
    return f"{value.numerator}/{value.denominator}"


def _part_bars(part) -> tuple[list[list], Counter]:
    """The part's notes per measure: ``[midi or None, "n/d" quarter length, "t" if tied to the
    next note or ""]``; grace notes skipped, chords reduced to their top note (counted)."""
    from music21 import stream

    counts: Counter = Counter()
    measures = list(part.getElementsByClass(stream.Measure))
    containers = measures or [part]
    bars = []
    for measure in containers:
        voices = list(measure.voices) if hasattr(measure, "voices") else []
        if voices:
            counts["voices"] += 1
            elements = voices[0].notesAndRests
        else:
            elements = measure.notesAndRests
        bar = []
        for element in elements:
            if element.duration.isGrace:
                counts["grace_notes"] += 1
                continue
            if element.duration.quarterLength == 0:
                continue
            if element.isRest:
                pitch = None
            elif element.isChord:
                counts["chords"] += 1
                pitch = max(p.midi for p in element.pitches)
            else:
                pitch = element.pitch.midi
            tied = element.tie is not None and element.tie.type in ("start", "continue")
            bar.append([pitch, _fraction_text(element.duration.quarterLength), "t" if tied else ""])
        bars.append(bar)
    return bars, counts


def _key_of(part) -> dict | None:
    from music21 import key

    found = list(part.recurse().getElementsByClass(key.KeySignature))
    if not found:
        return None
    first = found[0]
    record = {"sharps": first.sharps, "changes": len({str(k) for k in found}) - 1}
    if isinstance(first, key.Key):
        record.update(tonic=first.tonic.pitchClass, mode=first.mode)
    return record


def _metres_of(part) -> list[str]:
    from music21 import meter

    metres = []
    for signature in part.recurse().getElementsByClass(meter.TimeSignature):
        if signature.ratioString not in metres:
            metres.append(signature.ratioString)
    return metres


def metre_fields(abc: str) -> int:
    """How many metres an ABC tune states (its M: field, inline [M:] changes). music21 also
    gives an over-long bar's remainder a time signature of its own when it splits the bar
    (``abcFormat.translate.reBar``): those are not the source's metres."""
    return len(re.findall(r"(?m)^M:|\[M:", abc))


def extract(score, collection: str, abc: str | None = None) -> dict:
    """A music21 score -> the raw record the cache keeps (see ``_part_bars``, ``_key_of``);
    `abc`: the tune's ABC text, for ``metre_fields``."""
    parts = list(score.parts)
    record: dict = {"collection": collection}
    if collection == "chorales":
        # The first word of a part's name: "Soprano", "Soprano 1", "Soprano\rOboe 1,2" ...
        names = [((part.partName or "").split() or [""])[0].lower() for part in parts]
        soprano = next((p for p, n in zip(parts, names, strict=True) if n == "soprano"), None)
        if soprano is None and parts and not names[0]:
            soprano = parts[0]  # Humdrum spines carry no names; music21 puts the soprano first
        if soprano is None:
            return {**record, "error": "no soprano part"}
        bass = next((p for p, n in zip(parts, names, strict=True) if n == "bass"), parts[-1])
        last = bass.recurse().notes.last()
        record["final_bass"] = last.pitches[0].pitchClass if last is not None else None
        melody = soprano
    else:
        if not parts:
            return {**record, "error": "no part"}
        melody = parts[0]
    bars, counts = _part_bars(melody)
    metres = _metres_of(melody)
    record.update(
        key=_key_of(melody),
        metres=metres[:1] if abc is not None else metres,
        metre_fields=metre_fields(abc) if abc is not None else len(metres),
        bars=bars,
        counts=dict(counts),
    )
    return record


class Progress:
    """Progress lines on stderr, at most one every `every` seconds, with a time estimate."""

    def __init__(self, total: int, enabled: bool = True, every: float = 10.0) -> None:
        self.total, self.enabled, self.every = total, enabled, every
        self.done = 0
        self.started = self.last = time.monotonic()

    def step(self, what: str, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if self.enabled and (now - self.last >= self.every or self.done == self.total):
            self.last = now
            elapsed = now - self.started
            left = elapsed / self.done * (self.total - self.done) if self.done else 0.0
            print(
                f"[music] parsing the corpus: {self.done}/{self.total} tunes ({what}), "
                f"{elapsed:.0f} s, about {left:.0f} s left",
                file=sys.stderr,
                flush=True,
            )


@dataclasses.dataclass(frozen=True)
class Item:
    """One tune to parse: its file (relative to music21's corpus), number and ABC text."""

    file: str
    number: int | None
    path: pathlib.Path
    abc: str | None = None  # None: a MusicXML or Humdrum file

    def parse(self):
        from music21 import converter

        if self.abc is not None:
            # music21 reads ABC without a version line as ABC 1.3, where an accidental holds
            # for one note; these files follow the usual rule (ABC 2.1's default) that it
            # holds to the end of the bar: O'Neill's 1043 writes "=ceg ceg" in D for two
            # C major arpeggios.
            return converter.parse(ABC_VERSION + self.abc, format="abc", forceSource=True)
        return converter.parse(self.path, forceSource=True)


def items(collection: Collection, root: pathlib.Path) -> list[Item]:
    """Every tune of the collection, in file order."""
    out = []
    for path in collection_files(collection, root):
        relative = f"{collection.folder}/{path.name}"
        if collection.kind == "abc":
            out += [Item(relative, number, path, text) for number, text in abc_tunes(path)]
        else:
            out.append(Item(relative, None, path))
    return out


def parse_item(item: Item, collection: str) -> dict:
    """The raw record of one tune (``{"error": ...}`` when music21 cannot parse it)."""
    import music21

    try:
        score = item.parse()
        if isinstance(score, music21.stream.Opus):
            score = score.scores[0]
        record = extract(score, collection, item.abc)
        title = score.metadata.title if score.metadata is not None else None
    except Exception as error:  # music21 raises many types on a bad tune
        if isinstance(error, KeyboardInterrupt):
            raise
        record = {"collection": collection, "error": f"{type(error).__name__}: {error}"[:200]}
        title = None
    record.update(file=item.file, number=item.number, title=title or "")
    return record


def parse_collections(
    names: list[str] | None = None,
    progress: bool = True,
    select: Callable[[Item], bool] | None = None,
    workers: int = 0,
) -> tuple[dict[str, list[dict]], dict[str, float]]:
    """Parse the collections with music21: name -> raw records, and name -> seconds taken.

    `select` keeps only the tunes it says yes to (for tests: a handful of real tunes).
    `workers` processes parse side by side (0: one per core, or this process alone for
    under 100 tunes; 1: this process); the records are the same, in the same order,
    whatever the number.
    """
    root = music21_corpus_root()
    names = list(COLLECTIONS) if names is None else names
    plans = {name: items(COLLECTIONS[name], root) for name in names}
    if select is not None:
        plans = {name: [i for i in plan if select(i)] for name, plan in plans.items()}
    total = sum(len(plan) for plan in plans.values())
    meter = Progress(total, enabled=progress)
    if workers == 0:
        workers = min(os.cpu_count() or 1, max(1, total // 50))
    records: dict[str, list[dict]] = {}
    seconds: dict[str, float] = {}
    with contextlib.ExitStack() as stack:
        pool = None
        if workers > 1:
            # Spawned, not forked: the parent may hold TensorFlow's threads.
            context = multiprocessing.get_context("spawn")
            pool = stack.enter_context(
                concurrent.futures.ProcessPoolExecutor(workers, mp_context=context)
            )
        for name, plan in plans.items():
            started = time.perf_counter()
            records[name] = []
            if pool is None:
                parsed = (parse_item(item, name) for item in plan)
            else:
                parsed = pool.map(parse_item, plan, [name] * len(plan), chunksize=8)
            for record in parsed:
                records[name].append(record)
                meter.step(name)
            seconds[name] = time.perf_counter() - started
    return records, seconds


def raw_corpus(progress: bool = True) -> pathlib.Path:
    """The cache folder of the parsed corpus (parsed now if it is absent or damaged):
    ``<collection>.json.gz`` (a list of raw records each) and ``parse.json`` (seconds per
    collection, music21's version, the date)."""

    def build(folder: pathlib.Path) -> None:
        import music21

        records, seconds = parse_collections(progress=progress)
        for name, rows in records.items():
            with gzip.open(folder / f"{name}.json.gz", "wt", encoding="utf-8") as f:
                json.dump(rows, f, separators=(",", ":"))
        (folder / "parse.json").write_text(
            json.dumps(
                {
                    "seconds": {name: round(s, 1) for name, s in seconds.items()},
                    "total_seconds": round(sum(seconds.values()), 1),
                    "tunes": {name: len(rows) for name, rows in records.items()},
                    "music21": music21.__version__,
                    "date": time.strftime("%Y-%m-%d"),
                },
                indent=1,
            )
        )

    return cached_folder(CACHE_NAME, build, version=RAW_VERSION)


def read_raw(folder: pathlib.Path) -> dict[str, list[dict]]:
    """The raw records of a cache folder, per collection."""
    out = {}
    for name in COLLECTIONS:
        with gzip.open(folder / f"{name}.json.gz", "rt", encoding="utf-8") as f:
            out[name] = json.load(f)
    return out


def cached_corpus_folder() -> pathlib.Path | None:
    """The finished cache folder, or None when the corpus was never parsed here (no parse)."""
    from shared.data.cache import data_dir, folder_is_complete

    folder = data_dir() / CACHE_NAME
    return folder if folder_is_complete(folder, RAW_VERSION) else None


def _iter_notes(bars: list[list]) -> Iterator[list]:
    for bar in bars:
        yield from bar


# ---------------------------------------------------------------------------------------------
# Raw records -> tunes (fast; on every load)


@dataclasses.dataclass(frozen=True)
class Record:
    """A kept tune and where it comes from."""

    collection: str
    file: str  # relative to music21/corpus
    number: int | None  # the ABC X: number (None for a chorale)
    title: str
    tune: Tune

    @property
    def name(self) -> str:
        return self.file if self.number is None else f"{self.file}#{self.number}"


@dataclasses.dataclass
class Corpus:
    """The kept tunes, what was dropped and why (collection -> reason -> tunes), what was
    changed on the way (collection -> what -> count), and the parse's record."""

    records: list[Record]
    dropped: dict[str, Counter]
    changes: dict[str, Counter]
    parsed: dict[str, int]  # collection -> tunes music21 was asked to parse
    files: dict[str, int]  # collection -> files they came from
    parse_info: dict = dataclasses.field(default_factory=dict)

    def kept(self, collection: str) -> int:
        return sum(1 for r in self.records if r.collection == collection)


class Dropped(Exception):
    """A tune the vocabulary cannot hold; `reason` is a key of ``DROP_REASONS``."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@functools.lru_cache(maxsize=4096)
def _fraction(text: str) -> Fraction:
    return Fraction(text)


@functools.lru_cache(maxsize=4096)
def _parts(text: str) -> tuple[Fraction, ...] | None:
    parts = events.split_duration(_fraction(text))
    return None if parts is None else tuple(parts)


def _third_mode(tonic: int, bars: list[list]) -> str:
    """Major or minor by which third above `tonic` sounds longer (ties: major)."""
    heard = [0.0] * 12
    for pitch, duration, _ in _iter_notes(bars):
        if pitch is not None:
            heard[(pitch - tonic) % 12] += float(_fraction(duration))
    return "minor" if heard[3] > heard[4] else "major"


def _key(raw: dict) -> str:
    found = raw.get("key") or {}
    collection = raw["collection"]
    if collection == "essen":
        # Essen's K: names the tonic (EsAC's key field); notes carry their own accidentals.
        if "tonic" not in found:
            raise Dropped("unknown_key", "no tonic")
        tonic = found["tonic"]
        mode = "minor" if found.get("mode") == "minor" else _third_mode(tonic, raw["bars"])
        return events.key_name(tonic, mode)
    if collection == "chorales" and found.get("mode") not in ("major", "minor"):
        # A signature alone (the Humdrum files): the final bass note picks major or minor.
        major = (7 * found.get("sharps", 0)) % 12
        minor = (major + 9) % 12
        mode = "minor" if raw.get("final_bass") == minor else "major"
        return events.key_name(minor if mode == "minor" else major, mode)
    if "tonic" not in found or found.get("mode") not in events.MODES:
        raise Dropped("unknown_key", str(found.get("mode")))
    return events.key_name(found["tonic"], found["mode"])


def _notes(bars: list[list], changes: Counter) -> list[list[Note]]:
    """Raw bars -> bars of ``Note``: odd durations split into tied notes, tied notes of one
    pitch inside a bar joined when the vocabulary has their sum, empty bars left out."""
    out = []
    for bar in bars:
        notes: list[Note] = []
        for pitch, duration, flags in bar:
            parts = _parts(duration)
            if parts is None:
                raise Dropped("duration", duration)
            if len(parts) > 1:
                changes["notes split into tied notes"] += 1
            for index, part in enumerate(parts):
                last = index == len(parts) - 1
                tied = pitch is not None and (not last or flags == "t")
                notes.append(Note(pitch, part, tied))
        joined: list[Note] = []
        for note in notes:
            before = joined[-1] if joined else None
            if (
                before is not None
                and before.tied
                and before.pitch == note.pitch
                and before.duration + note.duration in events.DURATION_INDEX
            ):
                joined[-1] = Note(note.pitch, before.duration + note.duration, note.tied)
                changes["tied notes joined"] += 1
            else:
                joined.append(note)
        if joined:
            out.append(joined)
    # A tie holds a note into the next one of the same pitch; ABC also writes slurs so.
    flat = [(b, i) for b, bar in enumerate(out) for i in range(len(bar))]
    for (b, i), following in zip(flat, [*flat[1:], None], strict=True):
        note = out[b][i]
        if note.tied and (following is None or out[following[0]][following[1]].pitch != note.pitch):
            out[b][i] = Note(note.pitch, note.duration)
            changes["ties between different pitches removed"] += 1
    return out


def _merge_short_bars(bars: list[list[Note]], full: Fraction, changes: Counter) -> list[list[Note]]:
    """Two short bars in a row that fill one bar together become one bar: a section's last
    bar and the next section's pickup, on either side of a repeat sign."""
    out: list[list[Note]] = []
    for bar in bars:
        total = sum((n.duration for n in bar), Fraction(0))
        if out:
            before = sum((n.duration for n in out[-1]), Fraction(0))
            if before < full and total < full and before + total == full:
                out[-1] = out[-1] + bar
                changes["short bars joined across a section end"] += 1
                continue
        out.append(list(bar))
    return out


def to_tune(raw: dict, changes: Counter | None = None) -> Tune:
    """A raw record as a ``Tune``, or ``Dropped`` saying why it cannot be one. `changes`
    counts what was adjusted on the way (ties, joined bars)."""
    changes = Counter() if changes is None else changes
    if "error" in raw:
        reason = "no_melody" if raw["error"].startswith("no ") else "parse_error"
        raise Dropped(reason, raw["error"])
    metres = raw.get("metres") or []
    if not metres:
        raise Dropped("no_metre")
    if raw.get("metre_fields", len(metres)) > 1:
        raise Dropped("metre_changes", " ".join(metres))
    metre = metres[0]
    if metre not in events.METRES:
        raise Dropped("unknown_metre", metre)
    key = _key(raw)
    bars = _notes(raw.get("bars") or [], changes)
    if not any(n.pitch is not None for bar in bars for n in bar):
        raise Dropped("no_melody", "no notes")
    bars = _merge_short_bars(bars, events.bar_length(metre), changes)
    pitches = [n.pitch for bar in bars for n in bar if n.pitch is not None]
    if min(pitches) < events.LOWEST or max(pitches) > events.HIGHEST:
        raise Dropped("pitch_range", f"{min(pitches)}..{max(pitches)}")
    tune = Tune(key, metre, bars)
    if not events.bars_valid(tune):
        raise Dropped("irregular_bars")
    if len(pitches) < MIN_NOTES:
        raise Dropped("too_short", str(len(pitches)))
    return tune


def convert(raw: dict[str, list[dict]], parse_info: dict | None = None) -> Corpus:
    """Raw records per collection -> the corpus of tunes, with its drop and change counts."""
    records, dropped, changes, parsed, files = [], {}, {}, {}, {}
    for collection, rows in raw.items():
        dropped[collection], changes[collection] = Counter(), Counter()
        parsed[collection] = len(rows)
        files[collection] = len({row["file"] for row in rows})
        for row in rows:
            counts = row.get("counts") or {}
            try:
                tune = to_tune(row, changes[collection])
            except Dropped as why:
                dropped[collection][why.reason] += 1
                continue
            changes[collection]["grace notes left out"] += counts.get("grace_notes", 0)
            changes[collection]["chords reduced to their top note"] += counts.get("chords", 0)
            records.append(
                Record(collection, row["file"], row.get("number"), row.get("title", ""), tune)
            )
    return Corpus(records, dropped, changes, parsed, files, parse_info or {})


def load_corpus(progress: bool = True) -> Corpus:
    """The default corpus: parsed once (minutes, progress on stderr), then read from the
    cache and converted (seconds)."""
    folder = raw_corpus(progress=progress)
    info = json.loads((folder / "parse.json").read_text())
    return convert(read_raw(folder), info)


def table(corpus: Corpus) -> str:
    """The corpus as a Markdown table: files, tunes, kept, dropped by reason, licence."""
    lines = [
        "| collection | files | tunes | kept | dropped (reason: tunes) | licence |",
        "|---|---|---|---|---|---|",
    ]
    for name, collection in COLLECTIONS.items():
        if name not in corpus.parsed:
            continue
        dropped = ", ".join(f"{r}: {n}" for r, n in corpus.dropped[name].most_common()) or "none"
        lines.append(
            f"| {collection.title} (`{collection.folder}`) | {corpus.files[name]} "
            f"| {corpus.parsed[name]} | {corpus.kept(name)} | {dropped} | {collection.licence} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Parse the corpus if it is not cached (progress on stderr) and print its table."""
    started = time.perf_counter()
    loaded = load_corpus()
    print(table(loaded))
    info = loaded.parse_info
    print(
        f"\nparsed in {info.get('total_seconds')} s on {info.get('date')} "
        f"(music21 {info.get('music21')}; per collection {info.get('seconds')}); "
        f"loaded and converted in {time.perf_counter() - started:.1f} s"
    )
    for name, counts in loaded.changes.items():
        print(f"{name}: " + ", ".join(f"{what} {n}" for what, n in sorted(counts.items())))


if __name__ == "__main__":
    main()
