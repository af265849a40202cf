"""Federation's `_entities(representations:)`: each representation is checked before
Strawberry resolves it, so a bad one is BAD_USER_INPUT at its own index and the good ones
around it still resolve.

`_Any` takes any JSON value, and Strawberry's resolver assumes each is an object with the
`__typename` of an entity and exactly its key fields: a number or a string failed the whole
field (a `.pop` on it), an unknown or non-entity type name, a missing or extra key field
or a key that is no ID failed as an internal error. A representation is accepted as a
router sends it: an object whose `__typename` names a type with `@key`, and that type's key
fields, each an ID (a string, or an integer, which GraphQL's ID coercion reads as a string),
and nothing else (no type here takes `@requires` fields).
"""

from __future__ import annotations

from collections.abc import Mapping

from commerce.errors import BadUserInput

# type name -> its key fields (simple keys only: every `@key(fields:)` here is one field)
EntityKeys = Mapping[str, frozenset[str]]


def checked_representation(
    representation: object, index: int, entity_keys: EntityKeys
) -> dict[str, object] | BadUserInput:
    """The representation to resolve (a copy, key values as strings), or why it cannot be."""
    problem = _problem(representation, entity_keys)
    if problem is not None:
        return BadUserInput(f"representations[{index}]: {problem}", field="representations")
    assert isinstance(representation, dict)
    return {
        name: value if name == "__typename" else str(value)
        for name, value in representation.items()
    }


def _problem(representation: object, entity_keys: EntityKeys) -> str | None:
    if not isinstance(representation, dict):
        return "a representation must be an object with `__typename` and the key fields."
    typename = representation.get("__typename")
    if not isinstance(typename, str):
        return "`__typename` must be a string naming an entity type."
    keys = entity_keys.get(typename)
    if keys is None:
        known = ", ".join(sorted(entity_keys))
        return f"`{typename[:64]}` is not an entity type here (entity types: {known})."
    given = set(representation) - {"__typename"}
    if missing := sorted(keys - given):
        return f"`{typename}` needs its key field {', '.join(f'`{k}`' for k in missing)}."
    if extra := sorted(given - keys):
        shown = ", ".join(f"`{name[:64]}`" for name in extra[:5])
        key = ", ".join(sorted(keys))
        return f"`{typename}` is resolved by its key ({key}) alone: {shown} not expected."
    for key in sorted(keys):
        value = representation[key]
        # bool is an int to Python, not an ID to GraphQL
        if isinstance(value, bool) or not isinstance(value, str | int):
            return f"`{typename}.{key}` must be an ID (a string or an integer)."
    return None
