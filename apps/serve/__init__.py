"""``rnnapps serve``: a local web page and a TensorFlow Serving-shaped REST API for every app.

    from apps.serve import main
    main("127.0.0.1", 8000, pathlib.Path("saved_models"), "litert")

The page has a tab per app; the API answers ``POST /v1/models/<app>:predict`` with
``{"instances": [...]}`` and describes itself at ``/openapi.json``. It runs on the
standard library's HTTP server (see ``server.py`` for the routes and checks).
"""

from __future__ import annotations

import pathlib
import sys

from apps.serve.catalog import Catalog
from apps.serve.server import ServeServer, Settings
from shared.errors import UserError

__all__ = ["Catalog", "ServeServer", "Settings", "create_server", "main"]


def create_server(
    catalog: Catalog, host: str = "127.0.0.1", port: int = 8000, settings: Settings | None = None
) -> ServeServer:
    """A bound server (not yet serving); a UserError when the address cannot be used."""
    try:
        return ServeServer((host, port), catalog, settings or Settings())
    except OSError as error:
        raise UserError(f"{host}:{port}: cannot listen ({error.strerror or error})") from None


def main(
    host: str = "127.0.0.1",
    port: int = 8000,
    models: pathlib.Path = pathlib.Path("saved_models"),
    engine: str = "litert",
    *,
    variant: str = "fp32",
    registry=None,
    settings: Settings | None = None,
) -> int:
    """Serve every registered app from `models` until interrupted (Ctrl-C); returns 0.

    Args:
        host: the address to bind; 127.0.0.1 unless the user chooses otherwise.
        port: the TCP port (0: any free one).
        models: the folder of ``<app>/`` model folders; nothing outside it is loaded.
        engine: ``litert`` (default), ``savedmodel`` or ``keras`` (loaded in safe mode).
        variant: the LiteRT variant: ``fp32``, ``fp16`` or ``int8``.
        registry: ``names()``, ``get_app(name)`` and ``get_runtime(name)``; the CLI passes
            ``apps.registry``. With the LiteRT engine an app is served from its runtime
            class, without importing TensorFlow.
        settings: body size, time limit and socket timeout.
    """
    if registry is None:  # `python -m apps.serve`: the one place shared/ reaches for apps/
        from apps import registry
    catalog = Catalog(registry, pathlib.Path(models), engine, variant)

    def log(line: str) -> None:
        print(f"[rnnapps] {line}", file=sys.stderr)

    catalog.load_all(log)
    server = create_server(catalog, host, port, settings)
    if not server.loopback:
        log(f"warning: listening on {host}: anyone who can reach this machine can use the models")
    try:
        log(f"serving {', '.join(catalog.apps)} with {engine} on {server.url} (Ctrl-C stops)")
        server.serve_forever()
    except KeyboardInterrupt:
        log("stopped")
    finally:
        server.server_close()
    return 0
