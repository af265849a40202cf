"""`omnigate check-upstreams`: one harmless read per upstream the chosen adapters call,
each reported as ok or as exactly what is wrong and the variables to look at.

The adapters are built as the gateway builds them (no I/O), so the upstreams checked are
the ones `serve` would call, through the same transport and resilience policy. Square,
Shopify, Salesforce and HubSpot have checks (connectors/*/check.py, docs/vendors/); an upstream of
an adapter from another package is listed as not checked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

import httpx

from connectors.check import CheckFailed
from connectors.http import UpstreamHttp
from connectors.hubspot.check import check_hubspot
from connectors.salesforce.check import check_salesforce
from connectors.shopify.check import check_shopify
from connectors.square.check import check_square
from gateway.http_transport import UpstreamClient
from gateway.metrics import Metrics
from gateway.settings import Settings
from gateway.wiring.adapters import Upstreams, build_adapters

Check = Callable[[UpstreamHttp, Settings], Awaitable[str]]

CHECKS: dict[str, Check] = {
    "square": lambda http, settings: check_square(http, settings.square),
    "shopify": lambda http, settings: check_shopify(
        http,
        settings.shopify,
        retail="shopify" in (settings.adapters.pos, settings.adapters.inventory),
    ),
    "salesforce": lambda http, settings: check_salesforce(http, settings.salesforce),
    "hubspot": lambda http, settings: check_hubspot(http, settings.hubspot),
}


class Outcome(StrEnum):
    OK = "ok"
    FAILED = "FAILED"
    NOT_CHECKED = "not checked"


@dataclass(frozen=True, slots=True)
class UpstreamReport:
    service: str
    url: str
    outcome: Outcome
    detail: str
    variables: tuple[str, ...] = ()

    def line(self, width: int) -> str:
        text = f"{self.service:<{width}}  {self.outcome.value:<6}  {self.url}: {self.detail}"
        if self.variables:
            text += f" (check {', '.join(self.variables)})"
        return text


async def check_upstreams(settings: Settings, client: httpx.AsyncClient) -> list[UpstreamReport]:
    """A report per (upstream, base URL) the chosen adapters call, in the order they were
    built; the checks run concurrently."""
    direct = client.upstream_transport if isinstance(client, UpstreamClient) else None
    upstreams = Upstreams(client, settings.upstreams, Metrics(), transport=direct)
    build_adapters(settings, upstreams)
    targets = [(s, url) for s, urls in upstreams.base_urls.items() for url in urls]
    return list(await asyncio.gather(*(_check(settings, upstreams, s, url) for s, url in targets)))


async def _check(
    settings: Settings, upstreams: Upstreams, service: str, url: str
) -> UpstreamReport:
    check = CHECKS.get(service)
    if check is None:
        return UpstreamReport(
            service, url, Outcome.NOT_CHECKED, "no check for this adapter's upstream"
        )
    try:
        seen = await check(upstreams(service, url), settings)
    except CheckFailed as failed:
        variables = tuple(f"OMNIGATE_{service.upper()}__{field.upper()}" for field in failed.fields)
        return UpstreamReport(service, url, Outcome.FAILED, failed.problem, variables)
    return UpstreamReport(service, url, Outcome.OK, seen)
