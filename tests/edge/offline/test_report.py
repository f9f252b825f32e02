"""`edge report`: HTML + PNG from a JSONL log, offline (no scripts, nothing loaded), with clear errors."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from edge.contract import CLASSES
from edge.errors import DataError
from edge.monitoring.trends import CDSA_CENTRES_HZ, CHAIN_NAMES
from edge.offline.report import load_recording, summary, write_report


def write_log(path, *, streams=("bed-a",), hours: float = 0.25, trends_inline: bool = True,
              no_data: bool = True) -> None:
    rng = np.random.default_rng(0)
    lines = []
    for stream in streams:
        for k, t in enumerate(np.arange(50.0, 50.0 + hours * 3600, 2.0)):
            seizure = 0.8 if 200 <= k < 260 else 0.1
            probs = {c: (seizure if c == "seizure" else (1 - seizure) / 5) for c in CLASSES}
            flat = ["C3"] if 300 <= k < 320 else []
            lines.append({"type": "prediction", "stream": stream, "window_start": t - 50, "window_end": t,
                          "label_start": t - 30, "label_end": t - 20, "probs": probs,
                          "smoothed": None if flat else probs, "flagged": bool(flat),
                          "quality": {"flat": flat, "railing": []}, "model": "test-model-123",
                          "latency_ms": float(rng.uniform(2, 5)),
                          "burden": {"window_s": 300.0, "coverage": 1.0, "seizure": min(1.0, max(0, k - 200) / 150),
                                     "any_iiic": 0.0}})
            values = rng.normal(10, 3, len(CHAIN_NAMES) * (len(CDSA_CENTRES_HZ) + 3) + 4).round(2).tolist()
            if trends_inline:
                lines.append({"type": "trends", "stream": stream, "t": t, "values": values})
            if k in (200, 270):
                lines.append({"type": "alarm", "stream": stream, "level": "window", "class": "seizure",
                              "state": "on" if k == 200 else "off", "p": seizure, "t": t, "message": ""})
        if no_data:
            lines.append({"type": "status", "stream": stream, "kind": "no_data", "t": t + 10, "message": "silent"})
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))


def test_report_writes_an_offline_html_page_and_a_png(tmp_path) -> None:
    log = tmp_path / "predictions.jsonl"
    write_log(log)
    page, png = write_report(log, tmp_path / "out" / "report.html")
    assert png == tmp_path / "out" / "report.png" and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = page.read_text()
    assert "<script" not in text and not re.search(r"(src|href)=\"https?:", text)  # nothing loaded from anywhere
    assert "test-model-123" in text and "seizure (window): 1" in text and "no_data: 1" in text
    assert "<td>C3</td><td>flat</td><td>20</td>" in text
    assert text.count("data:image/png;base64,") == 1


def test_summary_figures_come_from_the_records(tmp_path) -> None:
    log = tmp_path / "p.jsonl"
    write_log(log, hours=0.1, no_data=False)
    write_report(log, tmp_path / "clean.html")  # no flags, no alarms, no status
    rec = load_recording(log)
    rows = summary(rec)
    n = len(rec.predictions)
    assert n == 180 and len(rec.trends) == 180 and len(rec.alarms) == 0  # alarms start at window 200
    assert rows["predictions"] == f"{n} (0 flagged by quality, 0.0%)"
    assert rows["time range (stream clock, s)"].startswith("0.0 to 408.0")


def test_trends_from_a_separate_file_in_the_per_chain_form(tmp_path) -> None:
    log, trends = tmp_path / "p.jsonl", tmp_path / "p.trends.jsonl"
    write_log(log, hours=0.05, trends_inline=False)
    frame = {"type": "trends", "stream": "bed-a", "t": 60.0, "suppression": [0, 0, 0, 0],
             "cdsa_db": [[float(f) for f in CDSA_CENTRES_HZ]] * len(CHAIN_NAMES), "aeeg_uv": [[5.0, 20.0]] * 4}
    trends.write_text(json.dumps(frame) + "\n")
    rec = load_recording(log, trends=trends)
    assert len(rec.trends) == 1 and rec.trends[0]["aeeg"]["LL"] == [5.0, 20.0]
    write_report(log, tmp_path / "r.html", trends=trends)


def test_trends_from_the_runtimes_csv_file(tmp_path) -> None:
    from edge.sinks.trends_file import TrendsFileSink

    log, trends = tmp_path / "p.jsonl", tmp_path / "p.trends.csv"
    write_log(log, hours=0.05, trends_inline=False)
    sink = TrendsFileSink(trends)
    values = list(range(len(CHAIN_NAMES) * (len(CDSA_CENTRES_HZ) + 3) + 4))
    for t in (60.0, 62.0):
        sink.write({"type": "trends", "stream": "bed-a", "t": t, "values": values})
    sink.write({"type": "trends", "stream": "bed-b", "t": 60.0, "values": values})
    sink.close()
    rec = load_recording(log, trends=trends)
    per_chain = len(CDSA_CENTRES_HZ) + 3
    assert [p["t"] for p in rec.trends] == [60.0, 62.0]
    assert rec.trends[0]["aeeg"]["RL"] == [per_chain + len(CDSA_CENTRES_HZ), per_chain + len(CDSA_CENTRES_HZ) + 1]
    trends.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="not a trends file"):
        load_recording(log, trends=trends)


def test_bad_input_is_one_clear_error(tmp_path) -> None:
    log = tmp_path / "p.jsonl"
    write_log(log, streams=("bed-a", "bed-b"), hours=0.02)
    with pytest.raises(DataError, match=r"2 streams \(bed-a, bed-b\); choose one with --stream"):
        load_recording(log)
    assert load_recording(log, stream="bed-b").stream == "bed-b"
    with pytest.raises(DataError, match="no predictions for stream 'bed-c'"):
        load_recording(log, stream="bed-c")
    log.write_text(json.dumps({"type": "status", "stream": "x", "kind": "warming", "t": 1.0}) + "\n")
    with pytest.raises(DataError, match="no prediction records"):
        load_recording(log)
