"""The on-device runtime: TensorFlow-free by construction, and what a runtime-only install says."""

import json

import pytest

from apps import registry
from shared.errors import UserError
from shared.runtime.answers import answer_each
from shared.runtime.isolation import run_without_tensorflow


def test_every_runtime_module_imports_without_tensorflow():
    modules = ["shared.runtime.litert", "shared.runtime.answers", "shared.runtime.base"]
    modules += [path.split(":")[0] for path in registry.RUNTIMES.values()]
    modules += ["apps.cli", "apps.registry"]
    code = f"import importlib\nfor name in {modules!r}:\n    importlib.import_module(name)\n"
    run_without_tensorflow(code)  # raises if any import needs TensorFlow or Keras


def test_the_blocker_blocks():
    with pytest.raises(AssertionError, match="blocked"):
        run_without_tensorflow("import keras")


def test_a_runtime_only_install_asked_to_train_says_which_extra_in_one_line():
    code = """
import contextlib, io, json
from apps import cli
stderr = io.StringIO()
with contextlib.redirect_stderr(stderr):
    status = cli.main(["train", "sentiment", "--preset", "quick"])
print(json.dumps({"status": status, "stderr": stderr.getvalue()}))
"""
    result = json.loads(run_without_tensorflow(code))
    assert result["status"] == 2
    lines = result["stderr"].strip().splitlines()
    assert len(lines) == 1 and "rnnapps train" in lines[0] and "rnn-apps[train]" in lines[0]


def test_answer_each_checks_each_input_and_puts_the_answers_back_in_order():
    calls = []

    def check(text):
        if not text:
            raise UserError("empty text")
        return text.upper()

    def answer(raws, prepared):
        calls.append(list(prepared))
        return [{"input": raw, "upper": up} for raw, up in zip(raws, prepared, strict=True)]

    answers = answer_each(["a", "", "b"], check, answer)
    assert calls == [["A", "B"]]  # the valid ones, in one batch
    assert answers[0] == {"input": "a", "upper": "A"} and answers[2] == {"input": "b", "upper": "B"}
    assert isinstance(answers[1], UserError) and str(answers[1]) == "empty text"


def test_answer_each_calls_nothing_when_every_input_is_bad_and_refuses_a_short_answer():
    def check(text):
        raise UserError(f"{text!r}: bad")

    def never(raws, prepared):
        raise AssertionError("called")

    answers = answer_each(["x", "y"], check, never)
    assert [str(a) for a in answers] == ["'x': bad", "'y': bad"]
    with pytest.raises(ValueError, match="1 answers for 2 inputs"):
        answer_each(["a", "b"], str, lambda raws, prepared: [{}])


def test_list_names_every_app_without_tensorflow():
    code = """
from apps import cli, registry
status = cli.main(["list"])
print("status", status)
"""
    lines = run_without_tensorflow(code).splitlines()
    assert lines[-1] == "status 0"
    assert [line.split()[0] for line in lines[:-1]] == registry.names()
    for line in lines[:-1]:
        assert "trained" in line and len(line.split()) > 3  # a description follows the status


def test_predict_prints_every_answer_when_one_input_gives_several(tmp_path, monkeypatch, capsys):
    """A stream yields one answer per detection: the command prints them all, in order."""
    from apps import cli
    from shared.runtime.base import Runtime

    class Detections(Runtime):
        input_kind = "audio"

        def predict(self, inputs):
            return [{"input": inputs[0], "keyword": word, "time": t} for t, word in enumerate("ab")]

        def outputs(self, inputs):
            return None

    (tmp_path / "config.json").write_text("{}")
    monkeypatch.setattr(registry, "get_runtime", lambda name: Detections)
    assert cli.main(["predict", "speech", "long.wav", "--model", str(tmp_path), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line["keyword"], line["time"]) for line in lines] == [("a", 0), ("b", 1)]


def test_the_cli_explains_itself(capsys):
    """--version; train --help names the apps; train APP --help lists the fields --set takes."""
    from apps import cli

    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("rnnapps ")
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in registry.names()) and "quick | demo | default" in out
    with pytest.raises(SystemExit):
        cli.main(["train", "sentiment", "--help"])
    out = capsys.readouterr().out
    assert "--set takes these fields of sentiment" in out and "  epochs=" in out


def test_list_json_is_one_object_per_app_without_tensorflow():
    code = "from apps import cli\ncli.main(['list', '--json'])\n"
    rows = [json.loads(line) for line in run_without_tensorflow(code).splitlines()]
    assert [row["app"] for row in rows] == registry.names()
    assert all(set(row) == {"app", "trained", "preset", "description"} for row in rows)


def test_check_text_names_the_text_and_the_problem():
    from shared.runtime.answers import check_text

    assert check_text("a fine film", 20) == "a fine film"
    for text, problem in (("  ", "empty text"), ("x" * 21, "21 characters, more than the 20")):
        with pytest.raises(UserError, match=problem):
            check_text(text, 20)
    with pytest.raises(UserError, match="not valid UTF-8"):
        check_text("bad \udcff byte", 20)
