"""Each app's input kind and predict options are declared once; the CLI's flags, the server's
checks and the OpenAPI description are made from them, and every predict takes them."""

import inspect
import pathlib

import pytest

from apps import cli, registry
from apps.serve.catalog import ServedApp
from apps.serve.openapi import openapi
from shared.runtime.options import Option

NOT_OPTIONS = {"self", "predictor", "inputs"}


def keyword_defaults(function) -> dict:
    return {
        name: parameter.default
        for name, parameter in inspect.signature(function).parameters.items()
        if name not in NOT_OPTIONS
    }


@pytest.mark.parametrize("name", registry.names())
def test_every_predict_takes_the_declared_options_with_their_defaults(name):
    app = registry.get_app(name)
    kind, options = registry.predict_declarations(name)
    assert kind in ("text", "audio", "image", "video", "csv") and kind == app.input_kind
    assert tuple(app.options) == options  # the App takes its runtime's declarations
    declared = {option.name: option.default for option in options}
    assert keyword_defaults(app.predict) == declared
    runtime = registry.get_runtime(name)
    if runtime is not None:
        assert keyword_defaults(runtime.predict) == declared
        assert runtime.input_kind == kind


@pytest.mark.parametrize("name", registry.names())
def test_the_cli_and_the_server_offer_exactly_the_declared_options(name, tmp_path):
    _, options = registry.predict_declarations(name)
    predict = next(
        action
        for action in cli.make_parser(name)._subparsers._group_actions[0].choices.values()
        if action.prog.endswith(" predict")
    )
    flags = {flag for action in predict._actions for flag in action.option_strings}
    for option in options:
        assert option.flag in flags
    others = {o.flag for n in registry.names() for o in registry.predict_declarations(n)[1]}
    assert not (others - {o.flag for o in options}) & flags  # no other app's flag
    served = ServedApp(registry.get_app(name), pathlib.Path(tmp_path))
    assert list(served.options) == [option.name for option in options]
    assert [entry["name"] for entry in served.describe()["options"]] == list(served.options)


def test_openapi_lists_every_served_option_once_with_its_apps(tmp_path):
    class Catalog:
        engine = "litert"
        apps = {name: ServedApp(registry.get_app(name), tmp_path) for name in registry.names()}

    document = openapi(Catalog(), max_body_bytes=1000, time_limit=1.0)
    text = str(document)
    for name in registry.names():
        for option in registry.predict_declarations(name)[1]:
            assert f"'{option.name}'" in text and name in text


def test_an_option_checks_its_type_and_bounds_and_the_servers_tighter_limit():
    length = Option("length", "integer", "characters", 200, 1, 20000, serve_maximum=2000)
    assert length.check(3000) == 3000 and length.check(3000.0) == 3000
    with pytest.raises(ValueError, match="outside"):
        length.check(3000, serving=True)
    with pytest.raises(ValueError, match="integer"):
        length.check(2.5)
    with pytest.raises(ValueError, match="number"):
        length.check(True)
    task = Option("task", "string", "which", "a", choices=("a", "b"))
    with pytest.raises(ValueError, match="one of a, b"):
        task.check("c")
    with pytest.raises(ValueError, match="minimum"):
        Option("x", "number", "no bounds")


def test_a_bad_or_foreign_option_on_the_command_line_is_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no trained model here: the flag is still what is reported
    assert cli.main(["predict", "sentiment", "a fine film", "--top-k", "3"]) == 2
    assert "not an option of the sentiment app" in capsys.readouterr().err
    assert cli.main(["predict", "text_generation", "The", "--top-k", "-1"]) == 2
    assert "--top-k -1: -1 is outside" in capsys.readouterr().err


@pytest.mark.parametrize("name", registry.names())
def test_the_registry_names_the_runtime_the_app_uses(name):
    """registry.RUNTIMES (read without TensorFlow) and App.runtime_class name one class."""
    assert registry.get_runtime(name) is registry.get_app(name).runtime_class


@pytest.mark.parametrize("name", registry.names())
def test_what_an_app_says_of_itself_is_declared_on_its_runtime(name):
    """Task, pattern, data, metric and samples: the runtime's (a server without TensorFlow
    shows them), copied to the App; a file app writes its samples where the runtime says."""
    app, runtime = registry.get_app(name), registry.get_runtime(name)
    for field in ("task", "pattern", "default_data", "metric"):
        assert getattr(runtime, field) and getattr(app, field) == getattr(runtime, field)
    if runtime.input_kind == "text":
        assert runtime.sample_inputs and app.sample_inputs == runtime.sample_inputs
        assert not runtime.sample_files
    else:
        assert list(app.sample_inputs) == [str(path) for path in runtime.sample_paths()]
        assert all(path.is_file() for path in runtime.sample_paths())
