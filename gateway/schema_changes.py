"""The schema against the last release's: `omnigate check-schema` (run by `make lint`).

A breaking change (a field, type, argument or enum value removed, a type made stricter
where clients send it or looser where they read it, ...) fails the check unless it is
recorded as intended, with a reason, in the record of breaking changes for the next
release. Dangerous changes (an enum value added, a default changed) are listed and pass.
The kinds are graphql-core's (`find_schema_changes`, the successor of
`find_breaking_changes`); a change is named by graphql-core's own description of it,
e.g. `Field Address.line2 was removed.`, which is what the record holds.

The last release's schema is the committed `schema/released.graphql`, replaced at each
release together with emptying the record (docs/operations.md "Releasing"): a file, not a
git tag, so the check works in a shallow clone and a change of baseline is a reviewed diff.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from graphql import GraphQLError, GraphQLSchema, build_schema, validate_schema
from graphql.utilities.find_schema_changes import (
    BreakingChangeType,
    DangerousChangeType,
    find_schema_changes,
)

CURRENT = Path("schema.graphql")
RELEASED = Path("schema/released.graphql")
INTENDED = Path("schema/breaking-changes.yaml")
_ENTRY_KEYS = {"change", "reason"}


class SchemaCheckError(ValueError):
    """A schema or the record that cannot be read: one line per problem, naming the file."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Change:
    kind: str  # graphql-core's BreakingChangeType / DangerousChangeType name
    description: str


@dataclass(frozen=True, slots=True)
class Comparison:
    breaking: list[Change]
    dangerous: list[Change]


@dataclass(frozen=True, slots=True)
class Intended:
    """One breaking change the next release makes on purpose."""

    change: str
    reason: str


@dataclass(frozen=True, slots=True)
class Verdict:
    intended: list[Change]  # breaking, and recorded
    unrecorded: list[Change]  # breaking, not recorded: the check fails
    stale: list[Intended]  # recorded, but no such breaking change: the check fails
    dangerous: list[Change]

    @property
    def passed(self) -> bool:
        return not self.unrecorded and not self.stale


def read_schema(path: Path) -> GraphQLSchema:
    """The schema an SDL file describes. Directives it uses without defining (Federation's
    `@link` and `@key`, as the gateway prints them) are taken as they are."""
    try:
        sdl = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SchemaCheckError([f"{path}: cannot be read ({exc.strerror or exc})"]) from exc
    try:
        schema = build_schema(sdl, assume_valid_sdl=True)
    except GraphQLError as error:
        raise SchemaCheckError([f"{path}:{_line(error)}: {error.message}"]) from error
    except TypeError as error:  # what build_schema raises for an invalid definition
        raise SchemaCheckError([f"{path}: {error}"]) from error
    if problems := validate_schema(schema):
        raise SchemaCheckError([f"{path}:{_line(error)}: {error.message}" for error in problems])
    return schema


def _line(error: GraphQLError) -> str:
    return str(error.locations[0].line) if error.locations else "?"


def compare(released: GraphQLSchema, current: GraphQLSchema) -> Comparison:
    breaking: list[Change] = []
    dangerous: list[Change] = []
    for change in find_schema_changes(released, current):
        if isinstance(change.type, BreakingChangeType):
            breaking.append(Change(change.type.name, change.description))
        elif isinstance(change.type, DangerousChangeType):
            dangerous.append(Change(change.type.name, change.description))
    return Comparison(breaking, dangerous)


def read_intended(path: Path) -> list[Intended]:
    """The record: a YAML list of `{change: <description>, reason: <why>}`; a missing
    file is an empty record."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise SchemaCheckError([f"{path}: cannot be read ({exc.strerror or exc})"]) from exc
    try:
        entries = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise SchemaCheckError([f"{path}: not valid YAML: {_yaml_problem(error)}"]) from error
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise SchemaCheckError([f"{path}: must be a list of {{change, reason}} entries"])
    problems: list[str] = []
    intended: list[Intended] = []
    for number, entry in enumerate(entries, start=1):
        where = f"{path}: entry {number}"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be a mapping with `change` and `reason`")
            continue
        if unknown := sorted(str(key) for key in entry if key not in _ENTRY_KEYS):
            problems.append(f"{where}: unknown key {', '.join(unknown)} (known: change, reason)")
        change, reason = entry.get("change"), entry.get("reason")
        if not isinstance(change, str) or not change.strip():
            problems.append(f"{where}: `change` must be the change's description, as reported")
        if not isinstance(reason, str) or not reason.strip():
            problems.append(f"{where}: `reason` must say why the break is intended")
        if isinstance(change, str) and isinstance(reason, str):
            intended.append(Intended(change.strip(), reason.strip()))
    if problems:
        raise SchemaCheckError(problems)
    return intended


def _yaml_problem(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    return f"line {mark.line + 1}: {problem}" if mark is not None else problem


def judge(comparison: Comparison, intended: list[Intended]) -> Verdict:
    recorded = {entry.change for entry in intended}
    found = {change.description for change in comparison.breaking}
    return Verdict(
        intended=[c for c in comparison.breaking if c.description in recorded],
        unrecorded=[c for c in comparison.breaking if c.description not in recorded],
        stale=[entry for entry in intended if entry.change not in found],
        dangerous=comparison.dangerous,
    )


def check(current: Path, released: Path, intended: Path) -> Verdict:
    """SchemaCheckError when a file cannot be read (every such problem at once)."""
    problems: list[str] = []
    schemas: list[GraphQLSchema] = []
    for path in (released, current):
        try:
            schemas.append(read_schema(path))
        except SchemaCheckError as error:
            problems += error.problems
    try:
        record = read_intended(intended)
    except SchemaCheckError as error:
        problems += error.problems
    if problems:
        raise SchemaCheckError(problems)
    return judge(compare(*schemas), record)


def report(verdict: Verdict, current: Path, released: Path, intended: Path) -> list[str]:
    """What `check-schema` prints: every change, and on failure what to do."""
    lines = [f"{current} against {released} (the last release's):"]
    lines += [f"  breaking, intended: {c.kind}: {c.description}" for c in verdict.intended]
    lines += [f"  breaking, NOT RECORDED: {c.kind}: {c.description}" for c in verdict.unrecorded]
    lines += [
        f"  recorded in {intended} but no such breaking change: {e.change}" for e in verdict.stale
    ]
    lines += [f"  dangerous: {c.kind}: {c.description}" for c in verdict.dangerous]
    if len(lines) == 1:
        lines.append("  no breaking or dangerous change")
    if verdict.unrecorded:
        entries = [{"change": c.description, "reason": "..."} for c in verdict.unrecorded]
        lines += [
            f"Breaking changes fail unless recorded. If a break is intended, add it to "
            f"{intended} with why (clients must be told); otherwise restore the schema:",
            *yaml.safe_dump(entries, sort_keys=False, width=1000).splitlines(),
        ]
    if verdict.stale:
        lines.append(f"Remove from {intended} what the schema no longer breaks.")
    return lines
