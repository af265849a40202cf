"""The developer principal: a `role: developer` token may discover the schema where no one
else may (introspection, the federation SDL, "Did you mean ...?" suggestions), and reaches
no customer's data, exactly as anonymous.

"Production" here is a gateway whose introspection and suggestions are off, as production
resolves them by default (the unit tests below check that resolution); the gateway itself
runs in the test environment against the sandbox.
"""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest
from conftest import bearer

from gateway.auth import Credentials, Principal, PrincipalKind
from gateway.limits import OperationLimits
from gateway.metrics import Metrics
from gateway.settings import Environment, LimitsSettings
from gateway.wiring.build import build_services
from gateway.wiring.schema import build_schema

SCHEMA = "{ __schema { types { name } } }"
SDL = "{ _service { sdl } }"
# one letter off `sku`: graphql-core would suggest it
MISSPELT = "{ products(first: 1) { edges { node { skuu } } } }"
VENDORS = ("square", "shopify", "salesforce")
OTHERS = ("customer", "staff", "kiosk", "anonymous")


@pytest.fixture
def production(settings):
    """What production resolves `introspection` and `field_suggestions` to by default."""
    return settings.with_changes(limits={"introspection": False, "field_suggestions": False})


@pytest.fixture
def principals(tokens, dataset) -> dict[str, dict[str, str]]:
    store = dataset.stores[0].id
    return {
        "developer": bearer(tokens.developer()),
        "customer": bearer(tokens.customer(dataset.crm_contacts[2].id)),
        "staff": bearer(tokens.staff(store)),
        "kiosk": bearer(tokens.kiosk(store)),
        "anonymous": {},
    }


def codes(body) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors") or []]


def upstream_calls(sandbox) -> int:
    return sum(sandbox.total_calls(vendor) for vendor in VENDORS)


# -- the token ----------------------------------------------------------------------------


async def test_a_developer_token_is_a_developer_of_no_store_and_no_customer(settings, tokens):
    async with build_services(settings, Metrics()) as services:
        principal = await services.auth.principal(
            Credentials(authorization=f"Bearer {tokens.developer('dev-42')}")
        )
    assert (principal.kind, principal.subject) == (PrincipalKind.DEVELOPER, "dev-42")
    assert (principal.store_id, principal.customer_id) == (None, None)


def test_the_sandbox_idp_issues_developer_tokens_for_no_store(tokens, dataset):
    url = tokens.issuer + "/dev/token"
    issued = httpx.post(url, json={"kind": "developer"}, timeout=10)
    assert issued.status_code == 200
    scoped = {"kind": "developer", "subject": "dev-1", "store_id": dataset.stores[0].id}
    refused = httpx.post(url, json=scoped, timeout=10)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_request"


# -- schema discovery -----------------------------------------------------------------------


def test_production_lets_developers_alone_discover_the_schema():
    limits = OperationLimits.from_settings(LimitsSettings(), Environment.PRODUCTION)
    for kind in PrincipalKind:
        discovery = limits.discovery(kind)
        allowed = kind is PrincipalKind.DEVELOPER
        assert (discovery.introspection, discovery.suggestions) == (allowed, allowed), kind


def test_outside_production_everyone_discovers_the_schema():
    for env in (Environment.DEVELOPMENT, Environment.TEST):
        limits = OperationLimits.from_settings(LimitsSettings(), env)
        for kind in PrincipalKind:
            assert limits.discovery(kind).introspection, (env, kind)
            assert limits.discovery(kind).suggestions, (env, kind)


def test_the_developer_switch_off_refuses_developers_too():
    settings = LimitsSettings(developer_introspection=False)
    limits = OperationLimits.from_settings(settings, Environment.PRODUCTION)
    discovery = limits.discovery(PrincipalKind.DEVELOPER)
    assert (discovery.introspection, discovery.suggestions) == (False, False)


async def test_the_production_schema_answers_introspection_by_principal():
    schema = build_schema(OperationLimits.from_settings(LimitsSettings(), Environment.PRODUCTION))
    developer = SimpleNamespace(principal=Principal(PrincipalKind.DEVELOPER, "dev-1"))
    customer = SimpleNamespace(principal=Principal(PrincipalKind.CUSTOMER, "003A"))
    allowed = await schema.execute(SCHEMA, context_value=developer)
    assert allowed.errors is None
    assert allowed.data is not None
    refused = await schema.execute(SCHEMA, context_value=customer)
    assert refused.data is None
    assert refused.errors
    assert {e.extensions["code"] for e in refused.errors if e.extensions} == {
        "INTROSPECTION_DISABLED"
    }


@pytest.mark.parametrize("document", [SCHEMA, SDL])
async def test_a_developer_discovers_the_schema_and_no_one_after_them_does(
    production, make_gateway, principals, document
):
    """Validation is cached per document: the developer's accepted document must not be
    served, accepted, to anyone asking after them in the same process."""
    async with make_gateway(production) as gateway:
        body = await gateway.query(document, headers=principals["developer"])
        assert "errors" not in body, body
        if document == SCHEMA:
            assert "Product" in {t["name"] for t in body["data"]["__schema"]["types"]}
        else:
            assert "type Product" in body["data"]["_service"]["sdl"]
        for who in OTHERS:
            refused = await gateway.query(document, headers=principals[who])
            assert "data" not in refused or refused["data"] is None, who
            assert set(codes(refused)) == {"INTROSPECTION_DISABLED"}, who
        # and the refusals cached for them are not served to the developer
        again = await gateway.query(document, headers=principals["developer"])
        assert "errors" not in again, again


async def test_others_refused_first_do_not_refuse_the_developer(
    production, make_gateway, principals
):
    async with make_gateway(production) as gateway:
        for who in OTHERS:
            assert set(codes(await gateway.query(SCHEMA, headers=principals[who]))) == {
                "INTROSPECTION_DISABLED"
            }
        body = await gateway.query(SCHEMA, headers=principals["developer"])
        assert "errors" not in body, body


async def test_suggestions_are_shown_to_the_developer_only(production, make_gateway, principals):
    async with make_gateway(production) as gateway:
        for who in ("anonymous", "developer", *OTHERS):
            [error] = (await gateway.query(MISSPELT, headers=principals[who]))["errors"]
            assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
            assert ("Did you mean 'sku'?" in error["message"]) is (who == "developer"), who


async def test_the_developer_switch_off_refuses_the_developer(production, make_gateway, principals):
    off = production.with_changes(
        limits={
            "introspection": False,
            "field_suggestions": False,
            "developer_introspection": False,
        }
    )
    async with make_gateway(off) as gateway:
        for document in (SCHEMA, SDL):
            body = await gateway.query(document, headers=principals["developer"])
            assert set(codes(body)) == {"INTROSPECTION_DISABLED"}
        [error] = (await gateway.query(MISSPELT, headers=principals["developer"]))["errors"]
        assert "Did you mean" not in error["message"]


# -- no customer data -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ("{ me { id email } }", "me"),
        ("query ($id: ID!) { customer(id: $id) { id email } }", "customer"),
    ],
)
async def test_a_developer_reads_no_customer(gateway, sandbox, tokens, dataset, document, field):
    sandbox.reset_calls()
    body = await gateway.query(
        document, {"id": dataset.crm_contacts[2].id}, headers=bearer(tokens.developer())
    )
    assert body["data"] == {field: None}
    assert codes(body) == ["UNAUTHENTICATED"]
    assert upstream_calls(sandbox) == 0
