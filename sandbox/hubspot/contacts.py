"""The account's contacts as the simulator keeps and serves them.

The same people as the Salesforce simulator's Contacts (sandbox.dataset.CrmContact), each
under a HubSpot record id of its own (numeric, as HubSpot's are), with the values HubSpot
would hold: every property a string, the email trimmed and lower-cased, and unique: HubSpot
refuses a second contact with an email the account holds, so of a person the dataset's CRM
knows twice, the second contact keeps its phone but has no email.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sandbox.dataset import CrmContact, Dataset

# The properties the simulator knows, each read from a HubSpotContact; `hs_object_id` is the
# record id. A property not listed is answered as HubSpot answers an unknown one: left out.
DATETIME_PROPERTIES = frozenset({"createdate", "lastmodifieddate"})
# What a search answers when the request names no properties (HubSpot's documented defaults)
DEFAULT_PROPERTIES = (
    "createdate",
    "email",
    "firstname",
    "hs_object_id",
    "lastmodifieddate",
    "lastname",
)
# What a user may edit through the control endpoint, and so what a webhook can report.
EDITABLE = ("firstname", "lastname", "email", "phone", "mobilephone", "hs_email_optout")


@dataclass(frozen=True, slots=True)
class HubSpotContact:
    id: str
    person_key: int
    salesforce_id: str  # the same person's Contact in the Salesforce simulator
    firstname: str | None
    lastname: str | None
    email: str | None
    phone: str | None
    mobilephone: str | None
    hs_email_optout: str  # "true" / "false"
    createdate: datetime
    lastmodifieddate: datetime

    def value(self, name: str) -> str | None:
        if name == "hs_object_id":
            return self.id
        if name in DATETIME_PROPERTIES:
            return format_datetime(getattr(self, name))
        if name in EDITABLE:
            value: str | None = getattr(self, name)
            return value
        raise KeyError(name)


def hubspot_contacts(dataset: Dataset) -> list[HubSpotContact]:
    """The account's contacts, in the dataset's order: deterministic for a seed."""
    ids = random.Random(f"hubspot-portal-{dataset.seed}")
    next_id = 100_000_000 + ids.randint(0, 9_999)
    emails: set[str] = set()
    contacts = []
    for source in dataset.crm_contacts:
        contacts.append(_contact(source, str(next_id), emails))
        next_id += ids.randint(1, 400)
    return contacts


def _contact(source: CrmContact, record_id: str, emails: set[str]) -> HubSpotContact:
    email = source.email.strip().lower() if source.email else None
    if email in emails:
        email = None  # unique per account: the duplicate contact could not keep it
    elif email is not None:
        emails.add(email)
    return HubSpotContact(
        id=record_id,
        person_key=source.person_key,
        salesforce_id=source.id,
        firstname=source.first_name,
        lastname=source.last_name,
        email=email,
        phone=source.phone,
        mobilephone=source.mobile_phone,
        hs_email_optout="true" if source.has_opted_out_of_email else "false",
        createdate=source.created_date,
        lastmodifieddate=source.last_modified_date,
    )


def format_datetime(value: datetime) -> str:
    """HubSpot's instants: `2024-09-18T07:40:00.123Z`, UTC, to the millisecond."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def render(contact: HubSpotContact, properties: list[str]) -> dict[str, Any]:
    """A SimplePublicObject: the properties asked for that exist, and the three HubSpot
    always adds."""
    wanted = dict.fromkeys([*properties, "createdate", "lastmodifieddate", "hs_object_id"])
    values: dict[str, str | None] = {}
    for name in wanted:
        try:
            values[name] = contact.value(name)
        except KeyError:
            continue
    return {
        "id": contact.id,
        "properties": values,
        "createdAt": format_datetime(contact.createdate),
        "updatedAt": format_datetime(contact.lastmodifieddate),
        "archived": False,
    }


class ContactStore:
    """The contacts in a stable order, findable by record id and by email."""

    def __init__(self, dataset: Dataset) -> None:
        self.rows: list[HubSpotContact] = hubspot_contacts(dataset)
        self._by_id = {c.id: c for c in self.rows}

    def get(self, record_id: str) -> HubSpotContact | None:
        return self._by_id.get(record_id)

    def by_email(self, email: str) -> HubSpotContact | None:
        wanted = email.strip().lower()
        return next((c for c in self.rows if c.email == wanted), None)

    def update(
        self, record_id: str, changes: Mapping[str, str | None], at: datetime
    ) -> HubSpotContact:
        """Apply an edit as HubSpot records one: lastmodifieddate becomes `at`. KeyError for
        an unknown id."""
        current = self._by_id[record_id]
        values = dict(changes)
        if values.get("email"):
            values["email"] = str(values["email"]).strip().lower()
        updated = replace(current, **values, lastmodifieddate=at)  # type: ignore[arg-type]
        self.rows[self.rows.index(current)] = updated
        self._by_id[record_id] = updated
        return updated
