"""Shared fixtures: a real mongod, the sandbox vendors over loopback HTTP, and the gateway.

mongod and the sandbox start once per session (each takes about a second); every test gets
its own MongoDB database and a fresh gateway app, so tests never see each other's state.

The whole suite runs the fast executor in verifying mode (engine/execution.py): every
sub-tree it answers is answered by graphql-core's path too, however the schema was built
(create_app, build_schema, a test's own), and a test during which the two differed fails.
Gateways in subprocesses verify through the setting, inherited from this environment: a
difference there fails the field, which the test sees.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AbstractContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from behaviour import timing as behaviour_timing
from points_api import KEEPERS, Keeper, LedgerKeeper, SquareKeeper
from profile_support import edited_contact
from pymongo import AsyncMongoClient

from engine.execution import VERIFIED, FastExecutionMismatch, verify_every_execution
from gateway.app import create_app
from gateway.local_mongod import LocalMongod, free_port
from gateway.serving import CoServer, server_config
from gateway.settings import Environment, Settings
from sandbox.dataset import CrmContact, Dataset, build_dataset
from sandbox.hubspot import hubspot_contacts
from sandbox.identity import SANDBOX_AUDIENCE, TOKEN_PATH, KeyRing
from sandbox.server import UNTHROTTLED, SandboxApp, sandbox_apps

os.environ["OMNIGATE_GRAPHQL__VERIFY_FAST_EXECUTION"] = "true"
FAST_EXECUTION_MISMATCHES: list[FastExecutionMismatch] = []
verify_every_execution(FAST_EXECUTION_MISMATCHES.append)


@pytest.fixture(autouse=True)
def fast_execution_mismatches() -> Iterator[list[FastExecutionMismatch]]:
    """The mismatches verifying mode found during the test: the test fails if any is left
    (a test that makes some on purpose takes them out of this list)."""
    FAST_EXECUTION_MISMATCHES.clear()
    yield FAST_EXECUTION_MISMATCHES
    if FAST_EXECUTION_MISMATCHES:
        found = "\n".join(str(mismatch) for mismatch in FAST_EXECUTION_MISMATCHES)
        FAST_EXECUTION_MISMATCHES.clear()
        pytest.fail(f"the fast executor differs from graphql-core's:\n{found}")


# The session mongod's port, chosen before any test runs so that the warning filter below
# can name it.
SESSION_MONGOD_PORT = free_port()


def pytest_configure(config: pytest.Config) -> None:
    # PYTHON-5867 (see pyproject.toml's filterwarnings): pymongo's async driver also leaks
    # the socket of a connection whose set-up is cancelled after connect() returned, when a
    # request's task is cancelled (its deadline, a client gone, a websocket closed under a
    # running subscription) while its read opens a new pooled connection. Such a socket is
    # connected, so the filter for never-connected ones does not match it. Only sockets to
    # the session mongod are let through: nothing of ours opens one but pymongo, and an
    # AsyncMongoClient we forget to close still fails on its own ResourceWarning.
    config.addinivalue_line(
        "filterwarnings",
        "ignore:unclosed <socket\\.socket fd=\\d+, family=2, type=1, proto=6, "
        "laddr=\\('127\\.0\\.0\\.1', \\d+\\), "
        f"raddr=\\('127\\.0\\.0\\.1', {SESSION_MONGOD_PORT}\\)>$:ResourceWarning",
    )


# Under pytest-xdist (`make test` runs two workers) each worker counts its own executions
# and hands the counts to the controller when it ends, which adds them up for the summary.
WORKER_COUNTS: list[Mapping[str, int]] = []


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker
        workeroutput["fast_execution_verified"] = dict(VERIFIED)


def pytest_testnodedown(node: Any, error: Any) -> None:
    counts = getattr(node, "workeroutput", {}).get("fast_execution_verified")
    if counts is not None:
        WORKER_COUNTS.append(counts)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--vendor-set",
        action="append",
        default=[],
        metavar="NAME",
        help="a vendor set the behavioural suite (tests/behaviour/) certifies: a name of "
        "tests/behaviour/sets.py's SETS or module:ATTRIBUTE naming a VendorSet; repeatable; "
        "default every set of SETS",
    )


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    behaviour_timing.record(report)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in behaviour_timing.summary_lines():
        terminalreporter.write_line(line)
    counts = WORKER_COUNTS or [VERIFIED]
    completed = sum(c.get("completed", 0) for c in counts)
    fell_back = sum(c.get("fell_back", 0) for c in counts)
    terminalreporter.write_line(
        f"fast execution verified: {completed} sub-trees answered both ways, "
        f"{fell_back} fallbacks whose error graphql-core reported"
    )


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
    with LocalMongod(
        tmp_path_factory.mktemp("mongod"), SESSION_MONGOD_PORT, test_commands=True
    ) as server:
        yield server


@pytest.fixture(scope="session")
def dataset() -> Dataset:
    return build_dataset()


@pytest.fixture(scope="session")
def sandbox(dataset: Dataset) -> Iterator[Sandbox]:
    vendors = ("square", "shopify", "salesforce", "identity", "hubspot")
    ports = {vendor: free_port() for vendor in vendors}
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
    return sandbox_settings(mongod, sandbox)


def sandbox_settings(mongod: LocalMongod, sandbox: Sandbox) -> Settings:
    """Test settings pointing at the sandbox, with a database of their own."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        env=Environment.TEST,
        mongodb_uri=mongod.uri,
        mongodb_database=f"test_{uuid.uuid4().hex[:12]}",
        square={"base_url": sandbox.url("square")},
        shopify={"base_url": sandbox.url("shopify")},
        salesforce={"login_url": sandbox.url("salesforce")},
        hubspot={"base_url": sandbox.url("hubspot")},
        auth={"issuer": sandbox.url("identity")},
    )


@dataclass(frozen=True)
class Crm:
    """One CRM adapter and its simulator. Tests at the CRM level take the `crm` fixture and
    run once per CRM (tests/test_customers.py, tests/test_profile_hubspot.py): the same
    seeded person is one `CrmContact` of the dataset, known to each CRM by its own id."""

    adapter: str  # OMNIGATE_ADAPTERS__CRM
    system: str  # the system of its contacts' external refs
    vendor: str  # the simulator's name in `sandbox`
    ids: Mapping[str, str]  # the dataset's (Salesforce) contact id -> this CRM's
    unknown_id: str  # an id shaped like this CRM's that names no contact
    # what each of its simulator's calls reads: a marker of the call -> by_id or lookup
    read_kinds: Mapping[str, str]
    # the reads of one profile assembly for a contact with an email and a phone
    one_assembly: Mapping[str, int]
    first_name_field: str  # what the simulator's control endpoint calls a first name

    def id_of(self, contact: CrmContact) -> str:
        return self.ids[contact.id]

    def reads(self, calls: Mapping[str, int]) -> dict[str, int]:
        """The simulator's calls (Sandbox.calls) by what they read, tokens left out."""
        counted = dict.fromkeys(self.one_assembly, 0)
        for call, count in calls.items():
            for marker, kind in self.read_kinds.items():
                if marker in call:
                    counted[kind] += count
        return counted

    def renamed(
        self, sandbox: Sandbox, contact: CrmContact, first_name: str
    ) -> AbstractContextManager[dict[str, Any]]:
        """The contact renamed in the simulator as a user would, put back after; the
        simulator's answer (HubSpot's holds the webhook HubSpot would send)."""
        url = f"{sandbox.url(self.vendor)}/_sandbox/{self.vendor}/contacts/{self.id_of(contact)}"
        field = self.first_name_field
        return edited_contact(url, {field: first_name}, {field: contact.first_name})

    def settings(self, settings: Settings) -> Settings:
        adapters = settings.adapters.model_copy(update={"crm": self.adapter})
        return settings.with_changes(adapters=adapters.model_dump())


CRMS = ("salesforce", "hubspot")


@pytest.fixture(scope="session", params=CRMS)
def crm(request: pytest.FixtureRequest, dataset: Dataset) -> Crm:
    return crm_named(request.param, dataset)


def crm_named(adapter: str, dataset: Dataset) -> Crm:
    """The CRM `adapter` (one of CRMS) over the sandbox: also the behavioural suite's
    (tests/behaviour/) way to know a person by the set's CRM id."""
    if adapter == "salesforce":
        return Crm(
            "salesforce",
            "SALESFORCE",
            "salesforce",
            {c.id: c.id for c in dataset.crm_contacts},
            "0035g00000ZZZZZZZZ",
            {"composite/sobjects/Contact": "by_id", "/query": "lookup"},
            {"by_id": 1, "lookup": 1},  # the contact, then one SOQL query by email or phone
            "FirstName",
        )
    if adapter != "hubspot":
        raise ValueError(f"no CRM simulator for the adapter {adapter!r}: one of {CRMS}")
    return Crm(
        "hubspot",
        "HUBSPOT",
        "hubspot",
        {c.salesforce_id: c.id for c in hubspot_contacts(dataset)},
        "99999999999",
        {"batch/read by id": "by_id", "batch/read by email": "lookup", "/search": "lookup"},
        {"by_id": 1, "lookup": 2},  # the contact, then a batch read by email, a phone search
        "firstname",
    )


@pytest.fixture(params=KEEPERS)
async def points(
    request: pytest.FixtureRequest, mongod: LocalMongod, sandbox: Sandbox, dataset: Dataset
) -> AsyncIterator[Keeper]:
    """Who keeps the loyalty points, once each: Square Loyalty, omnigate's MongoDB ledger
    (tests/points_api.py). A module proving both takes it into its `settings`:
    `keeper.settings(settings)`, then `await keeper.seed(chosen)`."""
    if request.param == "square":
        yield SquareKeeper(sandbox)
        return
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongod.uri)
    try:
        yield LedgerKeeper(client, dataset)
    finally:
        await client.close()


@dataclass
class Tokens:
    """Tokens from the sandbox identity provider: `tokens.customer(contact_id)`,
    `tokens.staff(store_id)`, `tokens.kiosk(store_id)`, `tokens.display(store_id)`,
    `tokens.developer()` ask its dev token endpoint over HTTP; `claims` and `sign` make tokens
    it would never issue (expired, another audience...), signed with its current key unless
    `headers` say otherwise."""

    sandbox: Sandbox

    @property
    def keys(self) -> KeyRing:
        return self.sandbox.apps["identity"].app.state.identity_keys

    @property
    def issuer(self) -> str:
        return self.sandbox.url("identity")

    def issue(self, kind: str, **body: Any) -> str:
        response = httpx.post(self.issuer + TOKEN_PATH, json={"kind": kind, **body}, timeout=10)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def customer(self, contact_id: str, **body: Any) -> str:
        return self.issue("customer", subject=contact_id, **body)

    def staff(self, store_id: str, staff_id: str = "staff-0001", **body: Any) -> str:
        return self.issue("staff", store_id=store_id, subject=staff_id, **body)

    def kiosk(self, store_id: str, device_id: str = "kiosk-0001", **body: Any) -> str:
        return self.issue("kiosk", store_id=store_id, subject=device_id, **body)

    def display(self, store_id: str, device_id: str = "display-0001", **body: Any) -> str:
        return self.issue("display", store_id=store_id, subject=device_id, **body)

    def developer(self, developer_id: str = "dev-0001", **body: Any) -> str:
        return self.issue("developer", subject=developer_id, **body)

    def claims(self, kind: str, subject: str, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": SANDBOX_AUDIENCE,
            "sub": subject,
            "role": kind,
            "iat": now,
            "exp": now + 600,
        }
        return {**claims, **overrides}

    def sign(self, claims: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
        return self.keys.sign(claims, headers)

    def rotate(self, algorithm: str | None = None) -> str:
        """Ask the IdP to sign with a new key (the old stays published); its kid."""
        body = {"algorithm": algorithm} if algorithm else None
        response = httpx.post(self.issuer + "/_sandbox/rotate", json=body, timeout=10)
        assert response.status_code == 200, response.text
        return str(response.json()["kid"])


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
def tokens(sandbox: Sandbox) -> Tokens:
    return Tokens(sandbox)


@pytest.fixture
def restore_stock(sandbox: Sandbox) -> Iterator[None]:
    """The Square simulator's counts as they were: the sandbox serves the whole session."""
    world = sandbox.apps["square"].app.state.square
    saved = {variation: list(counts) for variation, counts in world.counts_by_variation.items()}
    yield
    world.counts_by_variation.clear()
    world.counts_by_variation.update(saved)


@dataclass
class GatewayClient:
    http: httpx.AsyncClient

    async def query(
        self,
        document: str,
        variables: dict[str, Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
        status: int = 200,
    ) -> Any:
        """The JSON body of a POST /graphql, which must answer `status`."""
        response = await self.http.post(
            "/graphql", json={"query": document, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == status, response.text
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
