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
