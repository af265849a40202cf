"""The optional YAML config file: `omnigate --config FILE`, or the file OMNIGATE_CONFIG
names (docs/operations.md "A config file").

Precedence, highest first: the environment, then `.env`, then this file, then the defaults;
an environment variable overrides the one key it names (`OMNIGATE_SQUARE__BASE_URL` over
`square: {base_url: ...}`), the rest of the section still comes from the file. Keys are the
settings' own names, nested as `omnigate config-schema` prints them; an unknown key is a
problem, never ignored (a typo would otherwise run on a default nobody chose).

String values may refer to environment variables, so secrets stay out of the file:

- `${NAME}`: the variable's value; unset is a problem naming it;
- `${NAME:-default}`: the value, or `default` when NAME is unset or empty;
- `$${`: a literal `${`. Any other `$` is literal, and what a variable holds is never
  expanded again.

Only string values are expanded, after the YAML is parsed, never keys: a variable cannot
add structure to the file. The result stays a string and is converted as an environment
value would be (`port: ${PORT}` is a number once validated). Booleans are YAML 1.2's,
`true` and `false` only: YAML 1.1 also reads `on`, `off`, `yes` and `no` as booleans, which
would turn `safelist: off` into False.

Every problem is one line naming the file, the line and the key (`omnigate.yaml:7:
square.access_token: ...`); gateway/config_check.py maps the settings' own validation
errors to the same form.
"""

from __future__ import annotations

import difflib
import os
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

CONFIG_VARIABLE = "OMNIGATE_CONFIG"

Location = tuple[str | int, ...]

# `$${` (escape), `${NAME}` or `${NAME:-default}`, or a `${` that starts neither (a problem)
_REFERENCE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{")
_MERGE_TAG = "tag:yaml.org,2002:merge"


class ConfigFileError(ValueError):
    """A config file that cannot be used: one line per problem, naming file, line and key."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class ConfigFile:
    path: Path
    values: dict[str, Any]
    # the line of each key and list item, by its location in `values`
    lines: dict[Location, int] = field(default_factory=dict)

    def line_of(self, location: Location) -> int | None:
        """The line of `location`, or of the deepest part of it the file has."""
        for end in range(len(location), -1, -1):
            if (line := self.lines.get(location[:end])) is not None:
                return line
        return None

    def where(self, location: Location) -> str:
        line = self.line_of(location)
        return f"{self.path}:{line}" if line is not None else str(self.path)


def configured_path(environ: Mapping[str, str] = os.environ) -> Path | None:
    value = environ.get(CONFIG_VARIABLE, "")
    return Path(value) if value else None


def key_name(location: Location) -> str:
    """`offers.webhook_urls[1]`: a location as the file spells it."""
    name = ""
    for part in location:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else part)
    return name or "(top level)"


def read_config_file(
    path: Path, model: type[BaseModel], environ: Mapping[str, str] = os.environ
) -> ConfigFile:
    """The file's settings, references expanded; ConfigFileError with every problem found
    (unreadable, not YAML, a variable unset, a key `model` does not have)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        problem = f"{path}: config file cannot be read ({exc.strerror or exc})"
        raise ConfigFileError([problem]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigFileError([f"{path}: config file is not UTF-8 ({exc.reason})"]) from exc
    reader = _Reader(path, environ)
    try:
        values = reader.document(text)
    except yaml.YAMLError as error:
        problem = f"{_yaml_where(path, error)}: not valid YAML: {_yaml_problem(error)}"
        raise ConfigFileError([problem]) from error
    if not isinstance(values, dict):
        kind = "a list" if isinstance(values, list) else f"the value {values!r}"
        raise ConfigFileError([f"{path}:1: must be a mapping of settings, got {kind}"])
    config = ConfigFile(path, values, reader.lines)
    problems = reader.problems + _unknown_keys(config, values, model, ())
    if problems:
        raise ConfigFileError(sorted(problems, key=_line_order))
    return config


def _line_order(problem: str) -> tuple[int, str]:
    match = re.match(r"[^:]*:(\d+):", problem)
    return (int(match.group(1)) if match else 0, problem)


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2's booleans only (see the module's docstring)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


class _Reader:
    """Turns the YAML into plain values, noting each key's line and expanding references."""

    def __init__(self, path: Path, environ: Mapping[str, str]) -> None:
        self.path = path
        self.environ = environ
        self.lines: dict[Location, int] = {(): 1}
        self.problems: list[str] = []
        self._loader: _Loader | None = None
        self._open: set[int] = set()  # nodes being read: an alias to one would never end

    def document(self, text: str) -> Any:
        self._loader = _Loader(text)
        try:
            node = self._loader.get_single_node()
            return {} if node is None else self._value(node, ())
        finally:
            self._loader.dispose()

    def _value(self, node: yaml.Node, location: Location) -> Any:
        if id(node) in self._open:
            self._problem(location, "refers to itself through an alias")
            return None
        self._open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, location)
            if isinstance(node, yaml.SequenceNode):
                items = []
                for index, item in enumerate(node.value):
                    self.lines[(*location, index)] = item.start_mark.line + 1
                    items.append(self._value(item, (*location, index)))
                return items
            assert self._loader is not None
            value = self._loader.construct_object(node, deep=True)
            return self._expand(value, location) if isinstance(value, str) else value
        finally:
            self._open.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, location: Location) -> dict[str, Any]:
        assert self._loader is not None
        self._loader.flatten_mapping(node)  # `<<: *defaults` merge keys
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self._loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, str):
                self.problems.append(
                    f"{self.path}:{line}: {key_name(location)}: the key {key!r} is not a "
                    "setting name"
                )
                continue
            if key in mapping:
                first = self.lines[(*location, key)]
                self.problems.append(
                    f"{self.path}:{line}: {key_name((*location, key))}: given twice "
                    f"(first on line {first})"
                )
                continue
            self.lines[(*location, key)] = line
            mapping[key] = self._value(value_node, (*location, key))
        return mapping

    def _expand(self, text: str, location: Location) -> str:
        def replace(match: re.Match[str]) -> str:
            reference = match.group(0)
            if reference == "$${":
                return "${"
            name, default = match.group(1), match.group(2)
            if name is None:
                self._problem(
                    location,
                    "`${` starts no variable reference: write ${NAME} or ${NAME:-default}, "
                    "or $${ for a literal ${",
                )
                return reference
            value = self.environ.get(name)
            if default is not None and not value:
                return default
            if value is None:
                self._problem(
                    location,
                    f"{reference}: the environment variable {name} is not set "
                    f"(${{{name}:-default}} gives a default)",
                )
                return reference
            return value

        return _REFERENCE.sub(replace, text)

    def _problem(self, location: Location, what: str) -> None:
        line = self.lines.get(location)
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        self.problems.append(f"{where}: {key_name(location)}: {what}")


def _unknown_keys(
    config: ConfigFile, values: dict[str, Any], model: type[BaseModel], location: Location
) -> list[str]:
    problems = []
    fields = model.model_fields
    for key, value in values.items():
        here = (*location, key)
        info = fields.get(key)
        if info is None:
            near = difflib.get_close_matches(key, list(fields), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            section = f"in {key_name(location)}" if location else "at the top level"
            problems.append(
                f"{config.where(here)}: {key_name(here)}: unknown setting {section}{hint}"
            )
        elif isinstance(value, dict) and (section_model := _section_model(info)) is not None:
            problems += _unknown_keys(config, value, section_model, here)
    return problems


def _section_model(info: FieldInfo) -> type[BaseModel] | None:
    """The model a field holds (also inside `X | None`), or None for a leaf or a map."""
    annotation = info.annotation
    candidates = (
        get_args(annotation) if get_origin(annotation) in (Union, types.UnionType) else ()
    ) or (annotation,)
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _yaml_where(path: Path, error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    return f"{path}:{mark.line + 1}" if mark is not None else str(path)


def _yaml_problem(error: yaml.YAMLError) -> str:
    problem = getattr(error, "problem", None)
    context = getattr(error, "context", None)
    if problem is None:
        return str(error).splitlines()[0]
    return f"{problem} ({context})" if context else str(problem)


class ConfigFileSource(PydanticBaseSettingsSource):
    """The settings source for the config file OMNIGATE_CONFIG names, if any. Its keys are
    checked against `model` (the settings class unless given), and only the settings
    class's own fields are returned (a class that reads one section takes only that)."""

    def __init__(
        self, settings_cls: type[BaseSettings], model: type[BaseModel] | None = None
    ) -> None:
        super().__init__(settings_cls)
        path = configured_path()
        self.file = read_config_file(path, model or settings_cls) if path else None

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        values = self.file.values if self.file is not None else {}
        return values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        if self.file is None:
            return {}
        fields = self.settings_cls.model_fields
        return {key: value for key, value in self.file.values.items() if key in fields}
