"""edge/config_io.py: ranges, JSON types, and text decoding with one-line errors (no tracebacks)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import pytest

from edge.config_io import (
    MAX_DEPTH,
    Range,
    check_bounds,
    check_depth,
    decode_text,
    from_dict,
    parse_json,
    read_json,
    read_toml,
)
from edge.errors import SpecError


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 0.0, 11.0, "1", True, None])
def test_a_range_refuses_non_finite_out_of_range_and_non_numbers(value) -> None:
    with pytest.raises(SpecError, match=r"^x must be a finite number in \(0, 10\]"):
        Range(0.0, 10.0, lo_open=True).check(value, "x")


def test_a_range_accepts_its_ends_and_ints_for_floats() -> None:
    assert Range(0.0, 10.0).check(0, "x") == 0 and Range(0.0, 10.0).check(10.0, "x") == 10.0
    with pytest.raises(SpecError, match=r"must be a finite number in \[0, 1\)"):
        Range(0.0, 1.0, hi_open=True).check(1.0, "x")


@pytest.mark.parametrize("value", [2.0, 10**40, True])
def test_an_integer_range_refuses_floats_bools_and_huge_ints(value) -> None:
    with pytest.raises(SpecError, match=r"^n must be an integer in \[1, 64\]"):
        Range(1, 64, integer=True).check(value, "n")


def test_a_step_range_refuses_values_that_would_be_rounded() -> None:
    step = Range(0.0, 10.0, step=0.005)
    assert step.check(0.105, "hop") == 0.105
    with pytest.raises(SpecError, match="must be .*a multiple of 0.005"):
        step.check(0.1234, "hop")


@dataclass(frozen=True)
class _Bounded:
    count: int = 1
    level: float | None = None
    name: str = "a"
    BOUNDS: ClassVar[dict[str, Range]] = {"count": Range(1, 5, integer=True), "level": Range(0.0, 1.0)}


@dataclass(frozen=True)
class _Unbounded:
    size: float = 1.0


def test_check_bounds_names_the_field_and_needs_a_range_for_every_number() -> None:
    check_bounds(_Bounded(), "cfg")  # None is "not set", the string is not numeric
    with pytest.raises(SpecError, match=r"^cfg\.level must be a finite number in \[0, 1\], got inf$"):
        check_bounds(_Bounded(level=float("inf")), "cfg")
    with pytest.raises(TypeError, match="_Unbounded.size is numeric but has no stated range"):
        check_bounds(_Unbounded(), "cfg")


def test_from_dict_checks_keys_and_json_types() -> None:
    assert from_dict(_Bounded, {"count": 3, "level": 1}, "cfg") == _Bounded(3, 1.0)
    with pytest.raises(SpecError, match=r"cfg\.count must be int, got 3.5"):
        from_dict(_Bounded, {"count": 3.5}, "cfg")
    with pytest.raises(SpecError, match="cfg has unknown field"):
        from_dict(_Bounded, {"counts": 3}, "cfg")
    assert {f.name for f in dataclasses.fields(_Bounded)} == {"count", "level", "name"}


def test_invalid_utf8_is_one_line_naming_the_byte() -> None:
    with pytest.raises(SpecError, match=r"^spec x is not UTF-8 text \(byte 2 is invalid\)"):
        decode_text(b'{"\xff": 1}', "spec x")
    assert decode_text("\ufeff{}".encode(), "x") == "{}"  # a BOM is not content


@pytest.mark.parametrize(("text", "message"), [
    ("[" * 200_000 + "]" * 200_000, "nests lists/objects more than"),
    ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "nests lists/objects more than"),
    ('{"a": NaN}', "holds NaN, which is not a JSON number"),
    ('{"a": -Infinity}', "holds -Infinity"),
    ('{"a": 1e400}', "overflows a float"),
    ('{"a": ' + "9" * 5000 + "}", "holds an integer of 5000 digits"),
    ('{"a": ', "is not valid JSON"),
])
def test_hostile_json_is_one_line(text, message) -> None:
    with pytest.raises(SpecError, match=message) as info:
        parse_json(text, "f.json")
    assert "\n" not in str(info.value) and str(info.value).startswith("f.json ")


def test_read_json_reads_bytes_not_locale_text(tmp_path) -> None:
    path = tmp_path / "c.json"
    path.write_bytes('{"name": "Müller"}'.encode())
    assert read_json(path, "calibration") == {"name": "Müller"}
    path.write_bytes(b'{"name": "M\xfcller"}')  # latin-1
    with pytest.raises(SpecError, match=r"calibration .*c.json is not UTF-8 text"):
        read_json(path, "calibration")
    with pytest.raises(SpecError, match="calibration .*missing.json does not exist"):
        read_json(tmp_path / "missing.json", "calibration")


@pytest.mark.parametrize(("text", "message"), [
    (b"[run]\nthreads = " + b"[" * 100_000 + b"]" * 100_000 + b"\n", "nests lists/objects more than"),
    (b"a = " + b"{x=" * 100_000 + b"}" * 100_000 + b"\n", "nests lists/objects more than"),
    (b"[run]\nthreads = " + b"9" * 5000 + b"\n", "is not valid TOML: Exceeds the limit"),
    (b"[run]\nbackend = '\xc3\x28'\n", r"is not UTF-8 text \(byte 17 is invalid\)"),
    (b"[run\n", "is not valid TOML"),
])
def test_hostile_toml_is_one_line(tmp_path, text, message) -> None:
    path = tmp_path / "edge.toml"
    path.write_bytes(text)
    with pytest.raises(SpecError, match=message) as info:
        read_toml(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_check_depth_is_iterative_and_counts_objects_and_lists() -> None:
    deep: list = []
    for _ in range(100_000):  # built without recursion; checking it must not recurse either
        deep = [deep]
    with pytest.raises(SpecError, match="more than 3 deep"):
        check_depth(deep, "x", limit=3)
    assert check_depth({"a": [{"b": 1}]}, "x", limit=3) == {"a": [{"b": 1}]}
