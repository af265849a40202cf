"""`customers(search:)`: staff finding a customer on the floor (commerce/customers/search.py
decides who may, spends the budget and audits the search; each customer answered is a
staff read of that customer, audited as `customer(id:)` is)."""

from __future__ import annotations

import asyncio

import strawberry

from commerce.customers.search import CustomerSearchRecord, SearchKey, pick_search
from engine.context import Info
from resolvers.customers import Customer, customer_fields


@strawberry.input(
    one_of=True,
    description="Exactly one key. A phone is matched in E.164 whatever its spacing, dashes, "
    "brackets or prefix (+1, 1, 001); a number without a country code is read as a US one.",
)
class CustomerSearchInput:
    email: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    loyalty_card: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="The POS loyalty account id on the card."
    )
    pos_customer_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="The POS customer id (on a receipt)."
    )


def _given(value: str | None) -> str | None:
    return value if isinstance(value, str) else None


@strawberry.type
class CustomerSearchQueries:
    @strawberry.field(
        description="Staff only: the customers (CRM contacts, merged profiles) matching one "
        "key, at most 20, by id; [] when none. Every search is audited (its term masked and "
        "hashed) and so is every customer answered; RATE_LIMITED past the staff member's "
        "search budget. Anyone else: FORBIDDEN."
    )
    async def customers(self, info: Info, search: CustomerSearchInput) -> list[Customer] | None:
        wanted = pick_search(
            email=_given(search.email),
            phone=_given(search.phone),
            loyalty_card=_given(search.loyalty_card),
            pos_customer_id=_given(search.pos_customer_id),
        )
        ids = await info.context.services.customer_search.find(
            info.context.principal, wanted, lambda term: _record(info, wanted.key, term)
        )
        found = await asyncio.gather(
            *(Customer.resolve_reference(info, strawberry.ID(i)) for i in ids)
        )
        return [customer for customer in found if customer is not None]


def _record(info: Info, key: SearchKey, term: str) -> CustomerSearchRecord:
    operation = info.operation
    return CustomerSearchRecord(
        key=key.value,
        term=term,
        operation_name=operation.name.value if operation.name else None,
        operation_type=operation.operation.value,
        path=".".join(str(part) for part in info.path.as_list()),
        fields=sorted(customer_fields(info.selected_fields)),
    )
