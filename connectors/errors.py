"""What can go wrong talking to an upstream, as the gateway needs to know it.

    UpstreamError                 any failure of one upstream call; carries `service`
    ├── UpstreamUnavailable       5xx, refused or reset connection, unreadable body
    │   └── UpstreamRejected      the vendor refused our request (4xx): config or bug
    ├── UpstreamTimeout           no complete answer within the call's deadline
    └── UpstreamThrottled         429 or the vendor's own throttle signal; `retry_after`

`detail` is for logs only: vendor error bodies never reach a GraphQL client.
"""

from __future__ import annotations


class UpstreamError(Exception):
    code = "UPSTREAM_UNAVAILABLE"

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


class UpstreamRejected(UpstreamUnavailable):
    """Not retryable: the same request would be refused again."""


class UpstreamTimeout(UpstreamError):
    code = "UPSTREAM_TIMEOUT"

    @property
    def public_message(self) -> str:
        return f"The {self.service} service did not answer in time."


class UpstreamThrottled(UpstreamError):
    code = "UPSTREAM_THROTTLED"

    def __init__(
        self, service: str, operation: str, detail: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(service, operation, detail)
        self.retry_after = retry_after

    @property
    def public_message(self) -> str:
        return f"The {self.service} service is throttling requests."
