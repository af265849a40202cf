"""`omnigate offers apply FILE [--dry-run]` and `omnigate offers list`, and the sandbox's
seed that `omnigate dev` applies the same way."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from pymongo.errors import PyMongoError

from commerce.offers.declared import OffersPlan, plan
from commerce.offers.offer_sets import OfferSets
from gateway.mongo import connect_mongo
from gateway.offers_file.load import OffersFileError, load_offers_file
from gateway.offers_file.report import plan_lines, promotion_table, segment_table
from gateway.settings import Settings

Print = Callable[[str], None]


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")


def _err(line: str) -> None:
    sys.stderr.write(line + "\n")


@asynccontextmanager
async def offer_sets(settings: Settings) -> AsyncIterator[OfferSets]:
    mongo = connect_mongo(settings.mongodb_uri.get_secret_value(), settings.mongodb_timeout_seconds)
    try:
        yield OfferSets(mongo[settings.mongodb_database])
    finally:
        await mongo.close()


async def apply_offers_file(
    settings: Settings, path: Path, *, dry_run: bool, out: Print = _out, err: Print = _err
) -> int:
    """0 once applied (or planned, with `dry_run`); 1 with each problem on `err`, and
    nothing written."""
    try:
        source = load_offers_file(path)
    except OffersFileError as error:
        for problem in error.problems:
            err(problem)
        err("nothing applied")
        return 1
    try:
        async with offer_sets(settings) as sets:
            await sets.ensure_indexes()
            planned: OffersPlan = plan(source.declared, await sets.current(source.declared))
            if planned.conflicts:
                for problem in source.conflict_problems(planned.conflicts):
                    err(problem)
                err("nothing applied")
                return 1
            if not dry_run:
                await sets.apply(planned)
    except PyMongoError as error:
        err(f"MongoDB: {error}")
        err("nothing applied" if dry_run else "nothing applied (the changes are one transaction)")
        return 1
    for line in plan_lines(planned, dry_run=dry_run):
        out(line)
    return 0


async def list_offers(settings: Settings, *, issued: bool, out: Print = _out) -> int:
    try:
        async with offer_sets(settings) as sets:
            promotions = await sets.promotions(issued=issued)
            segments = await sets.segments()
    except PyMongoError as error:
        _err(f"MongoDB: {error}")
        return 1
    out(
        f"promotions: {len(promotions)}"
        + ("" if issued else " (vouchers and referral codes: --issued)")
    )
    if promotions:
        for line in promotion_table(promotions):
            out(line)
    out(f"\nsegments: {len(segments)}")
    if segments:
        for line in segment_table(segments):
            out(line)
    return 0
