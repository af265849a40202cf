"""HubSpot payloads checked against the official Python SDK's models (`hubspot-api-client`,
a test dependency): the SDK's own deserializer, with its client-side validation on
(required fields, enum values), and no key the model does not define, at any depth.

The SDK leaves client-side validation off by default (Configuration), so it is switched on
here; `ApiClient.deserialize` is its public entry point, given an object with `.data` as
its REST layer passes one. Known gap of the SDK's models, a named exception: `sorts` of a
search request is typed list[str], while the API takes `{propertyName, direction}` objects
(HubSpot/hubspot-api-python issue #236); `search_request` checks those apart. And the
`Error` model lacks the `"status": "error"` every HubSpot error carries; `error` checks it
apart.

`objects` picks the SDK package whose models are meant: "contacts" (the default), "tickets",
or "associations" (CRM v4 associations).
"""

from __future__ import annotations

import importlib
import json
import re
from datetime import datetime
from types import ModuleType
from typing import Any

PACKAGES = {
    "contacts": "hubspot.crm.contacts",
    "tickets": "hubspot.crm.tickets",
    "associations": "hubspot.crm.associations.v4",
}

_PRIMITIVES: dict[str, type | tuple[type, ...]] = {
    "str": str,
    "int": int,
    "bool": bool,
    "float": (int, float),
}


class _Response:
    def __init__(self, payload: Any) -> None:
        self.data = json.dumps(payload)


def validated(payload: Any, model: str, objects: str = "contacts") -> Any:
    """`payload` as the SDK's `model` (e.g. "SimplePublicObject") of the `objects` API;
    AssertionError when it is not one."""
    package = importlib.import_module(PACKAGES[objects])
    configuration = package.Configuration()
    configuration.client_side_validation = True
    try:
        parsed = package.ApiClient(configuration=configuration).deserialize(
            _Response(payload), model
        )
    except ValueError as error:
        raise AssertionError(f"not a {model}: {error}") from error
    models = importlib.import_module(PACKAGES[objects] + ".models")
    problems = list(_problems(models, payload, model, "$"))
    assert not problems, f"not a {model}: " + "; ".join(problems)
    return parsed


def _problems(models: ModuleType, value: Any, kind: str, path: str) -> Any:
    if value is None:
        return
    if match := re.fullmatch(r"list\[(.*)\]", kind):
        if not isinstance(value, list):
            yield f"{path} is not a list"
            return
        for i, item in enumerate(value):
            yield from _problems(models, item, match[1], f"{path}[{i}]")
        return
    if match := re.fullmatch(r"dict\[str, (.*)\]", kind):
        if not isinstance(value, dict):
            yield f"{path} is not an object"
            return
        for key, item in value.items():
            yield from _problems(models, item, match[1], f"{path}.{key}")
        return
    if kind in _PRIMITIVES:
        if not isinstance(value, _PRIMITIVES[kind]) or (kind != "bool" and value is True):
            yield f"{path} is not a {kind}"
        return
    if kind == "datetime":
        try:
            datetime.fromisoformat(value)
        except (TypeError, ValueError):
            yield f"{path} is not a date-time"
        return
    if kind == "object":
        return
    klass = getattr(models, kind)
    if not isinstance(value, dict):
        yield f"{path} is not a {kind} object"
        return
    attributes = {json_key: name for name, json_key in klass.attribute_map.items()}
    for key, item in value.items():
        if key not in attributes:
            yield f"{path}.{key} is not a field of {kind}"
            continue
        yield from _problems(models, item, klass.openapi_types[attributes[key]], f"{path}.{key}")


def search_request(body: dict[str, Any], objects: str = "contacts") -> Any:
    """A search body as the SDK's PublicObjectSearchRequest, its sorts checked apart."""
    for sort in body.get("sorts", []):
        assert set(sort) == {"propertyName", "direction"}, sort
        assert sort["direction"] in ("ASCENDING", "DESCENDING"), sort
    return validated(
        {k: v for k, v in body.items() if k != "sorts"}, "PublicObjectSearchRequest", objects
    )


def error(payload: dict[str, Any], objects: str = "contacts") -> Any:
    """An error answer as the SDK's Error, its `status` checked apart."""
    assert payload.get("status") == "error", payload
    return validated({k: v for k, v in payload.items() if k != "status"}, "Error", objects)
