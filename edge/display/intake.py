"""What the display accepts: every record it shows passes `accept`, whatever its source (the runtime's
sink, `edge monitor --from LOG` lines, `edge monitor --lsl` samples), or is rejected with a reason.

`accept` parses raw text (bounded size, strict JSON, no duplicated keys) and checks a record's fields the
display uses against their types and ranges, returning a compact copy with only those fields: what reaches
the ward state cannot raise there, and an odd field elsewhere in a record costs nothing. A rejected record
is counted and shown by the ward (edge.display.state), never applied; everything else goes on.
"""

from __future__ import annotations

import json
import math
import numbers
from typing import Any

from edge.contract import CLASSES
from edge.monitoring.burden import BURDEN_NAMES
from edge.monitoring.trends import CDSA_CENTRES_HZ, CHAIN_NAMES, trend_channels

Item = dict[str, Any] | str | bytes  # a record, or one line / sample of text holding one
MAX_RECORD_BYTES = 64 * 1024  # the runtime's largest records are a few KiB (quality detail per channel)
MAX_NAME_CHARS = 256
MAX_TEXT_CHARS = 2000  # messages longer than this are cut (the display shows a line, not an archive)
MAX_TIME_S = 1e12  # any stream clock (LSL seconds since boot, Unix time) is far below this
RECORD_TYPES = frozenset({"prediction", "status", "alarm", "trends"})
RUNTIME_KINDS = frozenset({"sink_failed"})  # about the runtime's outputs, not a bed (its stream is "edge")
N_TREND_VALUES = len(trend_channels())


class BadRecord(Exception):
    """Why a record is not shown; `stream` when the record names a valid one (its bed counts it)."""

    def __init__(self, reason: str, stream: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.stream = stream


def accept(item: Item) -> dict[str, Any] | None:
    """The checked, compact record; None for a valid record about the runtime, not a bed; else BadRecord."""
    record = parse_record(item) if isinstance(item, (str, bytes)) else item
    if not isinstance(record, dict):
        raise BadRecord(f"not a JSON object (a {type(record).__name__})")
    kind = record.get("type")
    if kind == "status" and isinstance(record.get("kind"), str) and record["kind"] in RUNTIME_KINDS:
        return None
    name = _name(record.get("stream"), "stream")
    if not isinstance(kind, str) or kind not in RECORD_TYPES:
        raise BadRecord(f"unknown record type {_show(kind)}", name)
    try:
        return {"type": kind, "stream": name, **CHECKS[kind](record)}
    except BadRecord as bad:
        raise BadRecord(f"{kind}: {bad.reason}", name) from None


def parse_record(raw: str | bytes) -> Any:
    """One line of strict JSON, at most MAX_RECORD_BYTES (characters for text), no key given twice."""
    if len(raw) > MAX_RECORD_BYTES:
        raise BadRecord(f"longer than {MAX_RECORD_BYTES // 1024} KiB")
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRecord("not UTF-8 text") from None
    try:
        return json.loads(raw, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except ValueError:  # a syntax error, or an integer of more than 4300 digits
        raise BadRecord("not a JSON record") from None
    except RecursionError:
        raise BadRecord("nested too deeply") from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    record = dict(pairs)
    if len(record) < len(pairs):  # readers disagree on which value counts: the record means nothing
        raise BadRecord("a key given twice")
    return record


def _no_constant(token: str) -> Any:
    raise BadRecord(f"{token} is not strict JSON")


def _show(value: Any) -> str:
    return repr(value)[:40] if not isinstance(value, int) or abs(value) < 10**40 else "a huge integer"


def _name(value: Any, field: str) -> str:
    text = _text(value, field, limit=MAX_NAME_CHARS, cut=False)
    if not text:
        raise BadRecord(f"{field} is empty")
    return text


def _text(value: Any, field: str, *, limit: int = MAX_TEXT_CHARS, cut: bool = True) -> str:
    if not isinstance(value, str):
        raise BadRecord(f"{field} is not text ({_show(value)})")
    if len(value) > limit and not cut:
        raise BadRecord(f"{field} is longer than {limit} characters")
    if any(ord(c) < 32 or 127 <= ord(c) < 160 or 0xD800 <= ord(c) < 0xE000 for c in value[:limit]):
        raise BadRecord(f"{field} holds control characters")
    return value if len(value) <= limit else value[:limit] + "..."


def _optional_text(record: dict[str, Any], field: str) -> str | None:
    value = record.get(field)
    return None if value is None else _text(value, field)


def _number(value: Any, field: str, *, low: float = -MAX_TIME_S, high: float = MAX_TIME_S) -> float | int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):  # numpy numbers from the runtime pass
        raise BadRecord(f"{field} is not a number ({_show(value)})")
    if (not isinstance(value, numbers.Integral) and not math.isfinite(value)) or not low <= value <= high:
        raise BadRecord(f"{field} is {_show(value)}, outside [{low:g}, {high:g}]")
    return value


def _optional_number(record: dict[str, Any], field: str, **bounds: float) -> float | int | None:
    value = record.get(field)
    return None if value is None else _number(value, field, **bounds)


def _probs(value: Any, field: str) -> dict[str, float]:
    if not isinstance(value, dict):
        raise BadRecord(f"{field} is not an object of class probabilities ({_show(value)})")
    missing = [c for c in CLASSES if c not in value]
    if missing:
        raise BadRecord(f"{field} lacks {', '.join(missing)}")
    return {c: _number(value[c], f"{field}.{c}", low=0.0, high=1.0) for c in CLASSES}


def _quality(value: Any, field: str) -> dict[str, list[str]]:
    """Flag -> channel names."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRecord(f"{field} is not an object ({_show(value)})")
    quality = {}
    for flag, channels in value.items():
        if not isinstance(channels, list):
            raise BadRecord(f"{field}.{flag} is not a list of channels ({_show(channels)})")
        quality[_name(flag, field)] = [_name(c, f"{field}.{flag}") for c in channels]
    return quality


def _burden(value: Any, field: str) -> dict[str, float | None] | None:
    """The shares per name, coverage and window length the display shows (other fields are not kept)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRecord(f"{field} is not an object ({_show(value)})")
    return {k: _optional_number(value, k) for k in (*BURDEN_NAMES, "coverage", "window_s") if k in value}


def _prediction(record: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(record.get("flagged"), bool):
        raise BadRecord(f"flagged is not true/false ({_show(record.get('flagged'))})")
    smoothed = record.get("smoothed")
    return {"window_end": _number(record.get("window_end"), "window_end"),
            **{k: _optional_number(record, k) for k in ("window_start", "label_start", "label_end")},
            "probs": _probs(record.get("probs"), "probs"),
            "smoothed": None if smoothed is None else _probs(smoothed, "smoothed"),
            "flagged": record["flagged"], "quality": _quality(record.get("quality"), "quality"),
            "burden": _burden(record.get("burden"), "burden"), "model": _optional_text(record, "model"),
            "latency_ms": _optional_number(record, "latency_ms", low=0.0)}


def _status(record: dict[str, Any]) -> dict[str, Any]:
    return {"kind": _name(record.get("kind"), "kind"), "t": _optional_number(record, "t"),
            "message": _optional_text(record, "message"), "quality": _quality(record.get("quality"), "quality")}


def _alarm(record: dict[str, Any]) -> dict[str, Any]:
    burden = record.get("burden")
    span = record.get("span")
    if span is not None and not (isinstance(span, list) and len(span) == 2):
        raise BadRecord(f"span is not [start, end] ({_show(span)})")
    return {**{k: _optional_text(record, k) for k in ("level", "state", "class", "model", "message")},
            "p": _optional_number(record, "p", low=0.0, high=1.0), "t": _optional_number(record, "t"),
            "burden": (_number(burden, "burden", low=0.0, high=1.0) if isinstance(burden, (int, float))
                       else _burden(burden, "burden")),
            "span": None if span is None else [_number(s, "span") for s in span]}


def _values(value: Any, field: str, size: int) -> list[float | int | None]:
    """`size` numbers, null where the runtime had a non-finite value (edge.records.to_json)."""
    if not isinstance(value, list) or len(value) != size:
        raise BadRecord(f"{field} is not a list of {size} numbers ({_show(value)})")
    return [None if v is None else _number(v, field) for v in value]


def _trends(record: dict[str, Any]) -> dict[str, Any]:
    """The runtime's flat `values`, or the trends file's `cdsa_db` / `aeeg_uv` per chain."""
    t = _number(record.get("t"), "t")
    if "cdsa_db" in record or "aeeg_uv" in record:
        cdsa, aeeg = record.get("cdsa_db"), record.get("aeeg_uv")
        for rows, field in ((cdsa, "cdsa_db"), (aeeg, "aeeg_uv")):
            if not isinstance(rows, list) or len(rows) != len(CHAIN_NAMES):
                raise BadRecord(f"{field} is not one list per chain ({_show(rows)})")
        return {"t": t, "cdsa_db": [_values(row, "cdsa_db", len(CDSA_CENTRES_HZ)) for row in cdsa],
                "aeeg_uv": [_values(row, "aeeg_uv", 2) for row in aeeg]}
    return {"t": t, "values": _values(record.get("values"), "values", N_TREND_VALUES)}


CHECKS = {"prediction": _prediction, "status": _status, "alarm": _alarm, "trends": _trends}
