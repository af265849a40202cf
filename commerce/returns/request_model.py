"""A return a customer starts from the app: what she asks and what is recorded of it.

A request holds its units against the order's return counters (store.py `OrderReturns`)
from the moment it is opened until it is received at a store, cancelled or expired; no money
moves until staff receive the goods (docs/returns.md "A return started from the app").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from commerce.returns.model import ReturnError


class RequestState(StrEnum):
    OPEN = "OPEN"  # the units are held; the customer brings or ships them back
    RECEIVED = "RECEIVED"  # staff took them back: the return (`return_id`) refunds
    CANCELLED = "CANCELLED"  # the customer withdrew it: the units are free again
    EXPIRED = "EXPIRED"  # not received in time: the units are free again


class ReturnMethod(StrEnum):
    BRING_TO_STORE = "BRING_TO_STORE"
    SHIP_BACK = "SHIP_BACK"


class ReturnReason(StrEnum):
    DAMAGED = "DAMAGED"
    DEFECTIVE = "DEFECTIVE"
    WRONG_ITEM = "WRONG_ITEM"
    NOT_AS_DESCRIBED = "NOT_AS_DESCRIBED"
    NO_LONGER_NEEDED = "NO_LONGER_NEEDED"
    OTHER = "OTHER"


@dataclass(frozen=True, slots=True)
class RequestLine:
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class RequestInput:
    order_id: str
    lines: tuple[RequestLine, ...]
    reason: ReturnReason
    method: ReturnMethod


@dataclass(frozen=True, slots=True)
class ReturnRequestRecord:
    id: str
    customer_id: str
    order_id: str
    lines: tuple[RequestLine, ...]
    reason: ReturnReason
    method: ReturnMethod
    state: RequestState
    created_at: datetime
    expires_at: datetime
    closed_at: datetime | None = None  # received, cancelled or expired
    return_id: str | None = None  # the return that received it
    store_id: str | None = None  # where it was received

    def state_at(self, now: datetime) -> RequestState:
        """An open request past its expiry is expired, whether or not the reconciler has
        written it down yet: its units already count for nothing (store.py)."""
        if self.state is RequestState.OPEN and now >= self.expires_at:
            return RequestState.EXPIRED
        return self.state


@dataclass(frozen=True, slots=True)
class RequestOutcome:
    record: ReturnRequestRecord | None
    replayed: bool = False
    errors: tuple[ReturnError, ...] = ()
