"""A handful of real tunes from every collection, parsed with music21 once per test session."""

import pytest

pytest.importorskip("music21", reason="the music corpus is parsed with music21 (the train extra)")

from apps.music import corpus  # noqa: E402

# (file under music21/corpus, ABC X: number or None): what each one exercises.
SAMPLE = {
    ("essenFolksong/altdeu10.abc", 1): "4/2, a pickup, rests, flats written out: G minor",
    ("essenFolksong/han1.abc", 1): "a Chinese song in 2/4",
    ("essenFolksong/han1.abc", 3): "eighths and quarters",
    ("essenFolksong/erk30.abc", 628): "Nun danket alle Gott, also a Bach chorale (bwv79.3)",
    ("oneills1850/0001-0050.abc", 2): "triplets, ties, short bars at a section end",
    ("oneills1850/0001-0050.abc", 3): "4/4",
    ("oneills1850/1136-1175.abc", 1161): "Biddy from Limerick: Ryan's Limerick Jig, transposed",
    ("ryansMammoth/LimerickJig.abc", 1): "Limerick Jig: O'Neill's 1161, a minor third higher",
    ("ryansMammoth/BostonCaledonianClubsJig.abc", 1): "chords reduced to a top note, graces",
    ("bach/bwv79.3.mxl", None): "Nun danket alle Gott, MusicXML",
    ("bach/bwv1.6.mxl", None): "a horn part above the soprano",
    ("bach/bwv11.6.mxl", None): "3/4",
    ("bach/bwv277.krn", None): "Humdrum: no part names, the key from the final bass note",
}


@pytest.fixture(scope="session")
def sample_raw():
    """Raw records of the ``SAMPLE`` tunes, per collection."""
    records, _ = corpus.parse_collections(
        progress=False, select=lambda item: (item.file, item.number) in SAMPLE
    )
    return records


@pytest.fixture(scope="session")
def sample_corpus(sample_raw):
    """The ``SAMPLE`` tunes as a corpus."""
    return corpus.convert(sample_raw)


@pytest.fixture(scope="session")
def sample_tunes(sample_corpus):
    """File#number -> tune, for the kept ``SAMPLE`` tunes."""
    return {record.name: record.tune for record in sample_corpus.records}
