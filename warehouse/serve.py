"""``crmwh serve``: the HTTP cube API under uvicorn. ``register(app)`` adds the command to the CLI."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from fastapi import FastAPI

from warehouse.errors import WarehouseError

STARTUP_SECONDS = 15


def _server(app: FastAPI, host: str, port: int, concurrency: int) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        # The API writes its own audit line per request; uvicorn's access log would only repeat it.
        access_log=False,
        log_config=None,
        limit_concurrency=concurrency,
        timeout_keep_alive=5,
        server_header=False,
    )
    return uvicorn.Server(config)


def _connection_limit(app: FastAPI) -> int:
    serve = getattr(app.state, "serve_config", None)
    return 4 * (serve.max_concurrent_queries + serve.max_queued_requests) if serve else 256


@contextmanager
def running_server(app: FastAPI, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``app`` on a free port of ``host`` in a background thread; yields the base URL."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    server = _server(app, host, port, _connection_limit(app))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise WarehouseError(f"the API server did not start on {host}:{port}")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_SECONDS)
        sock.close()


def register(app: typer.Typer) -> None:
    """Add ``crmwh serve`` to ``app``."""

    @app.command("serve")
    def serve_command(
        host: Annotated[
            str | None, typer.Option(help="Address to bind (default: serve.host, 127.0.0.1).")
        ] = None,
        port: Annotated[int | None, typer.Option(help="Port (default: serve.port, 8765).")] = None,
        config: Annotated[
            Path | None,
            typer.Option("--config", help="Configuration file (default: crmwh.toml or $CRMWH_CONFIG)."),
        ] = None,
    ) -> None:
        """Serve the cube API over HTTP: GET /cubes, POST /query, GET /health, docs at /docs."""
        from warehouse.api import create_app
        from warehouse.config import load_settings
        from warehouse.logs import configure

        settings = load_settings(config)
        bind = host or settings.serve.host
        listen = port or settings.serve.port
        configure(json_lines=True)
        app_ = create_app(settings)
        if not settings.serve.tokens:
            typer.echo(
                "warning: no tokens in [serve.tokens]: every data request will be refused (401)", err=True
            )
        if not _is_loopback(bind):
            typer.echo(
                f"note: binding {bind}, reachable from other machines; use TLS in front of it", err=True
            )
        typer.echo(
            f"crmwh cube API on http://{bind}:{listen} (docs at /docs); warehouse {settings.warehouse_path}"
        )
        _server(app_, bind, listen, _connection_limit(app_)).run()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
