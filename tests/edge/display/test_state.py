"""WardState: bed states, tile order, staleness, alarm bookkeeping, EEG frames, bounded history."""

from __future__ import annotations

import numpy as np
import pytest

from edge.contract import CHANNELS, SAMPLE_RATE_HZ, WINDOW_SAMPLES, montage_pairs
from edge.display.state import PAIRS, SCREEN_RATE_HZ, DisplayConfig, WardState, decode_traces, eeg_frame
from edge.errors import SpecError


def test_tiles_sorted_by_alarm_state_and_stale_beds_marked(make_prediction) -> None:
    ward = WardState(DisplayConfig(stale_s=5.0))
    ward.apply(make_prediction("bed-ok", 100.0), now=10.0, wall=0.0)
    ward.apply(make_prediction("bed-flat", 100.0, flat=("C3",)), now=10.0, wall=0.0)
    ward.apply(make_prediction("bed-seizure", 100.0, seizure=0.9), now=10.0, wall=0.0)
    ward.apply({"type": "alarm", "stream": "bed-seizure", "state": "on", "class": "seizure", "p": 0.9, "t": 100.0},
               now=10.0, wall=0.0)
    ward.apply(make_prediction("bed-stopped", 100.0), now=1.0, wall=0.0)
    tiles = ward.tiles(now=10.0)
    assert [t["stream"] for t in tiles] == ["bed-seizure", "bed-stopped", "bed-flat", "bed-ok"]
    assert [t["state"] for t in tiles] == ["alarm", "stale", "quality", "ok"]
    assert tiles[0]["alarms"] == ["seizure (window)"]  # the per-window alarm (no level: records before levels)
    assert tiles[1]["stale"] is True and tiles[1]["age_s"] == 9.0
    assert tiles[2]["quality"] == {"flat": ["C3"]}
    ward.apply({"type": "alarm", "stream": "bed-seizure", "state": "off", "class": "seizure", "p": 0.3, "t": 102.0},
               now=10.0, wall=0.0)
    assert ward.bed("bed-seizure").state(10.0) == "ok"
    assert len(ward.bed("bed-seizure").alarm_log) == 2  # the log keeps both events
    ward.apply({"type": "alarm", "stream": "bed-seizure", "level": "seizure", "state": "suppressed",
                "class": "seizure", "t": 104.0}, now=10.0, wall=0.0)
    assert ward.bed("bed-seizure").state(10.0) == "ok"  # a throttled re-alarm is logged, not raised
    assert len(ward.bed("bed-seizure").alarm_log) == 3


def test_no_data_status_marks_stale_at_once_and_data_clears_it(make_prediction) -> None:
    ward = WardState()
    ward.apply(make_prediction("b", 10.0), now=0.0, wall=0.0)
    ward.apply({"type": "status", "stream": "b", "kind": "no_data", "t": 15.0, "message": "no samples"}, 1.0, 0.0)
    assert ward.bed("b").state(1.0) == "stale"
    ward.apply({"type": "status", "stream": "b", "kind": "no_data", "t": 17.0, "message": "no samples"}, 4.0, 0.0)
    ward.apply({"type": "alarm", "stream": "b", "level": "signal", "state": "on", "t": 17.0}, 4.0, 0.0)
    tile = ward.tiles(4.0)[0]
    assert tile["age_s"] == 4.0 and tile["stale"]  # counted from the last data: not the status, not the alarm
    assert tile["state"] == "alarm" and tile["alarms"] == ["signal"]
    ward.apply({"type": "alarm", "stream": "b", "level": "signal", "state": "off", "t": 18.0}, 4.0, 0.0)
    ward.apply({"type": "status", "stream": "b", "kind": "reconnected", "t": 20.0, "message": "found"}, 2.0, 0.0)
    assert ward.bed("b").state(2.0) == "warming"
    ward.apply(make_prediction("b", 80.0), now=3.0, wall=0.0)
    assert ward.bed("b").state(3.0) == "ok"


def test_a_refused_window_shows_its_own_quality_detail(make_prediction) -> None:
    ward = WardState()
    ward.apply(make_prediction("b", 60.0), now=0.0, wall=0.0)
    ward.apply({"type": "status", "stream": "b", "kind": "artifact", "t": 62.0, "message": "O1 railing",
                "quality": {"railing": ["O1"], "flat": []}}, now=0.0, wall=0.0)
    tile = ward.tiles(0.0)[0]
    assert tile["state"] == "quality" and tile["quality"] == {"railing": ["O1"]}
    assert tile["status"]["kind"] == "artifact"


def test_records_without_a_stream_are_ignored(make_prediction) -> None:
    ward = WardState()
    ward.apply({"type": "status", "stream": None, "kind": "sink_failed", "t": None, "message": "x"}, 0.0, 0.0)
    ward.apply({"type": "status", "stream": "edge", "kind": "sink_failed", "t": None, "message": "x"}, 0.0, 0.0)
    assert ward.beds == {}


def test_history_is_bounded_on_the_stream_clock_and_deltas_are_taken_once(make_prediction) -> None:
    ward = WardState(DisplayConfig(history_s=10.0))
    bed = ward.bed("b")
    for t in np.arange(100.0, 130.0, 2.0):
        bed.apply(make_prediction("b", float(t)), now=0.0, wall=0.0)
    assert [p["t"] for p in bed.history] == [float(t) for t in np.arange(118.0, 130.0, 2.0)]
    assert len(bed.take_delta(0.0)["points"]) == 15
    assert bed.take_delta(0.0)["points"] == [] and not bed.has_news


def test_burden_is_passed_through_when_present(make_prediction) -> None:
    ward = WardState()
    record = {**make_prediction("b", 60.0), "burden": {"t": 30.0, "seizure": 0.25, "coverage": 0.9}}
    ward.apply(record, now=0.0, wall=0.0)
    assert ward.tiles(0.0)[0]["burden"] == {"seizure": 0.25, "coverage": 0.9}  # shares and coverage, not its time
    assert ward.bed("b").snapshot(0.0)["points"][0]["burden"] == {"seizure": 0.25, "coverage": 0.9}
    level = {"type": "alarm", "stream": "b", "level": "prolonged", "state": "on", "class": "seizure", "t": 61.0}
    ward.apply(level, now=0.0, wall=0.0)
    assert ward.tiles(0.0)[0]["alarms"] == ["prolonged"]


def test_eeg_frame_is_the_double_banana_of_the_newest_seconds_averaged_to_screen_rate() -> None:
    rng = np.random.default_rng(0)
    data = rng.normal(0, 30, (len(CHANNELS), WINDOW_SAMPLES)).astype(np.float32)
    frame = eeg_frame(data, t_end=123.0, seconds=15.0)
    factor = SAMPLE_RATE_HZ // SCREEN_RATE_HZ
    assert frame["labels"] == list(PAIRS) and frame["rate_hz"] == SCREEN_RATE_HZ
    traces = decode_traces(frame)
    assert traces.shape == (len(PAIRS), 15 * SCREEN_RATE_HZ)
    anode, cathode = (CHANNELS.index(c) for c in montage_pairs()[3])  # independent: pick the pair by name
    expected = (data[anode, -15 * SAMPLE_RATE_HZ:] - data[cathode, -15 * SAMPLE_RATE_HZ:]).reshape(-1, factor)
    np.testing.assert_allclose(traces[3], expected.mean(axis=1), atol=0.051)


def test_config_validation_names_the_field() -> None:
    with pytest.raises(SpecError, match="display.stale_s"):
        DisplayConfig(stale_s=0).validate()


def test_trend_records_are_kept_per_chain_within_their_span() -> None:
    from edge.monitoring.trends import CDSA_CENTRES_HZ, trend_channels

    labels = [label for label, _ in trend_channels()]
    ward = WardState(DisplayConfig(trends_s=5.0))
    for t in (100.0, 102.0, 104.0, 106.0):
        ward.apply({"type": "trends", "stream": "b", "t": t, "values": [float(i) for i in range(len(labels))]}, 0, 0)
    bed = ward.bed("b")
    assert [p["t"] for p in bed.trends] == [102.0, 104.0, 106.0]
    point = bed.snapshot(0.0)["trends"][-1]
    assert point["cdsa"]["RP"] == [float(labels.index(f"RP_cdsa_{f}Hz")) for f in CDSA_CENTRES_HZ]
    assert point["aeeg"]["LP"] == [float(labels.index("LP_aeeg_lower")), float(labels.index("LP_aeeg_upper"))]
    assert len(bed.take_delta(0.0)["trends"]) == 4
