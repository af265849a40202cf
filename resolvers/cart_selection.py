"""Whether a cart mutation's answer shows anything made from the cart's lines.

An add written at once (commerce/cart/service.py `_add_unread`) need not bring the cart's
lines back when its answer shows none of what they make: for a 50-line cart they are most
of the write's answer and of its decoding (bench/README.md, cart writes). Worked out once
per parsed operation and place (engine/operation_memo.py). Every field that could be
selected counts, whatever `@include`/`@skip` decide for this request's variables, so the
answer depends on the operation alone; a field added to Cart later needs the lines unless
it is listed here.
"""

from __future__ import annotations

from collections.abc import Iterable

from strawberry.types.nodes import SelectedField, Selection

from engine.context import Info
from engine.operation_memo import OperationMemo

# Cart fields answered from the cart's document without its lines (resolvers/cart_types.py)
LINELESS_CART_FIELDS = frozenset(
    {
        "__typename",
        "id",
        "version",
        "status",
        "createdAt",
        "updatedAt",
        "fulfillment",
        "loyaltyPoints",
    }
)

_ANSWERS_LINES: OperationMemo[bool] = OperationMemo()


def answers_lines(info: Info) -> bool:
    """Whether the payload this resolver returns shows its cart's lines or what they make."""
    where = tuple(key for key in info.path.as_list() if isinstance(key, str))
    return _ANSWERS_LINES.get(
        info.operation, where, lambda: _payload_answers_lines(info.selected_fields)
    )


def _payload_answers_lines(selections: Iterable[Selection]) -> bool:
    # the mutation's own field(s), then the payload's fields under them
    return any(_cart_under(selection.selections) for selection in selections)


def _cart_under(payload: Iterable[Selection]) -> bool:
    for selection in payload:
        if isinstance(selection, SelectedField):
            if selection.name == "cart" and _needs_lines(selection.selections):
                return True
        elif _cart_under(selection.selections):  # a fragment on the payload
            return True
    return False


def _needs_lines(cart: Iterable[Selection]) -> bool:
    for selection in cart:
        if isinstance(selection, SelectedField):
            if selection.name not in LINELESS_CART_FIELDS:
                return True
        elif _needs_lines(selection.selections):  # a fragment on Cart
            return True
    return False
