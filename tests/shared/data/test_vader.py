"""The VADER ground-truth reader shared by the sentiment and text generation apps."""

import numpy as np

from shared.data import vader


def test_paper_protocol_thresholds():
    ratings = np.array([-4.0, -0.21, -0.2, 0.0, 0.2, 0.21, 4.0])
    assert vader.rating_to_label(ratings).tolist() == [0, 0, 1, 1, 1, 2, 2]


def test_read_vader_parses_the_cached_files(tmp_path, monkeypatch):
    """A fake extracted folder (marker included) stands in for the download."""
    folder = tmp_path / "vader_ground_truth"
    folder.mkdir()
    for index, file_name in enumerate(vader.VADER_DOMAINS.values()):
        (folder / file_name).write_text(
            f"{index}_1\t{index - 1.5}\tSnippet {index}, with\ttab\nbad line\n", encoding="utf-8"
        )
    monkeypatch.setattr(vader, "vader_folder", lambda: folder)
    columns = vader.read_vader()
    assert columns["text"] == [f"Snippet {i}, with\ttab" for i in range(4)]
    assert columns["domain"] == list(vader.VADER_DOMAINS)
    np.testing.assert_allclose(columns["rating"], [-1.5, -0.5, 0.5, 1.5])
    assert columns["label"].tolist() == [0, 0, 2, 2]
