"""A tune drawn as a piano roll without TensorFlow (matplotlib, imported when drawing: the
``serve`` and ``train`` extras bring it): a bar per sounding note (tied notes joined) at its
pitch and time, pitch names spelled in the tune's key, the black keys' rows shaded, bar lines,
the key and metre in the title.

Drawn on matplotlib's object API (a ``Figure`` on the Agg canvas, no pyplot state), so a
server's threads can draw at once. ``piano_roll`` writes a PNG, ``piano_roll_png`` returns
its bytes.

Example:
    piano_roll(tune, "tune.png", title="A new jig")
"""

from __future__ import annotations

import io
import pathlib
from fractions import Fraction

from apps.music import events
from apps.music.events import Tune
from apps.music.spelling import key_signature, spell

DPI = 100
HEIGHT = 4.0  # inches
WIDTH_PER_QUARTER = 0.25  # inches a quarter note, between MIN_WIDTH and MAX_WIDTH
MIN_WIDTH, MAX_WIDTH = 6.0, 16.0
_BLACK_KEYS = {1, 3, 6, 8, 10}
_SIGNS = {-1: "b", 0: "", 1: "#"}


def pitch_name(pitch: int, key: str | None = None) -> str:
    """A MIDI pitch's name, spelled in `key` as ``render.abc_text`` spells it (70 is "A#4" in
    D major, "Bb4" in F major), or as the vocabulary spells the tonics: 60 -> "C4"."""
    if key is None:
        return f"{events.TONICS[pitch % 12]}{pitch // 12 - 1}"
    letter, alteration, octave = spell(pitch, key_signature(key))
    return f"{letter}{_SIGNS[alteration]}{octave}"


def figure_size(tune: Tune) -> tuple[int, int]:
    """The PNG's (width, height) in pixels: wider for a longer tune, within bounds."""
    quarters = float(sum((n.duration for n in tune.notes), Fraction(0)))
    width = min(MAX_WIDTH, max(MIN_WIDTH, 1.5 + WIDTH_PER_QUARTER * quarters))
    return round(width * DPI), round(HEIGHT * DPI)


def _draw(tune: Tune, title: str):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    width, height = figure_size(tune)
    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    notes = events.sounding(tune)
    pitches = [n.pitch for n in notes if n.pitch is not None] or [60]
    low, high = min(pitches) - 1, max(pitches) + 1
    for pitch in range(low, high + 1):  # shade the black keys' rows, as a keyboard would
        if pitch % 12 in _BLACK_KEYS:
            axes.axhspan(pitch - 0.5, pitch + 0.5, color="0.93", zorder=0)
    time = Fraction(0)
    bars = []
    for note in notes:
        if note.pitch is not None:
            bars.append((float(time), float(note.duration), note.pitch))
        time += note.duration
    for start, length, pitch in bars:
        axes.broken_barh(
            [(start, length)],
            (pitch - 0.4, 0.8),
            facecolors="tab:blue",
            edgecolors="navy",
            linewidth=0.6,
            zorder=2,
        )
    position = Fraction(0)
    for bar in tune.bars[:-1]:
        position += sum((n.duration for n in bar), Fraction(0))
        axes.axvline(float(position), color="0.45", linewidth=0.8, zorder=1)
    # Name every pitch when few, else the C's and the naturals between.
    shown = range(low, high + 1)
    if high - low > 24:
        shown = [p for p in shown if p % 12 not in _BLACK_KEYS]
    axes.set_yticks(list(shown), [pitch_name(p, tune.key) for p in shown], fontsize=7)
    axes.set_ylim(low - 0.5, high + 0.5)
    axes.set_xlim(0, max(float(time), 1.0))
    axes.set_xlabel("time (quarter notes)")
    axes.set_ylabel("pitch")
    heading = f"{tune.key}, {tune.metre}, {len(tune.bars)} bars"
    axes.set_title(f"{title}: {heading}" if title else heading, fontsize=10)
    axes.grid(axis="x", alpha=0.2, linestyle=":")
    return figure


def piano_roll_png(tune: Tune, title: str = "") -> bytes:
    """The piano roll as PNG bytes (``figure_size`` pixels)."""
    figure = _draw(tune, title)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def piano_roll(tune: Tune, path: str | pathlib.Path, title: str = "") -> pathlib.Path:
    """Write the tune's piano roll as a PNG at `path` (folders made); returns the path."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(piano_roll_png(tune, title))
    return path
