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

    from edge.sinks.console import ConsoleSink
    from edge.spec import CLASSES

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
