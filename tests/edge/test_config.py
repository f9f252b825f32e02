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
