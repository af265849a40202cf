"""The one JSON decoder for what clients send: POST bodies, GET's `variables` and
`extensions`, and every websocket message (the view's `decode_json`).

orjson is strict where the standard library is lenient, and each leniency was a 500: it
takes UTF-8 only (json.loads raised UnicodeDecodeError on other bytes), refuses escaped lone
surrogates (which no UTF-8 encoder takes back, so hashing or echoing such a string failed),
NaN and Infinity, and numbers beyond a double (json.loads turned 5,000 digits into a
ValueError); an integer beyond 64 bits becomes a float. Its own nesting limit is 1024 levels,
which a 64 KiB body easily exceeds; json.loads went on to Python's recursion limit
instead (RecursionError). The value is then held to `max_json_depth` levels, so nothing that
reads it afterwards, recursively or not, sees more.
"""

from __future__ import annotations

import orjson

JSON_TOO_DEEP = "JSON_TOO_DEEP"
# orjson.JSONDecodeError's message when its own limit (1024 levels) stops it: a body
# that deep is refused as too deep, not as malformed (tests/test_hostile_bodies.py
# sends one, so a change of wording fails there)
_ORJSON_DEPTH_MESSAGE = "depth limit exceeded"


class JsonTooDeep(ValueError):
    """Valid JSON nested deeper than the limit. Deliberately not a JSONDecodeError:
    Strawberry answers those as "not JSON" (and its graphql-ws handler ignores them), where
    this one gets its own code."""

    def __init__(self, max_depth: int) -> None:
        super().__init__(f"JSON nested deeper than {max_depth} levels is refused (max_json_depth).")


def decode_json(data: str | bytes, max_depth: int) -> object:
    """Raises orjson.JSONDecodeError (a json.JSONDecodeError) or JsonTooDeep."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        if _ORJSON_DEPTH_MESSAGE in str(error):
            raise JsonTooDeep(max_depth) from None
        raise
    _check_depth(value, max_depth)
    return value


def _check_depth(value: object, max_depth: int) -> None:
    # level by level, without recursion: the cost is one visit per array or object
    level: list[dict[str, object] | list[object]] = (
        [value] if isinstance(value, dict | list) else []
    )
    depth = 0
    while level:
        depth += 1
        if depth > max_depth:
            raise JsonTooDeep(max_depth)
        children: list[dict[str, object] | list[object]] = []
        for container in level:
            items = container.values() if isinstance(container, dict) else container
            children.extend(item for item in items if isinstance(item, dict | list))
        level = children
