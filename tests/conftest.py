"""Shared fixtures: a real mongod, the sandbox vendors over loopback HTTP, and the gateway.

mongod and the sandbox start once per session (each takes about a second); every test gets
its own MongoDB database and a fresh gateway app, so tests never see each other's state.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from gateway.app import create_app
from gateway.local_mongod import LocalMongod, free_port
from gateway.serving import CoServer, server_config
from gateway.settings import Environment, Settings
from sandbox.dataset import Dataset, build_dataset
from sandbox.server import UNTHROTTLED, SandboxApp, sandbox_apps


@dataclass
class Sandbox:
    """The vendor simulators, served from a background thread on free loopback ports."""

    dataset: Dataset
    apps: dict[str, SandboxApp]

    def url(self, vendor: str) -> str:
        return self.apps[vendor].url

    def calls(self, vendor: str) -> dict[str, int]:
        """`METHOD path` -> count since the last reset, as the vendor's server saw them."""
        return dict(self.apps[vendor].app.state.calls)

    def total_calls(self, vendor: str) -> int:
        return sum(self.calls(vendor).values())

    def reset_calls(self) -> None:
        for app in self.apps.values():
            app.app.state.calls.clear()


@pytest.fixture(scope="session")
def mongod(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMongod]:
    with LocalMongod(tmp_path_factory.mktemp("mongod")) as server:
        yield server


@pytest.fixture(scope="session")
def dataset() -> Dataset:
    return build_dataset()


@pytest.fixture(scope="session")
def sandbox(dataset: Dataset) -> Iterator[Sandbox]:
    ports = {vendor: free_port() for vendor in ("square", "shopify", "salesforce")}
    apps = sandbox_apps("127.0.0.1", ports, dataset=dataset, shopify_plan=UNTHROTTLED)
    servers = [CoServer(server_config(a.app, "127.0.0.1", a.port)) for a in apps]
    thread = threading.Thread(target=_serve_in_thread, args=(servers,), daemon=True)
    thread.start()
    for server in servers:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("sandbox servers failed to start")
            threading.Event().wait(0.02)
    yield Sandbox(dataset, {a.vendor: a for a in apps})
    for server in servers:
        server.should_exit = True
    thread.join(timeout=10)


def _serve_in_thread(servers: list[uvicorn.Server]) -> None:
    async def serve_all() -> None:
        await asyncio.gather(*(server.serve() for server in servers))

    asyncio.run(serve_all())


@pytest.fixture
def settings(mongod: LocalMongod, sandbox: Sandbox) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        env=Environment.TEST,
        mongodb_uri=mongod.uri,
        mongodb_database=f"test_{uuid.uuid4().hex[:12]}",
        square={"base_url": sandbox.url("square")},
        shopify={"base_url": sandbox.url("shopify")},
        salesforce={"login_url": sandbox.url("salesforce")},
    )


@dataclass
class GatewayClient:
    http: httpx.AsyncClient

    async def query(self, document: str, variables: dict[str, Any] | None = None) -> Any:
        """The JSON body of a POST /graphql, which must answer 200."""
        response = await self.http.post(
            "/graphql", json={"query": document, "variables": variables or {}}
        )
        assert response.status_code == 200, response.text
        return response.json()


@asynccontextmanager
async def running_gateway(
    settings: Settings, http_client: httpx.AsyncClient | None = None
) -> AsyncIterator[GatewayClient]:
    """A gateway app in process with its lifespan run; its upstream calls are real HTTP."""
    app = create_app(settings, http_client=http_client)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield GatewayClient(client)


@pytest.fixture
def make_gateway() -> Any:
    """`async with make_gateway(settings, http_client=None) as client:` for tests that need
    settings or a transport of their own."""
    return running_gateway


@pytest.fixture
async def gateway(settings: Settings, sandbox: Sandbox) -> AsyncIterator[GatewayClient]:
    async with running_gateway(settings) as client:
        sandbox.reset_calls()
        yield client


REPO_ROOT = Path(__file__).resolve().parent.parent
