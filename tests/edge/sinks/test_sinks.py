"""Records and their sinks: strict JSON, the JSONL writer and its crash-tolerant reader, the console."""

from __future__ import annotations

import numpy as np
import pytest

from edge.errors import DataError
from edge.sinks.jsonl import JsonlSink, read_jsonl


def _strict_loads(line: str):
    import json

    def refuse(token: str):
        raise ValueError(f"{token} is not JSON")

    return json.loads(line, parse_constant=refuse)


def _record_with_nested_objects() -> dict:
    from edge.chain.signal_chain import Window
    from edge.contract import CLASSES
    from edge.records import prediction_record

    window = Window(np.zeros((20, 4), np.float32), 10.0, 59.995, 0, 1, 0.0,
                    {"missing": [], "line_noise": ["T3"], "flat": []}, bad_seconds={"T3": [20, 21]})
    probs = np.full(len(CLASSES), 1 / len(CLASSES))
    return prediction_record("EEG", window, probs, smoothed=None, model_id="m", lookahead_s=20.0,
                             emitted=0.1, emitted_clock=5.0)


def test_jsonl_reader_tolerates_torn_records_from_a_crash(tmp_path) -> None:
    path = tmp_path / "preds.jsonl"
    sink = JsonlSink(path)
    sink.write({"type": "prediction", "n": 1})
    sink.close()
    with path.open("a") as fh:
        fh.write('{"type": "prediction", "n": 2, "pro')  # the writer died mid-record
    assert [r["n"] for r in read_jsonl(path)] == [1]
    sink = JsonlSink(path)  # a restarted writer starts on a fresh line
    sink.write({"type": "prediction", "n": 3})
    sink.close()
    assert [r["n"] for r in read_jsonl(path)] == [1, 3]
    path.write_text('{"n": 1}\nnot json at all\n')
    with pytest.raises(DataError, match=":2 is not a JSON record"):
        read_jsonl(path)


def test_jsonl_reader_skips_a_record_torn_at_every_point(tmp_path) -> None:
    """Including cuts just after an inner '}' (the line then ends with '}' but is still incomplete)."""
    path = tmp_path / "preds.jsonl"
    sink = JsonlSink(path)
    sink.write({"type": "status", "n": 1})
    sink.close()
    line = path.read_text().splitlines()[0]
    record = _record_with_nested_objects()
    sink = JsonlSink(tmp_path / "one.jsonl")
    sink.write(record)
    sink.close()
    text = (tmp_path / "one.jsonl").read_text().rstrip("\n")
    inner = [i + 1 for i, ch in enumerate(text[:-1]) if ch == "}"]
    assert inner  # the record has nested objects, so some cuts end in '}'
    for cut in range(1, len(text)):
        path.write_text(f"{line}\n{text[:cut]}\n{line}\n")
        assert [r["n"] for r in read_jsonl(path)] == [1, 1], cut
    path.write_text(f"{line}\n{text}\n")
    assert read_jsonl(path)[1]["quality"]["line_noise"] == ["T3"]
    for bad in ('{"n": 1} trailing', "[1, 2]", "42"):
        path.write_text(f"{line}\n{bad}\n")
        with pytest.raises(DataError, match=":2 is not a JSON record"):
            read_jsonl(path)


def test_records_are_strict_json_and_carry_the_run_id(tmp_path) -> None:
    from edge.records import RUN_ID, to_json

    line = to_json({"type": "prediction", "probs": {"seizure": float("nan"), "other": 0.5}, "t": float("inf"),
                    "values": [1.0, np.float32("-inf")]})
    parsed = _strict_loads(line)
    assert parsed["probs"] == {"seizure": None, "other": 0.5} and parsed["t"] is None
    assert parsed["nonfinite"] == ["probs.seizure", "t", "values[1]"]
    record = _record_with_nested_objects()
    assert record["run_id"] == RUN_ID and record["smoothed"] is None and "skipped" in record
    path = tmp_path / "out.jsonl"
    sink = JsonlSink(path)
    sink.write({"type": "status", "p": float("nan")})  # whoever builds a record, the file stays valid JSON
    sink.close()
    written = _strict_loads(path.read_text())
    assert written["nonfinite"] == ["p"] and written["run_id"] == RUN_ID  # the sink adds a missing run_id


def test_two_processes_appending_to_one_file_are_told_apart(tmp_path) -> None:
    import subprocess
    import sys

    path = tmp_path / "shared.jsonl"
    script = ("import sys; from edge.sinks.jsonl import JsonlSink; s = JsonlSink(sys.argv[1]); "
              "[s.write({'type': 'status', 'n': i}) for i in range(3)]; s.close()")
    for _ in range(2):
        subprocess.run([sys.executable, "-c", script, str(path)], check=True, timeout=60)
    runs = [r["run_id"] for r in read_jsonl(path)]
    assert len(runs) == 6 and runs[:3] == [runs[0]] * 3 and runs[3:] == [runs[3]] * 3 and runs[0] != runs[3]


def test_console_prints_plain_lines_when_not_a_terminal() -> None:
    import io

    from edge.contract import CLASSES
    from edge.sinks.console import ConsoleSink

    out = io.StringIO()
    sink = ConsoleSink(out)
    probs = {c: 1 / len(CLASSES) for c in CLASSES}
    sink.write({"type": "prediction", "stream": "EEG", "label_start": 20.0, "label_end": 30.0, "smoothed": probs,
                "latency_ms": 3.2, "flagged": True})
    sink.write({"type": "status", "stream": "EEG", "kind": "gap", "message": "1.00 s gap"})
    sink.write({"type": "alarm", "stream": "EEG", "class": "seizure", "state": "on", "p": 0.7})
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("EEG label [20.0, 30.0] seizure=0.17") and lines[0].endswith("FLAGGED")
    assert lines[1] == "EEG status gap: 1.00 s gap"
    assert lines[2] == "EEG ALARM seizure ON (p=0.70)"
