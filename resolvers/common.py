"""Types and argument checks shared by every domain."""

from __future__ import annotations

from enum import Enum

import strawberry

from connectors import records
from engine.errors import BadUserInput

# A page larger than the limit is refused rather than silently truncated: a client asking
# for 1000 items should learn it at once, not discover missing rows later. The connections
# (products, orders) take theirs from the `max_page_size` setting; lists inside an object
# (a product's stores) have this one.
MAX_PAGE_SIZE = 100


@strawberry.enum(description="The upstream system an entity comes from.")
class System(Enum):
    SQUARE = "SQUARE"
    SHOPIFY = "SHOPIFY"
    SALESFORCE = "SALESFORCE"
    HUBSPOT = "HUBSPOT"


@strawberry.type(description="An amount in one currency; `amount` is a decimal string.")
class Money:
    amount: str
    currency: str

    @classmethod
    def from_record(cls, money: records.Money) -> Money:
        return cls(amount=format(money.amount, "f"), currency=money.currency)


@strawberry.type(description="This entity's id in one upstream system.")
class ExternalRef:
    system: System
    id: strawberry.ID

    @classmethod
    def from_record(cls, ref: records.ExternalRef) -> ExternalRef:
        return cls(system=System(ref.system.value), id=strawberry.ID(ref.id))


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


def check_first(first: int, limit: int = MAX_PAGE_SIZE, argument: str = "first") -> int:
    if not 0 <= first <= limit:
        raise BadUserInput(f"`{argument}` must be between 0 and {limit}.", field=argument)
    return first
