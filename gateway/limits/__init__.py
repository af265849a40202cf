"""Operation limits and protocol hygiene for /graphql (docs/security.md).

Parse: TokenLimitedParser. Validate: LimitedValidation (depth, aliases, directives,
introspection switch, suggestions, then cost). HTTP: BodySizeLimit, CsrfPrevention.
"""

from gateway.limits.body_size import PAYLOAD_TOO_LARGE, BodySizeLimit
from gateway.limits.cost import operation_cost
from gateway.limits.csrf import CSRF_PREVENTED, CsrfPrevention
from gateway.limits.parsing import TokenLimitedParser
from gateway.limits.policy import OperationLimits
from gateway.limits.refusal import QUERY_TOO_COMPLEX, too_complex
from gateway.limits.rules import INTROSPECTION_DISABLED, limit_rules
from gateway.limits.validation import LimitedValidation

__all__ = [
    "CSRF_PREVENTED",
    "INTROSPECTION_DISABLED",
    "PAYLOAD_TOO_LARGE",
    "QUERY_TOO_COMPLEX",
    "BodySizeLimit",
    "CsrfPrevention",
    "LimitedValidation",
    "OperationLimits",
    "TokenLimitedParser",
    "limit_rules",
    "operation_cost",
    "too_complex",
]
