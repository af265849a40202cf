"""An offers file read into the promotions and segments it declares, or every problem in
it as `file:line: where: message`, each at the line of the key to fix."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from commerce.offers.declared import Conflict, DeclaredOffers
from commerce.offers.rules import Conditions, Limits, Promotion, normalise_code
from gateway.offers_file.checks import Location, file_problems
from gateway.offers_file.model import (
    ConditionsEntry,
    LimitsEntry,
    OffersFile,
    PromotionEntry,
    utc_milliseconds,
)
from gateway.offers_file.yaml_source import YamlDocument, YamlProblems, read_yaml

_KNOWN_KEYS = {
    "promotions": sorted(PromotionEntry.model_fields),
    "conditions": sorted(ConditionsEntry.model_fields),
    "limits": sorted(LimitsEntry.model_fields),
}


class OffersFileError(Exception):
    """The file cannot be applied; `problems` says why, one line each."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True, slots=True)
class OffersSource:
    """The declaration, and where in its file each promotion and segment is written."""

    path: Path
    declared: DeclaredOffers
    document: YamlDocument
    promotion_index: dict[str, int]
    file: OffersFile

    def conflict_problems(self, conflicts: Sequence[Conflict]) -> list[str]:
        """The conflicts a plan found (commerce/offers/declared.py), at their lines."""
        problems = []
        for conflict in conflicts:
            location: Location = ()
            if conflict.promotion_id is not None:
                location = ("promotions", self.promotion_index[conflict.promotion_id], "id")
            elif conflict.segment is not None:
                location = ("segments", conflict.segment)
            problems.append(f"{self.path}:{self.document.line(location)}: {conflict.message}")
        return problems


STDIN = Path("-")


def load_offers_file(path: Path) -> OffersSource:
    """Raises OffersFileError with every problem found (none is written anywhere). `-`
    reads standard input (a pod has no file of yours: `kubectl exec -i ... < FILE`)."""
    try:
        if path == STDIN:
            text = sys.stdin.read()
            path = Path("<stdin>")
        else:
            text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise OffersFileError([f"{path}: cannot be read: {error}"]) from error
    try:
        document = read_yaml(text)
    except YamlProblems as error:
        lines = [f"{path}:{line}: {message}" for line, message in error.problems]
        raise OffersFileError(lines) from error
    if not isinstance(document.data, dict):
        raise OffersFileError(
            [f"{path}:1: an offers file is a mapping with `promotions:` (docs/offers.md)"]
        )
    try:
        offers = OffersFile.model_validate(document.data)
    except ValidationError as error:
        raise OffersFileError(_validation_problems(path, document, error)) from error
    problems = sorted(
        (
            (document.line(location), location, message)
            for location, message in file_problems(offers)
        ),
        key=lambda found: found[0],
    )
    if problems:
        raise OffersFileError(
            [
                f"{path}:{line}: {_where(location)}: {message}"
                for line, location, message in problems
            ]
        )
    return OffersSource(
        path=path,
        declared=_declared(offers),
        document=document,
        promotion_index={entry.id: index for index, entry in enumerate(offers.promotions)},
        file=offers,
    )


def _declared(offers: OffersFile) -> DeclaredOffers:
    return DeclaredOffers(
        set_name=offers.set,
        promotions=tuple(_promotion(entry) for entry in offers.promotions),
        segments={name: frozenset(members) for name, members in offers.segments.items()},
    )


def _promotion(entry: PromotionEntry) -> Promotion:
    conditions = entry.conditions
    return Promotion(
        id=entry.id,
        kind=entry.kind,
        title=entry.title,
        code=normalise_code(entry.code) if entry.code is not None else None,
        value=entry.value if entry.value is not None else Decimal(0),
        currency=entry.currency,
        buy_quantity=entry.buy_quantity or 0,
        get_quantity=entry.get_quantity or 0,
        conditions=Conditions(
            channels=tuple(channel.value for channel in conditions.channels),
            store_ids=conditions.store_ids,
            segments=conditions.segments,
            tiers=conditions.tiers,
            min_subtotal=conditions.min_subtotal,
            skus=conditions.skus,
            categories=conditions.categories,
            starts_at=utc_milliseconds(conditions.starts_at),
            ends_at=utc_milliseconds(conditions.ends_at),
        ),
        stacking=entry.stacking,
        priority=entry.priority,
        limits=Limits(entry.limits.total, entry.limits.per_customer),
        active=entry.active,
    )


def _validation_problems(path: Path, document: YamlDocument, error: ValidationError) -> list[str]:
    found = []
    for detail in error.errors(include_url=False):
        location = tuple(part for part in detail["loc"] if part != "[key]")
        found.append((document.line(location), location, _message(detail)))
    found.sort(key=lambda item: item[0])
    return [f"{path}:{line}: {_where(location)}: {message}" for line, location, message in found]


def _message(detail: Any) -> str:
    kind = detail["type"]
    value = detail.get("input")
    if kind == "extra_forbidden":
        parent = next((p for p in reversed(detail["loc"][:-1]) if isinstance(p, str)), "")
        known = _KNOWN_KEYS.get(parent, ["set", "promotions", "segments"])
        return f"unknown key; known here: {', '.join(known)}"
    if kind == "missing":
        return "required"
    if kind == "timezone_aware":
        return "a time needs its zone, as in 2027-03-01T09:00:00Z or 2027-03-01T09:00:00+01:00"
    message = str(detail["msg"]).removeprefix("Value error, ")
    if isinstance(value, bool) and kind.startswith("string"):
        return f"{message}: YAML reads unquoted {value}, yes, no, on, off as booleans: quote it"
    if isinstance(value, date):  # a YAML timestamp
        message += f" (got {value.isoformat()})"
    elif isinstance(value, str | int | float) and not isinstance(value, bool):
        message += f" (got {value!r})"
    return message


def _where(location: Location) -> str:
    """`promotions[2].conditions.channels[0]`"""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "file"
