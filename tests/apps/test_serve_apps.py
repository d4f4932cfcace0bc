"""Every registered app through the REST API, each on a quick-trained model.

The server must answer what the app itself answers for the same input (text, or the
same file bytes), with the field the design names for that app.
"""

import base64
import io
import pathlib

import pytest

from apps import registry
from apps.serve.server import Settings
from apps.serve.testing import quick_model, request, running_server

pytestmark = pytest.mark.slow

HEADLINE = {
    "sentiment": "label",
    "speech": "keyword",
    "text_generation": "text",
    "translation": "translation",
    "captioning": "caption",
    "video": "label",
    "forecasting": "series",
    "music": "summary",
}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "serve-models"  # shared by the serve test modules


@pytest.fixture(scope="module")
def server(models):
    models.mkdir(exist_ok=True)
    with running_server(registry, models, settings=Settings(quiet=True, time_limit=60)) as server:
        yield server


def spoken_wav(word: str) -> bytes:
    import soundfile

    from shared.data.espeak import Espeak

    speaker = Espeak()
    buffer = io.BytesIO()
    soundfile.write(
        buffer, speaker.synthesize(word, voice="en-us"), speaker.sample_rate, format="WAV"
    )
    return buffer.getvalue()


def sample_input(name: str, kind: str, tmp_path: pathlib.Path) -> tuple[object, str]:
    """The request's instance and what the app itself is given for it."""
    app = registry.get_app(name)
    if kind == "text":
        text = next((s for s in app.sample_inputs if s), "hello")
        return text, text
    data = spoken_wav("yes") if kind == "audio" else pathlib.Path(app.sample_inputs[0]).read_bytes()
    path = (
        tmp_path / f"input.{ {'audio': 'wav', 'image': 'png', 'video': 'mp4', 'csv': 'csv'}[kind] }"
    )
    path.write_bytes(data)
    return {"b64": base64.b64encode(data).decode()}, str(path)


@pytest.mark.parametrize("name", registry.names())
def test_every_app_answers_through_the_api(server, models, name, tmp_path):
    quick_model(models, name)
    served = server.catalog.get(name)
    instance, raw = sample_input(name, served.kind, tmp_path)
    options = {"seed": 3, "length": 30} if name == "text_generation" else {}
    status, body, _ = request(
        server,
        "POST",
        f"/v1/models/{name}:predict",
        {"instances": [instance], "parameters": {**options, "figure": True}},
    )
    assert status == 200, body
    (prediction,) = body["predictions"]
    assert HEADLINE[name] in prediction
    figure = prediction.pop("figure", None)
    if served.describe()["figure"]:  # spectrogram (speech), attention (translation, captioning)
        assert base64.b64decode(figure["b64"])[:4] == b"\x89PNG"
    app = registry.get_app(name)
    (direct,) = app.predict(app.load_predictor(models / name, "litert"), [raw], **options)
    direct.pop("input")
    prediction.pop("input")
    assert prediction == direct
    status, body, _ = request(server, "GET", f"/v1/models/{name}")
    assert status == 200 and body["model_version_status"][0]["state"] == "AVAILABLE"


# The figures each app's quick run leaves in its folder (shared.workflow.draw_figures): at least
# these (a held-out set the quick data lacks draws nothing).
RUN_FIGURES = {
    "sentiment": {"confusion_matrix.png", "scores_by_domain.png", "scores_by_held_out.png"},
    "translation": {"scores_by_kind.png", "scores_by_held_out.png", "attention_example.png"},
    "captioning": {"scores_by_held_out.png", "attention_example.png"},
    "video": {
        "confusion_matrix.png",
        "scores_by_class.png",
        "scores_by_held_out.png",
        "label_over_time.png",
    },
    "speech": {
        "confusion_matrix.png",
        "confusion_matrix_pico.png",
        "scores_by_keyword.png",
        "scores_by_engine.png",
        "scores_by_voice.png",
        "spectrogram_example.png",
    },
    "text_generation": {"scores_by_held_out.png"},
    "music": {"piano_roll.png"},
}


@pytest.mark.parametrize("name", registry.names())
def test_every_app_shows_the_figures_of_its_training_run(server, models, name):
    from PIL import Image

    quick_model(models, name)
    status, body, _ = request(server, "GET", f"/v1/models/{name}/metadata")
    assert status == 200, body
    names = body["metadata"]["run_figures"]
    assert names[0] == "training_curves.png"
    assert RUN_FIGURES.get(name, set()) <= set(names), names
    for figure in names:
        status, data, response = request(server, "GET", f"/v1/models/{name}/figures/{figure}")
        assert status == 200 and response.getheader("Content-Type") == "image/png"
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            assert image.format == "PNG" and min(image.size) > 50


@pytest.mark.skipif("speech" not in registry.names(), reason="the speech app is not built yet")
def test_speech_streaming_groups_the_detections_of_one_recording(server, models):
    quick_model(models, "speech")
    wav = {"b64": base64.b64encode(spoken_wav("yes. no. stop. go.")).decode()}
    status, body, _ = request(
        server,
        "POST",
        "/v1/models/speech:predict",
        {"instances": [wav], "parameters": {"stream": True}},
    )
    assert status == 200, body
    (prediction,) = body["predictions"]
    assert prediction["input"] == "instances[0]" and len(prediction["events"]) >= 1
    assert all("time" in event for event in prediction["events"])


def test_the_litert_server_answers_without_tensorflow(models):
    """`rnnapps serve` with the LiteRT engine, in a process where importing TensorFlow or
    Keras fails: every app's listing, metadata, sample answer and figure are the full stack's
    (the same engine through the App), and neither package was imported."""
    import functools
    import json

    from apps.serve.testing import Registry, tour
    from shared.runtime.isolation import run_without_tensorflow

    models.mkdir(exist_ok=True)
    for name in registry.names():
        quick_model(models, name)
    # First, so the file apps' App writes their sample files for both servers to offer.
    full = tour(
        Registry({n: functools.partial(registry.get_app, n) for n in registry.names()}), models
    )
    code = f"""
import json, pathlib, sys
from apps import registry
from apps.serve.testing import tour
seen = tour(registry, pathlib.Path({str(models)!r}))
seen["imported"] = sorted({{m.split(".")[0] for m in sys.modules}} & {{"tensorflow", "keras"}})
print(json.dumps(seen))
"""
    seen = json.loads(run_without_tensorflow(code, timeout=600).splitlines()[-1])
    assert seen.pop("imported") == []
    assert seen["listing"] == full["listing"] and seen["openapi"] == full["openapi"]
    assert list(seen["apps"]) == registry.names()
    for name in registry.names():
        assert seen["apps"][name] == full["apps"][name], name
        status, body = seen["apps"][name]["predict"]
        assert status == 200 and HEADLINE[name] in body["predictions"][0], body
        if seen["apps"][name]["metadata"]["metadata"]["figure"]:
            figure = base64.b64decode(body["predictions"][0]["figure"]["b64"])
            assert figure[:4] == b"\x89PNG"


@pytest.mark.skipif("music" not in registry.names(), reason="no music app yet")
def test_a_request_naming_a_melody_file_on_the_server_is_not_read(server, models, tmp_path):
    quick_model(models, "music")
    path = tmp_path / "secret.abc"
    path.write_text("X:1\nM:6/8\nL:1/8\nK:D\nA|dfa afd|efg gfe|")
    instances = [str(path), "new"]
    status, body, _ = request(server, "POST", "/v1/models/music:predict", {"instances": instances})
    # The path is refused as text that is not ABC (the CLI would have read the file).
    assert status == 400 and "not ABC text" in str(body), body
    assert cli_reads(path)


def cli_reads(path: pathlib.Path) -> bool:
    from apps.music import runtime

    return runtime.read_melody(str(path)) is not None


@pytest.mark.skipif("translation" not in registry.names(), reason="no translation app yet")
def test_without_matplotlib_a_figure_request_says_which_extra_and_answers_still_work(
    server, models, monkeypatch
):
    import apps.serve.catalog

    name = "translation"  # a text app with a figure (its attention map)
    quick_model(models, name)
    real = apps.serve.catalog.find_spec
    monkeypatch.setattr(
        apps.serve.catalog, "find_spec", lambda n: None if n == "matplotlib" else real(n)
    )
    status, body, _ = request(server, "GET", f"/v1/models/{name}/metadata")
    assert status == 200 and body["metadata"]["figure"] is False  # the page does not ask
    text = next(s for s in body["metadata"]["examples"] if s)
    path = f"/v1/models/{name}:predict"
    status, body, _ = request(server, "POST", path, {"instances": [text]})
    assert status == 200 and "figure" not in body["predictions"][0]
    status, body, _ = request(
        server, "POST", path, {"instances": [text], "parameters": {"figure": True}}
    )
    assert status == 501
    assert "matplotlib" in body["error"] and 'pip install "rnn-apps[serve]"' in body["error"]
    assert "\n" not in body["error"]
