"""PNG figures of a run: training curves, confusion matrices, scores per group."""

import math

import numpy as np
import pytest
from PIL import Image

from shared import figures

PNG = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    """A non-empty PNG that Pillow decodes whole; returns its (width, height)."""
    data = path.read_bytes()
    assert data.startswith(PNG) and len(data) > 1000
    with Image.open(path) as image:
        image.load()
        return image.size


def test_training_curves_draw_a_panel_per_figure(tmp_path):
    history = [
        {"epoch": e, "loss": 1 / (e + 1), "val_loss": 1.2 / (e + 1), "val_bleu": 10.0 * e}
        for e in range(4)
    ]
    path = figures.training_curves(history, tmp_path / "curves.png", "alpha")
    width, height = assert_png(path)
    assert width > height  # two panels side by side: loss (with val_loss) and val-only bleu
    one = figures.training_curves(history[:1], tmp_path / "one.png", "one epoch")
    assert one.is_file()
    assert figures.training_curves([], tmp_path / "none.png", "nothing") is None
    assert not (tmp_path / "none.png").exists()


def test_a_confusion_matrix_is_drawn_by_scikit_learn(tmp_path, monkeypatch):
    from sklearn import metrics

    drawn = []
    real = metrics.ConfusionMatrixDisplay.plot

    def plot(self, *args, **kwargs):
        drawn.append((self.confusion_matrix.tolist(), list(self.display_labels)))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(metrics.ConfusionMatrixDisplay, "plot", plot)
    matrix = np.array([[5, 1], [0, 7]])
    assert figures.write_confusion_matrix(matrix, ["yes", "no"], tmp_path / "cm.png", "two") is None
    assert drawn == [([[5, 1], [0, 7]], ["yes", "no"])]
    assert_png(tmp_path / "cm.png")
    big = np.eye(30, dtype=np.int64) * 3  # no counts in the cells past 20 classes
    figures.write_confusion_matrix(big, [f"c{i}" for i in range(30)], tmp_path / "big.png", "30")
    assert_png(tmp_path / "big.png")


def test_scores_by_group_draws_the_model_beside_the_others(tmp_path):
    path = figures.scores_by_group(
        {"tweets": 0.8, "movies": 0.7, "empty": None, "nan": math.nan},
        tmp_path / "scores_by_domain.png",
        "per domain",
        "f1_weighted",
        overall=0.75,
        others={"vader": {"tweets": 0.6, "elsewhere": 0.9}, "nothing": {"nan": 0.1}},
        counts={"tweets": 400},
    )
    assert path == tmp_path / "scores_by_domain.png"
    width, height = assert_png(path)
    assert width > 0 and height > 0
    lower = figures.scores_by_group(
        {"a": 2.0}, tmp_path / "bpc.png", "bits", "bits_per_character", lower_is_better=True
    )
    assert_png(lower)


def test_scores_by_group_writes_nothing_without_a_number(tmp_path):
    empty = {"a": None, "b": math.inf, "c": "x", "d": True}
    assert figures.scores_by_group(empty, tmp_path / "none.png", "t", "m", overall=0.5) is None
    assert figures.scores_by_group({}, tmp_path / "none.png", "t", "m") is None
    assert not (tmp_path / "none.png").exists()


def test_per_group_reads_numbers_or_a_metric_of_each_group():
    table = {"a": {"f1": 0.5, "count": 10}, "b": {"f1": None, "count": 3}, "c": 0.7}
    assert figures.per_group(table, "f1") == {"a": 0.5, "c": 0.7}
    assert figures.per_group({"x": 0.25, "y": "no"}) == {"x": 0.25}
    assert figures.per_group(None, "f1") == {}
    assert figures.per_group_counts(table) == {"a": 10, "b": 3}
    assert figures.scores_file("domain") == "scores_by_domain.png"


def run_metrics() -> dict:
    """A metrics.json as the apps write it: held-out sets, a set in another metric,
    baselines scored at their top level, under "test", or per set."""
    return {
        "metrics": {
            "accuracy": 0.9,
            "count": 100,
            "recall_per_class": {"up": 1.0, "down": 0.8},
            "by_domain": {"tweets": {"accuracy": 0.95, "count": 40}},
            "held_out": {
                "shifted": {"description": "s", "accuracy": 0.7, "count": 20},
                "phrases": {"description": "p", "metric": "cer", "cer": 0.1},
            },
        },
        "baselines": {
            "logistic": {"accuracy": 0.6, "held_out": {"shifted": {"accuracy": 0.5}}},
            "grammar": {"test": {"accuracy": 0.8}, "shifted": {"accuracy": 0.75}},
            "chance": {"accuracy": 0.5, "description": "one in two"},
            "notes": "not a baseline's scores",
        },
    }


def test_held_out_figure_and_group_figure_read_a_runs_metrics(tmp_path):
    metrics = run_metrics()
    path = figures.held_out_figure(metrics, "accuracy", tmp_path / "held.png", "held out")
    assert_png(path)
    by_class = figures.group_figure(
        metrics,
        "recall_per_class",
        tmp_path / "class.png",
        "per class",
        axis="recall",
        overall="accuracy",
        extra={"shifted": {"up": 0.5}},
    )
    assert_png(by_class)
    by_domain = figures.group_figure(
        metrics, "by_domain", tmp_path / "domain.png", "per domain", "accuracy"
    )
    assert_png(by_domain)


def test_held_out_figure_reads_the_baselines_where_each_app_keeps_them(tmp_path, monkeypatch):
    seen = {}

    def scores_by_group(values, path, title, metric, **kwargs):
        seen.update(values=values, **kwargs)
        return path

    monkeypatch.setattr(figures, "scores_by_group", scores_by_group)
    figures.held_out_figure(run_metrics(), "accuracy", tmp_path / "held.png", "held out")
    assert seen["values"] == {"test split": 0.9, "shifted": 0.7}  # the CER set left out
    assert seen["counts"] == {"test split": 100, "shifted": 20}
    others = {
        name: {k: v for k, v in row.items() if v is not None}
        for name, row in seen["others"].items()
    }
    assert others == {
        "logistic": {"test split": 0.6, "shifted": 0.5},
        "grammar": {"test split": 0.8, "shifted": 0.75},
        "chance": {"test split": 0.5},
    }


@pytest.mark.parametrize(
    "metrics",
    [
        {"metrics": {"accuracy": 0.9}},  # no held-out set
        {"metrics": {"accuracy": 0.9, "held_out": {"p": {"metric": "cer", "cer": 0.1}}}},
        {"metrics": {"held_out": {"shifted": {"accuracy": 0.7}}}},  # no test figure
        {},
    ],
)
def test_held_out_figure_writes_nothing_without_a_held_out_set_to_compare(tmp_path, metrics):
    assert figures.held_out_figure(metrics, "accuracy", tmp_path / "none.png", "t") is None
    assert figures.group_figure(metrics, "by_domain", tmp_path / "none.png", "t", "f1") is None
    assert not (tmp_path / "none.png").exists()
