"""Runtime configuration: environment (OMNIGATE_*), then `.env`, then these defaults.

Nested sections use `__`: `OMNIGATE_SQUARE__ACCESS_TOKEN`, `OMNIGATE_HTTP__TIMEOUT_SECONDS`.
The vendor sections' defaults point at the sandbox simulators and carry the sandbox's
credentials, so `make run` needs no configuration; production refuses them.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.salesforce.settings import SalesforceSettings
from connectors.shopify.settings import ShopifySettings
from connectors.square.settings import SquareSettings

DEFAULT_GRAPHIQL_ASSETS = Path(__file__).parent / "graphiql" / "assets"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class HttpSettings(BaseModel):
    """The shared upstream HTTP client (one pool for every connector)."""

    # aiohttp spends about a third of httpx's own transport's CPU per call (bench/README.md).
    transport: Literal["aiohttp", "httpx"] = "aiohttp"
    connect_timeout_seconds: float = Field(default=2.0, gt=0)
    timeout_seconds: float = Field(default=5.0, gt=0)
    max_connections: int = Field(default=200, ge=1)


class CacheSettings(BaseModel):
    profile_ttl_seconds: int = Field(default=300, ge=1)
    stores_ttl_seconds: int = Field(default=60, ge=0)


class WebhookSettings(BaseModel):
    """Vendor-signed webhooks in (docs/customer-profile.md). The secrets' defaults are the
    sandbox's; production refuses them."""

    square_signature_key: SecretStr = SecretStr("sandbox-square-signature-key")
    # Square signs the notification URL it calls, byte for byte, so it must be configured
    # exactly as in the Square subscription (scheme, host, path, any query string).
    square_notification_url: str = "http://127.0.0.1:8000/webhooks/square"
    shopify_secret: SecretStr = SecretStr("sandbox-shopify-client-secret")
    # Oldest signed timestamp accepted, for vendors that sign one (HubSpot v3).
    max_age_seconds: int = Field(default=300, ge=1)
    max_body_bytes: int = Field(default=1_048_576, ge=1)
    # How long delivery ids are remembered to drop duplicates; longer than any vendor's
    # retry schedule (Shopify: 8 tries over 4 hours; Square: up to 72 hours).
    delivery_retention_seconds: int = Field(default=7 * 24 * 3600, ge=60)


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
    csrf_prevention: bool = True
    introspection: bool | None = None  # None: on outside production
    field_suggestions: bool | None = None  # None: on outside production


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
    mongodb_timeout_seconds: float = Field(default=2.0, gt=0)
    graphiql: bool | None = None  # None: on outside production
    graphiql_assets_dir: Path = DEFAULT_GRAPHIQL_ASSETS
    max_page_size: int = Field(default=100, ge=1)

    http: HttpSettings = HttpSettings()
    cache: CacheSettings = CacheSettings()
    square: SquareSettings = SquareSettings()
    shopify: ShopifySettings = ShopifySettings()
    salesforce: SalesforceSettings = SalesforceSettings()
    webhooks: WebhookSettings = WebhookSettings()
    limits: LimitsSettings = LimitsSettings()

    def with_changes(self, **changes: object) -> Settings:
        """A validated copy (model_copy would skip validation); the environment is not
        read again."""
        return type(self).model_validate({**self.model_dump(), **changes})

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
        }
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
        return self


def upstream_services(settings: Settings) -> dict[str, str]:
    """Each configured upstream's name and base URL (for readiness and logs)."""
    return {
        "square": settings.square.base_url,
        "shopify": settings.shopify.base_url,
        "salesforce": settings.salesforce.login_url,
    }
