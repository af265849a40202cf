"""Opening after-sales requests, moving their status, reading them: the rules.

| principal                     | open                                  | set status       |
|-------------------------------|---------------------------------------|------------------|
| CUSTOMER                      | for themselves, about their own order | FORBIDDEN        |
|                               | or any product (APP)                  |                  |
| STAFF (any store)             | for a named customer (STORE), audited | any, audited     |
| KIOSK, with or without hand-off | FORBIDDEN                           | FORBIDDEN        |
| ANONYMOUS, DEVELOPER          | UNAUTHENTICATED                       | UNAUTHENTICATED  |

Opening is exactly once per (customer, idempotency key): the key is claimed in MongoDB with
the fingerprint of what was asked (store.py), then the CRM upserts the request by an
external id derived from it, so a retry after a lost answer or a crash finds the one it
made, and the same key for another request is IDEMPOTENCY_KEY_REUSED. Another customer's
order is ORDER_NOT_FOUND exactly as one that does not exist. A CRM that fails leaves
nothing opened: the answer is an UPSTREAM error to retry with the same key.
"""

from __future__ import annotations

import hashlib
import re
from contextlib import suppress

from pymongo.errors import PyMongoError

from commerce.access import NOT_A_CUSTOMER
from commerce.after_sales.model import (
    RequestErrorCode,
    RequestInput,
    RequestOutcome,
    RequestRefused,
    refused,
)
from commerce.after_sales.store import ClaimStore, request_key
from commerce.audit import AfterSalesAction, AuditLog
from commerce.customers.profile import CustomerProfile
from commerce.customers.profiles import CustomerProfiles
from commerce.errors import Forbidden, Unauthenticated
from commerce.order_lookup import SHOPIFY_ORDER_PREFIX
from commerce.principal import Principal, PrincipalKind
from connectors.errors import UpstreamError
from connectors.ports import AfterSalesPort, EcommercePort, PosPort
from connectors.records import (
    AfterSalesChannel,
    AfterSalesDraft,
    AfterSalesStatus,
    ExternalRef,
    OrderRecord,
)

MAX_DESCRIPTION = 2000
MAX_KEY_LENGTH = 255
MAX_ID_LENGTH = 128
_SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class AfterSales:
    def __init__(
        self,
        *,
        crm: AfterSalesPort | None,
        claims: ClaimStore,
        customers: CustomerProfiles,
        pos: PosPort,
        ecommerce: EcommercePort,
        audit: AuditLog,
    ) -> None:
        self._crm = crm
        self._claims = claims
        self._customers = customers
        self._pos = pos
        self._ecommerce = ecommerce
        self._audit = audit

    @property
    def supported(self) -> bool:
        return self._crm is not None

    async def open(self, principal: Principal, asked: RequestInput, key: str) -> RequestOutcome:
        try:
            customer_id, channel = _opener(principal, asked.customer_id)
            _check(asked, key, customer_id)
            crm = self._crm
            if crm is None:
                raise _unsupported()
            if principal.kind is PrincipalKind.STAFF:
                # on the log before anything of the customer's is read or written
                await self._audit.after_sales(
                    principal, AfterSalesAction("after_sales.open", customer_id)
                )
            return await self._open(crm, principal, asked, key, customer_id, channel)
        except RequestRefused as refusal:
            return RequestOutcome(None, errors=(refusal.error,))

    async def set_status(
        self, principal: Principal, request_id: str, status: AfterSalesStatus
    ) -> RequestOutcome:
        if principal.kind in NOT_A_CUSTOMER:
            raise Unauthenticated("Changing a request's status needs a staff token.")
        if principal.kind is not PrincipalKind.STAFF:
            raise Forbidden("Only staff change an after-sales request's status.")
        try:
            if status is AfterSalesStatus.UNKNOWN:
                raise refused(RequestErrorCode.INVALID_STATUS, "UNKNOWN cannot be set.", "status")
            crm = self._crm
            if crm is None:
                raise _unsupported()
            await self._audit.after_sales(
                principal,
                AfterSalesAction("after_sales.status", None, request_id, status.value),
            )
            try:
                record = await crm.set_request_status(request_id, status)
            except UpstreamError as exc:
                raise _upstream(exc) from exc
            if record is None:
                raise refused(RequestErrorCode.REQUEST_NOT_FOUND, "No request has this id.", "id")
            return RequestOutcome(record)
        except RequestRefused as refusal:
            return RequestOutcome(None, errors=(refusal.error,))

    async def _open(
        self,
        crm: AfterSalesPort,
        principal: Principal,
        asked: RequestInput,
        key: str,
        customer_id: str,
        channel: AfterSalesChannel,
    ) -> RequestOutcome:
        profile = await self._profile(customer_id)
        contacts = profile.refs_in(crm.system)
        if not contacts:
            raise refused(
                RequestErrorCode.NOT_IN_CRM,
                "This customer has no record in the CRM to open a request on.",
                "customerId",
            )
        await self._check_subject(profile, asked)
        external_key = request_key(customer_id, key)
        fingerprint = _fingerprint(asked, channel)
        try:
            claim = await self._claims.claim(
                external_key, fingerprint, customer_id, principal.subject or ""
            )
        except PyMongoError as exc:
            raise refused(
                RequestErrorCode.UPSTREAM,
                "The request cannot be recorded right now; retry with the same key.",
            ) from exc
        if claim.fingerprint != fingerprint:
            raise refused(
                RequestErrorCode.IDEMPOTENCY_KEY_REUSED,
                "This idempotency key was used for another request.",
                "idempotencyKey",
            )
        try:
            if claim.request_id is not None:
                # opened before: answer it as the CRM has it now, never write it again
                known = await crm.request(claim.request_id)
                if known is not None:
                    return RequestOutcome(known, replayed=True)
            record, created = await crm.open_request(
                AfterSalesDraft(
                    key=external_key,
                    customer_ref=ExternalRef(crm.system, contacts[0]),
                    kind=asked.kind,
                    description=asked.description.strip(),
                    channel=channel,
                    order_id=asked.order_id,
                    sku=asked.sku,
                )
            )
        except UpstreamError as exc:
            raise _upstream(exc) from exc
        # if this write fails, the CRM has it under the key: a retry's upsert finds it
        with suppress(PyMongoError):
            await self._claims.opened(external_key, record.ref.id)
        return RequestOutcome(record, replayed=not created)

    async def _profile(self, customer_id: str) -> CustomerProfile:
        try:
            read = await self._customers.one(customer_id)
        except UpstreamError as exc:
            raise _upstream(exc) from exc
        if read is None:
            raise refused(
                RequestErrorCode.CUSTOMER_NOT_FOUND, "No customer has this id.", "customerId"
            )
        return read.profile

    async def _check_subject(self, profile: CustomerProfile, asked: RequestInput) -> None:
        """The order is the customer's and holds the SKU; a SKU alone is a product."""
        try:
            if asked.order_id is not None:
                order = await self._order(asked.order_id)
                if order is None or order.customer_ref not in set(profile.external_refs):
                    raise refused(
                        RequestErrorCode.ORDER_NOT_FOUND,
                        "No order of this customer has this id.",
                        "orderId",
                    )
                if asked.sku is not None and asked.sku not in {li.sku for li in order.lines}:
                    raise refused(
                        RequestErrorCode.SKU_NOT_IN_ORDER, "The order has no such line.", "sku"
                    )
            elif asked.sku is not None:
                found = await self._ecommerce.products_by_sku([asked.sku])
                if asked.sku not in found:
                    raise refused(
                        RequestErrorCode.PRODUCT_NOT_FOUND, "No product has this SKU.", "sku"
                    )
        except UpstreamError as exc:
            raise _upstream(exc) from exc

    async def _order(self, order_id: str) -> OrderRecord | None:
        if order_id.startswith(SHOPIFY_ORDER_PREFIX):
            return await self._ecommerce.order(order_id)
        return await self._pos.order(order_id)


def _opener(principal: Principal, customer_id: str | None) -> tuple[str, AfterSalesChannel]:
    """Whose request it is and where it comes from; refusals before anything is read."""
    if principal.kind is PrincipalKind.STAFF:
        if customer_id is None or not customer_id.strip():
            raise refused(
                RequestErrorCode.CUSTOMER_REQUIRED,
                "Staff open a request for a customer: give `customerId`.",
                "customerId",
            )
        return customer_id, AfterSalesChannel.STORE
    if principal.kind is PrincipalKind.CUSTOMER and principal.subject is not None:
        if customer_id is not None and customer_id != principal.subject:
            raise Forbidden("A customer opens requests for themselves only.")
        return principal.subject, AfterSalesChannel.APP
    if principal.kind in NOT_A_CUSTOMER:
        raise Unauthenticated("Opening a request needs a customer or staff token.")
    raise Forbidden("A request is opened in the customer's app or by staff.")


def _check(asked: RequestInput, key: str, customer_id: str) -> None:
    description = asked.description.strip()
    if not description or len(description) > MAX_DESCRIPTION:
        raise refused(
            RequestErrorCode.INVALID_DESCRIPTION,
            f"`description` must be 1 to {MAX_DESCRIPTION} characters.",
            "description",
        )
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise refused(
            RequestErrorCode.INVALID_KEY,
            f"`idempotencyKey` must be 1 to {MAX_KEY_LENGTH} characters.",
            "idempotencyKey",
        )
    if asked.sku is not None and not _SKU.match(asked.sku):
        raise refused(RequestErrorCode.INVALID_SKU, "`sku` is not a SKU.", "sku")
    if asked.order_id is not None and (
        not asked.order_id.strip() or len(asked.order_id) > MAX_ID_LENGTH
    ):
        raise refused(RequestErrorCode.ORDER_NOT_FOUND, "No order has this id.", "orderId")
    if len(customer_id) > MAX_ID_LENGTH:
        raise refused(RequestErrorCode.CUSTOMER_NOT_FOUND, "No customer has this id.", "customerId")
    if asked.order_id is None and asked.sku is None:
        raise refused(
            RequestErrorCode.NOTHING_REFERENCED,
            "Name the order (`orderId`) or the product (`sku`) the request is about.",
        )


def _fingerprint(asked: RequestInput, channel: AfterSalesChannel) -> str:
    parts = (asked.kind.value, asked.description.strip(), asked.order_id, asked.sku, channel)
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _upstream(exc: UpstreamError) -> RequestRefused:
    return refused(
        RequestErrorCode.UPSTREAM,
        f"{exc.public_message} Nothing was changed; retry with the same key.",
    )


def _unsupported() -> RequestRefused:
    return refused(
        RequestErrorCode.UNSUPPORTED,
        "After-sales requests are not available with the configured CRM.",
    )
