"""Carts in MongoDB: one document per cart, every change one atomic update.

No read-modify-write: each mutation is a single `find_one_and_update` whose filter holds
its preconditions (the cart is open, the caller's `expected_version` if given, room for
the quantity) and whose update computes the new lines on the server. Two devices adding
the same SKU at the same moment therefore both land, on whichever version is current,
and a stale `expected_version` simply matches nothing (then `explain_miss` says why).

`active_customer_id` is set only while a customer's cart is open or being checked out; a
unique index on it is what makes "one open cart per customer" hold across gateway pods.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from commerce.cart.guard import AddGuard
from commerce.cart.model import (
    CartLimits,
    CartMiss,
    CartStatus,
    Document,
    FulfillmentType,
    NewLine,
    StoredCart,
    StoredLine,
)
from commerce.keyed_locks import KeyedLocks
from connectors.records import Money

COLLECTION = "carts"

__all__ = [
    "COLLECTION",
    "CartLimits",
    "CartMiss",
    "CartStatus",
    "CartStore",
    "FulfillmentType",
    "NewLine",
    "StoredCart",
    "StoredLine",
    "hash_token",
    "new_guest_token",
]


def hash_token(token: str) -> str:
    """Guest tokens are stored hashed: a leaked database does not hand out carts."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_guest_token() -> str:
    return secrets.token_urlsafe(24)


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(12)}"


def _money(money: Money) -> Document:
    return {"amount": format(money.amount, "f"), "currency": money.currency}


class CartStore:
    def __init__(
        self, database: AsyncDatabase[Document], limits: CartLimits, guest_ttl: timedelta
    ) -> None:
        self.collection: AsyncCollection[Document] = database[COLLECTION]
        # What becomes a StoredCart at once is decoded with naive datetimes, made UTC where
        # read (commerce/cart/model.py): time-zone-aware decoding doubles the cost of a
        # 50-line cart (~220 against ~90 us), mostly for line dates an answer rarely shows.
        self._carts: AsyncCollection[Document] = self.collection.with_options(
            codec_options=self.collection.codec_options.with_options(tz_aware=False, tzinfo=None)
        )
        self._limits = limits
        self._guest_ttl = guest_ttl
        self._writers = KeyedLocks()

    async def ensure_indexes(self) -> None:
        await self.collection.create_index(
            "active_customer_id",
            unique=True,
            partialFilterExpression={"active_customer_id": {"$exists": True}},
        )
        await self.collection.create_index("guest_token_sha256", sparse=True)
        # Guest carts carry an expiry; customers' carts do not and are never removed.
        await self.collection.create_index("expires_at", expireAfterSeconds=0)

    # -- reads -----------------------------------------------------------------------------

    async def get(
        self, cart_id: str, session: AsyncClientSession | None = None
    ) -> StoredCart | None:
        doc = await self._carts.find_one({"_id": cart_id}, session=session)
        return StoredCart.from_document(doc) if doc else None

    async def guest_token_matches(self, cart_id: str, token: str) -> bool:
        found = await self.collection.count_documents(
            {"_id": cart_id, "guest_token_sha256": hash_token(token)}, limit=1
        )
        return found > 0

    async def active_for_customer(self, customer_id: str) -> StoredCart | None:
        doc = await self._carts.find_one({"active_customer_id": customer_id})
        return StoredCart.from_document(doc) if doc else None

    async def open_for_guest_token(self, token: str) -> StoredCart | None:
        doc = await self._carts.find_one(
            {"guest_token_sha256": hash_token(token), "status": CartStatus.OPEN}
        )
        return StoredCart.from_document(doc) if doc else None

    # -- creation --------------------------------------------------------------------------

    async def create_for_customer(self, customer_id: str) -> StoredCart:
        """The customer's active cart, made if there is none (a concurrent creator on
        another pod loses the unique index race and gets the winner's cart)."""
        for _ in range(3):
            existing = await self.active_for_customer(customer_id)
            if existing is not None:
                return existing
            doc = self._new_document(customer_id=customer_id)
            try:
                await self.collection.insert_one(doc)
            except DuplicateKeyError:
                continue  # made meanwhile (or checked out in between): read it again
            return StoredCart.from_document(doc)
        raise RuntimeError(f"customer {customer_id}'s cart kept changing while being made")

    async def create_for_guest(self) -> tuple[StoredCart, str]:
        """A new guest cart and its token; the token is shown to the caller only now."""
        token = new_guest_token()
        doc = self._new_document(guest_token=token)
        await self.collection.insert_one(doc)
        return StoredCart.from_document(doc), token

    def _new_document(
        self, *, customer_id: str | None = None, guest_token: str | None = None
    ) -> Document:
        now = datetime.now(UTC)
        doc: Document = {
            "_id": _new_id("cart"),
            "version": 1,
            "status": CartStatus.OPEN.value,
            "customer_id": customer_id,
            "lines": [],
            "promo_codes": [],
            "fulfillment": {"type": FulfillmentType.DELIVERY.value},
            "created_at": now,
            "updated_at": now,
        }
        if customer_id is not None:
            doc["active_customer_id"] = customer_id
        if guest_token is not None:
            doc["guest_token_sha256"] = hash_token(guest_token)
            doc["expires_at"] = now + self._guest_ttl
        return doc

    # -- line changes ----------------------------------------------------------------------

    async def add_lines(
        self,
        cart_id: str,
        lines: Sequence[NewLine],
        expected_version: int | None,
        session: AsyncClientSession | None = None,
        *,
        guard: AddGuard | None = None,
        answer_lines: bool = True,
    ) -> StoredCart | None:
        """Adds each line's quantity to the cart's line for its SKU, or appends a new line,
        in one atomic update. None when a precondition failed (see `explain_miss`), or
        `guard`'s did (the caller then reads the cart and says why). Without
        `answer_lines` the cart comes back without its lines (`UnreadLines`)."""
        merged: dict[str, NewLine] = {}
        for line in lines:
            prior = merged.get(line.sku)
            if prior is not None:
                line = NewLine(
                    line.sku,
                    line.quantity + prior.quantity,
                    prior.unit_price,
                    prior.needs_repricing or line.needs_repricing,
                )
            merged[line.sku] = line
        now = datetime.now(UTC)
        incoming = [
            {
                "id": _new_id("line"),
                "sku": line.sku,
                "quantity": line.quantity,
                "added_unit_price": _money(line.unit_price),
                "added_at": now,
                "needs_repricing": line.needs_repricing,
            }
            for line in merged.values()
        ]
        room: list[Document] = [
            {"lines": {"$not": {"$elemMatch": {"sku": sku, "quantity": {"$gt": room_left}}}}}
            for sku, line in merged.items()
            if (room_left := self._limits.max_quantity - line.quantity) >= 0
        ]
        if len(room) < len(merged) or len(merged) > self._limits.max_lines:
            return None  # over a maximum whatever the cart holds
        # At most max_lines lines afterwards, counting every incoming SKU as new (a cart
        # right at the limit may then refuse an add that would only raise a quantity).
        room.append({f"lines.{self._limits.max_lines - len(merged)}": {"$exists": False}})
        if guard is not None:
            room.extend(guard.conditions())
        return await self._update(
            cart_id,
            expected_version,
            [{"$set": {"lines": _merge_lines_expression(incoming)}}],
            extra_filter={"$and": room},
            now=now,
            session=session,
            answer_lines=answer_lines,
        )

    async def set_quantities(
        self,
        cart_id: str,
        quantities: dict[str, int],
        expected_version: int | None,
        session: AsyncClientSession | None = None,
    ) -> StoredCart | None:
        """Sets each listed line's quantity; a quantity of 0 removes the line."""
        if any(q > self._limits.max_quantity for q in quantities.values()):
            return None
        now = datetime.now(UTC)
        updated = {
            "$map": {
                "input": "$lines",
                "as": "line",
                "in": {
                    "$mergeObjects": [
                        "$$line",
                        {
                            "quantity": {
                                "$switch": {
                                    "branches": [
                                        {
                                            "case": {"$eq": ["$$line.id", line_id]},
                                            "then": quantity,
                                        }
                                        for line_id, quantity in quantities.items()
                                    ],
                                    "default": "$$line.quantity",
                                }
                            }
                        },
                    ]
                },
            }
        }
        pipeline = [
            {"$set": {"lines": updated}},
            {
                "$set": {
                    "lines": {
                        "$filter": {"input": "$lines", "cond": {"$gt": ["$$this.quantity", 0]}}
                    }
                }
            },
        ]
        return await self._update(
            cart_id,
            expected_version,
            pipeline,
            extra_filter={"lines.id": {"$all": list(quantities)}},
            now=now,
            session=session,
        )

    async def remove_lines(
        self,
        cart_id: str,
        line_ids: Sequence[str],
        expected_version: int | None,
        session: AsyncClientSession | None = None,
    ) -> StoredCart | None:
        return await self._update(
            cart_id,
            expected_version,
            [
                {
                    "$set": {
                        "lines": {
                            "$filter": {
                                "input": "$lines",
                                "cond": {"$not": [{"$in": ["$$this.id", list(line_ids)]}]},
                            }
                        }
                    }
                }
            ],
            extra_filter={"lines.id": {"$all": list(line_ids)}},
            now=datetime.now(UTC),
            session=session,
        )

    async def set_fulfillment(
        self,
        cart_id: str,
        fulfillment: FulfillmentType,
        store_id: str | None,
        expected_version: int | None,
        session: AsyncClientSession | None = None,
    ) -> StoredCart | None:
        value: Document = {"type": fulfillment.value}
        if store_id is not None:
            value["store_id"] = store_id
        return await self._update(
            cart_id,
            expected_version,
            [{"$set": {"fulfillment": {"$literal": value}}}],
            now=datetime.now(UTC),
            session=session,
        )

    async def add_promo_code(
        self, cart_id: str, code: str, expected_version: int | None
    ) -> StoredCart | None:
        return await self._update(
            cart_id,
            expected_version,
            # appended once, in the order applied (stacking ties follow it)
            [
                {
                    "$set": {
                        "promo_codes": {
                            "$cond": [
                                {"$in": [code, "$promo_codes"]},
                                "$promo_codes",
                                {"$concatArrays": ["$promo_codes", [code]]},
                            ]
                        }
                    }
                }
            ],
            now=datetime.now(UTC),
        )

    async def remove_promo_code(
        self, cart_id: str, code: str, expected_version: int | None
    ) -> StoredCart | None:
        return await self._update(
            cart_id,
            expected_version,
            [
                {
                    "$set": {
                        "promo_codes": {
                            "$filter": {"input": "$promo_codes", "cond": {"$ne": ["$$this", code]}}
                        }
                    }
                }
            ],
            extra_filter={"promo_codes": code},
            now=datetime.now(UTC),
        )

    async def set_loyalty_points(
        self, cart_id: str, points: int, channel: str, expected_version: int | None
    ) -> StoredCart | None:
        """The points to spend and the channel they are for (none: 0 points, any channel)."""
        applied: Document = (
            {"loyalty_points": {"$literal": points}, "loyalty_channel": {"$literal": channel}}
            if points > 0
            else {"loyalty_points": 0, "loyalty_channel": "$$REMOVE"}
        )
        return await self._update(
            cart_id, expected_version, [{"$set": applied}], now=datetime.now(UTC)
        )

    async def reprice_lines(
        self, cart_id: str, prices: dict[str, Money], expected_version: int | None
    ) -> StoredCart | None:
        """Each listed line takes `prices[line id]` as the price it was added at, and is no
        longer flagged for re-pricing."""
        branches = [
            {"case": {"$eq": ["$$line.id", line_id]}, "then": {"$literal": _money(price)}}
            for line_id, price in prices.items()
        ]
        repriced = {
            "$map": {
                "input": "$lines",
                "as": "line",
                "in": {
                    "$cond": [
                        {"$in": ["$$line.id", list(prices)]},
                        {
                            "$mergeObjects": [
                                "$$line",
                                {
                                    "added_unit_price": {
                                        "$switch": {"branches": branches, "default": None}
                                    },
                                    "needs_repricing": False,
                                },
                            ]
                        },
                        "$$line",
                    ]
                },
            }
        }
        return await self._update(
            cart_id,
            expected_version,
            [{"$set": {"lines": repriced}}],
            extra_filter={"lines.id": {"$all": list(prices)}},
            now=datetime.now(UTC),
        )

    async def _update(
        self,
        cart_id: str,
        expected_version: int | None,
        pipeline: list[Document],
        *,
        now: datetime,
        extra_filter: Document | None = None,
        session: AsyncClientSession | None = None,
        answer_lines: bool = True,
    ) -> StoredCart | None:
        query: Document = {"_id": cart_id, "status": CartStatus.OPEN.value, **(extra_filter or {})}
        if expected_version is not None:
            query["version"] = expected_version
        stamp: Document = {"version": {"$add": ["$version", 1]}, "updated_at": now}
        async with self._writers.hold(cart_id):
            # Decoded into dicts, not left as RawBSONDocument: PyMongo 4.20 crashes with
            # AttributeError on a write-concern error that carries labels when the answer
            # is raw (helpers_shared._check_command_response updates it in place), so a
            # primary stepping down turned a retryable write into a 500.
            doc = await self._carts.find_one_and_update(
                query,
                [*pipeline, {"$set": stamp}, *self._refresh_guest_expiry(now)],
                return_document=ReturnDocument.AFTER,
                # a 50-line cart's lines are ~9 of its ~10 KB and most of its decoding
                projection=None if answer_lines else _WITHOUT_LINES,
                session=session,
            )
        return StoredCart.from_document(doc, lines_read=answer_lines) if doc else None

    def _refresh_guest_expiry(self, now: datetime) -> list[Document]:
        # A guest cart in use keeps living; an abandoned one expires guest_ttl after its
        # last change.
        expiry = now + self._guest_ttl
        return [
            {
                "$set": {
                    "expires_at": {
                        "$cond": [{"$ifNull": ["$guest_token_sha256", False]}, expiry, "$$REMOVE"]
                    }
                }
            }
        ]

    async def explain_miss(
        self,
        cart_id: str,
        expected_version: int | None,
        *,
        line_ids: Sequence[str] = (),
        promo_code: str | None = None,
    ) -> tuple[CartMiss, StoredCart | None]:
        """After an update matched nothing: which precondition failed, and the cart now."""
        cart = await self.get(cart_id)
        if cart is None:
            return CartMiss.NOT_FOUND, None
        if cart.status is not CartStatus.OPEN:
            return CartMiss.NOT_OPEN, cart
        if expected_version is not None and cart.version != expected_version:
            return CartMiss.VERSION_CONFLICT, cart
        if any(cart.line(line_id) is None for line_id in line_ids):
            return CartMiss.LINE_NOT_FOUND, cart
        if promo_code is not None and promo_code not in cart.promo_codes:
            return CartMiss.PROMO_CODE_NOT_IN_CART, cart
        return CartMiss.LIMIT, cart

    # -- checkout and login merge ----------------------------------------------------------

    async def freeze_for_checkout(
        self, cart_id: str, checkout_key: str, version: int, session: AsyncClientSession | None
    ) -> bool:
        """OPEN at `version` -> CHECKING_OUT for this key; True also if already frozen for it."""
        return await self._transition(
            {
                "$or": [
                    _open_at(cart_id, version),
                    _checking_out(cart_id, checkout_key),
                ]
            },
            {"status": CartStatus.CHECKING_OUT.value, "checkout_key": checkout_key},
            session,
        )

    async def finish_checkout(
        self, cart_id: str, checkout_key: str, session: AsyncClientSession
    ) -> StoredCart | None:
        """CHECKING_OUT for this key -> CHECKED_OUT: the cart as closed (the checkout's
        answer shows it: a closed cart changes no more), None if it was not so frozen."""
        # a guest cart keeps its expiry: the TTL index removes it in time
        doc = await self._carts.find_one_and_update(
            _checking_out(cart_id, checkout_key),
            {
                "$set": {"status": CartStatus.CHECKED_OUT.value, "updated_at": datetime.now(UTC)},
                "$inc": {"version": 1},
                "$unset": {"active_customer_id": ""},
            },
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        return StoredCart.from_document(doc) if doc else None

    async def release_checkout(
        self, cart_id: str, checkout_key: str, session: AsyncClientSession | None = None
    ) -> None:
        """Back to OPEN after the upstream refused the order, so the customer can fix it."""
        await self._transition(
            _checking_out(cart_id, checkout_key),
            {"status": CartStatus.OPEN.value},
            session,
            unset=("checkout_key",),
        )

    async def replace_lines_and_codes(
        self,
        cart_id: str,
        version: int,
        lines: list[Document],
        promo_codes: list[str],
        session: AsyncClientSession,
    ) -> bool:
        """The login merge's write of the customer cart, at the version it was read at."""
        return await self._transition(
            _open_at(cart_id, version), {"lines": lines, "promo_codes": promo_codes}, session
        )

    async def mark_merged(
        self, cart_id: str, version: int, into_cart_id: str, session: AsyncClientSession
    ) -> bool:
        return await self._transition(
            _open_at(cart_id, version),
            {"status": CartStatus.MERGED.value, "merged_into": into_cart_id},
            session,
        )

    async def adopt_guest_cart(
        self, cart_id: str, version: int, customer_id: str, session: AsyncClientSession
    ) -> bool:
        """A guest cart becomes the customer's own when they had none."""
        return await self._transition(
            _open_at(cart_id, version),
            {"customer_id": customer_id, "active_customer_id": customer_id},
            session,
            unset=("guest_token_sha256", "expires_at"),
        )

    async def _transition(
        self,
        match: Document,
        fields: Document,
        session: AsyncClientSession | None,
        *,
        unset: tuple[str, ...] = (),
    ) -> bool:
        """One checkout or merge write: `fields` set, `unset` removed, `updated_at` now and
        the version bumped like every other change; True if a cart matched."""
        update: Document = {
            "$set": {**fields, "updated_at": datetime.now(UTC)},
            "$inc": {"version": 1},
        }
        if unset:
            update["$unset"] = dict.fromkeys(unset, "")
        result = await self.collection.update_one(match, update, session=session)
        return result.matched_count == 1

    async def raw(self, cart_id: str, session: AsyncClientSession | None = None) -> Document | None:
        return await self.collection.find_one({"_id": cart_id}, session=session)


_WITHOUT_LINES: Document = {"lines": 0}
_has_quantity = {"$gt": ["$$this.quantity", 0]}


def _merge_lines_expression(incoming: list[Document]) -> Document:
    """Server-side fold of `incoming` into `$lines`: same SKU adds quantity, else appends."""
    return {
        "$reduce": {
            "input": {"$literal": incoming},
            "initialValue": {"$ifNull": ["$lines", []]},
            "in": {
                "$cond": [
                    {"$in": ["$$this.sku", "$$value.sku"]},
                    {
                        "$map": {
                            "input": "$$value",
                            "as": "line",
                            "in": {
                                "$cond": [
                                    {"$eq": ["$$line.sku", "$$this.sku"]},
                                    {
                                        "$mergeObjects": [
                                            "$$line",
                                            {
                                                "quantity": {
                                                    "$add": ["$$line.quantity", "$$this.quantity"]
                                                },
                                                # units added at a recent price flag the
                                                # line until it is re-priced
                                                "needs_repricing": {
                                                    "$or": [
                                                        "$$line.needs_repricing",
                                                        "$$this.needs_repricing",
                                                    ]
                                                },
                                            },
                                        ]
                                    },
                                    "$$line",
                                ]
                            },
                        }
                    },
                    {"$concatArrays": ["$$value", ["$$this"]]},
                ]
            },
        }
    }


def _open_at(cart_id: str, version: int) -> Document:
    return {"_id": cart_id, "status": CartStatus.OPEN.value, "version": version}


def _checking_out(cart_id: str, checkout_key: str) -> Document:
    return {"_id": cart_id, "status": CartStatus.CHECKING_OUT.value, "checkout_key": checkout_key}
