"""Import target for uvicorn (`gateway.asgi:app_from_environment`, a factory), so each worker
process builds its own app from the environment."""

from __future__ import annotations

import gc

from starlette.applications import Starlette

from gateway.app import create_app
from gateway.logging_setup import configure_logging
from gateway.settings import Settings


def app_from_environment() -> Starlette:
    settings = Settings()
    # `serve --workers N` starts each worker as a fresh process: its logging is set here
    configure_logging(settings.effective_log_format, settings.log_level)
    app = create_app(settings)
    tune_garbage_collector()
    return app


def tune_garbage_collector() -> None:
    """Fewer, cheaper collections for a server process (measured in bench/README.md).

    Everything imported and built so far lives as long as the process: freezing it keeps
    every later collection from walking it again. A request allocates thousands of small
    objects that die with it, so the youngest generation is collected less often.
    """
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)
