"""``rnnapps predict --attention PNG`` and ``--plot PNG``: one picture per answered input
(``_<n>`` added to the name when there are several inputs), none for an input that failed."""

import sys
import types

import pytest

from apps import cli


class FakeApp:
    name = "translation"

    def load_predictor(self, directory, engine, variant):
        return "predictor"

    def predict(self, predictor, inputs, **options):
        return [{"input": text, "answer": text.upper()} for text in inputs]

    def summary(self, answer):
        return answer["answer"]

    def save_attention(self, predictor, raw, path):
        path.write_bytes(f"attention of {raw}".encode())


@pytest.fixture
def fake_app(monkeypatch, tmp_path):
    monkeypatch.setattr(cli, "_load", lambda name, model: (FakeApp(), tmp_path, None))
    monkeypatch.setattr(cli, "import_tensorflow_quietly", lambda command: None)
    figures = types.ModuleType("fake_cli_figures")
    figures.draw = lambda predictor, raw, answers: f"{raw}: {answers[0]['answer']}".encode()
    monkeypatch.setitem(sys.modules, "fake_cli_figures", figures)
    runtime = cli.registry.get_runtime("translation")  # which draws no answer: give it one
    drawing = type("DrawingRuntime", (runtime,), {"answer_figure": "fake_cli_figures:draw"})
    monkeypatch.setattr(cli.registry, "get_runtime", lambda name: drawing)
    return tmp_path


@pytest.mark.parametrize(
    "flag, written, picture",
    [
        ("--attention", "attention map written to", "attention of {}"),
        ("--plot", "picture written to", "{}: {}"),
    ],
)
def test_each_answered_input_gets_its_numbered_picture(fake_app, capsys, flag, written, picture):
    png = fake_app / "out" / "map.png"
    if flag == "--attention":
        png.parent.mkdir()  # --attention writes into an existing folder, --plot makes it
    inputs = ["one", f"@{fake_app / 'missing.txt'}", "three"]
    status = cli.main(["predict", "translation", *inputs, "--engine", "keras", flag, str(png)])
    assert status == cli.USER_ERROR  # the missing file
    assert sorted(path.name for path in png.parent.iterdir()) == ["map_0.png", "map_2.png"]
    for name, raw in (("map_0.png", "one"), ("map_2.png", "three")):
        assert (png.parent / name).read_text() == picture.format(raw, raw.upper())
    err = capsys.readouterr().err
    assert f"[rnnapps] {written} {png.parent / 'map_0.png'}" in err
    assert "missing.txt: no such file" in err


@pytest.mark.parametrize("flag", ["--attention", "--plot"])
def test_one_input_keeps_the_name_as_given(fake_app, flag):
    png = fake_app / "map.png"
    assert cli.main(["predict", "translation", "one", "--engine", "keras", flag, str(png)]) == 0
    assert [path.name for path in fake_app.glob("*.png")] == ["map.png"]
