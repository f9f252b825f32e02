"""The records edge emits (predictions, status, alarms) as plain dicts ready for JSON."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge.chain import Status, Window
from edge.spec import CLASSES, SignalContract

LABEL_SPAN_S = SignalContract().label_span_seconds


def _probs(values: np.ndarray) -> dict[str, float]:
    return {c: round(float(p), 7) for c, p in zip(CLASSES, values, strict=True)}


def prediction_record(stream: str, window: Window, probs: np.ndarray, smoothed: np.ndarray, model_id: str,
                      emitted: float, emitted_clock: float) -> dict[str, Any]:
    """`emitted` is on the same clock as window.arrival; `emitted_clock` on the stream's (LSL) clock."""
    record: dict[str, Any] = {
        "type": "prediction",
        "stream": stream,
        "window_start": window.t_start,
        "window_end": window.t_end,
        "label_start": window.t_start + LABEL_SPAN_S[0],
        "label_end": window.t_start + LABEL_SPAN_S[1],
        "start_sample": window.start_sample,
        "segment": window.segment,
        "probs": _probs(probs),
        "smoothed": _probs(smoothed),
        "flagged": window.flagged,
        "quality": window.quality,
        "model": model_id,
        "latency_ms": round(1e3 * (emitted - window.arrival), 3),
        "emitted_at": emitted_clock,
    }
    if window.counter is not None:
        record["counter"] = list(window.counter)
        record["counter_contiguous"] = window.counter_contiguous
    return record


def status_record(stream: str, status: Status) -> dict[str, Any]:
    return {"type": "status", "stream": stream, "kind": status.kind, "t": status.t, "message": status.message,
            "available_s": status.available_s}


def alarm_record(stream: str, change: str, target: str, p: float, t: float) -> dict[str, Any]:
    return {"type": "alarm", "stream": stream, "state": change, "class": target, "p": round(p, 7), "t": t}
