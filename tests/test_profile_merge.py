"""The merge's precedence rules, one test per row of docs/customer-profile.md's table, and
CRM duplicates surfaced as identity conflicts rather than merged."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from conftest import bearer

from commerce.customers.identity import normalise_email, normalise_phone
from commerce.customers.merge import ProfileSources, merge_profile
from commerce.customers.profile import (
    CustomerProfile,
    IdentityConflict,
    IdentityField,
    SourceVersion,
)
from connectors.records import CustomerIdentity, ExternalRef, LoyaltyAccountRecord, System
from sandbox.dataset import Dataset

OLD = datetime(2025, 1, 1, tzinfo=UTC)
NEWER = OLD + timedelta(days=30)
NEWEST = OLD + timedelta(days=60)
FETCHED = datetime(2026, 11, 1, tzinfo=UTC)


def person(
    system: System,
    id_: str,
    *,
    given: str | None = "Ana",
    family: str | None = "Silva",
    email: str | None = "ana.silva@example.com",
    phone: str | None = "+16465550100",
    updated_at: datetime | None = OLD,
    opt_in: bool | None = None,
) -> CustomerIdentity:
    return CustomerIdentity(
        ref=ExternalRef(system, id_),
        given_name=given,
        family_name=family,
        email=email,
        phone=phone,
        updated_at=updated_at,
        email_opt_in=opt_in,
    )


def crm(id_: str = "003CRM", **fields) -> CustomerIdentity:
    return person(System.SALESFORCE, id_, **fields)


def pos(id_: str = "POS1", **fields) -> CustomerIdentity:
    return person(System.SQUARE, id_, **fields)


def shop(id_: str = "gid://shopify/Customer/1", **fields) -> CustomerIdentity:
    return person(System.SHOPIFY, id_, **fields)


def account(customer: str, lifetime: int, balance: int = 10, id_: str | None = None):
    return LoyaltyAccountRecord(
        ref=ExternalRef(System.SQUARE, id_ or f"acct-{customer}-{lifetime}"),
        customer_ref=ExternalRef(System.SQUARE, customer),
        balance=balance,
        lifetime_points=lifetime,
    )


def merged(contact, *, pos_found=(), shop_found=(), accounts=(), crm_matches=()):
    return merge_profile(
        ProfileSources(
            contact=contact,
            pos_customers=list(pos_found),
            shop_customers=list(shop_found),
            loyalty_accounts=list(accounts),
            crm_matches=list(crm_matches),
            fetched_at=dict.fromkeys(System, FETCHED),
        )
    )


# -- matching: normalised email (case, whitespace) or E.164 phone --------------------------


@pytest.mark.parametrize(
    "typed",
    ["ana.silva@example.com", " Ana.Silva@Example.COM ", "\tANA.SILVA@EXAMPLE.COM\n"],
)
def test_an_email_is_compared_trimmed_and_lower_cased(typed):
    assert normalise_email(typed) == "ana.silva@example.com"


@pytest.mark.parametrize(
    "typed",
    [
        "+16465550100",
        "+1 (646) 555-0100",
        "(646) 555-0100",
        "646.555.0100",
        "1-646-555-0100",
        "001 646 555 0100",
        "646-555-0100 x12",
        "+1 646 555 0100 ext. 3",
    ],
)
def test_a_phone_is_compared_in_e164(typed):
    assert normalise_phone(typed) == "+16465550100"


@pytest.mark.parametrize(
    ("typed", "region", "e164"),
    [
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("0044 20 7946 0958", "US", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
    ],
)
def test_a_foreign_or_national_number_is_read_in_its_plan(typed, region, e164):
    assert normalise_phone(typed, region) == e164


@pytest.mark.parametrize(
    "typed",
    [None, "", "n/a", "555-0100", "646 555 010", "+1 646 555 0100 00000000", "email@x.com"],
)
def test_what_cannot_be_a_whole_phone_number_matches_nothing(typed):
    # a 7-digit local number would make everyone with it one person
    assert normalise_phone(typed) is None


@pytest.mark.parametrize("typed", [None, "", "   ", "no-at-sign.example.com"])
def test_what_cannot_be_an_email_matches_nothing(typed):
    assert normalise_email(typed) is None


def test_records_match_on_the_email_alone_or_the_phone_alone():
    profile = merged(
        crm(email=" Ana.Silva@Example.COM ", phone="(646) 555-0100"),
        pos_found=[pos("POS1", email=None, phone="+16465550100")],
        shop_found=[shop("gid://shopify/Customer/1", email="ANA.SILVA@example.com", phone=None)],
    )
    assert profile.external_refs == (
        ExternalRef(System.SALESFORCE, "003CRM"),
        ExternalRef(System.SQUARE, "POS1"),
        ExternalRef(System.SHOPIFY, "gid://shopify/Customer/1"),
    )
    assert (profile.email, profile.phone) == ("ana.silva@example.com", "+16465550100")


def test_a_record_sharing_neither_email_nor_phone_is_not_merged():
    lookalike = pos("POS9", email="ana.silva@example.org", phone="+16465550101")
    profile = merged(crm(), pos_found=[lookalike], accounts=[account("POS9", 9_000)])
    assert profile.refs_in(System.SQUARE) == ()
    assert profile.loyalty is None


# -- field precedence ------------------------------------------------------------------


def test_the_id_is_the_crm_contacts():
    assert merged(crm("003A"), pos_found=[pos()]).id == "003A"


def test_the_crm_wins_the_name_even_against_a_newer_source():
    profile = merged(
        crm(given="Ana", family="Silva", updated_at=OLD),
        pos_found=[pos(given="Anna", family="Silva-Costa", updated_at=NEWEST)],
        shop_found=[shop(given="A.", family="S.", updated_at=NEWER)],
    )
    assert (profile.given_name, profile.family_name) == ("Ana", "Silva")


def test_a_name_the_crm_lacks_comes_from_the_newest_source_that_has_one():
    profile = merged(
        crm(given=None, family="Silva"),
        pos_found=[pos(given="Anna", updated_at=NEWER)],
        shop_found=[shop(given="Ana Maria", updated_at=NEWEST)],
    )
    assert (profile.given_name, profile.family_name) == ("Ana Maria", "Silva")


@pytest.mark.parametrize(
    ("newest", "email"),
    [
        ("crm", "ana@crm.example.com"),
        ("pos", "ana@pos.example.com"),
        ("shop", "ana@shop.example.com"),
    ],
)
def test_the_newest_source_wins_the_email(newest, email):
    # matched on the phone: the person changed their email in one system
    times = {name: (NEWEST if name == newest else OLD) for name in ("crm", "pos", "shop")}
    profile = merged(
        crm(email=" Ana@CRM.example.com ", updated_at=times["crm"]),
        pos_found=[pos(email="ana@pos.example.com", updated_at=times["pos"])],
        shop_found=[shop(email="ANA@shop.example.com", updated_at=times["shop"])],
    )
    assert profile.email == email


def test_the_newest_source_wins_the_phone_in_e164():
    profile = merged(
        crm(phone="(646) 555-0100", updated_at=OLD),
        shop_found=[shop(phone="+1 212 555 0199", updated_at=NEWER)],
    )
    assert profile.phone == "+12125550199"


def test_a_newer_source_without_a_value_does_not_blank_the_contact_detail():
    profile = merged(
        crm(phone="+16465550100", updated_at=OLD),
        pos_found=[pos(phone=None, updated_at=NEWEST)],
    )
    assert profile.phone == "+16465550100"


def test_a_tie_on_the_change_time_goes_to_the_crm_then_the_pos():
    profile = merged(
        crm(email="ana@crm.example.com", updated_at=NEWER),
        pos_found=[pos(email="ana@pos.example.com", updated_at=NEWER)],
        shop_found=[shop(email="ana@shop.example.com", updated_at=NEWER)],
    )
    assert profile.email == "ana@crm.example.com"
    no_crm_email = merged(
        crm(email=None, updated_at=NEWER),
        pos_found=[pos(email="ana@pos.example.com", updated_at=NEWER)],
        shop_found=[shop(email="ana@shop.example.com", updated_at=NEWER)],
    )
    assert no_crm_email.email == "ana@pos.example.com"


@pytest.mark.parametrize("crm_opt_in", [True, False, None])
def test_consent_comes_from_the_crm_only(crm_opt_in):
    profile = merged(
        crm(opt_in=crm_opt_in, updated_at=OLD),
        shop_found=[shop(opt_in=not crm_opt_in, updated_at=NEWEST)],
    )
    assert profile.email_opt_in is crm_opt_in


def test_loyalty_is_the_matched_pos_account_with_the_most_lifetime_points():
    profile = merged(
        crm(),
        pos_found=[pos("POS1"), pos("POS2", email="other@example.com", phone="+16465550101")],
        accounts=[account("POS1", 1_200, balance=300), account("POS1", 90), account("POS2", 9_000)],
    )
    # POS2 was found by the directory search but matches neither email nor phone
    assert profile.loyalty is not None
    assert (profile.loyalty.balance, profile.loyalty.lifetime_points) == (300, 1_200)
    assert profile.loyalty.tier == "SILVER"


def test_external_refs_hold_the_contact_and_every_matched_record_only():
    stranger = pos("POS9", email="someone@else.example.com", phone="+13125550000")
    profile = merged(
        crm("003A"),
        pos_found=[pos("POS1"), stranger],
        shop_found=[shop("gid://shopify/Customer/7", email="ANA.SILVA@example.com", phone=None)],
        crm_matches=[crm("003A"), crm("003B")],
    )
    assert profile.external_refs == (
        ExternalRef(System.SALESFORCE, "003A"),
        ExternalRef(System.SQUARE, "POS1"),
        ExternalRef(System.SHOPIFY, "gid://shopify/Customer/7"),
    )


def test_a_second_crm_contact_claiming_the_email_is_a_conflict_not_a_merge():
    twin = crm("003B", given="Anna", email=" ANA.Silva@example.com ", phone="+13125550000")
    profile = merged(crm("003A"), crm_matches=[crm("003A"), twin])
    assert profile.identity_conflicts == (
        IdentityConflict(IdentityField.EMAIL, "ana.silva@example.com", ("003A", "003B")),
    )
    assert profile.given_name == "Ana"
    assert profile.refs_in(System.SALESFORCE) == ("003A",)


def test_a_phone_claimed_in_another_spelling_is_a_conflict_too():
    twin = crm("003B", email="elsewhere@example.com", phone="(646) 555-0100")
    profile = merged(crm("003A"), crm_matches=[twin])
    assert profile.identity_conflicts == (
        IdentityConflict(IdentityField.PHONE, "+16465550100", ("003A", "003B")),
    )


def test_no_conflict_when_the_crm_finds_only_the_contact_itself():
    assert merged(crm("003A"), crm_matches=[crm("003A")]).identity_conflicts == ()


def test_each_sources_version_and_fetch_time_is_kept():
    profile = merged(
        crm("003A", updated_at=OLD),
        pos_found=[pos("POS1", updated_at=NEWER), pos("POS2", updated_at=NEWEST)],
        shop_found=[],
    )
    assert profile.sources == (
        SourceVersion(System.SALESFORCE, ("003A",), OLD, FETCHED),
        SourceVersion(System.SQUARE, ("POS1", "POS2"), NEWEST, FETCHED),
        SourceVersion(System.SHOPIFY, (), None, FETCHED),
    )


def test_the_profile_survives_its_mongodb_form():
    profile = merged(
        crm("003A"),
        pos_found=[pos("POS1")],
        accounts=[account("POS1", 5_000)],
        crm_matches=[crm("003B")],
    )
    assert CustomerProfile.from_document(profile.to_document()) == profile


# -- through the gateway, on the seeded dataset ------------------------------------------

CONFLICTS = """
query ($id: ID!) {
  customer(id: $id) {
    id givenName email
    externalRefs { system id }
    identityConflicts { field value contactIds }
    sources { system ids updatedAt fetchedAt }
  }
}
"""


@pytest.fixture(scope="module")
def duplicated(dataset: Dataset):
    """A person the CRM holds twice (the dataset seeds ~1% such duplicates: 39 of 4,654
    contacts at scale 1), both contacts with the same email as the CRM compares it."""
    counts = Counter(c.person_key for c in dataset.crm_contacts)
    for key, count in counts.items():
        if count != 2:
            continue
        first, second = [c for c in dataset.crm_contacts if c.person_key == key]
        if first.email == second.email and first.email == first.email.strip().lower():
            return first, second
    raise AssertionError("the dataset has no duplicated CRM contact")


async def test_a_crm_duplicate_is_surfaced_on_both_profiles_and_not_merged(
    gateway, tokens, dataset, duplicated
):
    first, second = duplicated
    staff = bearer(tokens.staff(dataset.stores[0].id))
    for contact, other in ((first, second), (second, first)):
        body = await gateway.query(CONFLICTS, {"id": contact.id}, headers=staff)
        assert "errors" not in body, body
        customer = body["data"]["customer"]
        conflicts = {c["field"]: c for c in customer["identityConflicts"]}
        assert conflicts["EMAIL"] == {
            "field": "EMAIL",
            "value": contact.email,
            "contactIds": sorted([first.id, second.id]),
        }
        assert conflicts["PHONE"]["contactIds"] == sorted([first.id, second.id])
        crm_refs = [r["id"] for r in customer["externalRefs"] if r["system"] == "SALESFORCE"]
        assert crm_refs == [contact.id]
        assert other.id not in [i for s in customer["sources"] for i in s["ids"]]


async def test_sources_carry_each_systems_version(gateway, tokens, dataset):
    by_person = {c.person_key: c for c in dataset.pos_customers}
    counts = Counter(c.person_key for c in dataset.crm_contacts)
    contact = next(
        c
        for c in dataset.crm_contacts
        if counts[c.person_key] == 1
        and c.person_key in by_person
        and by_person[c.person_key].email_address
    )
    pos_customer = by_person[contact.person_key]
    body = await gateway.query(
        CONFLICTS, {"id": contact.id}, headers=bearer(tokens.staff(dataset.stores[0].id))
    )
    sources = {s["system"]: s for s in body["data"]["customer"]["sources"]}
    assert set(sources) == {"SALESFORCE", "SQUARE", "SHOPIFY"}
    salesforce = sources["SALESFORCE"]
    assert salesforce["ids"] == [contact.id]
    assert datetime.fromisoformat(salesforce["updatedAt"]) == contact.last_modified_date
    assert sources["SQUARE"]["ids"] == [pos_customer.id]
    assert datetime.fromisoformat(sources["SQUARE"]["updatedAt"]) == pos_customer.updated_at
    for source in sources.values():
        fetched = datetime.fromisoformat(source["fetchedAt"])
        assert abs(datetime.now(UTC) - fetched) < timedelta(minutes=1)
    assert body["data"]["customer"]["identityConflicts"] == []


@pytest.fixture(scope="module")
def typed_messily(dataset: Dataset):
    """A contact the CRM holds once with a stray-spaced, title-cased email and a national
    phone, whose POS customer has no email (so matches on the phone alone) and whose online
    customer has no phone (so matches on the email alone)."""
    counts = Counter(c.person_key for c in dataset.crm_contacts)
    pos_by_person = {c.person_key: c for c in dataset.pos_customers}
    shop_by_person = {c.person_key: c for c in dataset.shop_customers}
    for contact in dataset.crm_contacts:
        pos_customer = pos_by_person.get(contact.person_key)
        shop_customer = shop_by_person.get(contact.person_key)
        if (
            counts[contact.person_key] == 1
            and pos_customer is not None
            and pos_customer.email_address is None
            and shop_customer is not None
            and shop_customer.phone is None
            and contact.email != contact.email.strip().lower()
            and not contact.phone.startswith("+")
        ):
            return contact, pos_customer, shop_customer
    raise AssertionError("the dataset has no such contact")


async def test_a_messily_typed_contact_is_matched_across_systems_over_the_sandbox(
    gateway, tokens, dataset, typed_messily
):
    contact, pos_customer, shop_customer = typed_messily
    body = await gateway.query(
        CONFLICTS, {"id": contact.id}, headers=bearer(tokens.staff(dataset.stores[0].id))
    )
    assert "errors" not in body, body
    customer = body["data"]["customer"]
    assert {(r["system"], r["id"]) for r in customer["externalRefs"]} == {
        ("SALESFORCE", contact.id),
        ("SQUARE", pos_customer.id),  # by the phone: "(512) 500-0231" is "+15125000231"
        ("SHOPIFY", f"gid://shopify/Customer/{shop_customer.id}"),  # by the email
    }
    assert customer["email"] == contact.email.strip().lower()
    assert customer["identityConflicts"] == []
