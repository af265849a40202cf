"""Referrals: a customer's referral code, and the vouchers a friend's order earns both.

A referral code is a code promotion of its own (`referrer_id` set): the friend applies it
like any code and gets the welcome discount on their order; it is for signed-in customers,
once per customer (`limits.per_customer` 1), never for the referrer. When an order that
redeemed it completes, each of the two gets a personal voucher (a FIXED_AMOUNT promotion
with `customer_id` set, one use), with ids derived from the checkout attempt, so a replay
of the checkout issues nothing twice.
"""

from __future__ import annotations

import secrets
from decimal import Decimal

from pymongo.errors import DuplicateKeyError

from commerce.offers.promotions import PromotionStore
from commerce.offers.rules import Limits, OfferKind, Promotion

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read out loud


class Referrals:
    def __init__(
        self, promotions: PromotionStore, *, friend_percent: Decimal, reward_amount: Decimal
    ) -> None:
        self._promotions = promotions
        self._friend_percent = friend_percent
        self._reward_amount = reward_amount

    async def code_for(self, customer_id: str) -> str:
        """The customer's referral code, made the first time it is asked for."""
        for _ in range(5):
            found = await self._promotions.collection.find_one({"referrer_id": customer_id})
            if found is not None:
                return str(found["code"])
            code = "REF-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
            promotion = Promotion(
                id=f"referral-{customer_id}",
                kind=OfferKind.PERCENTAGE,
                title=f"{self._friend_percent} % off your first order, from a friend",
                code=code,
                value=self._friend_percent,
                limits=Limits(per_customer=1),
                referrer_id=customer_id,
            )
            try:
                await self._promotions.put_new(promotion)
            except DuplicateKeyError:
                continue  # a code collision, or a concurrent first ask: read again
        raise RuntimeError(f"no referral code could be made for {customer_id}")

    async def reward(
        self, attempt_id: str, promotion_ids: tuple[str, ...], friend_id: str, currency: str
    ) -> list[Promotion]:
        """The vouchers a completed order earns (none unless it redeemed a referral code)."""
        if not promotion_ids:
            return []
        issued = []
        for referral in await self._promotions.find(
            {"_id": {"$in": list(promotion_ids)}, "referrer_id": {"$type": "string"}}
        ):
            assert referral.referrer_id is not None
            for role, customer_id in (("referrer", referral.referrer_id), ("friend", friend_id)):
                voucher = Promotion(
                    id=f"voucher-{attempt_id[:24]}-{role}",
                    kind=OfferKind.FIXED_AMOUNT,
                    title="Referral thank-you voucher",
                    code=f"THANKS-{attempt_id[:10].upper()}-{role[0].upper()}",
                    value=self._reward_amount,
                    currency=currency,
                    limits=Limits(total=1),
                    customer_id=customer_id,
                )
                if await self._promotions.put_new(voucher):
                    issued.append(voucher)
        return issued
