"""A customer starts a return from the app; staff receive it; she may cancel it; it expires.

| principal                       | open, cancel              | receive                         |
|---------------------------------|---------------------------|---------------------------------|
| CUSTOMER                        | her own orders, requests  | FORBIDDEN                       |
| STAFF (any store)               | FORBIDDEN                 | any request, audited            |
| KIOSK (with or without hand-off) | FORBIDDEN                | FORBIDDEN                       |
| ANONYMOUS, DEVELOPER            | UNAUTHENTICATED           | UNAUTHENTICATED                 |

Opening holds the units on the order's return counters (request_store.py), exactly once per
(customer, idempotency key); no money moves. Another customer's order is ORDER_NOT_FOUND,
another customer's request REQUEST_NOT_FOUND, exactly as ones that do not exist. Receiving
is a return like any other (service.py `receive`) that takes the request's units over.
An open request past `returns.request_expiry_days` holds nothing from that moment (the
counters compare the expiry with the clock); the reconciler's pass writes it EXPIRED and
removes its hold (`finish_unfinished`), and every read shows it EXPIRED before that.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from pymongo.errors import DuplicateKeyError, PyMongoError

from commerce.access import NOT_A_CUSTOMER
from commerce.customers.profiles import CustomerProfiles
from commerce.errors import BadUserInput, Forbidden, Unauthenticated
from commerce.principal import Principal, PrincipalKind
from commerce.returns.lines import check_lines, order_not_found, payment_of, read_order
from commerce.returns.model import (
    ReturnError,
    ReturnErrorCode,
    ReturnOutcome,
    ReturnRefused,
)
from commerce.returns.pricing import ordered_units
from commerce.returns.request_model import (
    RequestInput,
    RequestOutcome,
    RequestState,
    ReturnRequestRecord,
)
from commerce.returns.request_store import RequestStore, request_id
from commerce.returns.service import MAX_KEY_LENGTH, MAX_LINES, RESERVE_ATTEMPTS, ReturnService
from commerce.returns.store import ReturnStore, VersionMoved
from connectors.ports import EcommercePort, PosPort
from connectors.records import OrderRecord

log = logging.getLogger(__name__)
# longer than any id either system gives out (commerce/order_lookup.py), or than ours
MAX_ID_LENGTH = 128


class ReturnRequests:
    def __init__(
        self,
        *,
        requests: RequestStore,
        returns: ReturnStore,
        service: ReturnService,
        customers: CustomerProfiles,
        pos: PosPort,
        ecommerce: EcommercePort,
        expiry: timedelta,
    ) -> None:
        self._requests = requests
        self._returns = returns
        self._service = service
        self._customers = customers
        self._pos = pos
        self._ecommerce = ecommerce
        self._expiry = expiry

    def _now(self) -> datetime:
        # MongoDB keeps milliseconds: a replay answers exactly what the first call did
        now = self._service.now()
        return now.replace(microsecond=now.microsecond // 1000 * 1000)

    async def open(self, principal: Principal, asked: RequestInput, key: str) -> RequestOutcome:
        customer_id = _customer(principal)
        _check(asked, key)
        record_id = request_id(customer_id, key)
        fingerprint = _fingerprint(asked)
        try:
            if not asked.order_id.strip() or len(asked.order_id) > MAX_ID_LENGTH:
                raise order_not_found()
            for _ in range(RESERVE_ATTEMPTS):
                found = await self._requests.get(record_id)
                if found is not None:
                    return _replayed(found, fingerprint)
                order = await self._own_order(customer_id, asked.order_id)
                before = await self._returns.order(order.ref.id)
                now = self._now()
                try:
                    check_lines(order, before.left(ordered_units(order), now), asked.lines)
                    payment_of(order)
                except ReturnRefused:
                    if await self._requests.get(record_id) is not None:
                        continue  # a twin of this key held the units meanwhile: its answer
                    raise
                record = ReturnRequestRecord(
                    id=record_id,
                    customer_id=customer_id,
                    order_id=order.ref.id,
                    lines=asked.lines,
                    reason=asked.reason,
                    method=asked.method,
                    state=RequestState.OPEN,
                    created_at=now,
                    expires_at=now + self._expiry,
                )
                try:
                    await self._requests.open(record, fingerprint, before)
                except (VersionMoved, DuplicateKeyError):
                    continue  # a return or request of the order (or this one's twin) came first
                return RequestOutcome(record)
            raise _refused(
                ReturnErrorCode.QUANTITY_EXCEEDED,
                "Other returns of this order keep changing it; try again.",
            )
        except ReturnRefused as refused:
            return RequestOutcome(None, errors=(refused.error,))

    async def cancel(self, principal: Principal, record_id: str) -> RequestOutcome:
        customer_id = _customer(principal)
        try:
            record = await self._own_request(customer_id, record_id)
            if record.state is RequestState.CANCELLED:
                return RequestOutcome(record, replayed=True)
            closed = await self._requests.close(record.id, RequestState.CANCELLED, self._now())
            if closed is not None:
                return RequestOutcome(closed)
            # received, expired, or cancelled by a twin since it was read
            record = await self._own_request(customer_id, record_id)
            if record.state is RequestState.CANCELLED:
                return RequestOutcome(record, replayed=True)
            raise _not_open()
        except ReturnRefused as refused:
            return RequestOutcome(None, errors=(refused.error,))

    async def receive(
        self, principal: Principal, record_id: str, damaged: Sequence[str]
    ) -> ReturnOutcome:
        """Staff at any store take the goods of a request back (service.py `receive`)."""
        _staff(principal)
        try:
            found = await self._requests.get(record_id) if len(record_id) <= 64 else None
            if found is None:
                raise _not_found()
            record = found[0]
            if record.state_at(self._now()) not in (RequestState.OPEN, RequestState.RECEIVED):
                raise _not_open()
            skus = {line.sku for line in record.lines}
            for index, sku in enumerate(damaged):
                if sku not in skus:
                    raise ReturnRefused(
                        ReturnError(
                            ReturnErrorCode.LINE_NOT_IN_ORDER,
                            f"{sku} is not on this return request.",
                            ("damaged", str(index)),
                        )
                    )
        except ReturnRefused as refused:
            return ReturnOutcome(None, replayed=False, errors=(refused.error,))
        return await self._service.receive(principal, record, frozenset(damaged))

    async def of_customer(self, customer_id: str) -> list[ReturnRequestRecord]:
        """Her requests, newest first; who may ask was decided by the caller (a customer's
        own profile, or staff reading it, audited)."""
        return await self._requests.of_customer(customer_id)

    async def of_orders(self, order_ids: Sequence[str]) -> dict[str, list[ReturnRequestRecord]]:
        """Each order's requests, newest first; who may see the order was decided by the
        caller (its owner, or staff, audited)."""
        return await self._requests.of_orders(order_ids)

    def now(self) -> datetime:
        return self._now()

    async def finish_unfinished(self, older_than: datetime, limit: int) -> int:
        """The reconciler's pass: open requests past their expiry written EXPIRED and their
        holds removed (they already hold nothing). A failure leaves it to the next pass."""
        now = self._now()
        due = await self._requests.expired(now, limit)
        for record_id in due:
            try:
                await self._requests.close(record_id, RequestState.EXPIRED, now)
            except PyMongoError as exc:
                log.warning("return request %s not expired yet: %s", record_id, exc)
        return len(due)

    async def _own_order(self, customer_id: str, order_id: str) -> OrderRecord:
        """Her order, read with her profile; another's answers as one that does not exist."""
        order, profile = await asyncio.gather(
            read_order(self._pos, self._ecommerce, order_id), self._customers.one(customer_id)
        )
        refs = set() if profile is None else set(profile.profile.external_refs)
        if order.customer_ref is None or order.customer_ref not in refs:
            raise order_not_found()
        return order

    async def _own_request(self, customer_id: str, record_id: str) -> ReturnRequestRecord:
        found = await self._requests.get(record_id) if len(record_id) <= 64 else None
        if found is None or found[0].customer_id != customer_id:
            raise _not_found()
        record = found[0]
        if record.state_at(self._now()) is RequestState.EXPIRED:
            raise _not_open()
        if record.state is RequestState.RECEIVED:
            raise _not_open()
        return record


def _customer(principal: Principal) -> str:
    if principal.kind is PrincipalKind.CUSTOMER and principal.subject is not None:
        return principal.subject
    if principal.kind in NOT_A_CUSTOMER:
        raise Unauthenticated("A return request is the signed-in customer's own.")
    raise Forbidden("A return request is started in the customer's own app.")


def _staff(principal: Principal) -> None:
    if principal.kind is PrincipalKind.STAFF and principal.store_id is not None:
        return
    if principal.kind in NOT_A_CUSTOMER:
        raise Unauthenticated("A return request is received by staff at a store.")
    raise Forbidden("A return request is received by staff at a store.")


def _check(asked: RequestInput, key: str) -> None:
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise BadUserInput(
            f"`idempotencyKey` must be 1 to {MAX_KEY_LENGTH} characters.", field="idempotencyKey"
        )
    if not 1 <= len(asked.lines) <= MAX_LINES:
        raise BadUserInput(f"A return request takes 1 to {MAX_LINES} lines.", field="lines")
    if any(line.quantity < 1 for line in asked.lines):
        raise BadUserInput("Each line returns at least one unit.", field="lines")


def _fingerprint(asked: RequestInput) -> str:
    described = sorted(f"{line.sku}\0{line.quantity}" for line in asked.lines)
    parts = [asked.order_id, asked.reason.value, asked.method.value, *described]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _replayed(found: tuple[ReturnRequestRecord, str], fingerprint: str) -> RequestOutcome:
    record, first = found
    if first != fingerprint:
        raise _refused(
            ReturnErrorCode.IDEMPOTENCY_KEY_REUSED,
            "This idempotency key was used for another return request.",
            "idempotencyKey",
        )
    return RequestOutcome(record, replayed=True)


def _refused(code: ReturnErrorCode, message: str, *field: str) -> ReturnRefused:
    return ReturnRefused(ReturnError(code, message, tuple(field) or None))


def _not_found() -> ReturnRefused:
    return _refused(
        ReturnErrorCode.REQUEST_NOT_FOUND, "No return request of yours has this id.", "id"
    )


def _not_open() -> ReturnRefused:
    return _refused(
        ReturnErrorCode.REQUEST_NOT_OPEN,
        "This return request is no longer open (received, cancelled or expired).",
        "id",
    )
