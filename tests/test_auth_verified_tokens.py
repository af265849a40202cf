"""A token verified once is remembered by its exact text (gateway/auth/verified_tokens.py),
and what can change for that text is checked again on every later request: its expiry, and
that its key is still published. Any other text, a forged variant of a remembered token
included, is verified in full.

The keys are the sandbox IdP's real KeyRing, its JWKS served to the gateway's JwksCache
through an in-process transport, so both clocks can be moved."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import orjson
import pytest

from gateway.auth.errors import InvalidCredentials
from gateway.auth.jwks import JwksCache
from gateway.auth.verified_tokens import VerifiedTokens
from gateway.auth.verifier import TokenVerifier
from sandbox.identity.keys import KeyRing

ISSUER = "https://idp.test"
AUDIENCE = "omnigate"
JWKS_URL = ISSUER + "/jwks.json"
LEEWAY = 30.0
START = 1_900_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ring(clock: Clock) -> KeyRing:
    return KeyRing(retention_seconds=60, clock=clock)


@pytest.fixture
def jwks_requests() -> list[httpx.Request]:
    return []


@pytest.fixture
async def verifier(
    clock: Clock, ring: KeyRing, jwks_requests: list[httpx.Request]
) -> AsyncIterator[TokenVerifier]:
    def serve(request: httpx.Request) -> httpx.Response:
        jwks_requests.append(request)
        return httpx.Response(200, content=orjson.dumps(ring.jwks()))

    client = httpx.AsyncClient(transport=httpx.MockTransport(serve))
    keys = JwksCache(
        client,
        issuer=ISSUER,
        jwks_url=JWKS_URL,
        algorithms=["RS256"],
        cache_seconds=300,
        refetch_seconds=0,
        clock=clock,
    )
    yield TokenVerifier(
        keys,
        issuer=ISSUER,
        audience=AUDIENCE,
        algorithms=["RS256"],
        leeway_seconds=LEEWAY,
        verified=VerifiedTokens(capacity=2, clock=clock),
    )
    await client.aclose()


def signed(ring: KeyRing, *, subject: str = "0035g0000000001AAA", lifetime: float = 600) -> str:
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "role": "customer",
        "iat": int(START),
        "exp": int(START + lifetime),
    }
    return ring.sign(claims)


def tampered(token: str) -> str:
    header, claims, signature = token.split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    return f"{header}.{claims}.{signature[:middle]}{flipped}{signature[middle + 1 :]}"


@pytest.fixture(autouse=True)
def pyjwt_clock(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> None:
    """PyJWT reads the wall clock for `exp` through its module's `datetime` (PyJWT 2.x
    internals): it follows the test's clock instead. Should PyJWT read the time another
    way, these tokens (issued in 2030) fail as not yet valid and the tests say so."""
    import datetime as real_datetime

    class FrozenDatetime(real_datetime.datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return real_datetime.datetime.fromtimestamp(clock.now, tz)

    monkeypatch.setattr(jwt.api_jwt, "datetime", FrozenDatetime)


async def test_a_remembered_token_is_refused_once_it_expires(verifier, ring, clock):
    token = signed(ring, lifetime=60)
    assert (await verifier.claims(token))["sub"] == "0035g0000000001AAA"
    clock.now = START + 60 + LEEWAY - 1  # still inside the leeway: counts, as in full
    assert (await verifier.claims(token))["sub"] == "0035g0000000001AAA"
    clock.now = START + 60 + LEEWAY
    with pytest.raises(InvalidCredentials, match="expired"):
        await verifier.claims(token)


async def test_a_remembered_token_is_refused_once_its_key_is_withdrawn(verifier, ring, clock):
    token = signed(ring, lifetime=3600)
    await verifier.claims(token)
    ring.rotate()
    clock.now = START + 301  # past the JWKS cache (300 s) and the retired key's 60 s
    with pytest.raises(InvalidCredentials, match="key the issuer does not publish"):
        await verifier.claims(token)


async def test_a_forged_variant_of_a_remembered_token_is_verified_in_full(verifier, ring):
    token = signed(ring)
    await verifier.claims(token)
    with pytest.raises(InvalidCredentials, match="signature does not verify"):
        await verifier.claims(tampered(token))
    assert (await verifier.claims(token))["sub"] == "0035g0000000001AAA"


async def test_what_a_caller_does_with_the_claims_does_not_reach_the_next_request(verifier, ring):
    token = signed(ring)
    first = await verifier.claims(token)
    first["sub"] = "changed by a caller"
    assert (await verifier.claims(token))["sub"] == "0035g0000000001AAA"


async def test_the_remembered_tokens_are_bounded(verifier, ring):
    tokens = [signed(ring, subject=f"0035g000000000{i}AAA") for i in range(5)]
    for token in tokens:
        await verifier.claims(token)
    assert len(verifier._verified) == 2
    for token in tokens:  # evicted or not, each still answers as itself
        assert (await verifier.claims(token))["sub"] == jwt.decode(
            token, options={"verify_signature": False}
        )["sub"]
