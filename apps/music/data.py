"""Music data: tunes -> splits by tune -> event id sequences, and transposition augmentation.

Sources (``--data``):

- ``default``: the real tunes inside the music21 wheel (``apps.music.corpus``: Essen,
  O'Neill's, Ryan's, the Bach chorales' soprano lines), parsed once and cached. A config may
  take some of the collections and the first ``max_tunes`` tunes of each (the quick preset):
  read from the cache when the whole corpus is cached, else only those tunes are parsed.
- ``file:FOLDER``: the user's own MIDI, MusicXML or ABC files (every tune of an ABC file),
  read by ``apps.music.render.read_melody``; a file that cannot be read is named and skipped,
  a folder with nothing readable is an error.

Either way the tunes are split by ``apps.music.splits.split_corpus`` (by tune, copies and
variants in one split, ``split_seed``), whose ``info["overlap"]`` reports what splits share
(zero everywhere). Every split is a ``Splits`` column ``events`` (one id list per tune, from
its start token to ``<end>``), with ``collection``, ``name`` and ``group``.

Augmentation (``transpose_ids``, in the input pipeline): a training tune is moved by a random
number of semitones within the range its pitches allow (``shift_range``), start token included,
each time it is read.
"""

from __future__ import annotations

import pathlib
import sys

import numpy as np

from apps.music import corpus, events
from apps.music.config import MusicConfig
from apps.music.splits import split_corpus
from shared.data.sources import Source
from shared.data.splits import Splits
from shared.errors import UserError

MIN_TUNES = 10
MELODY_SUFFIXES = (".mid", ".midi", ".musicxml", ".xml", ".mxl", ".abc")


def load_data(config: MusicConfig, source: Source) -> Splits:
    """The tunes of ``source`` split by tune (``split_seed``); see the module docstring."""
    if source.kind == "default":
        records = default_records(config)
        name = "music21_corpus"
    elif source.kind == "file":
        records = file_records(pathlib.Path(source.value))
        name = f"file:{source.value}"
    else:
        raise UserError(f"--data {source}: the music app reads the default corpus or a folder")
    if len(records) < MIN_TUNES:
        raise UserError(f"{name}: only {len(records)} tunes; need at least {MIN_TUNES} to split")
    return split_corpus(records, seed=config.split_seed, source=name)


def default_records(config: MusicConfig) -> list[corpus.Record]:
    """The kept tunes of the configured collections (the first ``max_tunes`` of each)."""
    names = list(config.collections)
    folder = corpus.cached_corpus_folder()
    if config.max_tunes == 0 or folder is not None:
        if folder is None:
            folder = corpus.raw_corpus()
        raw = corpus.read_raw(folder)
        raw = {name: raw[name] for name in names}
    else:
        root = corpus.music21_corpus_root()
        wanted = {
            (item.file, item.number)
            for name in names
            for item in corpus.items(corpus.COLLECTIONS[name], root)[: config.max_tunes]
        }
        raw, _ = corpus.parse_collections(
            names, progress=True, select=lambda item: (item.file, item.number) in wanted
        )
    if config.max_tunes:
        raw = {name: rows[: config.max_tunes] for name, rows in raw.items()}
    return corpus.convert(raw).records


def file_records(folder: pathlib.Path) -> list[corpus.Record]:
    """Every melody in the files under ``folder`` (one per MIDI or MusicXML file, every tune
    of an ABC file), as records of the collection ``files``."""
    from apps.music import render

    paths = [folder] if folder.is_file() else sorted(folder.rglob("*"))
    paths = [p for p in paths if p.is_file() and p.suffix.lower() in MELODY_SUFFIXES]
    if not paths:
        raise UserError(f"{folder}: no MIDI, MusicXML or ABC files ({', '.join(MELODY_SUFFIXES)})")
    records, problems = [], []
    for path in paths:
        relative = str(path.relative_to(folder)) if path != folder else path.name
        if path.suffix.lower() == ".abc":
            pieces = corpus.abc_tunes(path) or [(None, corpus._read_text(path))]
        else:
            pieces = [(None, None)]
        for number, text in pieces:
            try:
                tune = render.read_melody(str(path) if text is None else text)
            except UserError as error:
                problems.append(f"{relative}{'' if number is None else f'#{number}'}: {error}")
                continue
            records.append(corpus.Record("files", relative, number, "", tune))
    if problems:
        print(
            f"[music] {len(problems)} tunes skipped, e.g. {problems[0]}",
            file=sys.stderr,
        )
    if not records:
        raise UserError(f"{folder}: no readable melody ({problems[0] if problems else ''})")
    return records


def shift_range(ids: np.ndarray) -> tuple[int, int]:
    """The semitone shifts in -6..+6 that keep every pitch of a tune's ids in range."""
    ids = np.asarray(ids)
    pitches = ids[(ids >= events.FIRST_PITCH_ID) & (ids < events.FIRST_DURATION_ID)]
    if not len(pitches):
        return -6, 6
    low = max(-6, events.FIRST_PITCH_ID - int(pitches.min()))
    high = min(6, events.FIRST_DURATION_ID - 1 - int(pitches.max()))
    return low, high


def transpose_ids(ids: np.ndarray, shift: int) -> np.ndarray:
    """A tune's ids moved by ``shift`` semitones (within ``shift_range``): pitches and the
    start token's tonic; ``events.transpose`` on the ids (the test checks it is the same)."""
    ids = np.asarray(ids).copy()
    pitch = (ids >= events.FIRST_PITCH_ID) & (ids < events.FIRST_DURATION_ID)
    ids[pitch] += shift
    start = ids >= events.FIRST_START_ID
    offset = ids[start] - events.FIRST_START_ID
    ids[start] = events.FIRST_START_ID + offset - offset % 12 + (offset % 12 + shift) % 12
    return ids
