"""A YAML document read with the line of every value, so a problem found later (by the
file's model) can be reported as `file:line: message`.

PyYAML composes the document into nodes that carry their position; the values are built
from those nodes here, with two departures from `yaml.safe_load` that a configuration file
wants: a key given twice is a problem (safe_load keeps the last silently), and a float is
kept as the text written (`7.10` stays `"7.10"`, for a Decimal, never `7.1` rounded
through binary floating point).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

FLOAT_TAG = "tag:yaml.org,2002:float"
MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlProblems(Exception):
    """The document cannot be read: `(line, message)` each."""

    def __init__(self, problems: Sequence[tuple[int, str]]) -> None:
        super().__init__("; ".join(f"line {line}: {message}" for line, message in problems))
        self.problems = list(problems)


@dataclass(frozen=True, slots=True)
class YamlDocument:
    data: Any
    root: Node | None

    def line(self, location: Sequence[str | int]) -> int:
        """The line (from 1) of the value at `location` (keys and list indexes from the
        root), or of the deepest part of it that exists: a missing key is reported at the
        mapping that lacks it."""
        node = self.root
        if node is None:
            return 1
        line = node.start_mark.line + 1
        for part in location:
            found: Node | None = None
            if isinstance(node, MappingNode):
                for key, value in reversed(node.value):  # the last: own keys override
                    if isinstance(key, ScalarNode) and key.value == str(part):
                        line = key.start_mark.line + 1
                        found = value
                        break
            elif (
                isinstance(node, SequenceNode)
                and isinstance(part, int)
                and 0 <= part < len(node.value)
            ):
                found = node.value[part]
                line = found.start_mark.line + 1
            if found is None:
                return line
            node = found
        return line


def read_yaml(text: str) -> YamlDocument:
    """The one document in `text`; raises YamlProblems if it is not well-formed YAML."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        problems: list[tuple[int, str]] = []
        data = _value(loader, root, problems) if root is not None else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise YamlProblems([(line, _yaml_message(error))]) from error
    except yaml.YAMLError as error:
        raise YamlProblems([(1, str(error))]) from error
    finally:
        loader.dispose()
    if problems:
        raise YamlProblems(problems)
    return YamlDocument(data, root)


def _value(loader: yaml.SafeLoader, node: Node, problems: list[tuple[int, str]]) -> Any:
    if isinstance(node, MappingNode):
        _duplicate_keys(node, problems)
        loader.flatten_mapping(node)  # `<<: *defaults` merged in first, as safe_load does
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _value(loader, key_node, problems)
            if not isinstance(key, str | int | bool) and key is not None:
                problems.append((key_node.start_mark.line + 1, "a key must be a plain value"))
                continue
            mapping[key] = _value(loader, value_node, problems)  # own keys override merged
        return mapping
    if isinstance(node, SequenceNode):
        return [_value(loader, item, problems) for item in node.value]
    if isinstance(node, ScalarNode) and node.tag == FLOAT_TAG:
        return node.value
    return loader.construct_object(node, deep=True)


def _duplicate_keys(node: MappingNode, problems: list[tuple[int, str]]) -> None:
    """A key written twice in one mapping (a merged `<<` key may be overridden)."""
    lines: dict[str, int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, ScalarNode) or key_node.tag == MERGE_TAG:
            continue
        line = key_node.start_mark.line + 1
        if key_node.value in lines:
            first = lines[key_node.value]
            problems.append((line, f"{key_node.value!r} is given twice (first on line {first})"))
        else:
            lines[key_node.value] = line


def _yaml_message(error: yaml.MarkedYAMLError) -> str:
    context = error.context
    started, found = error.context_mark, error.problem_mark
    if context and started is not None and found is not None and started.line != found.line:
        context += f" (from line {started.line + 1})"
    return "not valid YAML: " + ", ".join(part for part in (context, error.problem) if part)
