"""CORS on /graphql (docs/graphql-over-http.md "CORS"): the origins a deployment allows get
their preflights answered and their answers marked readable, every other origin gets
neither, and nothing is allowed in production until origins are set. The browser's own
verdict is in test_cors_browser.py."""

from __future__ import annotations

import pytest
import websockets
from live_server import serving
from production_secrets import PRODUCTION_SECRETS
from pydantic import ValidationError
from websockets.exceptions import InvalidStatus

from gateway.app import create_app
from gateway.config_check import effective_configuration
from gateway.cors import origin_policy
from gateway.settings import (
    DEVELOPMENT_ORIGIN_REGEX,
    CorsSettings,
    Environment,
    Settings,
)

SHOP = "https://shop.example.com"
EVIL = "https://evil.example.net"
QUERY = {"query": "{ __typename }"}
REAL_SECRETS = {**PRODUCTION_SECRETS, "auth": {"issuer": "https://login.retailer.example/"}}


def preflight(origin: str, headers: str = "content-type") -> dict[str, str]:
    return {
        "origin": origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": headers,
    }


@pytest.fixture
def shop_settings(settings):
    return settings.with_changes(cors={"allow_origins": [SHOP], "max_age_seconds": 1200})


async def test_an_allowed_origin_gets_its_preflight_answered(shop_settings, make_gateway):
    async with make_gateway(shop_settings) as gateway:
        response = await gateway.http.options(
            "/graphql", headers=preflight(SHOP, "content-type, authorization, x-cart-token")
        )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SHOP
    assert response.headers["access-control-allow-methods"] == "GET, POST"
    assert response.headers["access-control-max-age"] == "1200"
    allowed = {h.strip() for h in response.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "x-cart-token", "apollo-require-preflight"} <= {
        h.lower() for h in allowed
    }
    assert "access-control-allow-credentials" not in response.headers


async def test_an_allowed_origin_may_read_answers_and_refusals(shop_settings, make_gateway):
    async with make_gateway(shop_settings) as gateway:
        answer = await gateway.http.post("/graphql", json=QUERY, headers={"origin": SHOP})
        # a refusal too, so the page's script can read its code
        refused = await gateway.http.post(
            "/graphql", json=QUERY, headers={"origin": SHOP, "accept": "text/html"}
        )
    assert answer.json() == {"data": {"__typename": "Query"}}
    assert answer.headers["access-control-allow-origin"] == SHOP
    assert "origin" in answer.headers["vary"].lower()
    assert answer.headers["access-control-expose-headers"] == "x-request-id, retry-after"
    assert refused.status_code == 406
    assert refused.headers["access-control-allow-origin"] == SHOP


async def test_another_origin_gets_nothing_its_browser_would_accept(shop_settings, make_gateway):
    async with make_gateway(shop_settings) as gateway:
        refused = await gateway.http.options("/graphql", headers=preflight(EVIL))
        answer = await gateway.http.post("/graphql", json=QUERY, headers={"origin": EVIL})
        # an allowed origin asking to send a header nobody listed is refused too
        header = await gateway.http.options("/graphql", headers=preflight(SHOP, "x-unknown"))
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    assert "access-control-allow-origin" not in answer.headers
    assert header.status_code == 400


async def test_credentials_are_allowed_only_when_set(settings, make_gateway):
    with_credentials = settings.with_changes(
        cors={"allow_origins": [SHOP], "allow_credentials": True}
    )
    async with make_gateway(with_credentials) as gateway:
        response = await gateway.http.options("/graphql", headers=preflight(SHOP))
        answer = await gateway.http.post("/graphql", json=QUERY, headers={"origin": SHOP})
    assert response.headers["access-control-allow-credentials"] == "true"
    assert answer.headers["access-control-allow-credentials"] == "true"
    assert answer.headers["access-control-allow-origin"] == SHOP  # never "*" with them


async def test_an_origin_pattern_allows_what_it_matches_whole(settings, make_gateway):
    previews = settings.with_changes(
        cors={"allow_origin_regex": r"https://[a-z0-9-]+\.preview\.example\.com"}
    )
    async with make_gateway(previews) as gateway:
        ok = await gateway.http.options(
            "/graphql", headers=preflight("https://pr-12.preview.example.com")
        )
        suffix = await gateway.http.options(
            "/graphql", headers=preflight("https://pr-12.preview.example.com.evil.net")
        )
    assert ok.headers["access-control-allow-origin"] == "https://pr-12.preview.example.com"
    assert "access-control-allow-origin" not in suffix.headers


async def test_without_origins_cors_is_off(gateway):
    # the test environment's default, as production's
    response = await gateway.http.options("/graphql", headers=preflight(SHOP))
    answer = await gateway.http.post("/graphql", json=QUERY, headers={"origin": SHOP})
    assert response.status_code == 405
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-origin" not in answer.headers


def test_production_allows_no_origin_until_configured():
    production = Settings(_env_file=None, env=Environment.PRODUCTION, **REAL_SECRETS)  # type: ignore[call-arg, arg-type]
    assert origin_policy(production) is None
    configured = production.with_changes(cors={"allow_origins": [SHOP]})
    policy = origin_policy(configured)
    assert policy is not None
    assert policy.allows(SHOP)
    assert not policy.allows("http://localhost:3000")


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("http://localhost:3000", True),
        ("http://127.0.0.1:5173", True),
        ("https://localhost", True),
        ("http://[::1]:8080", True),
        ("http://localhost.evil.net", False),
        ("http://localhost:3000.evil.net", False),
        (SHOP, False),
    ],
)
def test_development_allows_any_loopback_origin_by_default(settings, origin, allowed):
    policy = origin_policy(settings.with_changes(env=Environment.DEVELOPMENT))
    assert policy is not None
    assert policy.pattern is not None
    assert policy.pattern.pattern == DEVELOPMENT_ORIGIN_REGEX
    assert policy.allows(origin) is allowed


def test_configured_origins_replace_the_development_default(settings):
    policy = origin_policy(
        settings.with_changes(env=Environment.DEVELOPMENT, cors={"allow_origins": [SHOP]})
    )
    assert policy is not None
    assert not policy.allows("http://localhost:3000")


@pytest.mark.parametrize(
    ("origins", "problem"),
    [
        ([SHOP + "/"], "no path and no trailing slash"),
        ([SHOP + "/app"], "no path and no trailing slash"),
        (["shop.example.com"], "is not an origin"),
        (["null"], "is not an origin"),
        (["https://shop.example.com:443"], "write https://shop.example.com"),
        (["http://shop.example.com:80"], "write http://shop.example.com"),
        ([SHOP, "*"], '["*"], with no other origin'),
    ],
)
def test_an_origin_browsers_never_send_is_refused_with_the_fix(origins, problem):
    with pytest.raises(ValidationError, match=problem.replace("[", r"\[").replace("*", r"\*")):
        CorsSettings(allow_origins=origins)


def test_origins_may_be_comma_separated_and_any_case():
    cors = CorsSettings.model_validate({"allow_origins": "HTTPS://Shop.Example.com, http://x:81"})
    assert cors.allow_origins == [SHOP, "http://x:81"]


def test_any_origin_with_credentials_is_refused():
    with pytest.raises(ValidationError, match="cannot go with"):
        CorsSettings(allow_origins=["*"], allow_credentials=True)
    assert CorsSettings(allow_origins=["*"]).origins_for(Environment.PRODUCTION) == (["*"], None)


def test_a_pattern_that_does_not_compile_is_refused():
    with pytest.raises(ValidationError, match="not a regular expression"):
        CorsSettings(allow_origin_regex="https://(")


async def test_allowed_origins_may_open_a_subscription_socket(shop_settings):
    with serving(create_app(shop_settings)) as url:
        socket_url = url.replace("http://", "ws://") + "/graphql"
        async with websockets.connect(
            socket_url, subprotocols=["graphql-transport-ws"], origin=SHOP
        ) as socket:
            assert socket.subprotocol == "graphql-transport-ws"
        with pytest.raises(InvalidStatus) as refused:
            async with websockets.connect(
                socket_url, subprotocols=["graphql-transport-ws"], origin=EVIL
            ):
                pass
    assert refused.value.response.status_code == 403


def test_check_config_says_which_origins_are_allowed(settings):
    def cors_line(changed):
        return next(line for line in effective_configuration(changed) if line.startswith("# cors"))

    assert cors_line(settings) == "# cors: off (no origin allowed)"
    configured = settings.with_changes(cors={"allow_origins": [SHOP], "allow_credentials": True})
    assert cors_line(configured) == f"# cors: {SHOP} (with credentials)"
    development = cors_line(settings.with_changes(env=Environment.DEVELOPMENT))
    assert "localhost" in development
