"""Config I/O: TOML files and JSON objects -> frozen dataclasses, with one validation rule for all of them.

Every config class validates itself with `require_field`, whose errors name the field, the rule and the
bad value; `from_dict` checks keys and JSON types (`coerce_json`, also used for model options). Every
numeric field and command-line option has a stated finite `Range` (`check_bounds` for a config class's
`BOUNDS`, `Range.check` for an option), so inf, nan and absurd sizes never reach the code that uses them.
Text inputs (TOML, JSON, CSV) are decoded here: invalid UTF-8, integers too long to convert and nesting
deeper than `MAX_DEPTH` are one-line SpecErrors naming the file, never tracebacks.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.errors import SpecError


def require_field(cond: bool, where: str, message: str, *, value: Any) -> None:
    """Raise SpecError naming the field (`where`), the rule and the bad value unless `cond` holds."""
    if not cond:
        raise SpecError(f"{where} {message}, got {value!r}")


@dataclass(frozen=True)
class Range:
    """A numeric value's stated range: finite, `lo <= x <= hi` (strict when `lo_open`/`hi_open`), an int when
    `integer`, and a multiple of `step` when given (hops: whole samples, so nothing is silently rounded)."""

    lo: float
    hi: float
    integer: bool = False
    lo_open: bool = False
    hi_open: bool = False
    step: float | None = None

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a finite number"
        text = f"{kind} in {'(' if self.lo_open else '['}{self.lo:g}, {self.hi:g}{')' if self.hi_open else ']'}"
        return text + (f", a multiple of {self.step:g}" if self.step else "")

    def check(self, value: Any, where: str) -> Any:
        """``value`` when it is in range, else a SpecError naming ``where``, the range and the value."""
        numeric = (int,) if self.integer else (int, float)
        ok = isinstance(value, numeric) and not isinstance(value, bool)
        if ok and not self.integer:
            ok = math.isfinite(value)
        if ok:
            ok = (self.lo < value if self.lo_open else self.lo <= value) and (
                value < self.hi if self.hi_open else value <= self.hi)
        if ok and self.step:
            ok = abs(value / self.step - round(value / self.step)) < 1e-6
        require_field(ok, where, f"must be {self.describe()}", value=value)
        return value


def check_bounds(config: Any, where: str) -> None:
    """Check every numeric field of the dataclass ``config`` against its class's ``BOUNDS``: one place for
    every range. A numeric field without a stated range is a programming error (TypeError)."""
    bounds: dict[str, Range] = getattr(type(config), "BOUNDS", {})
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        if not _is_numeric(hints[f.name]):
            continue
        if f.name not in bounds:
            raise TypeError(f"{type(config).__name__}.{f.name} is numeric but has no stated range in BOUNDS")
        value = getattr(config, f.name)
        if value is not None:
            bounds[f.name].check(value, f"{where}.{f.name}")


def _is_numeric(hint: Any) -> bool:
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    return any(o in (int, float) for o in options)


MAX_DEPTH = 32  # nesting any config, spec or calibration record of ours needs is below 6
MAX_INT_DIGITS = 30  # longer integer literals are refused before conversion (no config value is that large)


def decode_text(data: bytes, where: str) -> str:
    """UTF-8 text (a leading BOM dropped), or a SpecError naming ``where`` and the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{where} is not UTF-8 text (byte {exc.start} is invalid); save it as UTF-8") from None


def read_text(path: str | Path, what: str) -> str:
    """A text file's content, decoded as UTF-8; a missing file or bad bytes is a SpecError naming it."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"{what} {path} does not exist")
    return decode_text(path.read_bytes(), f"{what} {path}")


def check_depth(data: Any, where: str, limit: int = MAX_DEPTH) -> Any:
    """``data`` unless its lists/objects nest deeper than ``limit`` (checked without recursion)."""
    stack = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list, tuple)):
            if depth > limit:
                raise SpecError(f"{where} nests lists/objects more than {limit} deep; not a valid file")
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return data


def _too_deep(where: str) -> SpecError:
    return SpecError(f"{where} nests lists/objects more than {MAX_DEPTH} deep (or far deeper); not a valid file")


def parse_json(text: str, where: str, *, allow_nonfinite: bool = False) -> Any:
    """Strict JSON: no NaN/Infinity, no float overflowing to inf, no integer longer than MAX_INT_DIGITS,
    at most MAX_DEPTH deep; every failure a one-line SpecError naming ``where``. `allow_nonfinite` reads
    the NaN/Infinity that Python's json.dumps writes (bundle records of metrics): the fields used are then
    range-checked by their readers."""
    def bad_constant(token: str) -> Any:
        if allow_nonfinite:
            return float(token)
        raise SpecError(f"{where} holds {token}, which is not a JSON number")

    def parse_float(token: str) -> float:
        value = float(token)
        if not (allow_nonfinite or math.isfinite(value)):
            raise SpecError(f"{where} holds the number {token[:40]}, which overflows a float")
        return value

    def parse_int(token: str) -> int:
        if len(token.lstrip("-")) > MAX_INT_DIGITS:
            raise SpecError(f"{where} holds an integer of {len(token)} digits; at most {MAX_INT_DIGITS} are allowed")
        return int(token)

    try:
        data = json.loads(text, parse_constant=bad_constant, parse_float=parse_float, parse_int=parse_int)
    except RecursionError:
        raise _too_deep(where) from None
    except json.JSONDecodeError as exc:
        raise SpecError(f"{where} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    return check_depth(data, where)


def read_json(path: str | Path, what: str, *, allow_nonfinite: bool = False) -> Any:
    """A JSON file, decoded and parsed by `parse_json`; the error names ``what`` and the path."""
    return parse_json(read_text(path, what), f"{what} {path}", allow_nonfinite=allow_nonfinite)


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML config file; a missing, non-UTF-8, malformed or too deeply nested file is a SpecError
    naming it."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10 (JetPack 6): the same parser, as a package
        import tomli as tomllib
    path = Path(path)
    text = read_text(path, "config file")
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise _too_deep(f"config file {path}") from None
    except ValueError as exc:  # TOMLDecodeError, or an integer literal too long to convert
        raise SpecError(f"config file {path} is not valid TOML: {exc}") from None
    return check_depth(data, f"config file {path}")


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
        try:
            return float(value)
        except OverflowError:  # an integer literal beyond any float: say so instead of a traceback
            raise SpecError(f"{where} must be a finite number, got an integer of {len(str(value))} digits") from None
    if hint in (int, float, str, bool) and (type(value) is not hint):
        raise SpecError(f"{where} must be {hint.__name__}, got {value!r}")
    return value
