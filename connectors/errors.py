"""What can go wrong talking to an upstream, as the gateway needs to know it.

    UpstreamError                 any failure of one upstream call; carries `service`
    ├── UpstreamUnavailable       5xx, refused or reset connection, unreadable body or one
    │                             past the transport's size cap
    │   ├── CircuitOpen           CIRCUIT_OPEN: the breaker sent nothing (docs/resilience.md)
    │   └── UpstreamRejected      the vendor refused our request (4xx), or the transport
    │       │                     refused to send it (`sent=False`: a CR or LF in a header):
    │       │                     config or bug
    │       ├── OrderRejected     the vendor validated an order and refused to place it
    │       └── IdempotencyKeyReused  the key already placed a different order
    ├── UpstreamTimeout           no complete answer within the call's deadline
    └── UpstreamThrottled         429 or the vendor's own throttle signal; `retry_after`

`detail` is for logs only: vendor error bodies never reach a GraphQL client. `retryable`
says whether the same call could succeed if sent again; connectors/resilience decides
whether it is (the call's idempotency, its deadline, the retry budget).
"""

from __future__ import annotations


class UpstreamError(Exception):
    code = "UPSTREAM_UNAVAILABLE"
    retryable = True
    # the HTTP status of the vendor's answer, when the failure is one (UpstreamHttp sets it)
    status: int | None = None

    def __init__(self, service: str, operation: str, detail: str = "") -> None:
        super().__init__(f"{service} {operation} failed: {detail}" if detail else service)
        self.service = service
        self.operation = operation
        self.detail = detail

    @property
    def public_message(self) -> str:
        return f"The {self.service} service is unavailable."


class UpstreamUnavailable(UpstreamError):
    code = "UPSTREAM_UNAVAILABLE"

    def __init__(
        self, service: str, operation: str, detail: str = "", *, sent: bool = True
    ) -> None:
        """`sent=False`: no connection could be made (refused, unresolvable), so no byte of
        the request reached the service and even a write may be sent again."""
        super().__init__(service, operation, detail)
        self.sent = sent


class UpstreamRejected(UpstreamUnavailable):
    """Not retryable: the same request would be refused again."""

    retryable = False


class CircuitOpen(UpstreamUnavailable):
    """The service's circuit breaker is open: the call was not made at all."""

    code = "CIRCUIT_OPEN"
    retryable = False


class UpstreamTimeout(UpstreamError):
    code = "UPSTREAM_TIMEOUT"

    @property
    def public_message(self) -> str:
        return f"The {self.service} service did not answer in time."


class UpstreamThrottled(UpstreamError):
    code = "UPSTREAM_THROTTLED"

    def __init__(
        self,
        service: str,
        operation: str,
        detail: str = "",
        retry_after: float | None = None,
        *,
        retryable: bool = True,
    ) -> None:
        """`retry_after`: seconds the vendor asks us to wait, when it says. `retryable=False`
        for a limit no retry within one request can outlast (a daily allocation)."""
        super().__init__(service, operation, detail)
        self.retry_after = retry_after
        self.retryable = retryable

    @property
    def public_message(self) -> str:
        return f"The {self.service} service is throttling requests."


class OrderRejected(UpstreamRejected):
    """The vendor checked an order we asked it to place and refused it (Shopify userErrors).

    Not retryable as it stands; the vendor's reasons stay in `detail` for the logs.
    """

    code = "ORDER_REJECTED"

    @property
    def public_message(self) -> str:
        return f"The {self.service} service refused the order."


class IdempotencyKeyReused(UpstreamRejected):
    """The idempotency key already placed an order, from a different draft.

    A key names one checkout attempt; reusing it for other contents is the caller's bug,
    and the vendor keeps the first order. Retrying the same draft is what keys are for.
    """

    code = "IDEMPOTENCY_KEY_REUSED"

    @property
    def public_message(self) -> str:
        return "This order was already placed with different contents."


class PaymentDeclined(UpstreamRejected):
    """The card was declined (or its token refused): no money moved.

    `decline_code` is the vendor's reason (Square's CARD_DECLINED, CVV_FAILURE, ...), a
    stable code a shopper's app may act on ("check the security code"); the vendor's
    wording stays in `detail`.
    """

    code = "PAYMENT_DECLINED"

    def __init__(self, service: str, operation: str, decline_code: str, detail: str = "") -> None:
        super().__init__(service, operation, detail)
        self.decline_code = decline_code

    @property
    def public_message(self) -> str:
        return DECLINE_MESSAGES.get(self.decline_code, "The card was declined.")


DECLINE_MESSAGES = {
    "CARD_DECLINED": "The card was declined.",
    "CVV_FAILURE": "The card's security code was refused.",
    "ADDRESS_VERIFICATION_FAILURE": "The card's postal code was refused.",
    "INVALID_EXPIRATION": "The card's expiry date was refused.",
    "CARD_TOKEN_USED": "This card entry was already used: enter the card again.",
    "CARD_TOKEN_EXPIRED": "This card entry expired: enter the card again.",
    "INSUFFICIENT_FUNDS": "The card was declined for insufficient funds.",
    "CARD_EXPIRED": "The card has expired.",
    "INVALID_CARD": "The card details are not valid.",
    "NOT_FOUND": "This card entry is unknown: enter the card again.",
}
