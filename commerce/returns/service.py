"""A return taken at a store, step by step, each step recorded before the next relies on it:

1. reserve: the order read from the system holding it, the lines checked against what is
   left to return, the refund priced (pricing.py), the return and the order's counters
   written in one transaction (store.py);
2. refund: RefundPayment on the order's payment under a key derived from the return, so a
   retry after a crash gets Square's first refund back, never a second one; an online
   order then records it on Shopify (refundCreate, @idempotent under a derived key). An
   online order Shopify's own gateway took the money for (Shopify Payments) is refunded
   by that refundCreate on its sale instead, under the same derived key;
3. restock: the units not marked damaged put back IN_STOCK at the receiving store, under a
   derived key too, and live stock subscribers told;
4. points: those earned on the refunded money taken back from the loyalty account, never
   past its balance (what cannot be taken back is recorded, not charged), derived key.

A return stopped by a crash and never retried is finished by the reconciler each gateway
runs (commerce/checkout/reconciler.py, `finish_unfinished`).

A customer's return request (requests.py) is received by `receive`: the same steps, keyed by
the request, its held units turned into returned ones in step 1's transaction.

The same idempotency key resumes from the last step recorded and answers the same return;
the same key for another request is refused (IDEMPOTENCY_KEY_REUSED).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal

from pymongo.errors import DuplicateKeyError, PyMongoError

from commerce.audit import AuditLog, OrderRead
from commerce.checkout.store import CheckoutStore
from commerce.errors import BadUserInput, Forbidden, Unauthenticated
from commerce.live.changes import StockChangeSink
from commerce.offers import OffersEngine
from commerce.offers.conditions import PricedLine
from commerce.order_changes import OrderChangeSink, announce_order_change
from commerce.order_lookup import SHOPIFY_ORDER_PREFIX
from commerce.principal import Principal, PrincipalKind
from commerce.returns.lines import check_lines, payment_of, read_order
from commerce.returns.model import (
    ReturnError,
    ReturnErrorCode,
    ReturnLine,
    ReturnOutcome,
    ReturnRecord,
    ReturnRefused,
    ReturnState,
)
from commerce.returns.pricing import kept_units, ordered_units, refund_due
from commerce.returns.request_model import ReturnRequestRecord
from commerce.returns.store import (
    OrderReturns,
    RequestNotOpen,
    ReturnStore,
    VersionMoved,
    return_id,
)
from connectors.errors import UpstreamError, UpstreamRejected
from connectors.ports import (
    EcommercePort,
    LoyaltyPort,
    PaymentsPort,
    PosPort,
    StockReturns,
    pos_system,
)
from connectors.records import Money, OrderRecord, RefundRequest, Restock

log = logging.getLogger(__name__)
SHOPIFY_TRANSACTION_PREFIX = "gid://shopify/OrderTransaction/"
MAX_KEY_LENGTH = 255
MAX_LINES = 100
# a reservation that keeps losing to other returns of the same order gives up
RESERVE_ATTEMPTS = 5


class ReturnService:
    def __init__(
        self,
        *,
        returns: ReturnStore,
        checkouts: CheckoutStore,
        pos: PosPort,
        loyalty: LoyaltyPort,
        ecommerce: EcommercePort,
        payments: PaymentsPort,
        stock: StockReturns | None,
        offers: OffersEngine,
        points_per_currency_unit: int,
        audit: AuditLog,
        stock_changes: StockChangeSink | None = None,
        order_changes: OrderChangeSink | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """`order_changes`: told of an order a return refunded, for its followers. `clock`:
        the time return requests' holds expire by (request_model.py)."""
        self._clock = clock
        self._audit = audit
        self._returns = returns
        self._checkouts = checkouts
        self._pos = pos
        self._loyalty = loyalty
        self._ecommerce = ecommerce
        self._payments = payments
        self._stock = stock
        self._offers = offers
        self._points_per_unit = points_per_currency_unit
        self._stock_changes = stock_changes
        self._order_changes = order_changes

    async def take_back(
        self, principal: Principal, order_id: str, lines: Sequence[ReturnLine], key: str
    ) -> ReturnOutcome:
        store_id = _receiving_store(principal)
        _check(lines, key)
        # staff reach a customer's order: on the audit log like a look-up, before it is read
        await self._audit.order_read(
            principal, OrderRead(order_id, None, "orderReturn", "mutation", "orderReturn")
        )
        record_id = return_id(key)
        fingerprint = _fingerprint(order_id, lines)
        return await self._reserve_and_finish(
            record_id, fingerprint, order_id, lines, store_id, principal
        )

    def now(self) -> datetime:
        return self._clock()

    async def receive(
        self, principal: Principal, request: ReturnRequestRecord, damaged: Collection[str]
    ) -> ReturnOutcome:
        """A customer's open return request received at the staff member's store: the
        units it holds become this return's (converted in the reservation's transaction,
        never counted twice), then refunded, restocked and the points taken back as any
        return. Once per request: the return's key is the request's id, so receiving it
        again, or two tills at once, answer the one return."""
        store_id = _receiving_store(principal)
        await self._audit.order_read(
            principal,
            OrderRead(
                request.order_id, None, "returnRequestReceive", "mutation", "returnRequestReceive"
            ),
        )
        lines = [ReturnLine(li.sku, li.quantity, li.sku in damaged) for li in request.lines]
        record_id = return_id(f"request\0{request.id}")
        fingerprint = _fingerprint(f"request\0{request.id}", [])
        return await self._reserve_and_finish(
            record_id, fingerprint, request.order_id, lines, store_id, principal, request.id
        )

    async def get(self, record_id: str) -> ReturnRecord | None:
        found = await self._returns.get(record_id)
        return None if found is None else found[0]

    async def finish_unfinished(self, older_than: datetime, limit: int) -> int:
        """The reconciler's pass: returns a crash stopped and nobody retried, finished as
        the retry would. A failure of one leaves it to the next pass."""
        found = await self._returns.unfinished(older_than, limit)
        for record in found:
            try:
                await self._finish(record)
            except (ReturnRefused, UpstreamError, PyMongoError) as exc:
                log.warning("return %s not finished yet: %s", record.id, exc)
        return len(found)

    async def _reserve_and_finish(
        self,
        record_id: str,
        fingerprint: str,
        order_id: str,
        lines: Sequence[ReturnLine],
        store_id: str,
        principal: Principal,
        receiving: str | None = None,
    ) -> ReturnOutcome:
        """The return reserved (or the one its key already made), then taken through the
        steps left: a refusal before the reservation leaves nothing, one after it the
        return as far as it got."""
        try:
            record, replayed = await self._reserve(
                record_id, fingerprint, order_id, lines, store_id, principal, receiving
            )
        except ReturnRefused as refused:
            return ReturnOutcome(None, replayed=False, errors=(refused.error,))
        try:
            record = await self._finish(record)
        except ReturnRefused as refused:
            return ReturnOutcome(record, replayed=replayed, errors=(refused.error,))
        return ReturnOutcome(record, replayed=replayed)

    async def _reserve(
        self,
        record_id: str,
        fingerprint: str,
        order_id: str,
        lines: Sequence[ReturnLine],
        store_id: str,
        principal: Principal,
        receiving: str | None = None,
    ) -> tuple[ReturnRecord, bool]:
        for _ in range(RESERVE_ATTEMPTS):
            found = await self._returns.get(record_id)
            if found is not None:
                record, first = found
                if first != fingerprint:
                    raise ReturnRefused(
                        ReturnError(
                            ReturnErrorCode.IDEMPOTENCY_KEY_REUSED,
                            "This idempotency key was used for another return.",
                            ("idempotencyKey",),
                        )
                    )
                return record, True
            order = await read_order(self._pos, self._ecommerce, order_id)
            before = await self._returns.order(order_id)
            try:
                record = await self._price(record_id, order, before, lines, store_id, receiving)
            except ReturnRefused:
                if await self._returns.get(record_id) is not None:
                    continue  # a twin of this key reserved the units meanwhile: its answer
                raise
            try:
                await self._returns.reserve(
                    record, fingerprint, before, principal.subject, receiving, self.now()
                )
            except (VersionMoved, DuplicateKeyError):
                continue  # another return of the order (or this one's twin) came first
            except RequestNotOpen:
                # received by a twin (its return answers), else cancelled or expired
                if (found := await self._returns.get(record_id)) is not None:
                    return found[0], True
                raise ReturnRefused(
                    ReturnError(
                        ReturnErrorCode.REQUEST_NOT_OPEN,
                        "This return request is no longer open.",
                        ("id",),
                    )
                ) from None
            return record, False
        raise ReturnRefused(
            ReturnError(
                ReturnErrorCode.QUANTITY_EXCEEDED,
                "Other returns of this order keep changing it; try again.",
            )
        )

    async def _price(
        self,
        record_id: str,
        order: OrderRecord,
        before: OrderReturns,
        lines: Sequence[ReturnLine],
        store_id: str,
        receiving: str | None,
    ) -> ReturnRecord:
        # the units open requests hold are not left to return, but those of the request
        # this return receives are its own
        check_lines(order, before.left(ordered_units(order), self.now(), but=receiving), lines)
        payment_id = payment_of(order)
        returning: dict[str, int] = {}
        for line in lines:
            returning[line.sku] = returning.get(line.sku, 0) + line.quantity
        kept = kept_units(order, before.returned, returning)
        refund = refund_due(order, before.refunded, kept, await self._kept_discount(order, kept))
        return ReturnRecord(
            id=record_id,
            order_id=order.ref.id,
            store_id=store_id,
            lines=tuple(lines),
            refund=refund,
            currency=order.total.currency,
            payment_id=payment_id,
            state=ReturnState.RESERVED,
        )

    async def _kept_discount(self, order: OrderRecord, kept: dict[str, int]) -> Decimal:
        """What the order's own promotions still take off the lines kept."""
        subtotal = sum((line.total.amount for line in order.lines), Decimal(0))
        if subtotal <= order.total.amount or not kept:
            return Decimal(0)  # no promotion on the order, or nothing kept to price
        checkout = await self._checkouts.by_order(order.ref.id)
        if checkout is None or not checkout.promotion_ids:
            return Decimal(0)
        products = await self._ecommerce.products_by_sku(list(kept))
        prices = {line.sku: line.unit_price.amount for line in order.lines if line.sku}
        priced = tuple(
            PricedLine(
                sku,
                units,
                prices[sku],
                products[sku].category if sku in products else None,
            )
            for sku, units in kept.items()
        )
        discount = await self._offers.discount_kept(
            promotion_ids=checkout.promotion_ids,
            lines=priced,
            channel=checkout.channel,
            store_id=checkout.draft.location_id,
            customer_id=checkout.customer_id,
            currency=order.total.currency,
            at=order.created_at,
        )
        # never more than the order got
        return min(discount, subtotal - order.total.amount)

    async def _finish(self, record: ReturnRecord) -> ReturnRecord:
        if record.state is ReturnState.RESERVED:
            refund_id = await self._refund(record)
            await self._returns.refunded(record.id, refund_id)
        if record.state is not ReturnState.COMPLETED:
            square_paid_online = record.order_id.startswith(SHOPIFY_ORDER_PREFIX) and not (
                _paid_through_shop(record)
            )
            if not record.shop_recorded and square_paid_online:
                await self._returns.shop_recorded(record.id, await self._record_on_shop(record))
            if not record.restocked:
                await self._restock(record)
                await self._returns.restocked(record.id)
            points = await self._points_back(record)
            await self._returns.completed(record.id, points)
            await announce_order_change(self._order_changes, record.order_id)
        found = await self._returns.get(record.id)
        assert found is not None
        return found[0]

    async def _refund(self, record: ReturnRecord) -> str:
        if record.refund <= 0:
            return ""  # the kept lines cost what was paid: nothing to give back
        if _paid_through_shop(record):
            return await self._refund_through_shop(record)
        request = RefundRequest(
            idempotency_key=_derived("og-ret-", record.id),
            payment_id=record.payment_id,
            amount=Money(record.refund, record.currency),
            reason="omnigate return",
        )
        try:
            refund = await self._payments.refund(request)
        except UpstreamRejected as exc:
            log.warning("refund of return %s refused: %s", record.id, exc)
            await self._returns.refund_refused(record.id)
            raise ReturnRefused(
                ReturnError(
                    ReturnErrorCode.REFUND_REFUSED,
                    "The payment could not be refunded; the return is kept and can be retried "
                    "with the same key.",
                )
            ) from exc
        return refund.ref.id

    async def _refund_through_shop(self, record: ReturnRecord) -> str:
        """The money back through the online store's own gateway (Shopify Payments): a
        refundCreate on its sale, once per return (Shopify's idempotency key)."""
        refused = ReturnRefused(
            ReturnError(
                ReturnErrorCode.REFUND_REFUSED,
                "The online store could not refund the payment; the return is kept and can "
                "be retried with the same key.",
            )
        )
        try:
            refund_id = await self._shop_refund(record)
        except UpstreamRejected as exc:
            log.warning("refund of return %s refused by the shop: %s", record.id, exc)
            await self._returns.refund_refused(record.id)
            raise refused from exc
        if refund_id is None:  # the sale is gone from the order: nothing to refund against
            await self._returns.refund_refused(record.id)
            raise refused
        return refund_id

    async def _record_on_shop(self, record: ReturnRecord) -> str | None:
        """The online order shows the refund (Shopify: a REFUND transaction of its Square
        sale, so its financial status reads PARTIALLY_REFUNDED or REFUNDED). A refusal is
        logged and not retried: the money already went back, only the record is missing."""
        if record.refund <= 0:
            return None
        try:
            return await self._shop_refund(record)
        except UpstreamRejected as exc:
            log.warning("refund of return %s not recorded on the shop: %s", record.id, exc)
            return None

    async def _shop_refund(self, record: ReturnRecord) -> str | None:
        """refundCreate for the return on the order's sale that `record.payment_id` names:
        a record of Square's refund, or Shopify's own refund of a Shopify Payments sale.
        One key per return either way, so Shopify never refunds or records it twice."""
        return await self._ecommerce.record_refund(
            record.order_id,
            record.payment_id,
            Money(record.refund, record.currency),
            _derived("og-ret-shop-", record.id, 64),
            note="omnigate return",
        )

    async def _restock(self, record: ReturnRecord) -> None:
        units: dict[str, int] = {}
        for line in record.lines:
            if not line.damaged:
                units[line.sku] = units.get(line.sku, 0) + line.quantity
        if not units or self._stock is None:
            return
        await self._stock.restock(
            Restock(
                idempotency_key=_derived("og-restock-", record.id),
                location_id=record.store_id,
                quantities=tuple(sorted(units.items())),
            )
        )
        if self._stock_changes is not None:
            await self._stock_changes.stock_changed(record.store_id, list(units))

    async def _points_back(self, record: ReturnRecord) -> int:
        """Points earned on the refunded money, never past what the order earned nor past
        the account's balance: the shortfall is recorded as not recovered."""
        checkout = await self._checkouts.by_order(record.order_id)
        if checkout is None or not checkout.points_earned or checkout.loyalty_account_id is None:
            return 0
        account_id = checkout.loyalty_account_id
        whole = record.refund.to_integral_value(rounding=ROUND_FLOOR)
        due = int(whole) * self._points_per_unit
        balance = await self._balance(checkout.draft.customer_id(pos_system(self._pos)), account_id)
        take = await self._returns.plan_points(
            record.id, record.order_id, due, balance, checkout.points_earned
        )
        if take > 0:
            await self._loyalty.adjust_loyalty_points(
                account_id,
                -take,
                idempotency_key=_derived("og-ret-pts-", record.id),
                reason="omnigate return",
            )
        return take

    async def _balance(self, square_customer_id: str | None, account_id: str) -> int:
        if square_customer_id is None:
            return 0
        accounts = await self._loyalty.loyalty_accounts([square_customer_id])
        return next((a.balance for a in accounts if a.ref.id == account_id), 0)


def _paid_through_shop(record: ReturnRecord) -> bool:
    """Whether the online store's own gateway took the money (the payment is a Shopify
    sale transaction), rather than Square."""
    return record.payment_id.startswith(SHOPIFY_TRANSACTION_PREFIX)


def _receiving_store(principal: Principal) -> str:
    if principal.kind is PrincipalKind.STAFF and principal.store_id is not None:
        return principal.store_id
    if principal.kind in (PrincipalKind.ANONYMOUS, PrincipalKind.DEVELOPER):
        raise Unauthenticated("A return is taken by staff at a store.")
    raise Forbidden("A return is taken by staff at a store.")


def _check(lines: Sequence[ReturnLine], key: str) -> None:
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise BadUserInput(
            f"`idempotencyKey` must be 1 to {MAX_KEY_LENGTH} characters.", field="idempotencyKey"
        )
    if not 1 <= len(lines) <= MAX_LINES:
        raise BadUserInput(f"A return takes 1 to {MAX_LINES} lines.", field="lines")
    for line in lines:
        if line.quantity < 1:
            raise BadUserInput("Each line returns at least one unit.", field="lines")


def _fingerprint(order_id: str, lines: Sequence[ReturnLine]) -> str:
    described = sorted(f"{line.sku}\0{line.quantity}\0{line.damaged}" for line in lines)
    return hashlib.sha256("\n".join([order_id, *described]).encode()).hexdigest()


def _derived(prefix: str, record_id: str, length: int = 45) -> str:
    """A vendor key of the return: Square's keys are at most 45 characters."""
    return f"{prefix}{record_id}"[:length]
