"""Square's request envelope for the adapters: auth headers, error envelope, cursor pages.

Square answers failures as `{"errors": [{category, code, detail, field}]}`; the codes and
details go into the `UpstreamError.detail` for logs, never into a public message. Every
call says whether it may be repeated (`idempotent`): reads, and writes that carry Square's
own `idempotency_key`; nothing else is ever sent twice by the transport.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, Protocol, TypeVar, overload

import httpx
import msgspec

from connectors.errors import (
    IdempotencyKeyReused,
    PaymentDeclined,
    UpstreamError,
    UpstreamUnavailable,
)
from connectors.http import UpstreamHttp
from connectors.square.settings import SquareSettings

_DETAIL_LIMIT = 500


class CursorPage(Protocol):
    """A page decoded to a typed shape: it carries Square's `cursor` like the dict does."""

    @property
    def cursor(self) -> str | None: ...


Page = TypeVar("Page", bound=CursorPage)


class SquareClient:
    def __init__(self, http: UpstreamHttp, settings: SquareSettings) -> None:
        self.http = http
        self._headers = {
            "Authorization": f"Bearer {settings.access_token.get_secret_value()}",
            "Square-Version": settings.api_version,
            "Accept": "application/json",
        }

    async def call(
        self,
        operation: str,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        idempotent: bool = False,
    ) -> dict[str, Any]:
        """One Square call; a non-2xx status or a body that is not a JSON object raises.

        `idempotent`: the call may be sent again with the same effect (a read, or a write
        carrying Square's `idempotency_key`).
        """
        return await self.http.send(
            operation,
            method,
            path,
            json_body=body,
            headers=self._headers,
            idempotent=idempotent,
            read=lambda response: self._payload(operation, response),
        )

    async def call_decoded(
        self,
        operation: str,
        path: str,
        body: dict[str, Any],
        decoder: msgspec.json.Decoder[Page],
    ) -> Page:
        """One read POSTed to Square, its answer decoded straight to `decoder`'s type: only
        the fields that type names are made into Python objects. A body of another shape
        is the upstream's failure, like one that is not JSON."""
        return await self.http.send(
            operation,
            "POST",
            path,
            json_body=body,
            headers=self._headers,
            idempotent=True,
            read=lambda response: self._decoded(operation, response, decoder),
        )

    def _payload(self, operation: str, response: httpx.Response) -> dict[str, Any]:
        """What an answer means; run inside each attempt, so an unreadable answer is retried
        (when the call allows) and seen by the circuit breaker like a 5xx."""
        if not response.is_success:
            raise self._status_error(operation, response)
        payload = self.http.json(operation, response)
        if not isinstance(payload, dict):
            raise UpstreamUnavailable(self.http.service, operation, "response is not an object")
        return payload

    def _decoded(
        self, operation: str, response: httpx.Response, decoder: msgspec.json.Decoder[Page]
    ) -> Page:
        if not response.is_success:
            raise self._status_error(operation, response)
        try:
            return decoder.decode(response.content)
        except msgspec.ValidationError as exc:
            raise UpstreamUnavailable(
                self.http.service, operation, f"unexpected body: {exc}"
            ) from exc
        except msgspec.DecodeError as exc:
            raise UpstreamUnavailable(self.http.service, operation, "response is not JSON") from exc

    @overload
    def pages(
        self, operation: str, path: str, body: dict[str, Any]
    ) -> AsyncIterator[dict[str, Any]]: ...

    @overload
    def pages(
        self, operation: str, path: str, body: dict[str, Any], decoder: msgspec.json.Decoder[Page]
    ) -> AsyncIterator[Page]: ...

    async def pages(
        self,
        operation: str,
        path: str,
        body: dict[str, Any],
        decoder: msgspec.json.Decoder[Any] | None = None,
    ) -> AsyncIterator[Any]:
        """Every page of a cursor-paginated POST, repeating the original body with each cursor:
        as dicts, or decoded by `decoder` (see `call_decoded`)."""
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            request = body if cursor is None else {**body, "cursor": cursor}
            if decoder is None:
                page = await self.call(operation, "POST", path, request, idempotent=True)
                cursor = page.get("cursor") or None
            else:
                page = await self.call_decoded(operation, path, request, decoder)
                cursor = page.cursor or None
            yield page
            if cursor is None:
                return
            if cursor in seen:
                # A cursor handed out twice would loop forever; Square's never repeat.
                raise UpstreamUnavailable(self.http.service, operation, "cursor repeated")
            seen.add(cursor)

    def _status_error(self, operation: str, response: httpx.Response) -> UpstreamError:
        detail = describe_errors(response)
        if response.status_code == 400 and "IDEMPOTENCY_KEY_REUSED" in error_codes(response):
            return IdempotencyKeyReused(self.http.service, operation, f"HTTP 400: {detail}")
        decline = decline_code(response)
        if decline is not None:
            declined = PaymentDeclined(
                self.http.service, operation, decline, f"HTTP {response.status_code}: {detail}"
            )
            declined.status = response.status_code
            return declined
        return self.http.status_error(operation, response, detail)


def error_codes(response: httpx.Response) -> list[str]:
    """The `code` of every error in a Square error envelope; empty when it is not one."""
    try:
        errors = json.loads(response.content)["errors"]
        return [str(e["code"]) for e in errors if isinstance(e, dict) and "code" in e]
    except (ValueError, KeyError, TypeError):
        return []


def decline_code(response: httpx.Response) -> str | None:
    """The code of a card refusal: Square's category PAYMENT_METHOD_ERROR (CARD_DECLINED,
    CVV_FAILURE, ...), or NOT_FOUND on `source_id` (a card token Square does not know:
    expired, or from another application), which is a card to enter again too."""
    try:
        errors = json.loads(response.content)["errors"]
        for e in errors:
            if e.get("category") == "PAYMENT_METHOD_ERROR":
                return str(e["code"])
            if e.get("code") == "NOT_FOUND" and e.get("field") == "source_id":
                return "NOT_FOUND"
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return None


def describe_errors(response: httpx.Response) -> str:
    """The Square errors of a failed response as one log line (`CODE field: detail; ...`)."""
    try:
        errors = json.loads(response.content)["errors"]
        parts = [
            " ".join(str(e[key]) for key in ("code", "field") if e.get(key))
            + f": {e.get('detail', '')}"
            for e in errors
        ]
    except (ValueError, KeyError, TypeError, AttributeError):
        return "response is not a Square error envelope"
    return "; ".join(parts)[:_DETAIL_LIMIT]


def chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[start : start + size] for start in range(0, len(items), size)]
