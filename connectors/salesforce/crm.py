"""Salesforce as omnigate's CrmPort (Contacts by id, by email or phone, and by change time)
and AfterSalesPort (after-sales requests as Cases, connectors/salesforce/cases.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import quote

from connectors.errors import UpstreamRejected, UpstreamUnavailable
from connectors.http import UpstreamHttp
from connectors.records import (
    AfterSalesDraft,
    AfterSalesRecord,
    AfterSalesStatus,
    CustomerIdentity,
    System,
)
from connectors.salesforce import cases
from connectors.salesforce.contacts import FIELDS, SELECT, SOBJECT, identity, lookup_queries
from connectors.salesforce.rest import SalesforceRest
from connectors.salesforce.settings import SalesforceSettings
from connectors.salesforce.soql import datetime_literal

# sObject Collections GET documents no id cap, only the URI's (~800 ids before 414); 200, the
# cap of every other sObject Collections operation, keeps each URI far below it.
IDS_PER_CALL = 200

BY_ID = "salesforce.contacts_by_id"
FIND = "salesforce.find_contacts"
CHANGED = "salesforce.contacts_modified_since"
OPEN_CASE = "salesforce.upsert_case"
READ_CASE = "salesforce.case"
LIST_CASES = "salesforce.cases_of_contacts"
SET_CASE_STATUS = "salesforce.update_case_status"


class SalesforceCrm:
    system = System.SALESFORCE

    def __init__(self, http: UpstreamHttp, settings: SalesforceSettings) -> None:
        self.service = http.service
        self._rest = SalesforceRest(http, settings)

    async def customers_by_id(self, ids: Sequence[str]) -> dict[str, CustomerIdentity]:
        wanted = list(dict.fromkeys(i for i in ids if i))
        batches = [wanted[i : i + IDS_PER_CALL] for i in range(0, len(wanted), IDS_PER_CALL)]
        found: dict[str, CustomerIdentity] = {}
        for batch, results in zip(
            batches, await asyncio.gather(*(self._by_id(b) for b in batches)), strict=True
        ):
            # Results are positional: entry i answers id i, null when the org has no such id.
            for requested, result in zip(batch, results, strict=True):
                contact = identity(result)
                if contact is not None:
                    found[requested] = contact
        return found

    async def find_customers(
        self, emails: Sequence[str], phones: Sequence[str]
    ) -> list[CustomerIdentity]:
        statements = lookup_queries([e for e in emails if e], [p for p in phones if p])
        pages = await asyncio.gather(*(self._rest.query(FIND, soql) for soql in statements))
        contacts: dict[str, CustomerIdentity] = {}
        for record in (r for page in pages for r in page):
            contact = identity(record)
            if contact is not None:
                contacts.setdefault(contact.ref.id, contact)
        return list(contacts.values())

    async def contacts_modified_since(self, since: datetime) -> list[CustomerIdentity]:
        """Contacts changed at or after `since`, oldest change first.

        Inclusive, and the literal is cut to the second, so a contact changed in the same
        second as the previous poll's newest is read again rather than missed.
        """
        soql = (
            f"{SELECT} WHERE LastModifiedDate >= {datetime_literal(since)}"
            " ORDER BY LastModifiedDate ASC, Id ASC"
        )
        records = await self._rest.query(CHANGED, soql)
        return [c for c in (identity(r) for r in records) if c is not None]

    async def _by_id(self, ids: list[str]) -> list[object]:
        results = await self._rest.get(
            BY_ID,
            self._rest.resource(f"composite/sobjects/{SOBJECT}"),
            {"ids": ",".join(ids), "fields": ",".join(FIELDS)},
        )
        if not isinstance(results, list) or len(results) != len(ids):
            raise UpstreamUnavailable(self.service, BY_ID, "not one result per id")
        return results

    # --- after-sales requests: Cases -------------------------------------------------------

    async def open_request(self, draft: AfterSalesDraft) -> tuple[AfterSalesRecord, bool]:
        """Upsert by the request's key (PATCH sobjects/Case/<key field>/<key>): 201 when it
        created the Case, 200 when one with this key was there; then read it back."""
        path = self._rest.resource(
            f"sobjects/{cases.SOBJECT}/{cases.KEY_FIELD}/{quote(draft.key, safe='')}"
        )
        status, answer = await self._rest.write(
            OPEN_CASE, "PATCH", path, cases.case_body(draft), idempotent=True
        )
        case_id = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(case_id, str) or not cases.is_record_id(case_id):
            raise UpstreamUnavailable(self.service, OPEN_CASE, "no Case id in the upsert answer")
        record = await self.request(case_id)
        if record is None:
            raise UpstreamUnavailable(self.service, OPEN_CASE, "the upserted Case is not there")
        return record, status == 201

    async def requests_of(
        self, customer_ids: Sequence[str], limit: int, created_before: datetime | None = None
    ) -> list[AfterSalesRecord]:
        ids = [i for i in dict.fromkeys(customer_ids) if cases.is_record_id(i)]
        if not ids:
            return []
        soql = cases.cases_query(ids, limit, created_before)
        records = await self._rest.query(LIST_CASES, soql)
        return [r for r in map(cases.after_sales_record, records) if r is not None]

    async def request(self, request_id: str) -> AfterSalesRecord | None:
        if not cases.is_record_id(request_id):
            return None
        try:
            record = await self._rest.get(
                READ_CASE,
                self._rest.resource(f"sobjects/{cases.SOBJECT}/{request_id}"),
                {"fields": ",".join(cases.FIELDS)},
            )
        except UpstreamRejected as exc:
            if exc.status == 404:
                return None
            raise
        return cases.after_sales_record(record)

    async def set_request_status(
        self, request_id: str, status: AfterSalesStatus
    ) -> AfterSalesRecord | None:
        if status not in cases.STATUSES:
            raise ValueError(f"{status} is read from the CRM, never set")
        if not cases.is_record_id(request_id):
            return None
        try:
            await self._rest.write(
                SET_CASE_STATUS,
                "PATCH",
                self._rest.resource(f"sobjects/{cases.SOBJECT}/{request_id}"),
                {"Status": cases.STATUSES[status]},
                idempotent=True,
            )
        except UpstreamRejected as exc:
            if exc.status == 404:
                return None
            raise
        return await self.request(request_id)
