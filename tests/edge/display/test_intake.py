"""Hostile records: every one the display cannot show is rejected by one step (edge.display.intake), counted
per bed and for the ward with its reason, and nothing else stops: other beds and later records keep
updating, new beds appear. Records come as dicts (the runtime's sink) or as text (a log line, an LSL sample)."""

from __future__ import annotations

import json
import math

import pytest

from edge.display.intake import MAX_NAME_CHARS, MAX_RECORD_BYTES, BadRecord, accept
from edge.display.server import Hub
from edge.display.sink import DisplaySink
from edge.display.state import DisplayConfig, WardState
from edge.monitoring.trends import trend_channels

from .conftest import prediction

N_TRENDS = len(trend_channels())


def trends(stream: str, t: float, values: list | None = None) -> dict:
    return {"type": "trends", "stream": stream, "t": t, "values": values or [1.0] * N_TRENDS}


def deep(levels: int) -> dict:
    value: dict = {}
    for _ in range(levels):
        value = {"x": value}
    return value


# each: a record for bed "b" the display must reject (the issue's cases first, then our own)
BAD = {
    "window_end string": {**prediction("b", 1.0), "window_end": "62.0"},
    "window_end missing": {k: v for k, v in prediction("b", 1.0).items() if k != "window_end"},
    "window_end NaN": {**prediction("b", 1.0), "window_end": math.nan},
    "window_end inf": {**prediction("b", 1.0), "window_end": math.inf},
    "window_end null": {**prediction("b", 1.0), "window_end": None},
    "smoothed string": {**prediction("b", 1.0), "smoothed": "0.5"},
    "trends values strings": trends("b", 1.0, ["a"] * N_TRENDS),
    "trends values short": trends("b", 1.0, [1.0] * 3),
    "trends values object": {**trends("b", 1.0), "values": {"0": 1.0}},
    "trends t string": {**trends("b", 1.0), "t": "now"},
    "unknown type": {"type": "telemetry", "stream": "b", "t": 1.0},
    "no type": {"stream": "b", "window_end": 1.0},
    "type a list": {**prediction("b", 1.0), "type": ["prediction"]},
    "type an object": {**prediction("b", 1.0), "type": {"prediction": 1}},
    "window_end 1e308": {**prediction("b", 1.0), "window_end": 1e308},
    "window_end huge int": {**prediction("b", 1.0), "window_end": 10**400},
    "window_end bool": {**prediction("b", 1.0), "window_end": True},
    "window_end nested": {**prediction("b", 1.0), "window_end": {"t": 1.0}},
    "window_end list": {**prediction("b", 1.0), "window_end": [1.0]},
    "probs a list": {**prediction("b", 1.0), "probs": [0.1] * 6},
    "probs above 1": {**prediction("b", 1.0), "probs": {**prediction("b", 1.0)["probs"], "seizure": 7.0}},
    "probs negative": {**prediction("b", 1.0), "probs": {**prediction("b", 1.0)["probs"], "lpd": -0.5}},
    "probs lack a class": {**prediction("b", 1.0), "probs": {"seizure": 1.0}},
    "smoothed nested": {**prediction("b", 1.0), "smoothed": {c: {"p": 0.1} for c in prediction("b", 1)["probs"]}},
    "flagged string": {**prediction("b", 1.0), "flagged": "false"},
    "quality a list": {**prediction("b", 1.0), "quality": ["C3"]},
    "quality channels a string": {**prediction("b", 1.0), "quality": {"flat": "C3"}},
    "burden share a string": {**prediction("b", 1.0), "burden": {"seizure": "high"}},
    "burden a list": {**prediction("b", 1.0), "burden": [0.2]},
    "latency negative": {**prediction("b", 1.0), "latency_ms": -1.0},
    "model a number": {**prediction("b", 1.0), "model": 7},
    "status kind a list": {"type": "status", "stream": "b", "kind": ["warming"], "t": 1.0},
    "status t string": {"type": "status", "stream": "b", "kind": "warming", "t": "1.0"},
    "alarm p 5": {"type": "alarm", "stream": "b", "state": "on", "class": "seizure", "p": 5.0, "t": 1.0},
    "alarm state a dict": {"type": "alarm", "stream": "b", "state": {"on": True}, "t": 1.0},
    "alarm span a string": {"type": "alarm", "stream": "b", "state": "on", "span": "1-2", "t": 1.0},
}


@pytest.mark.parametrize("name", BAD)
def test_each_bad_record_is_counted_and_the_ward_goes_on(name) -> None:
    bad = BAD[name]
    for item in (bad, json.dumps(bad, allow_nan=True)):  # from the runtime, and as a log line
        ward = WardState()
        ward.apply(prediction("b", 1.0), now=0.0, wall=0.0)
        ward.apply(prediction("other", 1.0), now=0.0, wall=0.0)
        ward.apply(item, now=0.0, wall=0.0)
        ward.apply(prediction("b", 3.0, seizure=0.7), now=1.0, wall=0.0)
        ward.apply(prediction("other", 3.0), now=1.0, wall=0.0)
        ward.apply(prediction("new-bed", 3.0), now=1.0, wall=0.0)
        assert ward.rejected.count == 1, name
        on_bed = 0 if isinstance(item, str) and ("NaN" in item or "Infinity" in item) else 1  # not JSON
        assert ward.bed("b").rejected.count == on_bed and ward.bed("other").rejected.count == 0, name
        tiles = {t["stream"]: t for t in ward.tiles(1.0)}
        assert set(tiles) == {"b", "other", "new-bed"}, name
        assert tiles["b"]["window_end"] == 3.0 and tiles["b"]["smoothed"]["seizure"] == 0.7, name
        assert tiles["b"]["rejected"]["count"] == on_bed, name
        assert json.loads(json.dumps(ward.summary(1.0)))["rejected"]["count"] == 1  # what the page gets


@pytest.mark.parametrize("text", [
    "hello", "", "[1, 2, 3]", "null", "42", '"a string"', '{"type": "predic',
    '{"type": "prediction", "stream": "b", "window_end": NaN}',  # not strict JSON
    '{"type": "prediction", "stream": "b", "window_end": Infinity}',
    '{"type": "prediction", "stream": "b", "window_end": 1e999}',  # parses as inf
    '{"stream": "b", "type": "status", "kind": "warming", "t": 1, "t": "x"}',  # duplicated key
    '{"stream": "b", "stream": "other", "type": "status", "kind": "warming", "t": 1}',
    "[" * 50_000 + "]" * 50_000,  # nested far beyond the parser's recursion limit
    '{"type": "status", "stream": "b", "kind": "warming", "t": ' + "9" * 5000 + "}",  # over Python's digit limit
])
def test_text_that_is_not_one_strict_json_record_is_rejected(text) -> None:
    with pytest.raises(BadRecord):
        accept(text)
    ward = WardState()
    ward.apply(text, now=0.0, wall=0.0)
    ward.apply(prediction("b", 2.0), now=0.0, wall=0.0)
    assert ward.rejected.count == 1 and ward.bed("b").prediction["window_end"] == 2.0


def test_deep_nesting_in_an_unused_field_costs_nothing_and_oversize_is_refused() -> None:
    record = {**prediction("b", 1.0), "extra": deep(500)}
    assert "extra" not in accept(record) and "extra" not in accept(json.dumps(record))
    with pytest.raises(BadRecord, match="longer than 64 KiB"):
        accept(json.dumps({**prediction("b", 1.0), "pad": "x" * MAX_RECORD_BYTES}))
    with pytest.raises(BadRecord, match="not UTF-8"):
        accept(b'{"type": "status", "stream": "\xff"}')


@pytest.mark.parametrize("stream", [None, 7, "", "x" * (MAX_NAME_CHARS + 1), "bed\n1", "bed\x00", "\ud800",
                                    ["b"], {"name": "b"}])
def test_a_record_without_a_valid_stream_counts_for_the_ward_only(stream) -> None:
    ward = WardState()
    ward.apply({**prediction("b", 1.0), "stream": stream}, now=0.0, wall=0.0)
    assert ward.rejected.count == 1 and ward.beds == {}


@pytest.mark.parametrize("stream", ["BED-\u00e9\u4e2d\U0001f600", "<script>alert(1)</script>",
                                    '<img src=x onerror="alert(1)">', "O'Brien \"&\" ; DROP", "x" * MAX_NAME_CHARS])
def test_any_printable_bed_name_is_shown_verbatim(stream) -> None:
    ward = WardState()
    ward.apply(json.dumps(prediction(stream, 1.0)), now=0.0, wall=0.0)
    assert [t["stream"] for t in ward.tiles(0.0)] == [stream] and ward.rejected.count == 0


def test_a_bad_record_for_a_new_stream_shows_that_bed_with_its_count() -> None:
    """A bed whose records are all unreadable (e.g. another version's) appears, saying so, instead of missing."""
    ward = WardState()
    ward.apply({**prediction("bed-9", 1.0), "window_end": "soon"}, now=0.0, wall=0.0)
    tile = ward.tiles(0.0)[0]
    assert tile["stream"] == "bed-9" and tile["state"] == "stale" and tile["window_end"] is None
    assert tile["rejected"] == {"count": 1, "last": "prediction: window_end is not a number ('soon')"}


def test_ten_thousand_streams_are_bounded_by_max_beds() -> None:
    ward = WardState(DisplayConfig(max_beds=64))
    for i in range(10_000):
        ward.apply(prediction(f"s{i}", 1.0), now=0.0, wall=0.0)
    assert len(ward.beds) == 64 and ward.rejected.count == 10_000 - 64
    assert "at most 64 beds" in ward.rejected.last
    ward.apply(prediction("s3", 5.0), now=0.0, wall=0.0)  # the beds shown go on
    assert ward.bed("s3").prediction["window_end"] == 5.0


def test_valid_records_pass_with_only_the_fields_the_display_uses() -> None:
    record = {**prediction("b", 1.0), "burden": {"seizure": 0.25, "coverage": 0.9, "t": 1.0}, "bad_seconds": {}}
    clean = accept(record)
    assert clean["burden"] == {"seizure": 0.25, "coverage": 0.9} and "bad_seconds" not in clean
    assert accept({"type": "status", "stream": "edge", "kind": "sink_failed", "t": None, "message": "x"}) is None
    assert accept(trends("b", 1.0, [None] * N_TRENDS))["values"][0] is None  # the runtime's null for non-finite
    message = accept({"type": "status", "stream": "b", "kind": "artifact", "t": 1.0, "message": "m" * 10_000})
    assert len(message["message"]) < 2100 and message["message"].endswith("...")
    alarm = {"type": "alarm", "stream": "b", "level": "prolonged", "state": "on", "class": "seizure", "p": None,
             "burden": 0.4, "span": [-239.0, 61.0], "model": "m", "t": 61.0, "message": "on"}
    assert accept(alarm) == alarm
    import numpy as np

    assert accept({**alarm, "p": np.float32(0.5), "t": np.float64(61.0)})["p"] == 0.5  # numpy numbers pass
    with pytest.raises(BadRecord):
        accept({**alarm, "p": np.float32("nan")})
    with pytest.raises(BadRecord):
        accept({**alarm, "p": np.bool_(True)})


def test_one_bad_record_never_freezes_the_pump(make_prediction) -> None:
    """Was: one bad record raised in the pump's tick, the pump task died, and every tile went stale while
    valid records kept arriving; new beds never appeared."""
    sink = DisplaySink()
    hub = Hub(sink, DisplayConfig())
    sink.write(make_prediction("bed-1", 1.0))
    hub.tick(now=0.0)
    for bad in (BAD["window_end string"], BAD["smoothed string"], BAD["trends values strings"],
                BAD["window_end missing"], BAD["window_end NaN"], "not json"):
        sink.feed({**bad, "stream": "bed-1"} if isinstance(bad, dict) else bad)
        sink.write(make_prediction("bed-2", 2.0))
    sink.write(make_prediction("bed-1", 4.0, seizure=0.6))
    hub.tick(now=1.0)
    sink.write(make_prediction("bed-3", 6.0))
    hub.tick(now=2.0)
    ward = hub.ward.summary(2.0)
    assert {t["stream"]: t["window_end"] for t in ward["tiles"]} == {"bed-1": 4.0, "bed-2": 2.0, "bed-3": 6.0}
    assert ward["rejected"]["count"] == 6 and hub.ward.bed("bed-1").rejected.count == 5


def test_a_record_that_breaks_the_state_is_counted_not_raised(monkeypatch) -> None:
    """Defence in depth: should a record pass the intake and still fail in the state, it is counted."""
    from edge.display.state import BedState

    original = BedState.apply

    def fragile(self, record, now, wall):
        if record.get("window_end") == 13.0:
            raise KeyError("boom")
        original(self, record, now, wall)

    monkeypatch.setattr(BedState, "apply", fragile)
    ward = WardState()
    for t in (11.0, 13.0, 15.0):
        ward.apply(prediction("b", t), now=0.0, wall=0.0)
    assert ward.bed("b").prediction["window_end"] == 15.0
    assert ward.rejected.count == 1 and "could not be shown (KeyError" in ward.rejected.last


HOSTILE_VALUES = [None, True, 0, -1, 10**400, 1e308, math.nan, -math.inf, "", "x" * 5000, "<b>", [], [1, "a"],
                  {}, {"a": [1]}, deep(50), ["prediction"], {"seizure": None}]


def test_any_field_replaced_by_any_hostile_value_is_shown_or_rejected_never_raised() -> None:
    """Every field of each kind of record, swapped for each hostile value: `accept` returns or raises BadRecord
    (nothing else), and the ward state then renders to strict JSON."""
    alarm = {"type": "alarm", "stream": "b", "level": "prolonged", "state": "on", "class": "seizure", "p": 0.5,
             "burden": {"seizure": 0.4}, "span": [1.0, 2.0], "model": "m", "t": 3.0, "message": "on"}
    status = {"type": "status", "stream": "b", "kind": "artifact", "t": 2.0, "message": "x",
              "quality": {"railing": ["O1"]}}
    cdsa = {"type": "trends", "stream": "b", "t": 4.0, "cdsa_db": [[1.0] * 20] * 4, "aeeg_uv": [[1.0, 2.0]] * 4}
    for record in (prediction("b", 1.0), alarm, status, trends("b", 1.0), cdsa):
        for field in record:
            for value in HOSTILE_VALUES:
                ward = WardState()
                ward.apply({**record, field: value}, now=0.0, wall=0.0)
                ward.apply(json.dumps({**record, field: value}), now=0.0, wall=0.0)
                for bed in ward.beds.values():
                    json.dumps(bed.snapshot(0.0), allow_nan=False)
                json.dumps(ward.summary(0.0), allow_nan=False)


def test_every_record_a_real_run_emits_is_accepted(test_bundle) -> None:
    """No false rejections: predictions (flagged or not), status, alarm and trends records of a runtime, as
    the objects it hands the display's sink (numpy numbers included) and as their JSONL lines."""
    from pathlib import Path

    import numpy as np

    from edge.config import QualityConfig, RunConfig
    from edge.contract import CHANNELS, SAMPLE_RATE_HZ
    from edge.inputs.file_source import FileSource
    from edge.inputs.input_files import Recording
    from edge.model.engine import Engine
    from edge.records import to_json
    from edge.runtime import Runtime
    from edge.testing import ListSink, synthetic_eeg

    data = 0.02 * synthetic_eeg(120.0, seed=2)  # the tiny test model's "seizure" (test_browser.py says why)
    start = round(80 * SAMPLE_RATE_HZ)  # then a +-5 mV square wave: refused windows, status records
    data[start:, :19] = 5000.0 * np.sign(np.sin(np.linspace(0, 600, len(data) - start)))[:, None]
    recording = Recording(data.astype(np.float32), CHANNELS, ("uV",) * len(CHANNELS), float(SAMPLE_RATE_HZ),
                          Path("a.parquet"))
    config = RunConfig().replace(alarm={"on": 0.2, "off": 0.15, "levels": (), "signal_after_s": 3600.0},
                                 chain={"quality": QualityConfig(flat_uv=0.05, min_scale_uv=0.01)})
    sink = ListSink()
    with Engine(test_bundle, "onnxruntime", threads=1) as engine:
        runtime = Runtime(engine, [FileSource(recording, name="bed-1", chunk_s=2.0, t0=1000.0)], [sink], config)
        while runtime.step():
            pass
        runtime.close()
    kinds = {r["type"] for r in sink.records} | {r["kind"] for r in sink.records if r["type"] == "status"}
    assert {"prediction", "status", "alarm", "trends", "artifact"} <= kinds, kinds
    ward = WardState()
    for record in sink.records:
        ward.apply(record, now=0.0, wall=0.0)
        ward.apply(to_json(record), now=0.0, wall=0.0)
    assert ward.rejected.count == 0, ward.rejected.last
    assert ward.bed("bed-1").prediction is not None and ward.bed("bed-1").alarm_log


def test_a_clock_running_backwards_cannot_grow_a_bed_without_bound() -> None:
    """Spans drop old points by the stream clock; times that only decrease would drop nothing: the caps hold."""
    ward = WardState(DisplayConfig(max_points=100, max_trends=10))
    for k in range(5000):
        ward.apply(prediction("b", 1e6 - k), now=0.0, wall=0.0)
        ward.apply(trends("b", 1e6 - k), now=0.0, wall=0.0)
    bed = ward.bed("b")
    assert len(bed.history) == 100 and len(bed.trends) == 10 and bed.history[-1]["t"] == 1e6 - 4999


def test_alarms_with_ever_new_names_cannot_grow_a_bed_without_bound() -> None:
    ward = WardState()
    for k in range(1000):
        ward.apply({"type": "alarm", "stream": "b", "level": f"level-{k}", "state": "on", "t": float(k)}, 0.0, 0.0)
    bed = ward.bed("b")
    assert len(bed.active) == 64 and len(bed.alarm_log) <= bed.config.alarm_log
    assert ward.rejected.count == 1000 - 64 and "alarms are active already" in ward.rejected.last
    ward.apply({"type": "alarm", "stream": "b", "level": "level-3", "state": "off", "t": 2000.0}, 0.0, 0.0)
    assert "level-3" not in bed.active  # clearing still works
