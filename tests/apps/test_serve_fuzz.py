"""Fuzzing the API with hypothesis: malformed and hostile payloads never get a 5xx.

Requests are drawn from three families: any bytes with any content type, any JSON value,
and near-valid predict requests (the right fields holding wrong or extreme values). The
server must answer each with a 2xx or 4xx and still answer a good request afterwards.
"""

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps import registry
from apps.serve.server import Settings
from apps.serve.testing import Registry, quick_model, request, running_server

pytestmark = pytest.mark.slow

APPS = ("sentiment", "nope", "SENTIMENT", "sentiment/..", "")
HOSTILE_TEXT = st.sampled_from(
    [
        "@/etc/passwd",
        "../../etc/passwd",
        "\x00",
        "\ud800",
        "a" * 30_000,
        "<script>alert(1)</script>",
        "%s%n%x",
        "${jndi:ldap://x}",
        "🙂" * 500,
        " ",
    ]
)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
instance = (
    st.text(max_size=200)
    | HOSTILE_TEXT
    | st.builds(lambda data: {"b64": base64.b64encode(data).decode()}, st.binary(max_size=200))
    | st.builds(lambda text: {"b64": text}, st.text(max_size=50))
    | st.dictionaries(st.sampled_from(["text", "b64", "image", "audio"]), json_values, max_size=2)
    | json_values
)
parameters = (
    st.dictionaries(
        st.sampled_from(["figure", "top_p", "length", "beam_width", "stream", "task", "x"]),
        json_values,
        max_size=3,
    )
    | json_values
)
near_valid = st.fixed_dictionaries(
    {"instances": st.lists(instance, max_size=5)},
    optional={
        "parameters": parameters,
        "signature_name": st.sampled_from(["serving_default", "tokenize", ""]) | json_values,
        "inputs": st.lists(instance, max_size=2),
    },
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.getbasetemp() / "serve-models"  # shared by the serve test modules
    quick_model(base, "sentiment")
    apps = Registry({"sentiment": lambda: registry.get_app("sentiment")})
    with running_server(apps, base, settings=Settings(quiet=True, max_body_bytes=64_000)) as server:
        yield server


def assert_answered(status: int, body) -> None:
    assert status < 500, body
    if status >= 400:
        assert isinstance(body, dict) and body["error"], body  # a message, not a bare status


FUZZ = settings(
    max_examples=120,
    deadline=None,
    database=None,  # no .hypothesis folder in the work tree
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@FUZZ
@given(
    body=st.binary(max_size=300),
    content_type=st.sampled_from(
        ["application/json", "text/plain", "", "application/json; charset=latin-1"]
    ),
    app=st.sampled_from(APPS),
)
def test_any_bytes(server, body, content_type, app):
    headers = {"Content-Type": content_type} if content_type else {}
    status, answer, _ = request(server, "POST", f"/v1/models/{app}:predict", body, headers)
    assert_answered(status, answer)


@FUZZ
@given(value=json_values)
def test_any_json(server, value):
    body = json.dumps(value).encode()
    status, answer, _ = request(
        server, "POST", "/v1/models/sentiment:predict", body, {"Content-Type": "application/json"}
    )
    assert_answered(status, answer)


@FUZZ
@given(payload=near_valid)
def test_near_valid_predict_requests(server, payload):
    status, answer, _ = request(server, "POST", "/v1/models/sentiment:predict", payload)
    assert_answered(status, answer)
    if status == 200:
        assert len(answer.get("predictions", answer.get("outputs", []))) >= 1


@FUZZ
@given(
    method=st.sampled_from(["GET", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"]),
    path=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=60),
)
def test_any_path_and_method(server, method, path):
    status, answer, _ = request(server, method, "/" + path.lstrip("/"))
    assert status < 500, answer


def test_the_server_is_alive_after_the_fuzzing(server):
    # Module order runs this last: the same server, after every fuzz test above.
    status, body, _ = request(server, "GET", "/v1/models/sentiment")
    assert status == 200 and body["model_version_status"][0]["state"] == "AVAILABLE"
    status, body, _ = request(
        server, "POST", "/v1/models/sentiment:predict", {"instances": ["a fine film"]}
    )
    assert status == 200 and body["predictions"][0]["label"] in ("negative", "neutral", "positive")
