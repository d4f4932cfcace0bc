"""The HTTP server: the web page, the REST API and its checks, on the standard library.

Routes (every answer is JSON except the page, its two static files, the figures and samples):

    GET  /                              the web page (a tab per app)
    GET  /static/app.js, /static/style.css
    GET  /openapi.json                  the OpenAPI description
    GET  /v1/models                     every app: state, kind, options, metrics
    GET  /v1/models/<app>               TensorFlow Serving model status
    GET  /v1/models/<app>/metadata      one app's description
    GET  /v1/models/<app>/figures/<name>.png  a PNG figure its training run left in its folder
    POST /v1/models/<app>:predict       {"instances": [...]} -> {"predictions": [...]}
    GET  /ui/samples/<app>/<n>          a generated sample file the app provides (by number)
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import json
import mimetypes
import pathlib
import re
import socket
import sys
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from apps.serve import runner
from apps.serve.catalog import ApiError, Catalog
from apps.serve.openapi import openapi
from apps.serve.payload import parse_predict

STATIC_FOLDER = pathlib.Path(__file__).parent / "static"
STATIC_FILES = {  # request path -> (file, content type); nothing else is ever read from disk
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/style.css": ("style.css", "text/css; charset=utf-8"),
}
# The page runs only its own script and talks only to this server.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: blob:; media-src 'self' blob: data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "microphone=(self), camera=(), geolocation=()",
}
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "[::1]", "::1"}
_APP_NAME = r"[A-Za-z0-9_]{1,64}"
_PREDICT = re.compile(rf"/v1/models/({_APP_NAME})(?:/versions/1)?:predict")
_STATUS = re.compile(rf"/v1/models/({_APP_NAME})(?:/versions/1)?")
_METADATA = re.compile(rf"/v1/models/({_APP_NAME})(?:/versions/1)?/metadata")
_SAMPLE = re.compile(rf"/ui/samples/({_APP_NAME})/([0-9]{{1,3}})")
# Any last segment, so a bad name gets its own 404; ServedApp.run_figure checks it.
_RUN_FIGURE = re.compile(rf"/v1/models/({_APP_NAME})(?:/versions/1)?/figures/([^/]{{1,200}})")


@dataclasses.dataclass
class Settings:
    """Limits of one server.

    Args:
        max_body_bytes: the largest request body read; larger ones get 413 unread.
        time_limit: seconds a ``:predict`` may take before the client gets 503.
        socket_timeout: seconds a client may stall while sending (slow clients are dropped).
        quiet: no request log on stderr.
    """

    max_body_bytes: int = 16 * 1024 * 1024
    time_limit: float = 30.0
    socket_timeout: float = 15.0
    quiet: bool = False


class ServeServer(ThreadingHTTPServer):
    """A threading HTTP server holding the catalog and the limits.

    Args:
        address: ``(host, port)``; port 0 picks a free one (see ``server_address``).
        catalog: the apps to serve.
        settings: the limits.

    Example:
        >>> server = ServeServer(("127.0.0.1", 0), catalog, Settings())
        >>> threading.Thread(target=server.serve_forever, daemon=True).start()
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], catalog: Catalog, settings: Settings):
        host = address[0]
        if ":" in host:
            self.address_family = socket.AF_INET6
        self.catalog, self.settings = catalog, settings
        self.loopback = _is_loopback(host)
        super().__init__(address, Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Handler(BaseHTTPRequestHandler):
    """One connection: routes, checks, JSON answers (errors as ``{"error": message}``)."""

    protocol_version = "HTTP/1.1"
    server_version = "rnnapps-serve/1"
    sys_version = ""
    server: ServeServer

    def setup(self) -> None:
        self.timeout = self.server.settings.socket_timeout  # slow clients are dropped
        super().setup()

    # --- answers -------------------------------------------------------------------------

    def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, status: int, value: Any, headers: dict | None = None) -> None:
        # ensure_ascii: texts with lone surrogates still encode.
        body = json.dumps(value, ensure_ascii=True, allow_nan=False).encode("ascii")
        self._send(status, body, "application/json", headers)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None):
        """http.server's own refusals (bad request line, unknown method) as JSON, too."""
        headers = {}
        if code == 501:  # a method we have no handler for
            code, message = 405, f"method {self.command!s:.20} not allowed"
            headers["Allow"] = "GET, POST"
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client may be gone; nothing to tell it then
            self._send_json(code, {"error": message or self.responses.get(code, ("",))[0]}, headers)

    def log_message(self, format: str, *args) -> None:
        if not self.server.settings.quiet:
            sys.stderr.write(f"[serve] {self.address_string()} {format % args}\n")

    # --- dispatch ------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch(self._get)

    def do_HEAD(self) -> None:
        self._dispatch(self._get)

    def do_POST(self) -> None:
        self._dispatch(self._post)

    def _dispatch(self, route) -> None:
        self._body_read = False  # one handler serves every request of a kept-alive connection
        try:
            self._check_host()
            route(urlsplit(self.path).path)
        except ApiError as error:
            self._refuse(error.status, error.message)
        except Exception:  # ours, not the client's: log it whole, answer without details
            traceback.print_exc(file=sys.stderr)
            self._refuse(500, "internal error (the server log has the details)")

    def _refuse(self, status: int, message: str, headers: dict | None = None) -> None:
        if self.command == "POST" and not getattr(self, "_body_read", False):
            self.close_connection = True  # an unread body must not be taken as the next request
        self._send_json(status, {"error": message}, headers)

    def _check_host(self) -> None:
        """On loopback, answer loopback names only: a DNS-rebinding page gets nothing."""
        host = self.headers.get("Host")
        if not self.server.loopback or host is None:
            return
        name = host[: host.find("]") + 1] if host.startswith("[") else host.rsplit(":", 1)[0]
        if name.lower() not in LOOPBACK_NAMES:
            raise ApiError(403, f"Host {host[:60]!r}: this server answers loopback names only")

    # --- GET -----------------------------------------------------------------------------

    def _get(self, path: str) -> None:
        catalog = self.server.catalog
        if self.headers.get("Content-Length", "0") not in ("0", ""):
            self.close_connection = True  # a GET body is never read
        if path in STATIC_FILES:
            name, content_type = STATIC_FILES[path]
            headers = PAGE_HEADERS if name == "index.html" else {}
            self._send(200, (STATIC_FOLDER / name).read_bytes(), content_type, headers)
        elif path == "/openapi.json":
            settings = self.server.settings
            self._send_json(200, openapi(catalog, settings.max_body_bytes, settings.time_limit))
        elif path == "/v1/models":
            for served in catalog.apps.values():
                served.refresh()
            self._send_json(
                200,
                {
                    "engine": catalog.engine,
                    "variant": catalog.variant,
                    "models": [served.describe() for served in catalog.apps.values()],
                },
            )
        elif match := _METADATA.fullmatch(path):
            served = catalog.get(match.group(1))
            served.refresh()
            self._send_json(
                200,
                {
                    "model_spec": {"name": served.name, "version": "1"},
                    "metadata": served.describe(),
                },
            )
        elif match := _STATUS.fullmatch(path):
            served = catalog.get(match.group(1))
            served.refresh()
            if not served.trained:
                raise ApiError(404, f"{served.name}: not trained (run: {served.train_command})")
            # Trained since the server started: load it now (the lock: not during an answer).
            limit = self.server.settings.time_limit
            if served.state == "START" and served.lock.acquire(timeout=limit):
                try:
                    if served.state == "START":
                        served.load(catalog.engine, catalog.variant)
                finally:
                    served.lock.release()
            self._send_json(200, served.status())
        elif match := _RUN_FIGURE.fullmatch(path):
            served = catalog.get(match.group(1))
            figure = served.run_figure(match.group(2))
            if figure is None:
                raise ApiError(
                    404,
                    f"{path[:80]}: no such figure (the model's figures: "
                    f"{', '.join(served.run_figures()) or 'none'})",
                )
            self._send(200, figure.read_bytes(), "image/png")
        elif _PREDICT.fullmatch(path):
            raise ApiError(405, "use POST for :predict")
        elif match := _SAMPLE.fullmatch(path):
            samples = catalog.get(match.group(1)).samples()
            index = int(match.group(2))
            if index >= len(samples) or not samples[index].is_file():
                raise ApiError(404, f"{path}: no such sample")
            content_type = (
                mimetypes.guess_type(samples[index].name)[0] or "application/octet-stream"
            )
            self._send(200, samples[index].read_bytes(), content_type)
        else:
            raise ApiError(404, f"{path[:80]}: no such page or endpoint (see /openapi.json)")

    # --- POST ----------------------------------------------------------------------------

    def _post(self, path: str) -> None:
        match = _PREDICT.fullmatch(path)
        if match is None:
            known = path in STATIC_FILES or path in ("/openapi.json", "/v1/models")
            if known or any(route.fullmatch(path) for route in (_STATUS, _METADATA, _RUN_FIGURE)):
                raise ApiError(405, f"{path[:80]}: use GET")
            raise ApiError(404, f"{path[:80]}: no such endpoint (POST /v1/models/<app>:predict)")
        catalog, settings = self.server.catalog, self.server.settings
        served = catalog.get(match.group(1))
        body = self._read_body(settings.max_body_bytes)
        request = parse_predict(body, served, settings.max_body_bytes)
        predictions = runner.predict(
            served, request, catalog.engine, catalog.variant, settings.time_limit
        )
        key = "outputs" if request.columnar else "predictions"
        self._send_json(200, {key: predictions})

    def _read_body(self, limit: int) -> bytes:
        """The JSON body, after checking its type and length (refused ones stay unread)."""
        content_type = self.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() != "application/json":
            raise ApiError(415, f"Content-Type {content_type[:60]!r}: send application/json")
        if self.headers.get("Transfer-Encoding"):
            raise ApiError(411, "chunked bodies are not accepted: send Content-Length")
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            raise ApiError(411, "Content-Length is required")
        if not length_text.strip().isdigit() or len(length_text) > 15:
            raise ApiError(400, f"Content-Length {length_text[:20]!r}: not a byte count")
        length = int(length_text)
        if length > limit:
            raise ApiError(413, f"body of {length:,} bytes, more than the {limit:,} allowed")
        try:
            body = self.rfile.read(length)
        except OSError:  # the client stalled past the socket timeout
            self.close_connection = True
            raise ApiError(408, "the body did not arrive in time") from None
        self._body_read = True
        if len(body) != length:
            self.close_connection = True
            raise ApiError(400, f"body ended after {len(body):,} of {length:,} bytes")
        return body
