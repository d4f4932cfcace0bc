"""PNG figures of a run: training curves and confusion matrices."""

import numpy as np
from PIL import Image

from shared import figures

PNG = b"\x89PNG\r\n\x1a\n"


def test_training_curves_draw_a_panel_per_figure(tmp_path):
    history = [
        {"epoch": e, "loss": 1 / (e + 1), "val_loss": 1.2 / (e + 1), "val_bleu": 10.0 * e}
        for e in range(4)
    ]
    path = figures.training_curves(history, tmp_path / "curves.png", "alpha")
    assert path.read_bytes().startswith(PNG)
    width, height = Image.open(path).size
    assert width > height  # two panels side by side: loss (with val_loss) and val-only bleu
    one = figures.training_curves(history[:1], tmp_path / "one.png", "one epoch")
    assert one.is_file()
    assert figures.training_curves([], tmp_path / "none.png", "nothing") is None
    assert not (tmp_path / "none.png").exists()


def test_a_confusion_matrix_is_a_png(tmp_path):
    matrix = np.array([[5, 1], [0, 7]])
    figures.write_confusion_matrix(matrix, ["yes", "no"], tmp_path / "cm.png", "two classes")
    assert (tmp_path / "cm.png").read_bytes().startswith(PNG)
