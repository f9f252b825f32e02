"""`edge demo` does what the README says: the shipped model, on the shipped synthetic seizure replayed over
loopback LSL, calls it seizure, raises the per-window seizure alarm by its hysteresis, and leaves a PNG."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import pytest

from edge.config import AlarmConfig
from edge.demo import run_demo
from edge.sinks.jsonl import read_jsonl


@pytest.mark.lsl
def test_demo_calls_the_shipped_seizure_seizure_and_alarms_by_the_documented_hysteresis(tmp_path) -> None:
    png = run_demo(tmp_path / "demo", None, None, seconds=12.0, speed=25.0)
    records = read_jsonl(tmp_path / "demo" / "predictions.jsonl")
    smoothed = [r for r in records if r["type"] == "prediction" and r["smoothed"] is not None]
    assert len(smoothed) >= 5, Counter(r.get("kind") for r in records if r["type"] == "status")
    calls = Counter(max(r["smoothed"], key=r["smoothed"].get) for r in smoothed)
    assert calls.most_common(1)[0][0] == "seizure", calls
    alarm = AlarmConfig()
    states, last = [], None
    for record in records:  # each window alarm follows the prediction that moved it
        if record["type"] == "prediction" and record["smoothed"] is not None:
            last = record["smoothed"][alarm.target]
        elif record["type"] == "alarm" and record["level"] == "window":
            states.append(record["state"])
            assert (last >= alarm.on) if record["state"] == "on" else (last < alarm.off), (record, last)
    assert states and states[0] == "on", states
    assert all(a != b for a, b in pairwise(states)), states  # on, off, on, ...
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
