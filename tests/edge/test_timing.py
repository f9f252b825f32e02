"""edge/timing.py: stage timings are collected only when asked for, and counted per call."""

from __future__ import annotations

import time

import pytest

from edge.timing import StageTimer


def test_a_disabled_timer_records_nothing() -> None:
    timer = StageTimer()
    with timer.stage("engine"):
        pass
    assert timer.summary() == {}


def test_an_enabled_timer_sums_calls_and_time_per_stage() -> None:
    timer = StageTimer(enabled=True)
    for _ in range(3):
        with timer.stage("engine"):
            start = time.perf_counter()
            while time.perf_counter() - start < 0.002:  # busy, so the stage holds measurable time
                pass
    with timer.stage("sinks"):
        pass
    summary = timer.summary()
    assert set(summary) == {"engine", "sinks"}
    engine = summary["engine"]
    assert engine["calls"] == 3 and engine["total_ms"] >= 6.0
    assert engine["mean_ms"] == pytest.approx(engine["total_ms"] / 3)
    assert summary["sinks"]["calls"] == 1


def test_a_stage_that_raises_is_still_counted() -> None:
    timer = StageTimer(enabled=True)
    with pytest.raises(RuntimeError), timer.stage("engine"):
        raise RuntimeError("boom")
    assert timer.summary()["engine"]["calls"] == 1
