"""Square's official OpenAPI document (`/work/shared/vendor-specs/square-api.json`) as a judge.

`SquareContract.request(method, path, body)` and `.answer(method, path, body)` validate a
request body the adapter sent and a body the simulator answered against the operation's
schemas. Square answers every outcome, errors included, in the operation's one response
type (`CreatePaymentResponse` has `payment` and `errors`), so an error envelope is checked
against it too.

Strict on names: OpenAPI leaves `additionalProperties` open, which would let a misspelt
field through, so every object schema that lists its properties is closed here. The
document is OpenAPI 3.0 (JSON Schema draft 4 keywords); `jsonschema`'s Draft4Validator
reads it through a `referencing` registry, `#/components/...` resolving in the document.
"""

from __future__ import annotations

import copy
import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPEC_PATH = Path(
    os.environ.get("OMNIGATE_SQUARE_OPENAPI", "/work/shared/vendor-specs/square-api.json")
)
BASE = "urn:square-openapi"


def _closed(node: Any) -> Any:
    if isinstance(node, dict):
        closed = {key: _closed(value) for key, value in node.items()}
        if "properties" in closed and "additionalProperties" not in closed:
            closed["additionalProperties"] = False
        return closed
    if isinstance(node, list):
        return [_closed(item) for item in node]
    return node


class SquareContract:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        strict = copy.deepcopy(document)
        strict["components"] = _closed(strict["components"])
        resource = Resource.from_contents(strict, default_specification=DRAFT4)
        self._registry: Registry[Any] = Registry().with_resource(BASE, resource)
        self._paths = [
            (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), path)
            for path in document["paths"]
        ]

    def operation(self, method: str, path: str) -> dict[str, Any]:
        """The operation object for a concrete path (`/v2/payments/abc/complete`)."""
        for pattern, template in self._paths:
            if pattern.match(path) and method.lower() in self.document["paths"][template]:
                op: dict[str, Any] = self.document["paths"][template][method.lower()]
                return op
        raise AssertionError(f"{method} {path} is no operation of Square's API")

    def request(self, method: str, path: str, body: dict[str, Any] | None) -> None:
        """`body` None: nothing was sent, which only an operation without a body allows."""
        op = self.operation(method, path)
        if "requestBody" not in op or body is None:
            assert "requestBody" not in op or not op["requestBody"].get("required"), (
                f"{op['operationId']} needs a body"
            )
            assert body is None, f"{op['operationId']} takes no body"
            return
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        self._validate(schema, body, f"request {op['operationId']}")

    def answer(self, method: str, path: str, body: dict[str, Any]) -> None:
        op = self.operation(method, path)
        schema = op["responses"]["200"]["content"]["application/json"]["schema"]
        self._validate(schema, body, f"answer {op['operationId']}")

    def schema(self, name: str, body: Any) -> None:
        """`body` is one of the document's named schemas (a webhook event's shape)."""
        self._validate({"$ref": f"#/components/schemas/{name}"}, body, name)

    def _validate(self, schema: dict[str, Any], body: Any, what: str) -> None:
        rooted = {"$ref": BASE + schema["$ref"]} if "$ref" in schema else schema
        validator = Draft4Validator(rooted, registry=self._registry)
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        assert not errors, f"{what} breaks Square's contract: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors[:5]
        )


@cache
def _load() -> SquareContract | None:
    if not SPEC_PATH.exists():
        return None
    return SquareContract(json.loads(SPEC_PATH.read_text()))


def square_contract() -> SquareContract:
    """The judge; the test is skipped, saying why, where the vendor specs are not present."""
    contract = _load()
    if contract is None:
        pytest.skip(f"Square's OpenAPI document is not at {SPEC_PATH} (OMNIGATE_SQUARE_OPENAPI)")
    return contract
