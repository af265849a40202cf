"""The Query resource and Query More Results, with Salesforce's query locators.

GET /services/data/vXX.X/query?q=SOQL answers `{totalSize, done, records, nextRecordsUrl?}`
with up to 2,000 records per batch; `Sforce-Query-Options: batchSize=N` asks for N, which
Salesforce documents as 200..2,000 (and as not guaranteed: the simulator clamps into range).
When more remain, `nextRecordsUrl` is `/services/data/vXX.X/query/<locator>-<offset>`, read
with GET until `done` is true.
"""

from __future__ import annotations

import re
import secrets
import string
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from sandbox.salesforce import cases, contacts
from sandbox.salesforce.cases import CaseTable
from sandbox.salesforce.contacts import ContactTable
from sandbox.salesforce.envelope import SalesforceApiError
from sandbox.salesforce.soql import parse
from sandbox.salesforce.soql_eval import run

DEFAULT_BATCH_SIZE = 2000
MIN_BATCH_SIZE = 200
MAX_BATCH_SIZE = 2000
# Salesforce keeps a bounded number of open query cursors per user and drops the oldest.
_OPEN_CURSORS = 50
_BATCH_SIZE = re.compile(r"(?:^|[;,\s])batchSize=(\d+)", re.IGNORECASE)
_LOCATOR = re.compile(r"^(01g[A-Za-z0-9]{15})-(\d+)$")


@dataclass(frozen=True, slots=True)
class _Cursor:
    records: list[dict[str, Any]]
    batch_size: int


class QueryCursors:
    """Open query locators: the full result of a query, served one batch at a time."""

    def __init__(self) -> None:
        self._open: OrderedDict[str, _Cursor] = OrderedDict()

    def open(self, records: list[dict[str, Any]], batch_size: int) -> str:
        locator = "01g" + "".join(
            secrets.choice(string.ascii_letters + string.digits) for _ in range(15)
        )
        self._open[locator] = _Cursor(records, batch_size)
        while len(self._open) > _OPEN_CURSORS:
            self._open.popitem(last=False)
        return locator

    def get(self, locator: str) -> _Cursor | None:
        return self._open.get(locator)

    def close(self, locator: str) -> None:
        self._open.pop(locator, None)


async def query(request: Request, version: str) -> dict[str, Any]:
    soql = request.query_params.get("q")
    if not soql:
        raise SalesforceApiError(400, "MALFORMED_QUERY", "A query string must be provided.")
    parsed = parse(soql)
    records: list[dict[str, Any]]
    if parsed.sobject == cases.SOBJECT:
        case_table: CaseTable = request.app.state.salesforce_cases
        records = [cases.render(r, parsed.fields, version) for r in run(parsed, case_table.rows)]
    else:
        table: ContactTable = request.app.state.salesforce_contacts
        records = [contacts.render(r, parsed.fields, version) for r in run(parsed, table.rows)]
    batch_size = _batch_size(request, DEFAULT_BATCH_SIZE)
    if len(records) <= batch_size:
        return {"totalSize": len(records), "done": True, "records": records}
    cursors: QueryCursors = request.app.state.salesforce_cursors
    locator = cursors.open(records, batch_size)
    return _batch(records, 0, batch_size, version, locator)


async def query_more(request: Request, version: str) -> dict[str, Any]:
    match = _LOCATOR.match(request.path_params["locator"])
    cursors: QueryCursors = request.app.state.salesforce_cursors
    cursor = cursors.get(match[1]) if match else None
    if match is None or cursor is None or int(match[2]) >= len(cursor.records):
        raise SalesforceApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    batch_size = _batch_size(request, cursor.batch_size)
    page = _batch(cursor.records, int(match[2]), batch_size, version, match[1])
    if page["done"]:
        cursors.close(match[1])
    return page


def _batch(
    records: list[dict[str, Any]], offset: int, size: int, version: str, locator: str
) -> dict[str, Any]:
    end = offset + size
    page: dict[str, Any] = {
        "totalSize": len(records),
        "done": end >= len(records),
        "records": records[offset:end],
    }
    if not page["done"]:
        page["nextRecordsUrl"] = f"/services/data/{version}/query/{locator}-{end}"
    return page


def _batch_size(request: Request, default: int) -> int:
    match = _BATCH_SIZE.search(request.headers.get("sforce-query-options", ""))
    if match is None:
        return default
    return min(MAX_BATCH_SIZE, max(MIN_BATCH_SIZE, int(match[1])))
