"""An ASGI app served on a real loopback port from a background thread, for clients that
are other processes (node, Chromium) and so cannot use an in-process transport."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

from gateway.local_mongod import free_port


@contextmanager
def serving(app: ASGIApp, port: int | None = None) -> Iterator[str]:
    """Yields the app's base URL, `http://127.0.0.1:PORT` (`port`, or a free one); the
    lifespan runs, and a failed start-up fails the caller rather than serving without
    services."""
    port = port or free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="on", log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "the server failed to start"
        assert time.monotonic() < deadline, "the server did not start within 20 s"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
