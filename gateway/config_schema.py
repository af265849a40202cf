"""The JSON schema of the config file (`omnigate config-schema`), from the settings model.

pydantic's schema of `Settings`, adjusted to say what the file accepts, no more and no less:

- an unknown key is refused (gateway/config_file.py), so every section has
  `additionalProperties: false`;
- a single value that is not a plain string (a number, a boolean, an enum) may be written
  as a reference, `${NAME}` or `${NAME:-default}`, and is converted once expanded, so it
  also accepts one (a list or a map is written as YAML, references in its items);
- a rate limit given in part keeps the rest of its defaults (RateLimitSettings), so its
  keys are not required;
- secrets show no default (pydantic's would be its mask, `**********`), nor do sections
  (each of their settings shows its own).
"""

from __future__ import annotations

import copy
from typing import Any

from gateway.settings import Settings

DRAFT = "https://json-schema.org/draft/2020-12/schema"
REFERENCE = "EnvironmentReference"
_REFERENCE_SCHEMA = {
    "type": "string",
    "pattern": r"\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}",
    "description": "${NAME} or ${NAME:-default}: an environment variable, expanded when "
    "the file is read",
}
# Merged with their defaults key by key (RateLimitSettings._per_kind_defaults).
_PARTIAL = ("RateLimit",)
# What describes a value rather than constrains it: kept outside the anyOf.
_ANNOTATIONS = ("title", "description", "default", "examples", "deprecated")


def config_schema() -> dict[str, Any]:
    schema = copy.deepcopy(Settings.model_json_schema())
    definitions: dict[str, Any] = schema.setdefault("$defs", {})
    for name, definition in [("Settings", schema), *definitions.items()]:
        if "properties" not in definition:
            continue  # an enum
        definition["additionalProperties"] = False
        if name in _PARTIAL:
            definition.pop("required", None)
        definition["properties"] = {
            key: _accepting_references(value, definitions)
            for key, value in definition["properties"].items()
        }
    definitions[REFERENCE] = _REFERENCE_SCHEMA
    return {
        "$schema": DRAFT,
        "title": "omnigate configuration",
        "description": "The YAML config file of `omnigate --config FILE` (or OMNIGATE_CONFIG). "
        "OMNIGATE_* environment variables override its keys; docs/operations.md.",
        **{key: value for key, value in schema.items() if key not in ("title", "description")},
    }


def _accepting_references(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """`schema`, or an anyOf of it and a reference, for a value a reference may stand for."""
    secret = schema.get("writeOnly") and schema.get("default") == "**********"
    if secret or _is_section(schema, definitions):
        schema = {key: value for key, value in schema.items() if key != "default"}
    if _is_section(schema, definitions) or _takes_any_string(schema, definitions):
        return schema
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        return {**schema, "items": _accepting_references(schema["items"], definitions)}
    if schema.get("type") == "object":
        return schema  # a map: its values are secrets, strings already
    annotations = {key: schema[key] for key in _ANNOTATIONS if key in schema}
    value = {key: item for key, item in schema.items() if key not in _ANNOTATIONS}
    options = value["anyOf"] if list(value) == ["anyOf"] else [value]
    return {**annotations, "anyOf": [*options, {"$ref": f"#/$defs/{REFERENCE}"}]}


def _resolved(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref", "")
    if ref.startswith("#/$defs/"):
        resolved: dict[str, Any] = definitions[ref.removeprefix("#/$defs/")]
        return resolved
    return schema


def _is_section(schema: dict[str, Any], definitions: dict[str, Any]) -> bool:
    """A nested model (written as a mapping, its own values references or not)."""
    options = schema.get("anyOf", [schema])
    return any("properties" in _resolved(option, definitions) for option in options)


def _takes_any_string(schema: dict[str, Any], definitions: dict[str, Any]) -> bool:
    """A plain string (no enum, pattern or format): a reference is one already."""
    options = schema.get("anyOf", [schema])
    return any(
        _resolved(option, definitions).get("type") == "string"
        and not {"enum", "pattern", "format", "const"} & set(_resolved(option, definitions))
        for option in options
    )
