from __future__ import annotations

import pytest

from edge.demo import run_demo
from edge.sinks.jsonl import read_jsonl


@pytest.mark.lsl
def test_demo_leaves_jsonl_and_png(tmp_path, test_bundle, recording_70s) -> None:
    png = run_demo(tmp_path / "demo", test_bundle, recording_70s, seconds=6.0, speed=25.0)
    records = read_jsonl(tmp_path / "demo" / "predictions.jsonl")
    assert any(r["type"] == "prediction" for r in records)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
