"""Runtime configuration: environment (OMNIGATE_*), then `.env`, then the optional YAML
config file (`omnigate --config FILE` or OMNIGATE_CONFIG: gateway/config_file.py), then
these defaults.

Nested sections use `__`: `OMNIGATE_SQUARE__ACCESS_TOKEN`,
`OMNIGATE_UPSTREAMS__ALL__DEADLINE_SECONDS`; in the file, `square: {access_token: ...}`.
The vendor sections' defaults point at the sandbox simulators and carry the sandbox's
credentials, so `make run` needs no configuration; production refuses them.
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
from ipaddress import ip_address
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    Field,
    IPvAnyNetwork,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from commerce.cart.policy import CartMergePolicy
from connectors.hubspot.settings import HubSpotSettings
from connectors.resilience import ResilienceOverrides, ResilienceSettings
from connectors.salesforce.settings import SalesforceSettings
from connectors.shopify.settings import ShopifySettings
from connectors.square.settings import SquareSettings
from gateway.config_file import ConfigFileSource
from gateway.http_wire import DEFAULT_MAX_RESPONSE_BYTES

DEFAULT_GRAPHIQL_ASSETS = Path(__file__).parent / "graphiql" / "assets"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


TransportName = Literal["http1", "aiohttp", "httpx"]
LoyaltyName = Literal["auto", "pos", "mongodb"]
TRANSPORT_NAMES: tuple[str, ...] = get_args(TransportName)


class HttpSettings(BaseModel):
    """The shared upstream HTTP client (one pool for every connector). Timeouts are per
    upstream: `upstreams` (docs/resilience.md)."""

    # CPU per upstream call, least first: http1 (gateway/http1_transport.py), aiohttp,
    # httpx's own pool (bench/README.md). Each raises httpx's failure classes by what
    # happened (tests/test_fault_proxy.py).
    transport: TransportName = "http1"
    max_connections: int = Field(default=200, ge=1)
    # The largest upstream answer body taken, as received and as decoded: answers are read
    # whole into memory, so a larger one fails the call (UPSTREAM_UNAVAILABLE) and closes
    # its connection. The default and why: gateway/http_wire.py.
    max_response_bytes: int = Field(default=DEFAULT_MAX_RESPONSE_BYTES, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _moved_timeouts(cls, data: object) -> object:
        # Refused rather than ignored: a deployment still setting them would otherwise run
        # on defaults it did not choose.
        moved = {
            "connect_timeout_seconds": "upstreams.all.connect_timeout_seconds",
            "timeout_seconds": "upstreams.all.deadline_seconds",
        }
        if isinstance(data, dict):
            found = [f"http.{old} is now {new}" for old, new in moved.items() if old in data]
            if found:
                raise ValueError("; ".join(found) + " (docs/resilience.md)")
        return data


class UpstreamsSettings(BaseModel):
    """Deadline, retries, circuit breaker and concurrency per upstream (docs/resilience.md):
    `all` for every upstream, then each system's overrides (None inherits from `all`)."""

    all: ResilienceSettings = ResilienceSettings()
    square: ResilienceOverrides = ResilienceOverrides()
    shopify: ResilienceOverrides = ResilienceOverrides()
    salesforce: ResilienceOverrides = ResilienceOverrides()
    hubspot: ResilienceOverrides = ResilienceOverrides()

    def for_service(self, service: str) -> ResilienceSettings:
        overrides: ResilienceOverrides = getattr(self, service)
        return overrides.applied_to(self.all)

    @model_validator(mode="after")
    def _overrides_valid(self) -> UpstreamsSettings:
        for service in ("square", "shopify", "salesforce", "hubspot"):
            self.for_service(service)  # raises on an out-of-bounds merge
        return self


class AdaptersSettings(BaseModel):
    """The adapter serving each port, by its registered name: omnigate's own or one an
    installed package registers (entry-point group `omnigate.adapters.<port>`). Names are
    checked against that registry before start-up (gateway/wiring/adapters.py,
    docs/operations.md "Adapters")."""

    pos: str = "square"
    ecommerce: str = "shopify"
    inventory: str = "square"
    crm: str = "salesforce"
    # Who keeps the loyalty points (docs/adapters.md "Loyalty"): `pos`, the POS adapter's
    # own loyalty API (Square Loyalty), refused at start-up when it has none; `mongodb`,
    # omnigate's own ledger in MongoDB; `auto`, the POS's when it has one, else MongoDB.
    loyalty: LoyaltyName = "auto"


class CacheSettings(BaseModel):
    """Caches, and the customer profile's (docs/customer-profile.md "The cache")."""

    # Soft TTL: a cached profile is served as it is for this long after it was read.
    profile_ttl_seconds: int = Field(default=300, ge=1)
    # Hard TTL: then it is removed. In between it is served while one refresh runs in the
    # background, and it is what degraded mode serves (STALE_DATA) when the upstreams fail.
    profile_hard_ttl_seconds: int = Field(default=3600, ge=1)
    # One process refreshes a profile at a time: it holds a lease this long (keep it above
    # the refresh's own deadline, request_deadline_seconds).
    profile_refresh_lease_seconds: float = Field(default=30, gt=0)
    # After a failed refresh, the next one waits this long.
    profile_refresh_retry_seconds: float = Field(default=10, gt=0)
    # After a MongoDB failure, profile reads skip the cache this long before trying it again.
    profile_cache_retry_seconds: float = Field(default=5, ge=0)
    # The CRM change poll (Salesforce has no signed webhooks; HubSpot's may be lost or off,
    # the poll is their fallback). None: on outside the test environment, whose tests count
    # every upstream call.
    crm_poll: bool | None = None
    crm_poll_interval_seconds: float = Field(default=30, gt=0)
    # Changes this recent are asked for again at every poll (late-committing transactions).
    crm_poll_lag_seconds: float = Field(default=60, ge=0)
    stores_ttl_seconds: int = Field(default=60, ge=0)
    # The products and stock the loaders read, kept per process this long, for a cart add
    # to fall back on while the e-commerce or inventory system is throttling or down (the
    # line is flagged for re-pricing; docs/cart.md). 0: no fallback, the add fails.
    recent_catalog_ttl_seconds: int = Field(default=300, ge=0)
    # at most this many SKUs each of products and stock, the least recently read dropped:
    # about 2 KB a SKU with 13 stock locations, so 20 MB a pod at the default
    recent_catalog_max_skus: int = Field(default=10_000, ge=1)

    @model_validator(mode="after")
    def _hard_ttl_covers_soft(self) -> CacheSettings:
        if self.profile_hard_ttl_seconds < self.profile_ttl_seconds:
            raise ValueError("cache.profile_hard_ttl_seconds must be >= profile_ttl_seconds")
        return self


class WebhookSettings(BaseModel):
    """Vendor-signed webhooks in (docs/customer-profile.md). The secrets' defaults are the
    sandbox's; production refuses them."""

    square_signature_key: SecretStr = SecretStr("sandbox-square-signature-key")
    # Square signs the notification URL it calls, byte for byte, so it must be configured
    # exactly as in the Square subscription (scheme, host, path, any query string).
    square_notification_url: str = "http://127.0.0.1:8000/webhooks/square"
    shopify_secret: SecretStr = SecretStr("sandbox-shopify-client-secret")
    # HubSpot signs its webhook requests (signature v3) with the app's client secret, over
    # the URL it calls: None takes that URL from the request as it arrives, right when
    # nothing rewrites it on the way (no proxy); behind one, the URL as in the HubSpot
    # app's webhook settings, exactly.
    hubspot_client_secret: SecretStr = SecretStr("sandbox-hubspot-client-secret")
    hubspot_webhook_url: str | None = None
    max_body_bytes: int = Field(default=1_048_576, ge=1)
    # How long delivery ids are remembered to drop duplicates; longer than any vendor's
    # retry schedule (Shopify: 8 tries over 4 hours; Square: up to 72 hours).
    delivery_retention_seconds: int = Field(default=7 * 24 * 3600, ge=60)

    def production_problems(self) -> dict[str, str]:
        """Field -> why production refuses it. The default notification URL is loopback:
        Square, calling from outside, signs its own public URL, so with the default every
        real delivery would fail its signature (401) and be retried for 72 hours."""
        url = self.square_notification_url
        if is_loopback_url(url):
            why = "is a loopback address (the development default)"
        elif not url.startswith("https://"):
            why = "is not an https URL"
        else:
            return {}
        return {
            "square_notification_url": f"{why}: production needs the public https URL Square "
            "calls and signs, exactly as in the Square webhook subscription"
        }


class LiveSettings(BaseModel):
    """`stockChanged` and `productChanged` (docs/live.md)."""

    # Which vendors send their signed webhooks (inventory.count.updated from Square;
    # products/update, inventory_levels/update from Shopify). A vendor without them is
    # polled instead for what this pod's subscribers follow.
    square_webhooks: bool = True
    shopify_webhooks: bool = True
    poll_interval_seconds: float = Field(default=15, gt=0)
    # SKUs one subscription may follow
    max_skus_per_subscription: int = Field(default=250, ge=1)
    # A subscriber whose last message has not left this long (the client is not reading)
    # while more changes come is dropped: its socket closes with 4008.
    max_lag_seconds: float = Field(default=10, gt=0)
    # changed SKUs waiting for a subscriber of a whole store's stock before it is dropped
    max_pending_skus: int = Field(default=1000, ge=1)
    # One subscriber's messages are at least this far apart: a lone change goes out at
    # once, a burst is gathered into one message per interval with the latest values.
    min_message_interval_seconds: float = Field(default=0.2, ge=0)
    # how long change documents stay in `catalog_changes` (the stream, not the collection,
    # is what subscribers read)
    change_retention_seconds: int = Field(default=3600, ge=60)
    # An `orderChanged` follower that heard of no change this long reads its order anyway
    # (one upstream read per follower each time), so an order whose vendor sends no
    # webhooks, or whose delivery was lost, still reaches it; 0 turns it off.
    order_poll_interval_seconds: float = Field(default=60, ge=0)


class CartSettings(BaseModel):
    """The omnichannel cart, wishlist and checkout (docs/cart.md)."""

    max_lines: int = Field(default=100, ge=1)
    max_quantity_per_line: int = Field(default=999, ge=1)
    max_wishlist_items: int = Field(default=200, ge=1)
    # an untouched guest cart is removed this long after its last change
    guest_cart_ttl_days: int = Field(default=30, ge=1)
    merge_policy: CartMergePolicy = CartMergePolicy.MERGE_QUANTITIES
    # how long an idempotency key's checkout outcome is kept for replays
    checkout_retention_days: int = Field(default=7, ge=1)
    # the currency of an empty cart's zero totals
    default_currency: str = Field(default="USD", min_length=3, max_length=3)
    # how far, in percent, today's price of a line added at a recent price (the source
    # being unreachable) may be above that price before checkout refuses it with
    # PRICE_CHANGED; 0: any rise is refused (docs/cart.md "When prices cannot be read")
    reprice_tolerance_percent: Decimal = Field(default=Decimal(0), ge=0, le=100)
    # the checkout reconciler (docs/payments.md): attempts untouched this long are taken
    # on as their client's retry would, at start-up and then every interval (0: start-up
    # only)
    reconcile_grace_seconds: float = Field(default=30.0, ge=0)
    reconcile_interval_seconds: float = Field(default=60.0, ge=0)
    # how long a pickup cart's quantities stay held at its store after its last change;
    # every line or fulfilment change, and checkout, renews the hold (docs/cart.md
    # "Click and collect: holds")
    pickup_hold_seconds: int = Field(default=1800, ge=1, le=7 * 24 * 3600)
    # how long a pod shows what it read of other carts' holds before reading them again;
    # its own hold changes, and other pods' while its live feed is open, show at once
    # (docs/cart.md "Click and collect: holds"); 0: read on every request
    shown_holds_seconds: float = Field(default=1.0, ge=0, le=60)


class ReturnsSettings(BaseModel):
    """Returns, and the ones customers start from the app (docs/returns.md)."""

    # an open return request not received at a store this long after it was opened
    # expires: the units it held can be returned (or requested) again
    request_expiry_days: int = Field(default=30, ge=1, le=365)


class OffersSettings(BaseModel):
    """The offers engine: signed price quotes, loyalty, referrals, events out
    (docs/offers.md). The secrets' defaults are the sandbox's; production refuses them."""

    quote_secret: SecretStr = SecretStr("sandbox-offers-quote-secret")
    # how long a signed quote is honoured at checkout
    quote_ttl_seconds: int = Field(default=900, ge=10)
    # what one loyalty point takes off a cart, in the cart's currency
    point_value: Decimal = Field(default=Decimal("0.01"), gt=0)
    # points an online order earns per whole unit of its total: the same accrual rule as
    # the Square Loyalty program applies to POS orders
    points_per_currency_unit: int = Field(default=1, ge=0)
    # a referral code's welcome discount for the friend, in percent
    referral_friend_percent: Decimal = Field(default=Decimal(10), gt=0, le=100)
    # the voucher each of referrer and friend gets when the friend's order completes
    referral_reward_amount: Decimal = Field(default=Decimal(10), gt=0)
    # events out (cart abandoned, order placed, points changed): POSTed to every URL here,
    # signed with `webhook_secret` (docs/offers.md)
    webhook_urls: list[str] = []
    webhook_secret: SecretStr = SecretStr("sandbox-offers-webhook-secret")
    webhook_timeout_seconds: float = Field(default=5.0, gt=0)
    webhook_max_attempts: int = Field(default=8, ge=1)
    # the first retry waits this long, each next one twice as long (capped at an hour)
    webhook_backoff_seconds: float = Field(default=5.0, gt=0)
    dispatch_interval_seconds: float = Field(default=5.0, gt=0)
    # a customer's cart untouched this long is abandoned: one event, one personal offer
    cart_abandoned_after_seconds: int = Field(default=1800, ge=1)
    abandoned_offer_percent: Decimal = Field(default=Decimal(10), gt=0, le=100)
    abandoned_offer_valid_hours: int = Field(default=48, ge=1)


# The sandbox identity provider (sandbox/identity) on its default port; production refuses it.
SANDBOX_ISSUER = "http://127.0.0.1:8104"
# Asymmetric only: with an HS* algorithm allowed, a token "signed" with the IdP's public key
# as an HMAC secret would verify (RS/HS confusion); `none` verifies anything.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


class AuthSettings(BaseModel):
    """Verifying the identity provider's JWTs (docs/security.md "Principals"). The defaults
    are the sandbox IdP's; production refuses them."""

    # compared exactly with each token's `iss` (mind a trailing slash: Auth0's has one)
    issuer: str = SANDBOX_ISSUER
    audience: str = "omnigate"
    # None: the `jwks_uri` of the issuer's OIDC discovery document
    jwks_url: str | None = None
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"], min_length=1)
    # clock skew tolerated on `exp`, `nbf` and `iat`
    leeway_seconds: float = Field(default=30, ge=0, le=300)
    jwks_cache_seconds: float = Field(default=600, gt=0)
    # a token naming an unknown `kid` fetches the JWKS again at most this often (rotation)
    jwks_refetch_seconds: float = Field(default=30, ge=0)
    # how long a kiosk hand-off lasts
    handoff_ttl_seconds: int = Field(default=300, ge=30, le=3600)

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, algorithms: list[str]) -> list[str]:
        refused = [a for a in algorithms if a not in ASYMMETRIC_ALGORITHMS]
        if refused:
            raise ValueError(
                f"not accepted: {', '.join(refused)}; only asymmetric algorithms "
                f"({', '.join(sorted(ASYMMETRIC_ALGORITHMS))}) can be allowed"
            )
        return algorithms

    def production_problems(self) -> list[str]:
        problems = []
        if self.issuer.rstrip("/") == SANDBOX_ISSUER:
            problems.append("auth.issuer is the sandbox identity provider")
        for name, url in (("auth.issuer", self.issuer), ("auth.jwks_url", self.jwks_url)):
            if url is not None and not url.startswith("https://"):
                problems.append(f"{name} must be an https URL")
        return problems


class LimitsSettings(BaseModel):
    """Operation limits and protocol hygiene on /graphql (docs/security.md). Depth, alias,
    directive and token defaults are GraphQL Armor's."""

    # levels of nested selection sets; leaf fields and fragments add none
    max_depth: int = Field(default=6, ge=1)
    # aliased fields, a fragment counted once per spread
    max_aliases: int = Field(default=15, ge=0)
    max_directives: int = Field(default=50, ge=0)
    # lexical tokens (comments are limited to the same number separately)
    max_tokens: int = Field(default=1000, ge=1)
    # each field 1, a list multiplies its sub-selection by its size (docs/security.md)
    max_cost: int = Field(default=5000, ge=1)
    # the size assumed for a list field that has no `first` argument
    default_list_size: int = Field(default=10, ge=1)
    max_body_bytes: int = Field(default=65_536, ge=1)
    # levels of JSON arrays and objects in a body, a GET parameter or a websocket message
    # (the body's own object is 1, `variables` 2). A real request needs 5; at most 512, far
    # inside orjson's own 1024 and Python's recursion limit, which later readers may meet
    max_json_depth: int = Field(default=32, ge=4, le=512)
    csrf_prevention: bool = True
    introspection: bool | None = None  # None: on outside production
    field_suggestions: bool | None = None  # None: on outside production
    # a DEVELOPER token may introspect, read `_service { sdl }` and get suggestions even
    # where the two switches above are off; false refuses developers as everyone else
    developer_introspection: bool = True


class GraphQLSettings(BaseModel):
    """How operations execute (docs/operations.md "GraphQL execution")."""

    # The one-pass executor for plain fields (engine/execution.py); false: graphql-core's
    # own path for every field, the same answers at many times the CPU of executing them
    fast_execution: bool = True
    # Every sub-tree the fast path answers is answered by graphql-core's path too, and a
    # difference fails that field: for test suites (tests/conftest.py turns it on), as it
    # costs more than turning the fast path off
    verify_fast_execution: bool = False


# `make run`'s gateway answers a storefront served by a developer's own dev server
# (localhost:3000, :5173, ...) on any loopback origin, http or https
DEVELOPMENT_ORIGIN_REGEX = r"https?://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?"
# an origin as browsers send it: scheme, host, and a port only when it is not the default
_ORIGIN = re.compile(r"(https?)://([a-z0-9-]+(\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(:([0-9]{1,5}))?")
_DEFAULT_PORTS = {"http": "80", "https": "443"}
# what browser clients send besides the CORS-safelisted headers: credentials
# (gateway/auth), CSRF prevention's preflight headers (gateway/limits/csrf.py), the request
# id and trace context, and the client name and version Apollo Client sends
DEFAULT_CORS_ALLOW_HEADERS = [
    "authorization",
    "x-cart-token",
    "x-handoff-token",
    "apollo-require-preflight",
    "x-apollo-operation-name",
    "x-omnigate-csrf",
    "x-request-id",
    "traceparent",
    "tracestate",
    "baggage",
    "apollographql-client-name",
    "apollographql-client-version",
]
# response headers a page's script may read beyond the safelisted ones
DEFAULT_CORS_EXPOSE_HEADERS = ["x-request-id", "retry-after"]


class CorsSettings(BaseModel):
    """Which pages on other origins a browser lets call /graphql (docs/graphql-over-http.md
    "CORS"). Nothing is allowed until origins are set, except in development, where any
    loopback origin is."""

    # exact origins, `scheme://host[:port]` as browsers send them, or ["*"] for any page
    # (never with credentials). None: the environment's default.
    allow_origins: list[str] | None = None
    # origins this whole regular expression matches are allowed too, e.g. preview
    # deployments: `https://[a-z0-9-]+\.preview\.example\.com`
    allow_origin_regex: str | None = None
    # lets pages send cookies with `credentials: "include"`. omnigate's own credentials are
    # headers (Authorization, X-Cart-Token), which need no such thing; this is for a proxy
    # in front that authenticates by cookie.
    allow_credentials: bool = False
    # how long a browser reuses a preflight's answer (Chromium caps it at 7200, Firefox at
    # 86400); a changed policy reaches browsers within this time
    max_age_seconds: int = Field(default=600, ge=0, le=86_400)
    allow_headers: list[str] = Field(default_factory=lambda: list(DEFAULT_CORS_ALLOW_HEADERS))
    expose_headers: list[str] = Field(default_factory=lambda: list(DEFAULT_CORS_EXPOSE_HEADERS))

    @field_validator("allow_origins", mode="before")
    @classmethod
    def _comma_separated(cls, origins: object) -> object:
        # `OMNIGATE_CORS__ALLOW_ORIGINS=https://a.example,https://b.example` as well as JSON
        if isinstance(origins, str):
            return [origin for origin in origins.split(",") if origin.strip()]
        return origins

    @field_validator("allow_origins")
    @classmethod
    def _origins_as_browsers_send_them(cls, origins: list[str] | None) -> list[str] | None:
        if origins is None or origins == ["*"]:
            return origins
        checked, problems = [], []
        for origin in origins:
            try:
                checked.append(_origin(origin))
            except ValueError as problem:
                problems.append(str(problem))
        if problems:
            raise ValueError("; ".join(problems))
        return checked

    @field_validator("allow_origin_regex")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"not a regular expression: {error}") from error
        return pattern

    @model_validator(mode="after")
    def _no_credentials_for_any_origin(self) -> CorsSettings:
        if self.allow_credentials and self.allow_origins == ["*"]:
            # CORS forbids `*` with credentials; echoing every origin instead would let any
            # site act with the user's cookies
            raise ValueError('cors.allow_credentials cannot go with allow_origins ["*"]')
        return self

    def origins_for(self, env: Environment) -> tuple[list[str], str | None]:
        """The allowed origins and origin pattern in `env`; neither means CORS is off."""
        if self.allow_origins is None and self.allow_origin_regex is None:
            development = env == Environment.DEVELOPMENT
            return [], DEVELOPMENT_ORIGIN_REGEX if development else None
        return list(self.allow_origins or []), self.allow_origin_regex


def _origin(origin: str) -> str:
    """`origin` as a browser's Origin header would say it, or ValueError saying why not."""
    lowered = origin.strip().lower()
    match = _ORIGIN.fullmatch(lowered)
    if match is None:
        if lowered == "*":
            raise ValueError('"*" allows every origin on its own: ["*"], with no other origin')
        raise ValueError(
            f"{origin!r} is not an origin: write scheme://host[:port], as browsers send it, "
            "with no path and no trailing slash (https://shop.example.com)"
        )
    scheme, port = match.group(1), match.group(5)
    if port is not None and port == _DEFAULT_PORTS[scheme]:
        raise ValueError(
            f"{origin!r}: browsers leave the default port out of Origin; "
            f"write {scheme}://{match.group(2)}"
        )
    return lowered


# commerce.principal.PrincipalKind's values (importing it here would be circular)
PrincipalKindName = Literal["ANONYMOUS", "CUSTOMER", "DEVELOPER", "KIOSK", "STAFF", "DISPLAY"]
ALL_PRINCIPAL_KINDS: tuple[PrincipalKindName, ...] = (
    "ANONYMOUS",
    "CUSTOMER",
    "DEVELOPER",
    "KIOSK",
    "STAFF",
    "DISPLAY",
)


class SafelistMode(StrEnum):
    OFF = "off"  # any operation runs (within the limits); APQ registers as it goes
    ENFORCE = "enforce"  # only operations registered by an operator run


class PersistedQueriesSettings(BaseModel):
    """Automatic persisted queries (Apollo's APQ protocol) and the operation safelist
    (docs/security.md "Persisted queries")."""

    # an operation registered by APQ is forgotten this long after it was first sent; the
    # client then sends it once more in full. Operator-registered ones never expire.
    apq_ttl_seconds: int = Field(default=86_400, ge=60)
    # operations each pod keeps in memory, so a hit costs no MongoDB round trip
    cache_size: int = Field(default=1000, ge=1)
    safelist: SafelistMode = SafelistMode.OFF
    # whom `safelist: enforce` applies to; the others may still send any operation
    safelist_principals: list[PrincipalKindName] = Field(
        default_factory=lambda: list(ALL_PRINCIPAL_KINDS)
    )


class RateLimit(BaseModel):
    """A token bucket: `requests` at most in a burst, refilled at `requests` per
    `window_seconds`."""

    requests: int = Field(ge=1)
    window_seconds: float = Field(gt=0)


# Per principal kind. Anonymous clients are counted per IP address (an IPv6 client per /64),
# so one NAT's visitors share it: hence more than a signed-in customer's own budget.
DEFAULT_RATE_LIMITS: dict[str, dict[str, float]] = {
    "anonymous": {"requests": 600, "window_seconds": 60},
    "customer": {"requests": 300, "window_seconds": 60},
    # a person with a schema explorer: a customer's budget is plenty
    "developer": {"requests": 300, "window_seconds": 60},
    "kiosk": {"requests": 600, "window_seconds": 60},
    "staff": {"requests": 600, "window_seconds": 60},
    # a screen reads a page of products now and then and follows the rest live
    "display": {"requests": 300, "window_seconds": 60},
    # `customers(search:)` per staff member, on top of the staff budget and always on: a
    # person at a counter looks up a few shoppers a minute, a script walking the customer
    # base looks up thousands (docs/security.md "Staff customer search")
    "customer_search": {"requests": 30, "window_seconds": 60},
}


class RateLimitSettings(BaseModel):
    """Requests per principal, counted across every pod in MongoDB (docs/security.md
    "Rate limits")."""

    # None: on, except in the test environment (test suites and load benchmarks send
    # everything from one loopback address)
    enabled: bool | None = None
    anonymous: RateLimit = RateLimit.model_validate(DEFAULT_RATE_LIMITS["anonymous"])
    customer: RateLimit = RateLimit.model_validate(DEFAULT_RATE_LIMITS["customer"])
    developer: RateLimit = RateLimit.model_validate(DEFAULT_RATE_LIMITS["developer"])
    kiosk: RateLimit = RateLimit.model_validate(DEFAULT_RATE_LIMITS["kiosk"])
    staff: RateLimit = RateLimit.model_validate(DEFAULT_RATE_LIMITS["staff"])
    display: RateLimit = RateLimit.model_validate(DEFAULT_RATE_LIMITS["display"])
    customer_search: RateLimit = RateLimit.model_validate(DEFAULT_RATE_LIMITS["customer_search"])
    # proxies (addresses or CIDR networks) whose X-Forwarded-For is believed; none by
    # default, so the client address is the TCP peer's
    trusted_proxies: list[IPvAnyNetwork] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _per_kind_defaults(cls, data: object) -> object:
        # `OMNIGATE_RATE_LIMITS__CUSTOMER__REQUESTS=100` alone keeps the customer's window
        if not isinstance(data, dict):
            return data
        merged = dict(data)
        for kind, defaults in DEFAULT_RATE_LIMITS.items():
            given = merged.get(kind)
            if given is None or isinstance(given, dict):
                merged[kind] = {**defaults, **(given or {})}
        return merged

    def active(self, env: Environment) -> bool:
        return self.enabled if self.enabled is not None else env != Environment.TEST

    def for_kind(self, kind: str) -> RateLimit:
        limit: RateLimit = getattr(self, kind.lower())
        return limit


class TelemetrySettings(BaseModel):
    """OpenTelemetry traces (docs/operations.md "Traces"). Off, at no cost, until an OTLP
    endpoint is set."""

    # An OTLP/HTTP receiver's base URL (an OpenTelemetry Collector: http://HOST:4318);
    # spans go to {otlp_endpoint}/v1/traces, protobuf-encoded.
    otlp_endpoint: str | None = None
    # sent with every export, e.g. a tracing vendor's API key
    otlp_headers: dict[str, SecretStr] = Field(default_factory=dict)
    service_name: str = Field(default="omnigate", min_length=1)
    # of the traces that start here; a request that carries a sampled `traceparent` is
    # traced whatever this says (the caller decided), an unsampled one is not
    sampling_ratio: float = Field(default=1.0, ge=0, le=1)
    # one span per asynchronous resolver (those that wait on upstreams or MongoDB); the
    # operation, HTTP and upstream spans are there either way
    resolver_spans: bool = True

    @field_validator("otlp_endpoint")
    @classmethod
    def _http_url(cls, endpoint: str | None) -> str | None:
        if endpoint is not None and not endpoint.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL (OTLP over HTTP)")
        return endpoint.rstrip("/") if endpoint else endpoint


def _default_unpublished(schema: dict[str, Any]) -> None:
    """A default that depends on where omnigate is installed: left out of the JSON schema."""
    schema.pop("default", None)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="OMNIGATE_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    env: Environment = Environment.DEVELOPMENT
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    mongodb_uri: SecretStr = SecretStr("mongodb://127.0.0.1:27017/?directConnection=true")
    mongodb_database: str = "omnigate"
    # every MongoDB operation's; a mutation's wait for a primary being elected is bounded
    # by request_deadline_seconds instead (engine/deadline.py)
    mongodb_timeout_seconds: float = Field(default=2.0, gt=0)
    graphiql: bool | None = None  # None: on outside production; also serves /kiosk
    graphiql_assets_dir: Path = Field(
        default=DEFAULT_GRAPHIQL_ASSETS, json_schema_extra=_default_unpublished
    )
    # the largest `first` of a connection (products, orders): Shopify's own page cap is 250
    max_page_size: int = Field(default=100, ge=1, le=250)

    http: HttpSettings = HttpSettings()
    upstreams: UpstreamsSettings = UpstreamsSettings()
    # No GraphQL response takes longer: every upstream call a request makes ends by then
    # (its fields then answer UPSTREAM_TIMEOUT). Keep it below the ingress's timeout.
    request_deadline_seconds: float = Field(default=10.0, gt=0)
    cache: CacheSettings = CacheSettings()
    adapters: AdaptersSettings = AdaptersSettings()
    square: SquareSettings = SquareSettings()
    shopify: ShopifySettings = ShopifySettings()
    salesforce: SalesforceSettings = SalesforceSettings()
    hubspot: HubSpotSettings = HubSpotSettings()
    webhooks: WebhookSettings = WebhookSettings()
    limits: LimitsSettings = LimitsSettings()
    graphql: GraphQLSettings = GraphQLSettings()
    cors: CorsSettings = CorsSettings()
    persisted_queries: PersistedQueriesSettings = PersistedQueriesSettings()
    rate_limits: RateLimitSettings = RateLimitSettings()
    auth: AuthSettings = AuthSettings()
    cart: CartSettings = CartSettings()
    returns: ReturnsSettings = ReturnsSettings()
    live: LiveSettings = LiveSettings()
    offers: OffersSettings = OffersSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    # None: json in production, text elsewhere (docs/operations.md "Logs")
    log_format: Literal["json", "text"] | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # After SIGTERM: how long in-flight requests may take to finish before they are
    # cancelled. Keep it at least request_deadline_seconds, and preStop's sleep plus this
    # plus a few seconds within the pod's terminationGracePeriodSeconds (k8s/).
    shutdown_grace_seconds: float = Field(default=20.0, gt=0)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # the config file below the environment and .env: a variable overrides its key
        config_file = ConfigFileSource(settings_cls)
        return init_settings, env_settings, dotenv_settings, config_file, file_secret_settings

    def with_changes(self, **changes: object) -> Settings:
        """A validated copy (model_copy would skip validation); the environment is not
        read again."""
        return type(self).model_validate({**self.model_dump(), **changes})

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_any_case(cls, level: object) -> object:
        return level.upper() if isinstance(level, str) else level

    @property
    def effective_log_format(self) -> Literal["json", "text"]:
        if self.log_format is not None:
            return self.log_format
        return "json" if self.env == Environment.PRODUCTION else "text"

    @property
    def graphiql_enabled(self) -> bool:
        return self.graphiql if self.graphiql is not None else self.env != Environment.PRODUCTION

    @model_validator(mode="after")
    def _no_sandbox_secrets_in_production(self) -> Settings:
        if self.env != Environment.PRODUCTION:
            return self
        sandbox = {
            "square.access_token": (self.square.access_token, SquareSettings().access_token),
            "shopify.access_token": (self.shopify.access_token, ShopifySettings().access_token),
            "salesforce.client_secret": (
                self.salesforce.client_secret,
                SalesforceSettings().client_secret,
            ),
            "webhooks.square_signature_key": (
                self.webhooks.square_signature_key,
                WebhookSettings().square_signature_key,
            ),
            "webhooks.shopify_secret": (
                self.webhooks.shopify_secret,
                WebhookSettings().shopify_secret,
            ),
            "offers.quote_secret": (self.offers.quote_secret, OffersSettings().quote_secret),
            "offers.webhook_secret": (
                self.offers.webhook_secret,
                OffersSettings().webhook_secret,
            ),
        }
        if self.adapters.crm == "hubspot":  # refused only where they are used
            sandbox["hubspot.access_token"] = (
                self.hubspot.access_token,
                HubSpotSettings().access_token,
            )
            sandbox["webhooks.hubspot_client_secret"] = (
                self.webhooks.hubspot_client_secret,
                WebhookSettings().hubspot_client_secret,
            )
        placeholders = [
            name
            for name, (value, default) in sandbox.items()
            if value.get_secret_value() == default.get_secret_value()
        ]
        if placeholders:
            raise ValueError(
                "production needs real upstream credentials; still the sandbox's: "
                + ", ".join(placeholders)
            )
        if problems := self.auth.production_problems():
            raise ValueError("production needs a real identity provider: " + "; ".join(problems))
        return self

    @model_validator(mode="after")
    def _public_webhook_urls_in_production(self) -> Settings:
        """One problem per setting, each naming its own variable (gateway/config_check)."""
        if self.env != Environment.PRODUCTION:
            return self
        problems = self.webhooks.production_problems()
        if problems:
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    InitErrorDetails(
                        type=PydanticCustomError("production", why),
                        loc=("webhooks", name),
                        input=getattr(self.webhooks, name),
                    )
                    for name, why in problems.items()
                ],
            )
        return self


def is_loopback_url(url: str) -> bool:
    """Whether `url` names this machine (localhost, 127.0.0.0/8, ::1, or no address)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def upstream_services(settings: Settings) -> dict[str, str]:
    """Each vendor section's name and base URL (`omnigate dev` serves the simulators there)."""
    return {
        "square": settings.square.base_url,
        "shopify": settings.shopify.base_url,
        "salesforce": settings.salesforce.login_url,
        "hubspot": settings.hubspot.base_url,
    }
