"""TOML tables → frozen, keyword-only dataclasses, by their type hints.

One generic builder reads every section, so each check (unknown key with the
closest valid one suggested, wrong type, missing key) is written once and every
error names the full dotted key.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from typing import Any, Callable, Iterable

from sim.errors import ConfigError

__all__ = ["check_keys", "number", "from_table", "PARSE", "INTERNAL", "field_doc_keys"]

# Field metadata key holding a custom parser ``value -> object`` for that field.
PARSE = "parse"
# Field metadata key marking a field the loader sets, never the scenario file.
INTERNAL = "internal"


def check_keys(table: dict, allowed: Iterable[str]) -> None:
    """Refuse unknown keys, suggesting the closest valid one."""
    allowed = list(allowed)
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.5)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (valid keys: {', '.join(allowed)})"
            raise ConfigError(key, f"unknown key{hint}")


def _type_name(value: Any) -> str:
    return {bool: "a boolean", str: "a string", list: "a list", dict: "a table"}.get(
        type(value), type(value).__name__
    )


def number(key: str, value: Any) -> float:
    """A TOML number (int or float, ``inf`` allowed) as a float; anything else is an error."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(key, f"must be a number, got {_type_name(value)} {value!r}")
    if isinstance(value, float) and math.isnan(value):
        raise ConfigError(key, "must be a number, got nan")
    return float(value)


def _convert(key: str, hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None and len(options) < len(typing.get_args(hint)):
            return None
        return _convert(key, options[0], value)
    if origin is tuple:
        item_hint = typing.get_args(hint)[0]
        if not isinstance(value, list):
            raise ConfigError(key, f"must be a list, got {_type_name(value)} {value!r}")
        items = []
        for i, item in enumerate(value):
            try:
                items.append(_convert("", item_hint, item))
            except ConfigError as err:
                raise err.within(f"[{i}]").within(key) from None
        return tuple(items)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(key, f"must be a table, got {_type_name(value)} {value!r}")
        try:
            return from_table(hint, value)
        except ConfigError as err:
            raise err.within(key) from None
    if hint is float:
        return number(key, value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key, f"must be a whole number, got {_type_name(value)} {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(key, f"must be true or false, got {_type_name(value)} {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(key, f"must be a string, got {_type_name(value)} {value!r}")
        return value
    raise TypeError(f"no converter for {hint!r}")  # a programming error, not bad input


def from_table(cls: type, table: dict) -> Any:
    """Build dataclass ``cls`` from a TOML table, checking keys and types."""
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init and not f.metadata.get(INTERNAL)}
    check_keys(table, fields)
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for name, value in table.items():
        f = fields[name]
        parse: Callable[[Any], Any] | None = f.metadata.get(PARSE)
        try:
            kwargs[name] = parse(value) if parse else _convert("", hints[name], value)
        except ConfigError as err:
            raise err.within(name) from None
    for name, f in fields.items():
        if name not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(name, "is required")
    return cls(**kwargs)


def field_doc_keys(cls: type, prefix: str = "") -> list[str]:
    """Every dotted leaf key a dataclass accepts, nested tables expanded (for the docs check)."""
    hints = typing.get_type_hints(cls)
    keys: list[str] = []
    for f in dataclasses.fields(cls):
        if not f.init or f.metadata.get(INTERNAL):
            continue
        key = f"{prefix}{f.name}"
        hint = hints[f.name]
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            hint = [a for a in typing.get_args(hint) if a is not type(None)][0]
        if (typing.get_origin(hint) is tuple and dataclasses.is_dataclass(typing.get_args(hint)[0])
                and f.metadata.get(PARSE) is None):  # a field with its own parser is one documented key
            hint = typing.get_args(hint)[0]
            key = f"{key}[]"
        if dataclasses.is_dataclass(hint) and f.metadata.get(PARSE) is None:
            keys.extend(field_doc_keys(hint, f"{key}."))
        else:
            keys.append(key)
    return keys
