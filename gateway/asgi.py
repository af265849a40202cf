"""Import target for uvicorn (`gateway.asgi:app_from_environment`, a factory), so each worker
process builds its own app from the environment."""

from __future__ import annotations

from starlette.applications import Starlette

from gateway.app import create_app
from gateway.settings import Settings


def app_from_environment() -> Starlette:
    return create_app(Settings())
