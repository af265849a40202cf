"""The settings as an operator sees them: each problem named by the variable to fix, or by
the config file's name, line and key when the value came from there, and the effective
configuration with its secrets redacted (`omnigate check-config`).

`omnigate serve` refuses to start on the same problems, one line each, rather than with a
traceback. Values are echoed in problems only for settings that are not secrets. An adapter
name (`OMNIGATE_ADAPTERS__*`) must also be registered (gateway/wiring/adapters.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from enum import Enum
from pathlib import Path
from typing import Any, get_args
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsError,
)

from gateway import cors
from gateway.config_file import (
    ConfigFile,
    ConfigFileError,
    ConfigFileSource,
    Location,
    configured_path,
    key_name,
    read_config_file,
)
from gateway.settings import AdaptersSettings, Settings
from gateway.wiring.adapters import adapter_problems, adapters_summary

PREFIX = "OMNIGATE_"
REDACTED = "***"
# A problem reported by the model as a whole (no field) mentions settings by their dotted
# names (`square.access_token`): those are rewritten as the variables to set.
_DOTTED = re.compile(r"\b([a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+)\b")
_PARSE_FAILURE = re.compile(r'error parsing value for field "([^"]+)"')
_ECHOED = 60  # longest value echoed back in a problem


def load_settings() -> tuple[Settings | None, list[str]]:
    """Settings from the environment, `.env` and the config file OMNIGATE_CONFIG names, or
    the problems that prevent it, the adapters they name included
    (gateway/wiring/adapters.py)."""
    try:
        path = configured_path()
        config = read_config_file(path, Settings) if path else None
        settings = Settings()
    except ConfigFileError as error:
        return None, error.problems
    except ValidationError as error:
        adapters = _adapter_problems_alone()
        return None, validation_problems(error, config) + _in_file(adapters, config)
    except SettingsError as error:
        return None, [_parse_problem(error)]
    problems = _in_file(adapter_problems(settings.adapters), config)
    return (None, problems) if problems else (settings, [])


def _in_file(adapter_problems: list[str], config: ConfigFile | None) -> list[str]:
    """An adapter problem names its variable (gateway/wiring/adapters.py); when the config
    file chose that adapter, it names the file's line and key instead."""
    if config is None:
        return adapter_problems
    environment = _environment_values()
    named = []
    for problem in adapter_problems:
        name, _, rest = problem.partition(": ")
        port = name.removeprefix(f"{PREFIX}ADAPTERS__").lower()
        location: Location = ("adapters", port)
        from_file = _reaches(config.values, location) and not any(
            _reaches(values, location) for values in environment
        )
        named.append(f"{config.where(location)}: adapters.{port}: {rest}" if from_file else problem)
    return named


class _AdapterChoice(BaseSettings):
    """The adapters section read as Settings reads it, for when another setting is bad."""

    model_config = Settings.model_config
    adapters: AdaptersSettings = AdaptersSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # the file's keys checked as Settings checks them; only `adapters` is taken
        config_file = ConfigFileSource(settings_cls, model=Settings)
        return init_settings, env_settings, dotenv_settings, config_file, file_secret_settings


def _adapter_problems_alone() -> list[str]:
    try:
        choice = _AdapterChoice()
    except (ValidationError, SettingsError, ConfigFileError):
        return []  # the section itself is bad: among the problems already
    return adapter_problems(choice.adapters)


def validation_problems(error: ValidationError, config: ConfigFile | None = None) -> list[str]:
    """One line per error: `VARIABLE: message`, or `FILE:LINE: key: message` for a value
    the config file gave (and no variable overrides)."""
    environment = _environment_values() if config is not None else []
    problems = []
    for detail in error.errors(include_url=False):
        location: Location = tuple(detail["loc"])
        name, secret = _variable(location)
        message = str(detail["msg"]).removeprefix("Value error, ")
        from_file = (
            config is not None
            and bool(location)
            and not any(_reaches(values, location) for values in environment)
            and _reaches(config.values, location)
        )
        if not from_file:
            message = _DOTTED.sub(_dotted_to_variable, message)
        value = detail.get("input")
        if not secret and isinstance(value, str | int | float) and len(str(value)) <= _ECHOED:
            message += f" (got {str(value)!r})"
        if from_file and config is not None:
            problems.append(f"{config.where(location)}: {key_name(location)}: {message}")
        else:
            problems.append(f"{name}: {message}")
    return problems


def _environment_values() -> list[dict[str, Any]]:
    """What the environment and `.env` give, nested as the settings are."""
    return [EnvSettingsSource(Settings)(), DotEnvSettingsSource(Settings)()]


def _reaches(values: Any, location: Location) -> bool:
    """Whether `values` gives the setting at `location`: itself, or a value holding it."""
    for part in location:
        if isinstance(values, dict):
            if part not in values:
                return False
            values = values[part]
        elif isinstance(values, list) and isinstance(part, int):
            if not 0 <= part < len(values):
                return False
            values = values[part]
        else:
            return True  # a leaf above the rest of the location (a union member's tag)
    return True


def _parse_problem(error: SettingsError) -> str:
    match = _PARSE_FAILURE.search(str(error))
    field = match.group(1) if match else None
    name = f"{PREFIX}{field.upper()}" if field else "settings"
    return f"{name}: could not be parsed (lists and maps are JSON: {error})"


def _variable(location: Sequence[str | int]) -> tuple[str, bool]:
    """The variable for a location in Settings, and whether it holds a secret. Parts below
    a leaf (list items, map keys, union members) are appended in brackets."""
    if not location:
        return "settings", False
    model: type[BaseModel] | None = Settings
    names: list[str] = []
    extra: list[str] = []
    secret = False
    for part in location:
        field = model.model_fields.get(str(part)) if model is not None else None
        if field is None:
            extra.append(str(part))
            continue
        names.append(str(part).upper())
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            model = None
            secret = annotation is SecretStr or SecretStr in get_args(annotation)
    name = PREFIX + "__".join(names) if names else "settings"
    return name + "".join(f"[{part}]" for part in extra), secret


def _dotted_to_variable(match: re.Match[str]) -> str:
    parts = match.group(1).split(".")
    if parts[0] not in Settings.model_fields:
        return match.group(0)
    return PREFIX + "__".join(part.upper() for part in parts)


def redact_uri(uri: str) -> str:
    """`scheme://user:***@host/...`: the password out, everything else kept."""
    try:
        parts = urlsplit(uri)
        password = parts.password
    except ValueError:
        return REDACTED
    if not password:
        return uri
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:{REDACTED}@{hostinfo}"))


def _has_credentials(value: str) -> bool:
    return "://" in value and "@" in value.split("://", 1)[1].split("/", 1)[0]


def _shown(value: Any) -> str:
    if isinstance(value, SecretStr):
        secret = value.get_secret_value()
        if "://" in secret:
            return redact_uri(secret)
        return REDACTED if secret else ""
    if isinstance(value, str):
        return redact_uri(value) if _has_credentials(value) else value
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, Path):
        return str(value)
    return json.dumps(_plain(value))


def _plain(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return REDACTED
    if isinstance(value, BaseModel):
        return {name: _plain(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)


def effective_configuration(settings: Settings, config: Path | None = None) -> list[str]:
    """`NAME=value` per setting, in the model's order, secrets redacted; then what the
    settings imply. `config`: the config file they were read with, if any."""
    sources = f"environment, then .env, then {config}," if config else "environment, then .env,"
    lines = [
        f"# effective configuration: {sources} then defaults (secrets redacted)",
        *(f"{name}={value}" for name, value in _leaves(settings, PREFIX)),
        f"# graphiql: {'on' if settings.graphiql_enabled else 'off'}; "
        f"log format: {settings.effective_log_format}; "
        f"tracing: {settings.telemetry.otlp_endpoint or 'off'}",
        f"# cors: {cors.describe(settings)}",
        f"# adapters: {adapters_summary(settings.adapters)}",
    ]
    return lines


def _leaves(model: BaseModel, prefix: str) -> Iterator[tuple[str, str]]:
    for field_name in type(model).model_fields:
        value = getattr(model, field_name)
        name = prefix + field_name.upper()
        if isinstance(value, BaseModel):
            yield from _leaves(value, name + "__")
        else:
            yield name, _shown(value)
