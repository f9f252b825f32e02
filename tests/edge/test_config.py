"""edge/config.py: the [run] policy validates once, with errors that name the field; TOML files."""

from __future__ import annotations

import pytest

from edge.config import RunConfig, load_run_config
from edge.errors import SpecError


def test_an_unknown_alarm_target_is_a_spec_error_naming_the_field():
    with pytest.raises(SpecError, match=r"run\.alarm\.target must be one of seizure, lpd.*got 'seizures'"):
        RunConfig().replace(alarm={"target": "seizures"})


def test_the_defaults_validate():
    assert RunConfig().validate() == RunConfig()


def _write(tmp_path, text: str):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return path


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


def test_shipped_jetson_config_states_the_defaults() -> None:
    from pathlib import Path

    shipped = Path(__file__).resolve().parents[2] / "deploy" / "jetson" / "edge.toml"
    assert load_run_config(shipped) == RunConfig()


def _config_classes():
    import dataclasses

    from edge.config import RunConfig

    seen, todo = [], [RunConfig]
    while todo:
        cls = todo.pop()
        seen.append(cls)
        todo += [f.default_factory for f in dataclasses.fields(cls)
                 if f.default_factory is not dataclasses.MISSING and dataclasses.is_dataclass(f.default_factory)]
    from edge.config import AlarmLevel

    return [*seen, AlarmLevel]


def test_every_numeric_config_field_has_a_stated_finite_range() -> None:
    import math
    import typing

    from edge.config_io import _is_numeric

    for cls in _config_classes():
        for name, hint in typing.get_type_hints(cls).items():
            if name != "BOUNDS" and _is_numeric(hint):
                bound = cls.BOUNDS[name]
                assert math.isfinite(bound.lo) and math.isfinite(bound.hi), (cls.__name__, name)


@pytest.mark.parametrize(("table", "field", "value", "message"), [
    ("run", "threads", "1000000", r"run\.threads must be an integer in \[0, 64\], got 1000000"),
    ("run", "threads", "-1", r"run\.threads must be an integer in \[0, 64\]"),
    ("run", "max_batch", "100000000", r"run\.max_batch must be an integer in \[1, 1024\]"),
    ("run", "max_lag_s", "inf", r"run\.max_lag_s must be a finite number"),
    ("run.chain", "hop_s", "inf", r"run\.chain\.hop_s must be a finite number in \[0.1, 3600\], a multiple of 0.005"),
    ("run.chain", "hop_s", "nan", r"run\.chain\.hop_s must be a finite number"),
    ("run.chain", "hop_s", "1" + "0" * 400, r"run\.chain\.hop_s must be a finite number, got an integer of 401 digits"),
    ("run.watchdog", "silence_s", "-" + "9" * 400, r"run\.watchdog\.silence_s must be a finite number, got an integer"),
    ("run.chain", "hop_s", "1e-9", r"run\.chain\.hop_s must be a finite number in \[0.1"),
    ("run.chain", "hop_s", "0.1234", r"run\.chain\.hop_s must be .*a multiple of 0.005, got 0.1234"),
    ("run.chain.quality", "range_uv", "inf", r"quality\.range_uv must be a finite number"),
    ("run.chain.quality", "amplitude_uv", "inf", r"quality\.amplitude_uv must be a finite number"),
    ("run.chain.quality", "amplitude_uv", "1e300", r"quality\.amplitude_uv must be a finite number in \[1, 100000\]"),
    ("run.chain.quality", "missing_share", "nan", r"quality\.missing_share must be a finite number in \[0, 1\)"),
    ("run.watchdog", "rate_tolerance", "inf", r"watchdog\.rate_tolerance must be a finite number in \(0, 0.5\]"),
    ("run.watchdog", "rate_tolerance", "0.9", r"watchdog\.rate_tolerance must be a finite number in \(0, 0.5\]"),
    ("run.watchdog", "resolve_timeout_s", "inf", r"watchdog\.resolve_timeout_s must be a finite number"),
    ("run.watchdog", "silence_s", "inf", r"watchdog\.silence_s must be a finite number"),
    ("run.watchdog", "inlet_buffer_s", "1000000000", r"watchdog\.inlet_buffer_s must be an integer in \[1, 600\]"),
    ("run.smoothing", "k", "100000000", r"smoothing\.k must be an integer in \[1, 1000\]"),
    ("run.smoothing", "alpha", "nan", r"smoothing\.alpha must be a finite number in \(0, 1\]"),
    ("run.burden", "window_s", "inf", r"burden\.window_s must be a finite number in \[10, 86400\]"),
    ("run.alarm", "signal_after_s", "inf", r"alarm\.signal_after_s must be a finite number"),
    ("run.alarm", "on", "nan", r"alarm\.on must be a finite number in \(0, 1\]"),
    ("run.trends", "suppression_uv", "inf", r"trends\.suppression_uv must be a finite number"),
])
def test_config_values_out_of_their_range_are_refused_at_load(tmp_path, table, field, value, message) -> None:
    path = _write(tmp_path, f"[{table}]\n{field} = {value}\n")
    with pytest.raises(SpecError, match=message) as info:
        load_run_config(path)
    assert "\n" not in str(info.value)


def test_alarm_level_times_and_thresholds_are_bounded() -> None:
    levels = ({"name": "x", "on": 0.5, "off": 0.2, "min_interval_s": float("inf")},)
    with pytest.raises(SpecError, match=r"run\.alarm\.levels\[0\]\.min_interval_s must be a finite number"):
        RunConfig().replace(alarm={"levels": tuple(_level(**level) for level in levels)})


def _level(**kw):
    from edge.config import AlarmLevel

    return AlarmLevel(**kw)


def _cli(args: list[str], capsys) -> tuple[int, str]:
    from edge.cli import app
    from edge.cli_support import run_app

    code = run_app(app, args)
    return code, capsys.readouterr().err


@pytest.mark.parametrize(("args", "message"), [
    (["--hop", "inf"], r"--hop must be a finite number in \[0.1, 3600\]"),
    (["--hop", "nan"], "--hop must be a finite number"),
    (["--hop", "1e-9"], "--hop must be a finite number in"),
    (["--hop", "2.0001"], "--hop must be .*a multiple of 0.005"),
    (["--offset", "nan"], r"--offset must be a finite number in \[0, 1e\+07\]"),
    (["--offset", "inf"], "--offset must be a finite number"),
    (["--offset", "-1"], "--offset must be a finite number"),
])
def test_predict_options_are_bounded_in_one_line(recording_70s, capsys, args, message) -> None:
    code, err = _cli(["predict", str(recording_70s), *args], capsys)
    import re

    assert code == 2 and err.count("\n") == 1 and re.search(message, err), err


@pytest.mark.parametrize(("args", "message"), [
    (["--threads", "1000000"], r"--threads must be an integer in \[0, 64\]"),
    (["--hop", "inf"], "--hop must be a finite number"),
    (["--smooth", "100000000"], "--smooth must be an integer in"),
    (["--for", "nan"], "--for must be a finite number"),
    (["--stream", "EEG"], r"--stream must name at least one stream, each once"),
])
def test_run_options_are_bounded_before_anything_opens(tmp_path, capsys, args, message) -> None:
    import re

    code, err = _cli(["run", "--stream", "EEG", "--bundle", str(tmp_path / "absent"), *args], capsys)
    assert code == 2 and err.count("\n") == 1 and re.search(message, err), err


def test_threads_of_a_million_in_a_config_file_is_refused_at_load_by_edge_run(tmp_path, capsys) -> None:
    config = _write(tmp_path, "[run]\nthreads = 1000000\n")
    code, err = _cli(["run", "--stream", "EEG", "--config", str(config)], capsys)
    assert code == 2 and err.count("\n") == 1 and "run.threads must be an integer in [0, 64]" in err


def test_run_options_validate_once() -> None:
    from edge.runtime import RunOptions, StreamRequest

    options = RunOptions("b", (StreamRequest("a"), StreamRequest("b")), seconds=5.0)
    assert options.validate() is options
    with pytest.raises(SpecError, match="--stream names must not be empty"):
        RunOptions("b", (StreamRequest(""),)).validate()
    with pytest.raises(SpecError, match="--for must be a finite number"):
        RunOptions("b", (StreamRequest("a"),), seconds=float("inf")).validate()
