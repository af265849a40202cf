"""Promotions and segments as configuration: `omnigate offers apply FILE` validates the
file (each problem at its line), prints a diff (also as a dry run), applies it in one
go, changes nothing the second time, touches nothing its set does not own; `offers list`
shows what is there; and the sandbox's seed offers something on every channel."""

from __future__ import annotations

import io
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest
from cart_api import Device, known_everywhere, staff_at
from offers_api import database_read, put_promotions

from commerce.offers import OfferKind, Promotion, PromotionStore
from gateway.cli import main
from gateway.offers_file import apply_offers_file
from gateway.settings import Settings
from gateway.wiring.sandbox import SANDBOX_OFFERS

OFFERS = "query ($channel: SalesChannel) { offers(channel: $channel) { promotionId title } }"


def offers_file(tmp_path: Path, text: str, name: str = "offers.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


async def apply(settings: Settings, path: Path, *, dry_run: bool = False) -> tuple[int, list[str]]:
    """The exit code and every line printed (out and err, in order)."""
    printed: list[str] = []
    code = await apply_offers_file(
        settings, path, dry_run=dry_run, out=printed.append, err=printed.append
    )
    return code, printed


async def promotions_in(settings: Settings) -> dict[str, dict[str, Any]]:
    return {doc["_id"]: doc for doc in await database_read(settings, "promotions", {})}


async def segments_in(settings: Settings) -> dict[str, list[str]]:
    docs = await database_read(settings, "customer_segments", {})
    return {doc["_id"]: sorted(doc["segments"]) for doc in docs if doc["segments"]}


SPRING = """
set: marketing
promotions:
  - id: spring-10
    title: 10% off online
    kind: PERCENTAGE
    value: 10
    conditions:
      channels: [WEB, MOBILE]
      starts_at: 2026-03-01T00:00:00Z
      ends_at: 2099-06-01T00:00:00Z
  - id: welcome
    title: 5 off your first order
    code: welcome5
    kind: FIXED_AMOUNT
    value: "5.00"
    currency: USD
    limits: {per_customer: 1}
  - id: vip-shipping
    title: Free shipping for VIPs
    kind: FREE_SHIPPING
    conditions: {segments: [VIP]}
segments:
  VIP: [C-1, C-2]
"""


async def test_every_problem_is_named_at_its_line_and_nothing_is_written(settings, tmp_path):
    path = offers_file(
        tmp_path,
        """
        promotions:
          - id: a
            title: A
            kind: PERCENT
            value: 10
          - id: b
            title: B
            kind: PERCENTAGE
            valeu: 10
          - id: c
            title: C
            kind: PERCENTAGE
            value: 150
            conditions:
              channels: [WEB, POS]
              tiers: [GOLDEN]
          - id: d
            title: D
            kind: FIXED_AMOUNT
            value: 5
          - id: a
            title: E
            code: NO
            kind: FREE_SHIPPING
            value: 3
            conditions:
              starts_at: 2027-06-01T00:00:00Z
              ends_at: 2027-03-01T00:00:00Z
          - id: f
            title: F
            kind: BUY_X_GET_Y
            buy_quantity: 2
            conditions:
              starts_at: 2027-06-01 10:00:00
        """,
    )
    code, printed = await apply(settings, path)

    assert code == 1
    assert printed == [
        f"{path}:4: promotions[0].kind: Input should be 'PERCENTAGE', 'FIXED_AMOUNT', "
        "'BUY_X_GET_Y' or 'FREE_SHIPPING' (got 'PERCENT')",
        f"{path}:9: promotions[1].valeu: unknown key; known here: active, buy_quantity, "
        "code, conditions, currency, get_quantity, id, kind, limits, priority, stacking, "
        "title, value",
        f"{path}:15: promotions[2].conditions.channels[1]: Input should be 'WEB', 'MOBILE', "
        "'STORE' or 'KIOSK' (got 'POS')",
        f"{path}:23: promotions[4].code: Input should be a valid string: YAML reads unquoted "
        "False, yes, no, on, off as booleans: quote it",
        f"{path}:34: promotions[5].conditions.starts_at: a time needs its zone, as in "
        "2027-03-01T09:00:00Z or 2027-03-01T09:00:00+01:00",
        "nothing applied",
    ]
    assert await promotions_in(settings) == {}

    # the shapes right, what the keys mean together is checked next, each at its line
    path.write_text(
        path.read_text()
        .replace("PERCENT\n", "PERCENTAGE\n")
        .replace("valeu", "value")
        .replace("WEB, POS", "WEB, STORE")
        .replace("code: NO", "code: 'no'")
        .replace("10:00:00", "10:00:00+02:00")
    )
    code, printed = await apply(settings, path)

    assert code == 1
    assert printed == [
        f"{path}:13: promotions[2].value: a percentage is at most 100 (got 150)",
        f"{path}:16: promotions[2].conditions.tiers[0]: unknown tier 'GOLDEN'; one of "
        "BRONZE, SILVER, GOLD",
        f"{path}:17: promotions[3].currency: a FIXED_AMOUNT promotion needs currency",
        f"{path}:21: promotions[4].id: id 'a' is already promotion #1's",
        f"{path}:25: promotions[4].value: a FREE_SHIPPING promotion has no value",
        f"{path}:28: promotions[4].conditions.ends_at: ends_at must be after starts_at",
        f"{path}:29: promotions[5].get_quantity: a BUY_X_GET_Y promotion needs get_quantity",
        "nothing applied",
    ]
    assert await promotions_in(settings) == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "promotions:\n  - id: a\n    kind: [PERCENTAGE\n",
            "4: not valid YAML: while parsing a flow sequence (from line 3), expected ','",
        ),
        ("promotions: []\npromotions: []\n", "2: 'promotions' is given twice (first on line 1)"),
        ("- id: a\n", "1: an offers file is a mapping with `promotions:`"),
        ("set: x\n", "1: promotions: required"),
        ("promotions: []\nsegments:\n  CART_ABANDONED: [C-1]\n", "3: segments.CART_ABANDONED: "),
        (
            "promotions:\n  - {id: a, title: A, kind: FREE_SHIPPING, code: X}\n"
            "  - {id: b, title: B, kind: FREE_SHIPPING, code: ' x '}\n",
            "3: promotions[1].code: code 'X' is already promotion #1's",
        ),
    ],
)
async def test_a_malformed_file_is_refused_at_its_line(settings, tmp_path, text, expected):
    path = offers_file(tmp_path, text)
    code, printed = await apply(settings, path)
    assert code == 1
    assert printed[0].startswith(f"{path}:{expected}"), printed
    assert printed[-1] == "nothing applied"


async def test_a_dry_run_prints_the_diff_and_applying_twice_changes_nothing(settings, tmp_path):
    path = offers_file(tmp_path, SPRING)

    code, printed = await apply(settings, path, dry_run=True)
    assert code == 0
    assert printed == [
        "+ promotion spring-10: PERCENTAGE 10, automatic, on WEB, MOBILE",
        "+ promotion welcome: FIXED_AMOUNT 5.00 USD, code WELCOME5",
        "+ promotion vip-shipping: FREE_SHIPPING, automatic",
        "+ segment VIP: +2 members (C-1, C-2)",
        "offer set 'marketing': 4 to create, 0 to change, 0 to remove (dry run: nothing written)",
    ]
    assert await promotions_in(settings) == {}

    code, printed = await apply(settings, path)
    assert code == 0
    assert printed[-1] == "offer set 'marketing': 4 created, 0 changed, 0 removed"
    stored = await promotions_in(settings)
    assert set(stored) == {"spring-10", "welcome", "vip-shipping"}
    assert stored["welcome"]["code"] == "WELCOME5"
    assert stored["welcome"]["redeemed"] == 0
    assert stored["spring-10"]["offer_set"] == "marketing"
    assert await segments_in(settings) == {"C-1": ["VIP"], "C-2": ["VIP"]}

    code, printed = await apply(settings, path)
    assert code == 0
    assert printed == ["offer set 'marketing': nothing to change (3 promotions and 1 segment)"]
    assert await promotions_in(settings) == stored


async def test_a_changed_file_changes_removes_and_moves_codes(settings, tmp_path):
    await apply(settings, offers_file(tmp_path, SPRING))
    await set_redeemed(settings, "welcome", 7)
    changed = (
        SPRING.replace("value: 10\n", "value: 15\n")
        .replace("2099-06-01T00:00:00Z", "2099-07-01T00:00:00+02:00")
        .replace("  - id: welcome\n", "  - id: welcome-2\n")
        .replace("[C-1, C-2]", "[C-2, C-3]")
    )
    path = offers_file(tmp_path, changed, "changed.yaml")

    code, printed = await apply(settings, path, dry_run=True)
    assert code == 0
    assert printed == [
        "~ promotion spring-10: conditions.ends_at 2099-06-01T00:00:00+00:00 -> "
        "2099-06-30T22:00:00+00:00; value 10 -> 15",
        "+ promotion welcome-2: FIXED_AMOUNT 5.00 USD, code WELCOME5",
        "- promotion welcome: withdrawn (no longer in the file), its code taken by another "
        "promotion",
        "~ segment VIP: +1 member (C-3); -1 member (C-1)",
        "offer set 'marketing': 1 to create, 2 to change, 1 to remove; unchanged: 1 promotion"
        " (dry run: nothing written)",
    ]

    code, printed = await apply(settings, path)
    assert code == 0, printed
    stored = await promotions_in(settings)
    assert stored["spring-10"]["value"] == "15"
    assert stored["welcome-2"]["code"] == "WELCOME5"
    # withdrawn, not deleted: its redemptions stay counted
    assert stored["welcome"]["active"] is False
    assert "code" not in stored["welcome"]
    assert stored["welcome"]["redeemed"] == 7
    assert await segments_in(settings) == {"C-2": ["VIP"], "C-3": ["VIP"]}

    code, printed = await apply(settings, path)
    assert printed == ["offer set 'marketing': nothing to change (3 promotions and 1 segment)"]

    # the set declaring nothing: its promotions withdrawn, its segment emptied
    code, printed = await apply(settings, offers_file(tmp_path, "set: marketing\npromotions: []\n"))
    assert code == 0
    assert printed[-2:] == [
        "- segment VIP: no longer in the file, emptied (-2 members (C-2, C-3))",
        "offer set 'marketing': 0 created, 0 changed, 4 removed",
    ]
    stored = await promotions_in(settings)
    assert not any(doc["active"] for doc in stored.values())
    assert await segments_in(settings) == {}


async def set_redeemed(settings: Settings, promotion_id: str, count: int) -> None:
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_uri.get_secret_value()
    )
    try:
        await client[settings.mongodb_database]["promotions"].update_one(
            {"_id": promotion_id}, {"$set": {"redeemed": count}}
        )
    finally:
        await client.close()


async def test_what_the_set_does_not_own_is_left_alone_or_refused(settings, tmp_path):
    voucher = Promotion(
        id="voucher-1", kind=OfferKind.FIXED_AMOUNT, code="BACK-1", customer_id="C-9"
    )
    by_hand = Promotion(id="by-hand", kind=OfferKind.PERCENTAGE, code="POSTCARD")
    await put_promotions(settings, voucher, by_hand)
    await add_segment(settings, "C-9", "CART_ABANDONED")
    await apply(settings, offers_file(tmp_path, SPRING.replace("marketing", "stores")))
    before = await promotions_in(settings)

    path = offers_file(
        tmp_path,
        """
        set: marketing
        promotions:
          - {id: ok, title: OK, kind: FREE_SHIPPING}
          - {id: voucher-1, title: Mine now, kind: FREE_SHIPPING}
          - {id: postcard, title: P, kind: FREE_SHIPPING, code: postcard}
          - {id: spring-10, title: S, kind: FREE_SHIPPING}
        segments:
          VIP: [C-1]
        """,
    )
    code, printed = await apply(settings, path)

    assert code == 1
    assert printed == [
        f"{path}:4: id 'voucher-1' is a promotion omnigate issued to one customer "
        "(a voucher or referral code); choose another id",
        f"{path}:5: code 'POSTCARD' is already promotion 'by-hand''s, which this set does not own",
        f"{path}:6: promotion 'spring-10' belongs to the offer set 'stores'; one set owns each "
        "promotion",
        f"{path}:8: segment 'VIP' belongs to the offer set 'stores'; one set owns each segment",
        "nothing applied",
    ]
    assert await promotions_in(settings) == before

    # another set applies beside them and leaves them as they are
    code, _ = await apply(settings, offers_file(tmp_path, "set: other\npromotions: []\n"))
    assert code == 0
    assert await promotions_in(settings) == before
    assert (await segments_in(settings))["C-9"] == ["CART_ABANDONED"]


async def add_segment(settings: Settings, customer_id: str, segment: str) -> None:
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_uri.get_secret_value()
    )
    try:
        await PromotionStore(client[settings.mongodb_database]).add_segment(customer_id, segment)
    finally:
        await client.close()


async def test_a_segment_in_the_file_decides_who_is_offered_its_promotion(
    gateway, tokens, dataset, settings, tmp_path
):
    member, other = known_everywhere(dataset)[60:62]
    text = SPRING.replace("[C-1, C-2]", f"[{member}]")
    await apply(settings, offers_file(tmp_path, text))

    async def offered(customer_id: str) -> set[str]:
        shopper = Device(gateway, {"authorization": f"Bearer {tokens.customer(customer_id)}"})
        return {o["promotionId"] for o in (await shopper.run(OFFERS))["offers"]}

    assert await offered(member) == {"spring-10", "vip-shipping"}
    assert await offered(other) == {"spring-10"}

    await apply(settings, offers_file(tmp_path, text.replace(member, other), "moved.yaml"))
    assert await offered(member) == {"spring-10"}
    assert await offered(other) == {"spring-10", "vip-shipping"}


async def test_the_sandbox_seed_offers_something_on_every_channel(
    gateway, tokens, dataset, settings
):
    code, printed = await apply(settings, SANDBOX_OFFERS)
    assert code == 0, printed
    store_id = dataset.stores[0].id
    anonymous = Device(gateway, {})
    kiosk = Device(gateway, {"authorization": f"Bearer {tokens.kiosk(store_id)}"})
    till = staff_at(gateway, tokens, store_id)

    async def offered(device: Device, channel: str | None) -> set[str]:
        found = (await device.run(OFFERS, channel=channel))["offers"]
        assert all(o["title"] for o in found)
        return {o["promotionId"] for o in found}

    assert await offered(anonymous, "WEB") == {"sandbox-web-spring"}
    assert await offered(anonymous, "MOBILE") == {"sandbox-app-free-shipping"}
    assert await offered(kiosk, None) == {"sandbox-kiosk-home"}
    assert await offered(till, None) == {"sandbox-store-apparel"}


def test_the_cli_applies_lists_and_names_problems(settings, tmp_path, monkeypatch, capsys):
    for name in list(os.environ):
        if name.upper().startswith("OMNIGATE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("OMNIGATE_MONGODB_URI", settings.mongodb_uri.get_secret_value())
    monkeypatch.setenv("OMNIGATE_MONGODB_DATABASE", settings.mongodb_database)
    path = offers_file(tmp_path, SPRING)

    assert main(["offers", "apply", "--dry-run", str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith("(dry run: nothing written)")
    assert main(["offers", "apply", str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "offer set 'marketing': 4 created, 0 changed, 0 removed"
    )

    assert main(["offers", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "promotions: 3 (vouchers and referral codes: --issued)"
    assert out[1].split() == [
        "ID", "SET", "STATE", "CODE", "OFFER", "CHANNELS", "DATES", "REDEEMED",
    ]  # fmt: skip
    rows = {line.split()[0]: line.split() for line in out[2:5]}
    assert rows["spring-10"] == [
        "spring-10", "marketing", "active", "-", "PERCENTAGE", "10", "WEB,MOBILE",
        "2026-03-01..2099-06-01", "0",
    ]  # fmt: skip
    assert rows["welcome"][3] == "WELCOME5"
    assert out[-2:] == ["SEGMENT  SET        MEMBERS", "VIP      marketing  2"]

    # `-` reads standard input (kubectl exec -i deploy/omnigate -- ... < FILE)
    monkeypatch.setattr("sys.stdin", io.StringIO(textwrap.dedent(SPRING).lstrip()))
    assert main(["offers", "apply", "-"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "offer set 'marketing': nothing to change (3 promotions and 1 segment)"
    ]

    path = offers_file(tmp_path, SPRING.replace("kind: FREE_SHIPPING", "kind: FREE"))
    assert main(["offers", "apply", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"{path}:20: promotions[2].kind: Input should be")
    assert err[-1] == "nothing applied"


async def test_two_promotions_swap_their_codes_in_one_apply(settings, tmp_path):
    text = """
    promotions:
      - {id: a, title: A, kind: FREE_SHIPPING, code: FIRST}
      - {id: b, title: B, kind: FREE_SHIPPING, code: SECOND}
    """
    await apply(settings, offers_file(tmp_path, text))
    swapped = text.replace("FIRST", "THIRD").replace("SECOND", "FIRST").replace("THIRD", "SECOND")

    code, printed = await apply(settings, offers_file(tmp_path, swapped, "swapped.yaml"))

    # one holder per code (a unique index): each code is taken off before it is given
    assert code == 0, printed
    assert printed == [
        "~ promotion a: code FIRST -> SECOND",
        "~ promotion b: code SECOND -> FIRST",
        "offer set 'default': 0 created, 2 changed, 0 removed",
    ]
    stored = await promotions_in(settings)
    assert (stored["a"]["code"], stored["b"]["code"]) == ("SECOND", "FIRST")
