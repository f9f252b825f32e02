from __future__ import annotations

import numpy as np
import pytest

from edge.config import AlarmConfig, RunConfig, SmoothingConfig, load_run_config
from edge.errors import DataError, SpecError
from edge.sinks.jsonl import JsonlSink, read_jsonl
from edge.smoothing import Alarm, Smoother


def test_mean_of_last_k_and_ema() -> None:
    mean = Smoother(SmoothingConfig(kind="mean", k=2))
    a, b, c = np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.array([0.0, 0.0])
    assert mean.update(a).tolist() == [1.0, 0.0]
    assert mean.update(b).tolist() == [0.5, 0.5]
    assert mean.update(c).tolist() == [0.0, 0.5]
    mean.reset()
    assert mean.update(c).tolist() == [0.0, 0.0]
    ema = Smoother(SmoothingConfig(kind="ema", alpha=0.5))
    assert ema.update(a).tolist() == [1.0, 0.0]
    assert ema.update(b).tolist() == [0.5, 0.5]


def test_alarm_hysteresis() -> None:
    alarm = Alarm(AlarmConfig(target="seizure", on=0.6, off=0.4))
    seizure = [0.1, 0.59, 0.6, 0.5, 0.41, 0.39, 0.45, 0.7]
    changes = [alarm.update(np.array([p, 1 - p, 0, 0, 0, 0])) for p in seizure]
    assert changes == [None, None, "on", None, None, "off", None, "on"]


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


def test_run_config_from_toml_and_errors(tmp_path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text("[run]\nbackend = 'onnxruntime'\n[run.alarm]\non = 0.8\noff = 0.3\n[run.chain]\nhop_s = 1\n")
    config = load_run_config(path)
    assert (config.backend, config.alarm.on, config.chain.hop_s) == ("onnxruntime", 0.8, 1.0)
    assert config.replace(chain={"hop_s": 4.0, "gap_reset_s": None}).chain.hop_s == 4.0
    path.write_text("[run.alarm]\non = 0.3\noff = 0.5\n")
    with pytest.raises(SpecError, match="alarm.on/off must satisfy 0 < off < on"):
        load_run_config(path)
    with pytest.raises(SpecError, match="unknown field"):
        RunConfig().validate() and load_run_config(_write(tmp_path, "[run]\nhopp = 2\n"))


def _write(tmp_path, text: str):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return path


def test_shipped_jetson_config_states_the_defaults() -> None:
    from pathlib import Path

    shipped = Path(__file__).resolve().parents[2] / "deploy" / "jetson" / "edge.toml"
    assert load_run_config(shipped) == RunConfig()


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


def _strict_loads(line: str):
    import json

    def refuse(token: str):
        raise ValueError(f"{token} is not JSON")

    return json.loads(line, parse_constant=refuse)


def _record_with_nested_objects() -> dict:
    from edge.chain import Window
    from edge.contract import CLASSES
    from edge.records import prediction_record

    window = Window(np.zeros((20, 4), np.float32), 10.0, 59.995, 0, 1, 0.0,
                    {"missing": [], "line_noise": ["T3"], "flat": []}, bad_seconds={"T3": [20, 21]})
    probs = np.full(len(CLASSES), 1 / len(CLASSES))
    return prediction_record("EEG", window, probs, smoothed=None, model_id="m", emitted=0.1, emitted_clock=5.0)


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


def test_ema_refuses_nan_so_it_can_never_stick() -> None:
    ema = Smoother(SmoothingConfig(kind="ema", alpha=0.5))
    ema.update(np.array([0.9, 0.1]))
    with pytest.raises(ValueError, match="non-finite"):
        ema.update(np.array([np.nan, 0.1]))
    assert ema.update(np.array([0.1, 0.9])).tolist() == [0.5, 0.5]  # the state never saw the NaN
