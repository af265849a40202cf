"""Operation limits and protocol hygiene for /graphql (docs/security.md).

Parse and validate: LimitedDocument (a token limit; depth, aliases, directives,
introspection switch, suggestions, then cost). HTTP: AcceptNegotiation (media_types.py),
BodySizeLimit, CsrfPrevention. Every JSON a client sends: json_body.py (the depth bound);
every websocket message: socket_messages.py (4400 for a malformed one).
Per request, once the principal is known: admission.py (RateLimiter, then persisted
queries from gateway.persisted), over HTTP and websockets (socket_admission.py).
"""

from gateway.limits.accept import NOT_ACCEPTABLE, AcceptNegotiation
from gateway.limits.body_size import PAYLOAD_TOO_LARGE, BodySizeLimit
from gateway.limits.client_address import client_address
from gateway.limits.cost import operation_cost
from gateway.limits.csrf import CSRF_PREVENTED, CsrfPrevention
from gateway.limits.document import LimitedDocument
from gateway.limits.http_refusal import Refusal
from gateway.limits.policy import OperationLimits
from gateway.limits.rate_limit import RATE_LIMITED, RateLimiter
from gateway.limits.refusal import QUERY_TOO_COMPLEX, too_complex
from gateway.limits.rules import INTROSPECTION_DISABLED, limit_rules

__all__ = [
    "CSRF_PREVENTED",
    "INTROSPECTION_DISABLED",
    "NOT_ACCEPTABLE",
    "PAYLOAD_TOO_LARGE",
    "QUERY_TOO_COMPLEX",
    "RATE_LIMITED",
    "AcceptNegotiation",
    "BodySizeLimit",
    "CsrfPrevention",
    "LimitedDocument",
    "OperationLimits",
    "RateLimiter",
    "Refusal",
    "client_address",
    "limit_rules",
    "operation_cost",
    "too_complex",
]
