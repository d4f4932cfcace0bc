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
    path = tmp_path / f"input.{ {'audio': 'wav', 'image': 'png', 'video': 'mp4'}[kind] }"
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
