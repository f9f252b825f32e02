"""The stream-rate measurement: samples per second of the stream's own timestamps, over a sliding window."""

from __future__ import annotations

import numpy as np
import pytest

from edge.inputs.stream_rate import RateMonitor

RATE = 200.0


def feed(monitor: RateMonitor, stamps: np.ndarray, chunk: int) -> list[float | None]:
    return [monitor.update(stamps[i:i + chunk]) for i in range(0, len(stamps), chunk)]


@pytest.mark.parametrize("speed", [1.0, 4.0, 0.5, 1.3])
def test_measures_the_rate_relative_to_nominal_once_the_window_is_covered(speed) -> None:
    monitor = RateMonitor(RATE, window_s=5.0, gap_s=0.5)
    ratios = feed(monitor, 100.0 + np.arange(int(12 * RATE * speed)) / (RATE * speed), chunk=20)  # 12 s of stamps
    covered = next(i for i, r in enumerate(ratios) if r is not None)
    assert all(r is None for r in ratios[:covered])
    assert covered * 20 / (RATE * speed) == pytest.approx(5.0, abs=0.11)  # as soon as 5 s of stamps are in
    assert ratios[-1] == pytest.approx(speed, rel=1e-9)


def test_a_backlog_delivered_in_one_burst_measures_nominal() -> None:
    """A consumer that fell behind pulls minutes of samples at once: their stamps still say 200 Hz."""
    monitor = RateMonitor(RATE, window_s=5.0, gap_s=0.5)
    stamps = np.arange(int(60 * RATE)) / RATE
    assert monitor.update(stamps) == pytest.approx(1.0)
    assert feed(monitor, 60.0 + np.arange(400) / RATE, chunk=7)[-1] == pytest.approx(1.0)


def test_jittered_chunk_stamps_stay_within_a_percent() -> None:
    rng = np.random.default_rng(0)
    monitor = RateMonitor(RATE, window_s=5.0, gap_s=0.5)
    ratios = []
    for k in range(300):  # 0.1 s chunks, each back-dated from a push time jittered by up to 30 ms
        push = 0.1 * (k + 1) + rng.uniform(0, 0.03)
        ratios.append(monitor.update(push - np.arange(19, -1, -1) / RATE))
    assert all(abs(r - 1.0) < 0.01 for r in ratios if r is not None)


def test_a_gap_restarts_the_measurement_instead_of_reading_as_a_slow_stream() -> None:
    monitor = RateMonitor(RATE, window_s=5.0, gap_s=0.5)
    feed(monitor, np.arange(int(10 * RATE)) / RATE, chunk=40)
    after = 30.0 + np.arange(int(3 * RATE)) / RATE  # 20 s without samples
    assert all(r is None for r in feed(monitor, after, chunk=40))  # 3 s since the gap: not yet covered
    assert feed(monitor, 33.0 + np.arange(int(3 * RATE)) / RATE, chunk=40)[-1] == pytest.approx(1.0)


def test_speed_changes_are_seen_continuously() -> None:
    monitor = RateMonitor(RATE, window_s=5.0, gap_s=0.5)
    normal = np.arange(int(30 * RATE)) / RATE
    assert feed(monitor, normal, chunk=20)[-1] == pytest.approx(1.0)
    fast = normal[-1] + (1 + np.arange(int(8 * 4 * RATE))) / (4 * RATE)  # 8 s at 4x
    ratios = feed(monitor, fast, chunk=20)
    assert abs(ratios[10] - 1.0) > 0.1  # flagged within 0.25 s of stamps
    assert ratios[-1] == pytest.approx(4.0)
    monitor.reset()
    assert monitor.ratio() is None
