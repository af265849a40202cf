"""Running several uvicorn servers in one event loop, stopped together by one Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Generator, Sequence

import uvicorn
from starlette.types import ASGIApp


class CoServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to `serve_together`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def server_config(app: ASGIApp, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        lifespan="auto",
    )


async def serve_together(servers: Sequence[uvicorn.Server]) -> None:
    """Serve until SIGINT/SIGTERM, or until any server stops; then stop them all."""
    loop = asyncio.get_running_loop()

    def stop_all() -> None:
        for server in servers:
            server.should_exit = True

    def on_signal() -> None:
        for server in servers:
            # a second Ctrl-C skips the graceful drain
            server.force_exit = server.should_exit
        stop_all()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    tasks = [asyncio.create_task(server.serve()) for server in servers]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        stop_all()
        await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            task.result()  # a server that failed to start fails the whole stack
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
