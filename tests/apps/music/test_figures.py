"""The piano roll: a PNG of the expected size, its notes where the tune puts them."""

from fractions import Fraction as F

import numpy as np
import pytest
from PIL import Image

from apps.music import figures
from apps.music.events import Note, Tune

TUNE = Tune(
    "G major",
    "3/4",
    [
        [Note(62, F(1))],
        [Note(67, F(1)), Note(71, F(1)), Note(74, F(1), tied=True)],
        [Note(74, F(1)), Note(None, F(1)), Note(72, F(1, 3)), Note(71, F(1, 3)), Note(69, F(1, 3))],
        [Note(67, F(2))],
    ],
)  # ten quarter notes


def test_the_png_has_the_size_for_the_tune(tmp_path):
    path = figures.piano_roll(TUNE, tmp_path / "roll" / "tune.png", title="A waltz")
    image = Image.open(path)
    assert image.format == "PNG"
    assert image.size == figures.figure_size(TUNE) == (600, 400)  # short: the least width
    long = Tune("G major", "3/4", [TUNE.bars[1]] * 40)  # 120 quarter notes
    assert figures.figure_size(long) == (1600, 400)  # the most
    middle = Tune("G major", "3/4", [TUNE.bars[1]] * 10)  # 30 quarter notes
    assert figures.figure_size(middle) == (900, 400)
    assert Image.open(figures.piano_roll(middle, tmp_path / "middle.png")).size == (900, 400)


def test_the_notes_are_drawn_and_the_png_bytes_are_the_file(tmp_path):
    """The roll of a tune differs from the roll of the same tune with one note moved, and
    holds the notes' colour."""
    data = figures.piano_roll_png(TUNE)
    moved = Tune(TUNE.key, TUNE.metre, [[Note(64, F(1))], *TUNE.bars[1:]])
    assert figures.piano_roll_png(moved) != data
    pixels = np.asarray(Image.open(figures.piano_roll(TUNE, tmp_path / "t.png")).convert("RGB"))
    blue = np.all(np.abs(pixels.astype(int) - (31, 119, 180)) < 8, axis=-1)  # tab:blue
    assert blue.sum() > 500


def test_an_empty_bar_of_rests_still_draws():
    rests = Tune("C major", "4/4", [[Note(None, F(4))]])
    assert figures.piano_roll_png(rests).startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("pitch", "name"), [(60, "C4"), (70, "Bb4"), (48, "C3"), (96, "C7"), (66, "F#4")]
)
def test_pitch_names(pitch, name):
    assert figures.pitch_name(pitch) == name


@pytest.mark.parametrize(
    ("pitch", "key", "name"),
    [(70, "D major", "A#4"), (70, "F major", "Bb4"), (66, "D major", "F#4"), (71, "F major", "B4")],
)
def test_pitch_names_in_a_key(pitch, key, name):
    assert figures.pitch_name(pitch, key) == name
