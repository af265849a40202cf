"""Reading request fields the way Square validates them, with Square's own error codes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox.square.envelope import invalid_request


def field(body: dict[str, Any], *path: str) -> Any:
    """The value at `path` in nested objects, or None when any level is absent."""
    value: Any = body
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def id_list(
    body: dict[str, Any], *path: str, max_length: int | None = None, required: bool = False
) -> list[str] | None:
    """A list of ids; longer than `max_length` is refused as Square refuses it."""
    name = ".".join(path)
    value = field(body, *path)
    if value is None:
        if required:
            raise invalid_request("MISSING_REQUIRED_PARAMETER", f"Missing `{name}`.", name)
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise invalid_request("EXPECTED_ARRAY", f"`{name}` must be an array of strings.", name)
    if required and not value:
        raise invalid_request("ARRAY_LENGTH_TOO_SHORT", f"`{name}` must not be empty.", name)
    if max_length is not None and len(value) > max_length:
        raise invalid_request(
            "ARRAY_LENGTH_TOO_LONG",
            f"Cannot provide more than {max_length} {path[-1]}.",
            name,
        )
    return value


def strict_limit(body: dict[str, Any], *, default: int, minimum: int, maximum: int) -> int:
    """A `limit` Square refuses when out of range (400 VALUE_TOO_LOW / VALUE_TOO_HIGH)."""
    value = body.get("limit")
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid_request("EXPECTED_INTEGER", "`limit` must be an integer.", "limit")
    if value < minimum:
        raise invalid_request("VALUE_TOO_LOW", f"`limit` must be at least {minimum}.", "limit")
    if value > maximum:
        raise invalid_request("VALUE_TOO_HIGH", f"`limit` must be at most {maximum}.", "limit")
    return value


def advisory_limit(body: dict[str, Any], *, default: int, maximum: int) -> int:
    """A `limit` Square documents as advisory: negative, zero or above the maximum is ignored."""
    value = body.get("limit")
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= maximum:
        return value
    return default


def timestamp(body: dict[str, Any], *path: str) -> datetime | None:
    """An RFC 3339 timestamp field, refused with INVALID_TIME when unreadable."""
    value = field(body, *path)
    if value is None:
        return None
    name = ".".join(path)
    if not isinstance(value, str):
        raise invalid_request("EXPECTED_STRING", f"`{name}` must be an RFC 3339 string.", name)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise invalid_request("INVALID_TIME", f"`{name}` is not an RFC 3339 time.", name) from exc
    if parsed.tzinfo is None:
        raise invalid_request("INVALID_TIME", f"`{name}` needs a UTC offset.", name)
    return parsed


def one_of(body: dict[str, Any], *path: str, allowed: tuple[str, ...], default: str) -> str:
    value = field(body, *path)
    if value is None:
        return default
    if value not in allowed:
        name = ".".join(path)
        raise invalid_request("INVALID_ENUM_VALUE", f"`{name}` must be one of {allowed}.", name)
    return str(value)
