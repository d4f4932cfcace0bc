"""The REST API on a real loopback server: the TensorFlow Serving shape and every refusal.

Sentiment runs a quick-trained model end to end; a small fake image app (``echo``) pins
what the server does with files, time limits and untrained or misplaced models.
"""

import base64
import http.client
import io
import json
import pathlib
import socket
import threading
import time

import pytest

from apps import registry
from apps.serve.payload import MAX_INSTANCES
from apps.serve.server import Settings
from apps.serve.testing import Registry, quick_model, request, running_server
from shared.errors import UserError
from shared.runtime.options import Option

pytestmark = pytest.mark.slow


class EchoApp:
    """An image app that answers with the bytes of the file it was given."""

    name = "echo"
    task = "echo the file"
    pattern = "none"
    default_data = "none"
    metric = "accuracy"
    sample_inputs = ()
    input_kind = "image"
    options = (Option("beam_width", "integer", "beam search width", None, 1, 16),)
    seen: list = []

    def load_predictor(self, model_dir, engine, variant="fp32"):
        return {"model_dir": model_dir}

    def predict(self, predictor, inputs, beam_width=None):
        answers = []
        for path in inputs:
            data = pathlib.Path(path).read_bytes()
            EchoApp.seen.append((path, oct(pathlib.Path(path).parent.stat().st_mode & 0o777)))
            if data == b"bad":
                answers.append(UserError(f"{path}: not an image"))
            elif data == b"slow":
                time.sleep(1.5)
                answers.append({"input": path, "caption": "slow"})
            else:
                answers.append({"input": path, "caption": data.decode(), "beam_width": beam_width})
        return answers


class UntrainedApp(EchoApp):
    name = "untrained"
    input_kind = None  # text


def write_fake_model(folder: pathlib.Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text("{}")
    (folder / "metrics.json").write_text(
        json.dumps(
            {
                "app": folder.name,
                "preset": "quick",
                "metrics": {"accuracy": 0.5},
                "litert": {"fp32": {"accuracy": 0.5, "size_bytes": 1000, "latency_ms_p50": 1.0}},
            }
        )
    )


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    base = tmp_path_factory.getbasetemp() / "serve-models"  # shared by the serve test modules
    quick_model(base, "sentiment")
    write_fake_model(base / "echo")
    return base


@pytest.fixture(scope="module")
def server(models):
    apps = Registry(
        {
            "sentiment": lambda: registry.get_app("sentiment"),
            "echo": EchoApp,
            "untrained": UntrainedApp,
        }
    )
    with running_server(apps, models, settings=Settings(quiet=True, time_limit=0.75)) as server:
        yield server


def b64(data: bytes) -> dict:
    return {"b64": base64.b64encode(data).decode()}


# --- the TensorFlow Serving shape --------------------------------------------------------


def test_status_of_a_trained_app_is_available(server):
    status, body, _ = request(server, "GET", "/v1/models/sentiment")
    assert status == 200
    (version,) = body["model_version_status"]
    assert version["state"] == "AVAILABLE"
    assert version["status"]["error_code"] == "OK"


def test_predict_answers_like_the_app_itself(server, models):
    texts = ["an utterly charming film", "The battery died after two days."]
    status, body, _ = request(server, "POST", "/v1/models/sentiment:predict", {"instances": texts})
    assert status == 200
    app = registry.get_app("sentiment")
    expected = app.predict(app.load_predictor(models / "sentiment", "litert"), texts)
    assert body["predictions"] == expected
    assert {p["label"] for p in body["predictions"]} <= {"negative", "neutral", "positive"}


def test_columnar_inputs_and_base64_text(server):
    text = "a dull and tedious film"
    status, body, _ = request(
        server,
        "POST",
        "/v1/models/sentiment:predict",
        {"inputs": [text, b64(text.encode())], "signature_name": "serving_default"},
    )
    assert status == 200
    first, second = body["outputs"]
    assert first["probabilities"] == second["probabilities"]
    assert second["input"] == text


def test_a_text_starting_with_at_is_never_read_as_a_file(server, tmp_path):
    # The CLI reads "@FILE"; through the server the text is only ever text.
    status, body, _ = request(
        server, "POST", "/v1/models/sentiment:predict", {"instances": ["@/no/such/file"]}
    )
    assert status == 200
    assert body["predictions"][0]["input"] == "@/no/such/file"


def test_metrics_and_train_command_are_listed(server):
    status, body, _ = request(server, "GET", "/v1/models")
    assert status == 200
    listed = {model["name"]: model for model in body["models"]}
    sentiment = listed["sentiment"]
    assert sentiment["trained"] and sentiment["kind"] == "text"
    engines = [row["engine"] for row in sentiment["metrics"]["rows"]]
    assert engines[0] == "keras" and "litert int8" in engines
    assert all(row["size_bytes"] > 0 for row in sentiment["metrics"]["rows"][-3:])
    assert not listed["untrained"]["trained"]
    assert listed["untrained"]["train_command"].startswith("rnnapps train untrained --preset demo")


def test_openapi_describes_the_api(server):
    status, spec, _ = request(server, "GET", "/openapi.json")
    assert status == 200
    assert spec["openapi"].startswith("3.")
    assert {"/v1/models/{model}", "/v1/models/{model}:predict"} <= set(spec["paths"])
    model = spec["paths"]["/v1/models/{model}:predict"]["post"]["parameters"][0]
    assert model["schema"]["enum"] == ["sentiment", "echo", "untrained"]


def test_the_page_and_its_security_headers(server):
    status, page, response = request(server, "GET", "/")
    assert status == 200 and b'src="/static/app.js"' in page
    assert "script-src 'self'" in response.getheader("Content-Security-Policy")
    assert response.getheader("X-Frame-Options") == "DENY"
    assert request(server, "GET", "/static/app.js")[0] == 200


# --- the figures of a training run ----------------------------------------------------------


def test_the_figures_of_the_training_run_are_listed_and_served(server, models):
    from PIL import Image

    status, body, _ = request(server, "GET", "/v1/models/sentiment/metadata")
    names = body["metadata"]["run_figures"]
    assert names[:2] == ["training_curves.png", "confusion_matrix.png"]
    assert {"scores_by_domain.png", "scores_by_held_out.png"} <= set(names)
    listing = request(server, "GET", "/v1/models")[1]["models"]
    assert next(m for m in listing if m["name"] == "sentiment")["run_figures"] == names
    for name in names:
        for path in (
            f"/v1/models/sentiment/figures/{name}",
            f"/v1/models/sentiment/versions/1/figures/{name}",
        ):
            status, data, response = request(server, "GET", path)
            assert status == 200 and response.getheader("Content-Type") == "image/png"
            assert data == (models / "sentiment" / name).read_bytes()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
    spec = request(server, "GET", "/openapi.json")[1]
    assert "image/png" in str(spec["paths"]["/v1/models/{model}/figures/{figure}"])
    path = "/v1/models/sentiment/figures/training_curves.png"
    assert request(server, "POST", path, {"instances": []})[0] == 405


@pytest.mark.parametrize(
    "name",
    [
        "..%2fsentiment%2ftraining_curves.png",  # path traversal, encoded
        "..%2F..%2Fsentiment%2Fmetrics.json",
        "%2e%2e%2ftraining_curves.png",
        "..",
        "nope.png",  # unknown
        "metrics.json",  # not a PNG name
        "model_fp32.tflite",
        "config.json",
        "Training_Curves.png",
        "training_curves.PNG",
        "training-curves.png",
        "training_curves.png.json",
        ".png",
        "training_curves.png%00",
        "a" * 90 + ".png",
    ],
)
def test_only_png_figures_in_the_models_folder_are_served(server, name):
    status, body, _ = request(server, "GET", f"/v1/models/sentiment/figures/{name}")
    assert status == 404 and "no such figure" in body["error"], body


def test_a_figure_is_never_read_outside_the_apps_own_folder(server, models):
    status, body, _ = request(server, "GET", "/v1/models/sentiment/figures/../metrics.json")
    assert status == 404
    assert request(server, "GET", "/v1/models/nope/figures/training_curves.png")[0] == 404
    assert request(server, "GET", "/v1/models/untrained/figures/training_curves.png")[0] == 404
    echo = models / "echo"
    png = (models / "sentiment" / "training_curves.png").read_bytes()
    (echo / "drawn.png").write_bytes(png)
    (echo / "fake.png").write_bytes(b"not a png at all")
    for link, target in (
        ("linked_out.png", models / "sentiment" / "training_curves.png"),
        ("linked_dir.png", models / "sentiment"),
    ):
        if not (echo / link).is_symlink():
            (echo / link).symlink_to(target)
    try:
        assert request(server, "GET", "/v1/models/echo/metadata")[1]["metadata"]["run_figures"] == [
            "drawn.png"
        ]
        assert request(server, "GET", "/v1/models/echo/figures/drawn.png")[1] == png
        for name in ("fake.png", "linked_out.png", "linked_dir.png"):
            assert request(server, "GET", f"/v1/models/echo/figures/{name}")[0] == 404, name
    finally:
        for name in ("drawn.png", "fake.png", "linked_out.png", "linked_dir.png"):
            (echo / name).unlink()


# --- files: private temporary copies, never paths ----------------------------------------


def test_file_bytes_go_through_a_private_temporary_file(server):
    EchoApp.seen.clear()
    status, body, _ = request(
        server,
        "POST",
        "/v1/models/echo:predict",
        {"instances": [b64(b"first"), {"image": b64(b"second")}], "parameters": {"beam_width": 3}},
    )
    assert status == 200
    assert [p["caption"] for p in body["predictions"]] == ["first", "second"]
    assert [p["input"] for p in body["predictions"]] == ["instances[0]", "instances[1]"]
    assert body["predictions"][0]["beam_width"] == 3
    for path, mode in EchoApp.seen:
        assert "rnnapps-serve-" in path and mode == "0o700"
        assert not pathlib.Path(path).exists()  # removed after the answer


def test_a_bad_file_fails_the_request_naming_the_instance_not_the_path(server):
    status, body, _ = request(
        server, "POST", "/v1/models/echo:predict", {"instances": [b64(b"fine"), b64(b"bad")]}
    )
    assert status == 400
    assert body["error"] == "instances[1]: instances[1]: not an image"


def test_file_paths_are_refused(server):
    status, body, _ = request(
        server, "POST", "/v1/models/echo:predict", {"instances": ["/etc/passwd"]}
    )
    assert status == 400
    assert "file paths are not accepted" in body["error"]


def test_a_model_folder_that_links_outside_the_models_folder_is_not_loaded(tmp_path):
    outside = tmp_path / "outside" / "echo"
    write_fake_model(outside)
    models = tmp_path / "models"
    models.mkdir()
    (models / "echo").symlink_to(outside)
    with running_server(Registry({"echo": EchoApp}), models) as server:
        status, body, _ = request(server, "GET", "/v1/models/echo")
        assert status == 404 and "not trained" in body["error"]
        assert (
            request(server, "POST", "/v1/models/echo:predict", {"instances": [b64(b"x")]})[0] == 404
        )


def test_an_app_trained_after_the_start_is_served_without_a_restart(tmp_path):
    with running_server(Registry({"echo": EchoApp}), tmp_path) as server:
        status, body, _ = request(server, "GET", "/v1/models/echo")
        assert status == 404 and "rnnapps train echo --preset demo --out" in body["error"]
        write_fake_model(tmp_path / "echo")
        (listed,) = request(server, "GET", "/v1/models")[1]["models"]
        assert listed["trained"] and (listed["state"], listed["error"]) == ("START", "")
        status, body, _ = request(server, "GET", "/v1/models/echo")
        assert status == 200 and body["model_version_status"][0]["state"] == "AVAILABLE"


# --- limits and refusals ------------------------------------------------------------------


def test_the_time_limit_answers_503_and_the_app_recovers(server):
    start = time.monotonic()
    status, body, _ = request(
        server, "POST", "/v1/models/echo:predict", {"instances": [b64(b"slow")]}
    )
    assert status == 503 and "time limit" in body["error"]
    assert time.monotonic() - start < 1.4  # answered at the limit, not when the work ended
    time.sleep(1.0)
    assert request(server, "POST", "/v1/models/echo:predict", {"instances": [b64(b"ok")]})[0] == 200


@pytest.mark.parametrize(
    ("path", "body", "headers", "expected", "message"),
    [
        ("/v1/models/nope:predict", {"instances": ["x"]}, {}, 404, "unknown model"),
        ("/v1/models/untrained:predict", {"instances": ["x"]}, {}, 404, "rnnapps train untrained"),
        (
            "/v1/models/sentiment:predict",
            {"instances": ["x"]},
            {"Content-Type": "text/plain"},
            415,
            "application/json",
        ),
        (
            "/v1/models/sentiment:predict",
            b"{not json",
            {"Content-Type": "application/json"},
            400,
            "not JSON",
        ),
        (
            "/v1/models/sentiment:predict",
            b"\xff\xfe",
            {"Content-Type": "application/json"},
            400,
            "not UTF-8",
        ),
        (
            "/v1/models/sentiment:predict",
            b'{"instances": [NaN]}',
            {"Content-Type": "application/json"},
            400,
            "NaN",
        ),
        (
            "/v1/models/sentiment:predict",
            {"instances": "text"},
            {},
            400,
            "instances: expected a list",
        ),
        ("/v1/models/sentiment:predict", {"instances": []}, {}, 400, "empty"),
        (
            "/v1/models/sentiment:predict",
            {"instances": ["x"] * (MAX_INSTANCES + 1)},
            {},
            413,
            "allowed",
        ),
        (
            "/v1/models/sentiment:predict",
            {"instances": [3]},
            {},
            400,
            "instances[0]: expected a string",
        ),
        (
            "/v1/models/sentiment:predict",
            {"instances": [""]},
            {},
            400,
            "instances[0]: '': empty text",
        ),
        (
            "/v1/models/sentiment:predict",
            {"instances": [{"b64": "!!"}]},
            {},
            400,
            "not valid base64",
        ),
        (
            "/v1/models/sentiment:predict",
            {"instances": ["x"], "extra": 1},
            {},
            400,
            "unknown field",
        ),
        (
            "/v1/models/sentiment:predict",
            {"instances": ["x"], "inputs": ["x"]},
            {},
            400,
            "exactly one",
        ),
        (
            "/v1/models/sentiment:predict",
            {"instances": ["x"], "signature_name": "tokenize"},
            {},
            400,
            "serving_default",
        ),
        (
            "/v1/models/sentiment:predict",
            {"instances": ["x"], "parameters": {"top_p": 0.5}},
            {},
            400,
            "parameters.top_p: not an option",
        ),
        (
            "/v1/models/echo:predict",
            {"instances": [b64(b"x")], "parameters": {"beam_width": 99}},
            {},
            400,
            "outside [1, 16]",
        ),
        (
            "/v1/models/echo:predict",
            {"instances": [b64(b"x")], "parameters": {"beam_width": "2"}},
            {},
            400,
            "expected an integer",
        ),
        ("/v1/models/sentiment", {"instances": ["x"]}, {}, 405, "use GET"),
        ("/somewhere", {"instances": ["x"]}, {}, 404, "no such endpoint"),
    ],
)
def test_bad_requests_get_a_4xx_that_says_what_is_wrong(
    server, path, body, headers, expected, message
):
    status, answer, _ = request(server, "POST", path, body, headers)
    assert status == expected, answer
    assert message in answer["error"]


def test_an_oversized_body_is_refused_before_it_is_read(models):
    with running_server(
        Registry({"sentiment": lambda: registry.get_app("sentiment")}),
        models,
        settings=Settings(quiet=True, max_body_bytes=1000),
    ) as server:
        host, port = server.server_address[:2]
        with socket.create_connection((host, port), timeout=10) as connection:
            connection.sendall(
                b"POST /v1/models/sentiment:predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: 999999999\r\n\r\n"
            )
            answer = connection.recv(4096).decode()
        assert answer.startswith("HTTP/1.1 413") and "Connection: close" in answer


def test_a_body_without_content_length_is_refused(server):
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.putrequest("POST", "/v1/models/sentiment:predict")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders()
    connection.send(b'5\r\n{"a":\r\n0\r\n\r\n')
    response = connection.getresponse()
    assert response.status == 411
    connection.close()


def test_a_foreign_host_name_is_refused_on_loopback(server):
    status, body, _ = request(server, "GET", "/v1/models", headers={"Host": "evil.example:8000"})
    assert status == 403 and "loopback" in body["error"]
    assert request(server, "GET", "/v1/models", headers={"Host": "localhost:8000"})[0] == 200


def test_other_methods_are_405(server):
    status, body, response = request(server, "DELETE", "/v1/models/sentiment")
    assert status == 405 and response.getheader("Allow") == "GET, POST"


def test_requests_in_parallel_are_all_answered(server):
    results = []

    def ask(index):
        text = f"sentence number {index} is lovely"
        results.append(
            request(server, "POST", "/v1/models/sentiment:predict", {"instances": [text]})[0]
        )

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results == [200] * 8


def test_main_refuses_an_engine_or_folder_it_does_not_know(tmp_path):
    from apps.serve import main

    with pytest.raises(UserError, match="--engine"):
        main("127.0.0.1", 0, tmp_path, "onnx", registry=Registry({}))
    with pytest.raises(UserError, match="no such models folder"):
        main("127.0.0.1", 0, tmp_path / "missing", "litert", registry=Registry({}))
