"""shared.workflow.draw_figures: the training curves and the app's own figures of a run."""

import json

from PIL import Image

from shared import figures
from shared.workflow import draw_figures

PNG = b"\x89PNG\r\n\x1a\n"
METRICS = {
    "preset": "quick",
    "seed": 7,
    "metrics": {"accuracy": 0.9, "by_domain": {"a": {"accuracy": 0.8}, "b": {"accuracy": 1.0}}},
    "training": {"history": [{"epoch": 0, "loss": 1.0, "val_loss": 1.1}]},
}


class GroupApp:
    """An app drawing one scores-by-group figure (as App.figures does), counting its calls."""

    name = "groups"

    def __init__(self, fail: bool = False):
        self.fail, self.calls = fail, 0

    def figures(self, metrics, model_dir, splits=None):
        self.calls += 1
        if self.fail:
            raise RuntimeError("no sample to draw")
        path = model_dir / figures.scores_file("domain")
        return [figures.group_figure(metrics, "by_domain", path, "per domain", "accuracy")]


def test_a_run_gets_its_curves_and_the_apps_figures(tmp_path):
    written = draw_figures(GroupApp(), METRICS, tmp_path)
    assert [path.name for path in written] == ["training_curves.png", "scores_by_domain.png"]
    for path in written:
        assert path.parent == tmp_path and path.read_bytes().startswith(PNG)
        with Image.open(path) as image:
            image.load()


def test_a_figure_that_fails_never_fails_the_run(tmp_path, capsys):
    written = draw_figures(GroupApp(fail=True), METRICS, tmp_path)
    assert [path.name for path in written] == ["training_curves.png"]
    assert "could not draw its figures: RuntimeError: no sample to draw" in capsys.readouterr().err


def test_only_missing_keeps_what_a_folder_already_holds(tmp_path):
    app = GroupApp()
    (tmp_path / "metrics.json").write_text(json.dumps(METRICS))
    assert len(draw_figures(app, METRICS, tmp_path, only_missing=True)) == 2  # an old folder
    curves = (tmp_path / "training_curves.png").read_bytes()
    assert draw_figures(app, {**METRICS, "seed": 8}, tmp_path, only_missing=True) == []
    assert app.calls == 1 and (tmp_path / "training_curves.png").read_bytes() == curves
    # No history and no groups: nothing to draw, nothing written.
    empty = tmp_path / "empty"
    empty.mkdir()
    assert draw_figures(GroupApp(), {"metrics": {}}, empty) == []
    assert list(empty.iterdir()) == []
