"""Signed price quotes: a cart's totals with offers and loyalty applied, valid until an
expiry, honoured by every channel at checkout.

A quote is `<payload>.<signature>`: the payload is URL-safe base64 of compact JSON, the
signature URL-safe base64 of HMAC-SHA256(`offers.quote_secret`, payload). It carries the
cart id and version it priced, the unit prices, the promotions and loyalty points applied
and the totals, so a checkout on any channel (a POS after the app) places exactly the
order the shopper was shown, as long as the quote is unexpired and the cart unchanged.
`Cart.quote` issues one only for a channel its caller acts on (channel.py
`allowed_channels`), so the channel a quote carries is one a legitimate principal used.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any


class QuoteProblem(StrEnum):
    QUOTE_INVALID = "QUOTE_INVALID"  # not a quote, or tampered with (signature mismatch)
    QUOTE_EXPIRED = "QUOTE_EXPIRED"
    QUOTE_STALE = "QUOTE_STALE"  # another cart, or the cart changed since


QUOTE_MESSAGES = {
    QuoteProblem.QUOTE_INVALID: "This quote is not one omnigate signed.",
    QuoteProblem.QUOTE_EXPIRED: "This quote has expired: ask for a new one.",
    QuoteProblem.QUOTE_STALE: "The cart changed since this quote: ask for a new one.",
}


@dataclass(frozen=True, slots=True)
class QuoteLine:
    sku: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True, slots=True)
class Quote:
    cart_id: str
    cart_version: int
    channel: str  # priced for, one its issuer acts on (any channel honours it)
    currency: str
    lines: tuple[QuoteLine, ...]
    promotion_ids: tuple[str, ...]
    loyalty_points: int
    subtotal: Decimal
    discount: Decimal
    total: Decimal
    expires_at: datetime

    def to_payload(self) -> dict[str, Any]:
        return {
            "c": self.cart_id,
            "v": self.cart_version,
            "ch": self.channel,
            "cur": self.currency,
            "l": [[line.sku, line.quantity, str(line.unit_price)] for line in self.lines],
            "p": list(self.promotion_ids),
            "lp": self.loyalty_points,
            "s": str(self.subtotal),
            "d": str(self.discount),
            "t": str(self.total),
            "exp": int(self.expires_at.timestamp()),
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Quote:
        return cls(
            cart_id=str(payload["c"]),
            cart_version=int(payload["v"]),
            channel=str(payload["ch"]),
            currency=str(payload["cur"]),
            lines=tuple(QuoteLine(str(s), int(q), Decimal(p)) for s, q, p in payload["l"]),
            promotion_ids=tuple(str(p) for p in payload["p"]),
            loyalty_points=int(payload["lp"]),
            subtotal=Decimal(payload["s"]),
            discount=Decimal(payload["d"]),
            total=Decimal(payload["t"]),
            expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
        )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, payload: str) -> bytes:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()


def sign(quote: Quote, secret: str) -> str:
    payload = _b64(json.dumps(quote.to_payload(), separators=(",", ":")).encode())
    return f"{payload}.{_b64(_mac(secret, payload))}"


def verify(token: str, secret: str, now: datetime) -> Quote | QuoteProblem:
    """The quote if omnigate signed it and it has not expired; else what is wrong."""
    payload, _, signature = token.partition(".")
    try:
        given = _unb64(signature)
    except (binascii.Error, ValueError):
        return QuoteProblem.QUOTE_INVALID
    if not payload or not hmac.compare_digest(given, _mac(secret, payload)):
        return QuoteProblem.QUOTE_INVALID
    try:
        quote = Quote.from_payload(json.loads(_unb64(payload)))
    except (binascii.Error, ValueError, KeyError, TypeError, InvalidOperation):
        return QuoteProblem.QUOTE_INVALID
    if now >= quote.expires_at:
        return QuoteProblem.QUOTE_EXPIRED
    return quote


class QuoteSigner:
    """Issues and checks quotes with the configured secret and lifetime."""

    def __init__(self, secret: str, ttl_seconds: int) -> None:
        self._secret = secret
        self._ttl_seconds = ttl_seconds

    def issue(
        self,
        *,
        cart_id: str,
        cart_version: int,
        channel: str,
        currency: str,
        lines: tuple[QuoteLine, ...],
        promotion_ids: tuple[str, ...],
        loyalty_points: int,
        subtotal: Decimal,
        discount: Decimal,
        now: datetime | None = None,
    ) -> tuple[Quote, str]:
        moment = (now or datetime.now(UTC)).replace(microsecond=0)
        quote = Quote(
            cart_id=cart_id,
            cart_version=cart_version,
            channel=channel,
            currency=currency,
            lines=lines,
            promotion_ids=promotion_ids,
            loyalty_points=loyalty_points,
            subtotal=subtotal,
            discount=discount,
            total=subtotal - discount,
            expires_at=moment + timedelta(seconds=self._ttl_seconds),
        )
        return quote, sign(quote, self._secret)

    def verify(self, token: str, now: datetime | None = None) -> Quote | QuoteProblem:
        return verify(token, self._secret, now or datetime.now(UTC))
