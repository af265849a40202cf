"""Bearer JWTs: each kind of token becomes its principal; every bad one is refused with
401 UNAUTHENTICATED before any operation runs, so no upstream system is called.

Tokens come from the sandbox identity provider (the `tokens` fixture); the bad ones are
made here, most signed with the IdP's real key so only the one flaw is refused.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator

import httpx
import jwt
import pytest
from conftest import bearer
from cryptography.hazmat.primitives import serialization
from production_secrets import PRODUCTION_SECRETS
from starlette.datastructures import Headers

from gateway.auth import ANONYMOUS, Authenticator, Credentials, Principal, PrincipalKind
from gateway.local_mongod import free_port
from gateway.metrics import Metrics
from gateway.wiring.build import build_services

PRODUCTS = "{ products(first: 2) { edges { node { sku name } } } }"
VENDORS = ("square", "shopify", "salesforce")
CONTACT = 3  # dataset.crm_contacts index of the customer in these tests


@pytest.fixture
async def auth(settings) -> AsyncIterator[Authenticator]:
    async with build_services(settings, Metrics()) as services:
        yield services.auth


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict, claims: dict) -> str:
    return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"


def jwks_calls(sandbox) -> int:
    return sandbox.calls("identity").get("GET /.well-known/jwks.json", 0)


async def refused(gateway, sandbox, headers: dict[str, str], *, reset: bool = True) -> str:
    """The refusal's message, after checking its shape and that nothing went upstream."""
    if reset:
        sandbox.reset_calls()
    response = await gateway.http.post("/graphql", json={"query": PRODUCTS}, headers=headers)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    body = response.json()
    assert "data" not in body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
    assert {vendor: sandbox.total_calls(vendor) for vendor in VENDORS} == dict.fromkeys(VENDORS, 0)
    return str(body["errors"][0]["message"])


# -- the three kinds of token, and none -----------------------------------------------------


async def test_a_customer_token_is_that_customer(auth, tokens, dataset):
    contact = dataset.crm_contacts[CONTACT]
    principal = await auth.principal(
        Credentials(authorization=f"Bearer {tokens.customer(contact.id)}")
    )
    assert (principal.kind, principal.subject, principal.customer_id) == (
        PrincipalKind.CUSTOMER,
        contact.id,
        contact.id,
    )
    assert principal.store_id is None
    assert principal.expires_at == pytest.approx(time.time() + 3600, abs=60)


async def test_a_staff_token_is_scoped_to_its_store(auth, tokens, dataset):
    store = dataset.stores[1].id
    principal = await auth.principal(
        Credentials(authorization=f"Bearer {tokens.staff(store, 'emp-7')}")
    )
    assert (principal.kind, principal.subject, principal.store_id) == (
        PrincipalKind.STAFF,
        "emp-7",
        store,
    )
    assert principal.customer_id is None


async def test_a_kiosk_token_is_a_device_of_its_store(auth, tokens, dataset):
    store = dataset.stores[2].id
    principal = await auth.principal(
        Credentials(authorization=f"Bearer {tokens.kiosk(store, 'k-9')}")
    )
    assert (principal.kind, principal.subject, principal.store_id) == (
        PrincipalKind.KIOSK,
        "k-9",
        store,
    )
    assert principal.customer_id is None  # no one has handed off to it


async def test_no_credentials_is_anonymous(auth):
    assert await auth.principal(Credentials.from_headers({})) is ANONYMOUS


@pytest.mark.parametrize(
    "raw",
    [
        [],
        [(b"accept", b"application/json")],
        [(b"authorization", b"Bearer abc"), (b"x-cart-token", b" opaque ")],
        [(b"x-handoff-token", b"h-1"), (b"x-handoff-token", b"h-2")],  # the first counts
        [(b"authorization", b"   "), (b"x-cart-token", b"")],  # present but blank
        [(b"x-cart-token", "caf\u00e9".encode("latin-1"))],
    ],
)
def test_credentials_from_a_scope_s_headers_are_those_from_its_mapping(raw):
    # the view reads the scope's raw headers in one pass; Starlette's Headers is the reference
    assert Credentials.from_raw_headers(raw) == Credentials.from_headers(Headers(raw=raw))


async def test_a_cart_token_is_carried_with_or_without_an_identity(auth, tokens, dataset):
    guest = await auth.principal(Credentials.from_headers({"x-cart-token": " opaque-1 "}))
    assert guest == Principal(cart_token="opaque-1")
    contact = dataset.crm_contacts[CONTACT].id
    headers = {**bearer(tokens.customer(contact)), "x-cart-token": "opaque-2"}
    signed_in = await auth.principal(Credentials.from_headers(headers))
    assert (signed_in.kind, signed_in.customer_id, signed_in.cart_token) == (
        PrincipalKind.CUSTOMER,
        contact,
        "opaque-2",
    )


async def test_valid_tokens_reach_the_graph_over_http(gateway, tokens, dataset):
    store = dataset.stores[0].id
    for headers in ({}, bearer(tokens.staff(store)), bearer(tokens.kiosk(store))):
        body = await gateway.query(PRODUCTS, headers=headers)
        assert len(body["data"]["products"]["edges"]) == 2, headers


async def test_a_token_expired_within_the_leeway_still_counts(gateway, tokens, dataset):
    contact = dataset.crm_contacts[CONTACT].id
    token = tokens.sign(tokens.claims("customer", contact, exp=int(time.time()) - 5))
    body = await gateway.query("{ me { id } }", headers=bearer(token))
    assert body == {"data": {"me": {"id": contact}}}


# -- refusals ------------------------------------------------------------------------------


def _claims(tokens, **overrides):
    return tokens.claims("customer", "003000000000000AAA", **overrides)


BAD_TOKENS = {
    "expired": lambda t: t.sign(_claims(t, exp=int(time.time()) - 120)),
    "not-yet-valid": lambda t: t.sign(_claims(t, nbf=int(time.time()) + 600)),
    "wrong-issuer": lambda t: t.sign(_claims(t, iss="https://login.attacker.example")),
    "wrong-audience": lambda t: t.sign(_claims(t, aud="another-api")),
    "no-expiry": lambda t: t.sign({k: v for k, v in _claims(t).items() if k != "exp"}),
    "unknown-role": lambda t: t.sign(_claims(t, role="admin")),
    "no-role": lambda t: t.sign({k: v for k, v in _claims(t).items() if k != "role"}),
    "staff-without-store": lambda t: t.sign(t.claims("staff", "emp-1")),
    "kiosk-without-store": lambda t: t.sign(t.claims("kiosk", "k-1")),
    "alg-none": lambda t: jwt.encode(
        _claims(t), None, algorithm="none", headers={"kid": t.keys.current.kid}
    ),
    "alg-none-keeping-the-signature": lambda t: _swap_header(
        t.sign(_claims(t)), {"alg": "none", "typ": "JWT", "kid": t.keys.current.kid}
    ),
    "unknown-kid": lambda t: t.sign(_claims(t), headers={"kid": "made-up"}),
    "no-kid": lambda t: jwt.encode(
        _claims(t), t.keys.current.private_key, algorithm=t.keys.current.algorithm
    ),
    "signed-by-another-key": lambda t: jwt.encode(
        _claims(t),
        _other_rsa_key(),
        algorithm="RS256",
        headers={"kid": t.keys.current.kid},
    ),
    "tampered-signature": lambda t: _tamper(t.sign(_claims(t)), part=2),
    "tampered-claims": lambda t: _swap_claims(
        t.sign(_claims(t)), _claims(t, sub="0030000000OTHER")
    ),
    "not-a-jwt": lambda t: "not.a.jwt",
    "garbage": lambda t: "x" * 40,
}


def _other_rsa_key():
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _tamper(token: str, part: int) -> str:
    pieces = token.split(".")
    middle = len(pieces[part]) // 2
    flipped = "A" if pieces[part][middle] != "A" else "B"
    pieces[part] = pieces[part][:middle] + flipped + pieces[part][middle + 1 :]
    return ".".join(pieces)


def _swap_header(token: str, header: dict) -> str:
    _, claims, signature = token.split(".")
    return f"{b64url(json.dumps(header).encode())}.{claims}.{signature}"


def _swap_claims(token: str, claims: dict) -> str:
    header, _, signature = token.split(".")
    return f"{header}.{b64url(json.dumps(claims).encode())}.{signature}"


@pytest.mark.parametrize("kind", list(BAD_TOKENS))
async def test_a_bad_token_is_refused_before_anything_runs(gateway, sandbox, tokens, kind):
    await refused(gateway, sandbox, bearer(BAD_TOKENS[kind](tokens)))


async def test_hs256_signed_with_the_public_key_is_refused(gateway, sandbox, tokens):
    """RS/HS confusion: a verifier that let the token pick HS256 would use the published
    RSA key as the HMAC secret, and this token would verify."""
    public_pem = tokens.keys.current.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = unsigned(
        {"alg": "HS256", "typ": "JWT", "kid": tokens.keys.current.kid}, _claims(tokens)
    )
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{b64url(signature)}"
    message = await refused(gateway, sandbox, bearer(token))
    assert message == "The token's signing algorithm is not accepted."


@pytest.mark.parametrize(
    "authorization",
    ["Basic dXNlcjpwYXNz", "Bearer", "Token abc.def.ghi", "bearer-abc"],
)
async def test_an_authorization_header_that_is_not_a_bearer_token_is_refused(
    gateway, sandbox, authorization
):
    await refused(gateway, sandbox, {"authorization": authorization})


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("expired", "The token has expired."),
        ("wrong-issuer", "The token was issued by another issuer."),
        ("wrong-audience", "The token is meant for another audience."),
        ("tampered-signature", "The token's signature does not verify."),
        ("unknown-kid", "The token is signed with a key the issuer does not publish."),
    ],
)
async def test_the_refusal_says_what_is_wrong(gateway, sandbox, tokens, kind, message):
    assert await refused(gateway, sandbox, bearer(BAD_TOKENS[kind](tokens))) == message


# -- keys: rotation, refetch limits, an unreachable IdP ---------------------------------------


async def test_a_rotated_key_is_picked_up_and_the_old_one_still_verifies(
    settings, make_gateway, sandbox, tokens, dataset
):
    contact = dataset.crm_contacts[CONTACT].id
    before = tokens.customer(contact)
    quick = settings.with_changes(auth={"issuer": tokens.issuer, "jwks_refetch_seconds": 0})
    async with make_gateway(quick) as gateway:
        sandbox.reset_calls()
        assert (await gateway.query("{ me { id } }", headers=bearer(before)))["data"]["me"]
        assert jwks_calls(sandbox) == 1
        rotated = tokens.rotate()
        after = tokens.customer(contact)
        assert jwt.get_unverified_header(after)["kid"] == rotated
        for token in (after, before, after):
            body = await gateway.query("{ me { id } }", headers=bearer(token))
            assert body == {"data": {"me": {"id": contact}}}
        assert jwks_calls(sandbox) == 2  # one refetch, for the kid it had not seen


async def test_unknown_kids_refetch_the_jwks_at_most_once_per_interval(
    settings, make_gateway, sandbox, tokens, dataset
):
    interval = 0.5
    limited = settings.with_changes(
        auth={"issuer": tokens.issuer, "jwks_refetch_seconds": interval}
    )
    made_up = [tokens.sign(_claims(tokens), headers={"kid": f"made-up-{i}"}) for i in range(6)]
    async with make_gateway(limited) as gateway:
        valid = tokens.customer(dataset.crm_contacts[CONTACT].id)
        assert (await gateway.query("{ me { id } }", headers=bearer(valid)))["data"]["me"]
        sandbox.reset_calls()
        for token in made_up:
            await refused(gateway, sandbox, bearer(token))
        assert jwks_calls(sandbox) == 0  # fetched just now: no refetch yet
        await asyncio.sleep(interval + 0.1)
        sandbox.reset_calls()
        await asyncio.gather(*(refused(gateway, sandbox, bearer(t), reset=False) for t in made_up))
        assert jwks_calls(sandbox) == 1  # the whole burst shared one fetch


async def test_an_es256_key_verifies(tokens, gateway, dataset):
    contact = dataset.crm_contacts[CONTACT].id
    tokens.rotate("ES256")
    try:
        token = tokens.customer(contact)
        assert jwt.get_unverified_header(token)["alg"] == "ES256"
        body = await gateway.query("{ me { id } }", headers=bearer(token))
        assert body == {"data": {"me": {"id": contact}}}
    finally:
        tokens.rotate("RS256")


async def test_an_unreachable_identity_provider_is_unavailable_not_unauthenticated(
    settings, make_gateway, sandbox, tokens
):
    nowhere = f"http://127.0.0.1:{free_port()}"
    offline = settings.with_changes(auth={"issuer": nowhere})
    token = tokens.sign(_claims(tokens, iss=nowhere))
    async with make_gateway(offline) as gateway:
        sandbox.reset_calls()
        response = await gateway.http.post(
            "/graphql", json={"query": PRODUCTS}, headers=bearer(token)
        )
    assert response.status_code == 503
    assert response.json()["errors"][0]["extensions"] == {
        "code": "UPSTREAM_UNAVAILABLE",
        "service": "identity",
    }
    assert sum(sandbox.total_calls(vendor) for vendor in VENDORS) == 0


def test_symmetric_and_none_algorithms_cannot_be_allowed():
    from pydantic import ValidationError

    from gateway.settings import AuthSettings

    for algorithms in (["HS256"], ["RS256", "none"], ["HS512"], []):
        with pytest.raises(ValidationError):
            AuthSettings(algorithms=algorithms)
    assert AuthSettings(algorithms=["PS256", "EdDSA"]).algorithms == ["PS256", "EdDSA"]


REAL_SECRETS = PRODUCTION_SECRETS


@pytest.mark.parametrize(
    ("auth", "problem"),
    [
        ({}, "auth.issuer is the sandbox identity provider"),
        ({"issuer": "http://login.retailer.example"}, "auth.issuer must be an https URL"),
        (
            {"issuer": "https://login.retailer.example", "jwks_url": "http://keys.example"},
            "auth.jwks_url must be an https URL",
        ),
    ],
)
def test_production_refuses_the_sandbox_identity_provider(auth, problem):
    from gateway.settings import Environment, Settings

    with pytest.raises(ValueError, match=problem):
        Settings(_env_file=None, env=Environment.PRODUCTION, auth=auth, **REAL_SECRETS)  # type: ignore[call-arg]
    real = {"issuer": "https://login.retailer.example/", "audience": "https://api.retailer.example"}
    Settings(_env_file=None, env=Environment.PRODUCTION, auth=real, **REAL_SECRETS)  # type: ignore[call-arg]


# -- the sandbox identity provider ------------------------------------------------------------


def test_the_sandbox_idp_is_discoverable_and_publishes_its_signing_key(tokens):
    discovery = httpx.get(tokens.issuer + "/.well-known/openid-configuration", timeout=10).json()
    assert discovery["issuer"] == tokens.issuer
    keys = httpx.get(discovery["jwks_uri"], timeout=10).json()["keys"]
    assert tokens.keys.current.kid in {key["kid"] for key in keys}
    assert all("d" not in key for key in keys)  # public halves only


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "customer", "subject": "003NOTACONTACT0000"},
        {"kind": "customer"},
        {"kind": "staff", "store_id": "LNOSUCHSTORE"},
        {"kind": "kiosk"},
        {"kind": "admin", "subject": "x"},
        {"kind": "staff", "store_id": "{store}", "expires_in": 0},
    ],
)
def test_the_sandbox_idp_vouches_only_for_accounts_it_knows(tokens, dataset, body):
    store = dataset.stores[0].id
    body = {k: v.format(store=store) if isinstance(v, str) else v for k, v in body.items()}
    response = httpx.post(tokens.issuer + "/dev/token", json=body, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
