"""Adapters chosen by settings (gateway/wiring/adapters.py): omnigate's own by default, or
one a separately installed package registers as an entry point, found the way pytest finds
plugins; an unknown name refuses to start with one line naming the variable.

"Installed" here is real: a package and its `*.dist-info` (METADATA, entry_points.txt)
written to a directory put on sys.path, which importlib.metadata reads as it reads
site-packages.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from pathlib import Path

import httpx
import pytest
from conftest import REPO_ROOT, bearer, running_gateway, sandbox_settings

from commerce.offers.points_ledger import MongoPointsLedger
from connectors.salesforce import SalesforceCrm
from connectors.shopify import ShopifyEcommerce
from connectors.square import SquareInventory, SquarePos
from gateway.cli import main
from gateway.metrics import Metrics
from gateway.settings import Settings
from gateway.wiring.adapters import (
    BUILTIN,
    OMNIGATE,
    PORTS,
    AdapterError,
    Upstreams,
    build_adapters,
    group,
    registry,
)
from gateway.wiring.build import build_services

ACME_CRM = '''
    """A retailer's own CRM adapter, installed as the package acme-crm."""

    from connectors.records import CustomerIdentity, ExternalRef, System

    CONTACT = CustomerIdentity(
        ref=ExternalRef(System.SALESFORCE, "acme-0001"),
        given_name="Ada",
        family_name="Acme",
        email="ada@acme.example",
        phone=None,
    )


    class AcmeCrm:
        def __init__(self, http):
            self.http = http
            self.service = http.service
            self.asked = []

        async def customers_by_id(self, ids):
            self.asked += ids
            return {i: CONTACT for i in ids if i == CONTACT.ref.id}

        async def find_customers(self, emails, phones):
            return [CONTACT] if CONTACT.email in emails else []


    def make_crm(context):
        return AcmeCrm(context.upstream("acme", "https://crm.acme.example"))


    def make_nothing(context):
        return object()
'''
ACME_ENTRY_POINTS = {group("crm"): {"acme": "acme_crm:make_crm"}}
PROFILE = "query ($id: ID!) { customer(id: $id) { id givenName familyName email } }"
AFTER_SALES_OPEN = """mutation {
  afterSalesRequestOpen(
    input: {kind: QUESTION, description: "?", sku: "SHO-000002", customerId: "acme-0001"}
    idempotencyKey: "acme-1"
  ) { request { id } userErrors { code } }
}"""

Install = Callable[..., Path]


@pytest.fixture
def install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Install]:
    """`install(dist, entry_points, **modules)`: a distribution in a directory of its own on
    sys.path (first), with a package per module; the packages are forgotten afterwards."""
    packages: list[str] = []

    def install_one(dist: str, entry_points: dict[str, dict[str, str]], **modules: str) -> Path:
        root = tmp_path / f"site-{dist}"
        root.mkdir()
        for module, source in modules.items():
            (root / module).mkdir()
            (root / module / "__init__.py").write_text(textwrap.dedent(source))
            packages.append(module)
        write_dist_info(root, dist, entry_points)
        monkeypatch.syspath_prepend(root)
        return root

    yield install_one
    for package in packages:
        sys.modules.pop(package, None)


def write_dist_info(root: Path, dist: str, entry_points: dict[str, dict[str, str]]) -> None:
    info = root / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "".join(
            f"[{name}]\n" + "".join(f"{key} = {value}\n" for key, value in points.items()) + "\n"
            for name, points in entry_points.items()
        )
    )


@pytest.fixture
def no_omnigate_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No OMNIGATE_* from the outside and no .env: only what each test sets."""
    for name in list(os.environ):
        if name.upper().startswith("OMNIGATE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def pyproject_adapters() -> dict[str, dict[str, str]]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    return {
        name: dict(points)
        for name, points in project["entry-points"].items()
        if name.startswith("omnigate.adapters.")
    }


# (1) the defaults: omnigate's own adapters, wired as before


async def test_the_default_settings_build_omnigate_s_own_adapters(settings):
    assert settings.adapters.model_dump() == {
        "pos": "square",
        "ecommerce": "shopify",
        "inventory": "square",
        "crm": "salesforce",
        "loyalty": "auto",
    }
    async with build_services(settings, Metrics()) as services:
        assert type(services.pos) is SquarePos
        assert services.loyalty is services.pos  # Square Loyalty keeps the points
        assert type(services.ecommerce) is ShopifyEcommerce
        assert type(services.inventory) is SquareInventory
        assert type(services.crm) is SalesforceCrm
        # stock reads and order lines share one SKU <-> variation id mapping, as before
        assert services.inventory._catalog is services.pos.catalog
        # one resilience policy per service the adapters call, and no other
        assert list(services.upstream_policies) == ["square", "shopify", "salesforce"]
        assert services.upstream_urls == {
            "square": (settings.square.base_url,),
            "shopify": (settings.shopify.base_url,),
            "salesforce": (settings.salesforce.login_url,),
        }


def test_pyproject_registers_omnigate_s_own_adapters_as_the_registry_knows_them():
    assert pyproject_adapters() == {group(port): dict(BUILTIN[port]) for port in PORTS}


def known_adapters() -> dict[str, dict[str, list[tuple[str, str]]]]:
    """Per port, each name's registrations as (entry point value, source)."""
    return {
        port: {
            name: [(each.entry_point.value, each.source) for each in registrations]
            for name, registrations in names.items()
        }
        for port, names in registry().items()
    }


OWN_ADAPTERS_ONLY = {
    port: {name: [(value, OMNIGATE)] for name, value in BUILTIN[port].items()} for port in PORTS
}


@pytest.mark.parametrize("stale", [False, True])
def test_omnigate_s_installed_entry_points_never_duplicate_its_own(install, stale):
    """Once omnigate is installed from this pyproject its metadata lists its adapters too:
    they are the same adapters, still known once, even from metadata older than the code."""
    points = pyproject_adapters()
    if stale:
        points[group("pos")]["square"] = "gateway.wiring.gone:square_pos"
    install(OMNIGATE, points)
    assert {
        (p.name, p.value) for p in entry_points(group=group("pos")) if p.dist.name == OMNIGATE
    } == {(name, value) for name, value in points[group("pos")].items()}

    assert known_adapters() == OWN_ADAPTERS_ONLY


def test_an_install_from_before_the_rename_lists_the_same_adapters_without_a_clash(install):
    """An environment installed when the distribution was still called `omnigate` keeps
    that metadata until it is uninstalled (`make install` does): its entry points name
    omnigate's own factories, so they are the same adapters, not a second registration."""
    install("omnigate", pyproject_adapters())
    assert {p.dist.name for p in entry_points(group=group("crm"))} >= {"omnigate"}

    assert known_adapters() == OWN_ADAPTERS_ONLY


# (2) an adapter from a separately installed package


async def test_a_separately_installed_crm_adapter_is_chosen_by_its_name(
    install, monkeypatch, mongod, sandbox, tokens
):
    install("acme-crm", ACME_ENTRY_POINTS, acme_crm=ACME_CRM)
    monkeypatch.setenv("OMNIGATE_ADAPTERS__CRM", "acme")
    settings = sandbox_settings(mongod, sandbox)
    assert settings.adapters.crm == "acme"

    async with build_services(settings, Metrics()) as services:
        crm = services.crm
        assert type(crm).__module__ == "acme_crm"
        assert type(crm).__name__ == "AcmeCrm"
        assert crm.service == "acme"
        # its UpstreamHttp runs under a policy of its own; Salesforce is not called at all
        assert crm.http.policy is services.upstream_policies["acme"]
        assert list(services.upstream_policies) == ["square", "shopify", "acme"]
        assert type(services.pos) is SquarePos

    staff = bearer(tokens.staff(sandbox.dataset.stores[0].id))
    async with running_gateway(settings) as gateway:
        sandbox.reset_calls()
        body = await gateway.query(PROFILE, {"id": "acme-0001"}, headers=staff)
        assert body == {
            "data": {
                "customer": {
                    "id": "acme-0001",
                    "givenName": "Ada",
                    "familyName": "Acme",
                    "email": "ada@acme.example",
                }
            }
        }
        assert sandbox.total_calls("salesforce") == 0
        # a CRM adapter without AfterSalesPort: after-sales requests are UNSUPPORTED
        opened = await gateway.query(AFTER_SALES_OPEN, headers=staff)
        assert [e["code"] for e in opened["data"]["afterSalesRequestOpen"]["userErrors"]] == [
            "UNSUPPORTED"
        ]
        ready = (await gateway.http.get("/readyz")).json()["checks"]
        assert ready["upstreams"] == {
            "square": "configured",
            "shopify": "configured",
            "acme": "configured",
        }
        assert set(ready["circuits"]) == {"square", "shopify", "acme"}
        metrics = (await gateway.http.get("/metrics")).text
        assert 'omnigate_upstream_circuit_state{service="acme",state="closed"} 1.0' in metrics
        assert 'service="salesforce"' not in metrics


def test_check_config_shows_where_each_adapter_comes_from(
    install, monkeypatch, capsys, no_omnigate_environment
):
    install("acme-crm", ACME_ENTRY_POINTS, acme_crm=ACME_CRM)
    monkeypatch.setenv("OMNIGATE_ADAPTERS__CRM", "acme")

    assert main(["check-config"]) == 0
    out, err = capsys.readouterr()

    assert err == ""
    assert "OMNIGATE_ADAPTERS__CRM=acme" in out.splitlines()
    assert out.splitlines()[-1] == (
        "# adapters: pos=square (omnigate-retail), ecommerce=shopify (omnigate-retail), "
        "inventory=square (omnigate-retail), crm=acme (acme-crm 1.0)"
    )


async def test_a_factory_that_makes_no_adapter_of_its_port_is_refused(install):
    install("acme-crm", {group("crm"): {"nothing": "acme_crm:make_nothing"}}, acme_crm=ACME_CRM)
    settings = Settings(_env_file=None, adapters={"crm": "nothing"})  # type: ignore[call-arg]

    async with httpx.AsyncClient() as client:
        with pytest.raises(AdapterError) as refused:
            build_adapters(settings, Upstreams(client, settings.upstreams, Metrics()))

    assert refused.value.problems == [
        "OMNIGATE_ADAPTERS__CRM: adapter 'nothing' (acme_crm:make_nothing from acme-crm 1.0) "
        "made an instance of object, which is not a CrmPort (connectors/ports.py)"
    ]


# (2b) who keeps the points: the POS's loyalty API, or omnigate's ledger where it has none

ACME_POS = '''
    """A retailer's own POS adapter without a loyalty API, installed as acme-pos."""


    class AcmePos:
        service = "acme-pos"

        async def find_customers(self, emails, phones):
            return []

        async def locations(self):
            return []

        async def orders(self, query):
            return []

        async def order(self, order_id):
            return None

        async def place_order(self, draft):
            raise NotImplementedError


    def make_pos(context):
        return AcmePos()
'''
ACME_POS_ENTRY_POINTS = {group("pos"): {"acme": "acme_pos:make_pos"}}


@pytest.mark.parametrize("loyalty", ["auto", "mongodb"])
async def test_a_pos_without_loyalty_gets_omnigate_s_ledger(install, settings, loyalty):
    install("acme-pos", ACME_POS_ENTRY_POINTS, acme_pos=ACME_POS)
    chosen = settings.with_changes(adapters={"pos": "acme", "loyalty": loyalty})
    async with build_services(chosen, Metrics()) as services:
        assert type(services.pos).__name__ == "AcmePos"
        assert type(services.loyalty) is MongoPointsLedger
        assert not services.loyalty.accrues_pos_orders


async def test_square_s_points_can_be_kept_by_the_ledger_too(settings):
    chosen = settings.with_changes(adapters={"loyalty": "mongodb"})
    async with build_services(chosen, Metrics()) as services:
        assert type(services.pos) is SquarePos
        assert type(services.loyalty) is MongoPointsLedger


async def test_the_pos_s_loyalty_chosen_for_a_pos_without_one_refuses_to_start(install, settings):
    install("acme-pos", ACME_POS_ENTRY_POINTS, acme_pos=ACME_POS)
    chosen = settings.with_changes(adapters={"pos": "acme", "loyalty": "pos"})
    with pytest.raises(AdapterError) as refused:
        async with build_services(chosen, Metrics()):
            pass
    assert refused.value.problems == [
        "OMNIGATE_ADAPTERS__LOYALTY: pos, but the POS adapter (AcmePos) has no loyalty API "
        "(LoyaltyPort, connectors/ports.py); set it to mongodb or auto"
    ]


# (3) names that cannot be served refuse to start, one line each


def test_an_unknown_adapter_is_one_problem_naming_the_variable_and_the_known_ones(
    capsys, monkeypatch, no_omnigate_environment
):
    monkeypatch.setenv("OMNIGATE_ADAPTERS__POS", "foo")

    assert main(["check-config"]) == 1
    out, err = capsys.readouterr()

    assert out == ""
    assert err.splitlines() == [
        "omnigate: invalid configuration (1 problem):",
        "  OMNIGATE_ADAPTERS__POS: unknown adapter 'foo'; known: shopify, square",
    ]


def test_serve_refuses_an_unknown_adapter_naming_installed_ones_too(install, tmp_path):
    site = install("acme-crm", ACME_ENTRY_POINTS, acme_crm=ACME_CRM)
    env = {name: value for name, value in os.environ.items() if not name.startswith("OMNIGATE_")}
    env |= {"OMNIGATE_ADAPTERS__CRM": "pipedrive", "OMNIGATE_PORT": "70000"}

    result = subprocess.run(
        [sys.executable, "-m", "gateway", "serve"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": os.pathsep.join([str(site), str(REPO_ROOT)])},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "omnigate: invalid configuration (2 problems):",
        "  OMNIGATE_PORT: Input should be less than or equal to 65535 (got '70000')",
        "  OMNIGATE_ADAPTERS__CRM: unknown adapter 'pipedrive'; known: acme, hubspot, salesforce",
    ]


def test_a_name_registered_twice_or_a_factory_that_does_not_load_is_refused(
    install, capsys, monkeypatch, no_omnigate_environment
):
    install(
        "shadow-adapters",
        {group("crm"): {"salesforce": "shadow:crm"}, group("pos"): {"broken": "shadow:missing"}},
        shadow="",
    )
    monkeypatch.setenv("OMNIGATE_ADAPTERS__POS", "broken")

    assert main(["check-config"]) == 1
    _, err = capsys.readouterr()

    assert err.splitlines() == [
        "omnigate: invalid configuration (2 problems):",
        "  OMNIGATE_ADAPTERS__POS: adapter 'broken' (shadow:missing from shadow-adapters 1.0) "
        "could not be loaded: AttributeError: module 'shadow' has no attribute 'missing'",
        "  OMNIGATE_ADAPTERS__CRM: adapter 'salesforce' is registered more than once "
        "(gateway.wiring.builtin_adapters:salesforce_crm from omnigate-retail; "
        "shadow:crm from shadow-adapters 1.0); uninstall all but one",
    ]
