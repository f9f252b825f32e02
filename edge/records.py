"""The records edge emits (predictions, status; alarms: edge/monitoring/alarm_policy.py) as plain dicts, and their
one JSON form. Live records (`edge run`) name their stream; offline ones (`edge predict`) their file and the
window's offset. Status kinds: edge.chain.status.Kind.

Records carry `run_id`, one per process start (the JSONL sink adds it to any that lack it), so runs
appending to one file can be told apart. `to_json` (for every serialised record or payload: JSONL,
LSL markers, the display) never writes NaN/Infinity tokens: a non-finite value becomes null and is
named in its "nonfinite" list.
"""

from __future__ import annotations

import json
import math
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from edge.chain.signal_chain import Window, label_span
from edge.chain.status import Status
from edge.contract import CLASSES, SAMPLE_RATE_HZ

RUN_ID = uuid.uuid4().hex


def _probs(values: np.ndarray) -> dict[str, float]:
    return {c: round(float(p), 7) for c, p in zip(CLASSES, values, strict=True)}


def prediction_record(stream: str, window: Window, probs: np.ndarray, *, smoothed: np.ndarray | None, model_id: str,
                      lookahead_s: float, emitted: float, emitted_clock: float) -> dict[str, Any]:
    """`emitted` is on the same clock as window.arrival; `emitted_clock` on the stream's (LSL) clock;
    `lookahead_s` the model's (spec.lookahead_s), which places the labelled span.

    `smoothed` is None when the window did not enter smoothing and the alarm (flagged, and not only by
    flags in QualityConfig.alarm_ignores).
    """
    span = label_span(window, lookahead_s)
    record: dict[str, Any] = {
        "type": "prediction",
        "run_id": RUN_ID,
        "stream": stream,
        "window_start": window.t_start,
        "window_end": window.t_end,
        "label_start": span[0],
        "label_end": span[1],
        "start_sample": window.start_sample,
        "segment": window.segment,
        "probs": _probs(probs),
        "smoothed": None if smoothed is None else _probs(smoothed),
        "flagged": window.flagged,
        "alarm_eligible": window.alarm_eligible,
        "quality": window.quality,
        "bad_seconds": window.bad_seconds or {},
        "model": model_id,
        "latency_ms": round(1e3 * (emitted - window.arrival), 3),
        "emitted_at": emitted_clock,
    }
    if smoothed is None:
        record["skipped"] = "flagged window: smoothing and alarm skipped"
    if window.counter is not None:
        record["counter"] = list(window.counter)
        record["counter_contiguous"] = window.counter_contiguous
    return record


def status_record(stream: str, status: Status) -> dict[str, Any]:
    return {"type": "status", "run_id": RUN_ID, "stream": stream, "kind": status.kind, "t": status.t,
            "message": status.message, "available_s": status.available_s, **(status.detail or {})}


def runtime_status_record(kind: str, message: str, **detail: Any) -> dict[str, Any]:
    """About the runtime itself (e.g. a failed output), not a stream: stream "edge", no time."""
    return {"type": "status", "run_id": RUN_ID, "stream": "edge", "kind": kind, "t": None, "message": message,
            **detail}


def file_prediction_record(path: Path, window: Window, probs: np.ndarray, *, span: tuple[float, float],
                           kaggle_centre: str | None = None) -> dict[str, Any]:
    """`edge predict`: offset = the window's start in seconds of the file at 200 Hz; `span` the labelled span
    relative to it; `kaggle_centre` says how a Kaggle-layout file's centre was predicted (edge predict --kaggle)."""
    offset = window.start_sample / SAMPLE_RATE_HZ
    return {"type": "prediction", "run_id": RUN_ID, "file": str(path), "offset": offset,
            "label_start": offset + span[0], "label_end": offset + span[1],
            **({"kaggle_centre": kaggle_centre} if kaggle_centre else {}),
            "probs": {c: float(v) for c, v in zip(CLASSES, probs, strict=True)},
            "flagged": window.flagged, "quality": window.quality, "bad_seconds": window.bad_seconds}


def file_status_record(path: Path, kind: str, start_sample: int, message: str, detail: dict[str, Any] | None
                       ) -> dict[str, Any]:
    """`edge predict`: why the window at `start_sample` is not predicted."""
    detail = detail or {}
    return {"type": "status", "run_id": RUN_ID, "file": str(path), "offset": start_sample / SAMPLE_RATE_HZ,
            "kind": kind, "message": message, **{k: detail[k] for k in ("unusable", "bad_seconds") if k in detail}}


def to_json(record: dict[str, Any]) -> str:
    """One line of strict JSON (RFC 8259): non-finite numbers become null, listed under "nonfinite"."""
    nonfinite: list[str] = []
    clean = _finite(record, "", nonfinite)
    if nonfinite:
        clean["nonfinite"] = nonfinite
    return json.dumps(clean, separators=(",", ":"), allow_nan=False)


def _finite(value: Any, path: str, found: list[str]) -> Any:
    if isinstance(value, dict):
        return {k: _finite(v, f"{path}.{k}" if path else str(k), found) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v, f"{path}[{i}]", found) for i, v in enumerate(value)]
    if isinstance(value, (float, np.floating)) and not math.isfinite(value):
        found.append(path)
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value
