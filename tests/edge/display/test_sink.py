"""DisplaySink: never blocks the runtime, bounded, newest EEG frame per stream only."""

from __future__ import annotations

import numpy as np

from edge.contract import CHANNELS, SAMPLE_RATE_HZ, WINDOW_SAMPLES
from edge.display.sink import DisplaySink


def frame(t_end: float, value: float) -> tuple[np.ndarray, float]:
    return np.full((len(CHANNELS), WINDOW_SAMPLES), value, dtype=np.float32), t_end


def test_a_full_queue_drops_display_records_without_blocking(make_prediction) -> None:
    sink = DisplaySink(max_records=3)
    for t in range(10):
        sink.write(make_prediction("b", float(t)))  # returns at once even though nobody drains
    assert sink.dropped == 7
    records, _ = sink.drain(limit=100)
    assert [r["window_end"] for r in records] == [0.0, 1.0, 2.0]


def test_only_the_newest_window_per_stream_is_kept_and_only_its_newest_seconds() -> None:
    sink = DisplaySink(eeg_s=15.0)
    for k in range(5):
        sink.observe_frame("a", *frame(50.0 + k, float(k)))
    sink.observe_frame("b", *frame(60.0, 9.0))
    _, frames = sink.drain(limit=10)
    assert set(frames) == {"a", "b"}
    data, t_end = frames["a"]
    assert t_end == 54.0 and data.shape == (len(CHANNELS), 15 * SAMPLE_RATE_HZ) and np.all(data == 4.0)
    assert sink.drain(limit=10) == ([], {})


def test_drain_takes_at_most_the_limit(make_prediction) -> None:
    sink = DisplaySink()
    for t in range(5):
        sink.feed(make_prediction("b", float(t)))
    assert len(sink.drain(limit=2)[0]) == 2
    assert len(sink.drain(limit=10)[0]) == 3
