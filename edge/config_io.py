"""Config I/O: TOML files and JSON objects -> frozen dataclasses, with one validation rule for all of them.

Every config class validates itself with `require_field`, whose errors name the field, the rule and the
bad value; `from_dict` checks keys and JSON types (`check_json_type`, also used for model options).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edge.errors import SpecError


def require_field(cond: bool, where: str, message: str, *, value: Any) -> None:
    """Raise SpecError naming the field (`where`), the rule and the bad value unless `cond` holds."""
    if not cond:
        raise SpecError(f"{where} {message}, got {value!r}")


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML config file; a missing or malformed file is a SpecError naming it."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10 (JetPack 6): the same parser, as a package
        import tomli as tomllib
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"config file {path} does not exist")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"config file {path} is not valid TOML: {exc}") from None


def from_dict(cls: type, data: Any, where: str) -> Any:
    """Build dataclass ``cls`` from plain JSON data, checking keys and types; errors name the field."""
    if not isinstance(data, dict):
        raise SpecError(f"{where} must be an object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise SpecError(f"{where} has unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(names))}")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            kwargs[f.name] = coerce_json(hints[f.name], data[f.name], f"{where}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise SpecError(f"{where}.{f.name} is required")
    return cls(**kwargs)


def coerce_json(hint: Any, value: Any, where: str) -> Any:
    """``value`` (plain JSON data) as type ``hint``, or a SpecError naming ``where``: the one JSON type
    checker, for config files, spec.json and model options alike."""
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        return coerce_json(next(o for o in options if o is not type(None)), value, where)
    if origin in (tuple, list, Sequence) or hint in (list, Sequence):
        if not isinstance(value, (list, tuple)):
            raise SpecError(f"{where} must be a list, got {type(value).__name__}")
        item = (typing.get_args(hint) or (Any,))[0]
        items = [coerce_json(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise SpecError(f"{where} must be an object, got {type(value).__name__}")
        return dict(value)
    if hint is Any:
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and (type(value) is not hint):
        raise SpecError(f"{where} must be {hint.__name__}, got {value!r}")
    return value
