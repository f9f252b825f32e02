"""edge/sinks/lsl_out.py: what `edge run --lsl-out` publishes per stream."""

from __future__ import annotations

import json
import time

import pytest


@pytest.mark.lsl
def test_every_record_but_trends_goes_out_as_its_json_line(stream_name) -> None:
    import pylsl

    from edge.contract import CLASSES
    from edge.sinks.lsl_out import LslSink, records_stream

    probs = dict.fromkeys(CLASSES, 1 / len(CLASSES))
    prediction = {"type": "prediction", "stream": stream_name, "window_end": 60.0, "probs": probs,
                  "smoothed": probs, "flagged": False, "model": "m"}

    sink = LslSink("m", [stream_name])
    try:
        inlet = pylsl.StreamInlet(pylsl.resolve_byprop("name", records_stream(stream_name), 1, 5.0)[0])
        inlet.open_stream(5.0)
        status = {"type": "status", "stream": stream_name, "kind": "artifact", "t": 3.0, "message": "x"}
        run_level = {"type": "status", "stream": "edge", "kind": "sink_failed", "t": None, "message": "disk full"}
        trends = {"type": "trends", "stream": stream_name, "t": 1.0, "values": [0.0] * 96}
        for record in (prediction, trends, status, run_level):
            sink.write(record)
        lines: list[dict] = []
        deadline = time.monotonic() + 5
        while len(lines) < 2 and time.monotonic() < deadline:
            samples, _ = inlet.pull_chunk(timeout=0.2)
            lines += [json.loads(sample[0]) for sample in samples]
        assert [r["type"] for r in lines] == ["prediction", "status"]
        assert lines[0] == prediction and lines[1] == status
        assert set(sink._records) == {stream_name}  # a run-level status opens no outlets of its own
    finally:
        sink.close()
