"""Test helpers for the server: a running server on a free loopback port, quick-trained models.

Shared by tests/apps/test_serve_*.py and tests/browser/.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import pathlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from apps.serve.catalog import Catalog
from apps.serve.server import ServeServer, Settings


class Registry:
    """A registry of chosen apps: ``names()`` and ``get_app(name)`` over factories.

    Example:
        >>> Registry({"sentiment": lambda: registry.get_app("sentiment")}).names()
        ['sentiment']
    """

    def __init__(self, factories: dict[str, Callable[[], Any]]):
        self.factories = factories

    def names(self) -> list[str]:
        return list(self.factories)

    def get_app(self, name: str) -> Any:
        return self.factories[name]()


def quick_model(base: pathlib.Path, app_name: str) -> pathlib.Path:
    """``base/app_name`` trained with the quick preset, once per folder (later calls reuse it)."""
    from apps import cli

    out = pathlib.Path(base) / app_name
    if not (out / "metrics.json").is_file():
        status = cli.main(["train", app_name, "--preset", "quick", "--out", str(out)])
        assert status == 0, f"quick training of {app_name} failed"
    return out


@contextlib.contextmanager
def running_server(
    registry: Any,
    models: pathlib.Path,
    engine: str = "litert",
    settings: Settings | None = None,
) -> Iterator[ServeServer]:
    """A server on 127.0.0.1 and a free port, serving on a thread; shut down on exit."""
    catalog = Catalog(registry, models, engine)
    catalog.load_all()
    server = ServeServer(("127.0.0.1", 0), catalog, settings or Settings(quiet=True))
    thread = threading.Thread(target=server.serve_forever, name="serve", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def tour(registry: Any, models: pathlib.Path, engine: str = "litert") -> dict:
    """What a client sees of every app on a server over `models`: the listing, the OpenAPI
    description, and per app its status, metadata, and a ``:predict`` of its first example
    (text) or generated sample (file, fetched from ``/ui/samples``), with its figure when it
    has one. JSON-ready, so a server started elsewhere (a process without TensorFlow) can be
    compared with this one.
    """
    seen: dict[str, Any] = {"apps": {}}
    with running_server(registry, models, engine, Settings(quiet=True, time_limit=120)) as server:
        seen["listing"] = request(server, "GET", "/v1/models")[:2]
        seen["openapi"] = request(server, "GET", "/openapi.json")[:2]
        for name in registry.names():
            status, metadata, _ = request(server, "GET", f"/v1/models/{name}/metadata")
            assert status == 200, metadata
            described = metadata["metadata"]
            if described["kind"] == "text":
                instance: Any = next(text for text in described["examples"] if text.strip())
            else:
                status, data, _ = request(server, "GET", f"/ui/samples/{name}/0")
                assert status == 200, data
                instance = {"b64": base64.b64encode(data).decode("ascii")}
            body = {"instances": [instance], "parameters": {"figure": described["figure"]}}
            seen["apps"][name] = {
                "status": request(server, "GET", f"/v1/models/{name}")[:2],
                "metadata": metadata,
                "predict": request(server, "POST", f"/v1/models/{name}:predict", body)[:2],
            }
    return json.loads(json.dumps(seen))  # as another process prints it: lists, not tuples


def request(
    server: ServeServer,
    method: str,
    path: str,
    body: bytes | dict | list | None = None,
    headers: dict | None = None,
    timeout: float = 60.0,
) -> tuple[int, Any, http.client.HTTPResponse]:
    """One request on a fresh connection: status, the decoded JSON (or raw bytes), response."""
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    headers = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    if data and response.getheader("Content-Type", "").startswith("application/json"):
        return response.status, json.loads(data), response
    return response.status, data, response
