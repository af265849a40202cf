"""HubSpot contacts as omnigate's CustomerIdentity, and the request bodies that find them.

Values arrive as HubSpot stores them: every property a string (or null), phones as people
typed them (E.164 and North American national format side by side), emails lower-cased
(HubSpot keeps a contact's email that way and unique per account). A lookup by an E.164
phone asks for both spellings, as the Salesforce adapter's does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from connectors.records import CustomerIdentity, ExternalRef, System

OBJECT_TYPE = "contacts"
PROPERTIES = (
    "firstname",
    "lastname",
    "email",
    "phone",
    "mobilephone",
    "hs_email_optout",
    "createdate",
    "lastmodifieddate",
)
# CRM v3 caps: 100 inputs per batch read; 200 results per search page; 100 values per IN
# filter; after 10,000 results a search's `after` is refused.
BATCH_READ_MAX = 100
SEARCH_PAGE_MAX = 200
IN_VALUES_MAX = 100
SEARCH_RESULTS_MAX = 10_000
_NANP = re.compile(r"^\+1(\d{3})(\d{3})(\d{4})$")


def phone_spellings(phone: str) -> list[str]:
    """The ways the CRM may store `phone`: itself and, for +1 numbers, "(AAA) EEE-NNNN"."""
    match = _NANP.match(phone)
    return [phone] if match is None else [phone, f"({match[1]}) {match[2]}-{match[3]}"]


def phone_searches(phones: Sequence[str]) -> list[dict[str, Any]]:
    """Search bodies finding contacts whose phone or mobile phone is any spelling of
    `phones`: `phone IN (...)` OR `mobilephone IN (...)`, as many bodies as the IN cap
    needs. Each is a page's body without `after`."""
    spellings = list(dict.fromkeys(s for p in dict.fromkeys(phones) for s in phone_spellings(p)))
    chunks = [spellings[i : i + IN_VALUES_MAX] for i in range(0, len(spellings), IN_VALUES_MAX)]
    return [
        {
            "filterGroups": [
                {"filters": [{"propertyName": name, "operator": "IN", "values": chunk}]}
                for name in ("phone", "mobilephone")
            ],
            "properties": list(PROPERTIES),
            "limit": SEARCH_PAGE_MAX,
        }
        for chunk in chunks
    ]


def modified_since_search(since: datetime) -> dict[str, Any]:
    """The search body for contacts changed at or after `since`, oldest change first
    (`lastmodifieddate` takes milliseconds since the epoch)."""
    return {
        "filterGroups": [
            {
                "filters": [
                    {
                        "propertyName": "lastmodifieddate",
                        "operator": "GTE",
                        "value": str(int(since.timestamp() * 1000)),
                    }
                ]
            }
        ],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "properties": list(PROPERTIES),
        "limit": SEARCH_PAGE_MAX,
    }


def batch_read(keys: Sequence[str], id_property: str | None = None) -> dict[str, Any]:
    """The batch read body for `keys`: record ids, or values of `id_property` (`email`)."""
    body: dict[str, Any] = {
        "inputs": [{"id": key} for key in keys],
        "properties": list(PROPERTIES),
        "propertiesWithHistory": [],
    }
    if id_property is not None:
        body["idProperty"] = id_property
    return body


def identity(record: Any) -> CustomerIdentity | None:
    """The identity a contact (a SimplePublicObject) describes, or None if it is not one."""
    if not isinstance(record, dict) or not isinstance(record.get("id"), str):
        return None
    properties = record.get("properties")
    if not isinstance(properties, dict):
        return None
    opted_out = properties.get("hs_email_optout")
    return CustomerIdentity(
        ref=ExternalRef(System.HUBSPOT, record["id"]),
        given_name=_text(properties.get("firstname")),
        family_name=_text(properties.get("lastname")),
        email=_text(properties.get("email")),
        phone=_text(properties.get("phone")) or _text(properties.get("mobilephone")),
        created_at=parse_datetime(record.get("createdAt")),
        updated_at=parse_datetime(record.get("updatedAt")),
        email_opt_in=None if opted_out not in ("true", "false") else opted_out == "false",
    )


def parse_datetime(value: object) -> datetime | None:
    """HubSpot's ISO 8601 instant (`2024-09-18T07:40:00.000Z`), or None."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
