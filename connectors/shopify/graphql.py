"""One Admin API GraphQL call, with Shopify's failure signals turned into `connectors.errors`.

Shopify answers most refusals with HTTP 200 and `errors[].extensions.code`: THROTTLED when
the app's cost bucket lacks the points (retry once the bucket has restored them, which
`extensions.cost` lets us compute), INTERNAL_SERVER_ERROR for its own faults, anything else
(MAX_COST_EXCEEDED, validation) for a request that would be refused again.

Every call says whether the transport may send it again (`idempotent`): queries may be, a
mutation only if it carries Shopify's own idempotency (`@idempotent(key:)`).
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from connectors.errors import UpstreamRejected, UpstreamThrottled, UpstreamUnavailable
from connectors.http import UpstreamHttp
from connectors.shopify.settings import ShopifySettings


class ShopifyGraphql:
    def __init__(self, http: UpstreamHttp, settings: ShopifySettings) -> None:
        self.http = http
        self.settings = settings

    async def query(
        self,
        operation: str,
        document: str,
        variables: dict[str, Any],
        *,
        idempotent: bool = False,
    ) -> dict[str, Any]:
        """The `data` of a successful answer; raises the matching UpstreamError otherwise."""
        return await self.http.send(
            operation,
            "POST",
            self.settings.graphql_path,
            json_body={"query": document, "variables": variables},
            headers={"X-Shopify-Access-Token": self.settings.access_token.get_secret_value()},
            idempotent=idempotent,
            read=lambda response: self._data(operation, response),
        )

    def _data(self, operation: str, response: httpx.Response) -> dict[str, Any]:
        """What an answer means. It runs inside each attempt, so a THROTTLED answer (HTTP 200)
        is retried once the bucket has restored the points, like a 429 with Retry-After."""
        if response.status_code != 200:
            raise self.http.status_error(operation, response, _http_detail(response.content))
        body = self.http.json(operation, response)
        if not isinstance(body, dict):
            raise UpstreamUnavailable(self.http.service, operation, "body is not a JSON object")
        if body.get("errors"):
            raise self._graphql_error(operation, body["errors"], body.get("extensions"))
        data = body.get("data")
        if not isinstance(data, dict):
            raise UpstreamUnavailable(self.http.service, operation, "answer has no data")
        return data

    def _graphql_error(
        self, operation: str, errors: Any, extensions: Any
    ) -> UpstreamThrottled | UpstreamUnavailable:
        service = self.http.service
        listed = errors if isinstance(errors, list) else [{"message": str(errors)}]
        codes = [_code(error) for error in listed]
        detail = "; ".join(
            f"{code or 'ERROR'}: {_message(error)}"
            for code, error in zip(codes, listed, strict=True)
        )
        if "THROTTLED" in codes:
            return UpstreamThrottled(
                service, operation, detail, retry_after=_retry_after(extensions)
            )
        if codes and all(code == "INTERNAL_SERVER_ERROR" for code in codes):
            return UpstreamUnavailable(service, operation, detail)
        return UpstreamRejected(service, operation, detail)


def _code(error: Any) -> str | None:
    extensions = error.get("extensions") if isinstance(error, dict) else None
    code = extensions.get("code") if isinstance(extensions, dict) else None
    return code if isinstance(code, str) else None


def _message(error: Any) -> str:
    message = error.get("message") if isinstance(error, dict) else error
    return str(message)[:200]


def _retry_after(extensions: Any) -> float | None:
    """Seconds until the bucket holds the points this query asked for."""
    try:
        cost = extensions["cost"]
        status = cost["throttleStatus"]
        missing = float(cost["requestedQueryCost"]) - float(status["currentlyAvailable"])
        return max(0.0, missing) / float(status["restoreRate"])
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None


def _http_detail(content: bytes) -> str:
    """The vendor's `errors` value for the logs (never shown to a GraphQL client)."""
    try:
        body = json.loads(content)
    except ValueError:
        return "non-JSON body"
    errors = body.get("errors") if isinstance(body, dict) else body
    return str(errors)[:300]
