"""The shipped default model: what `edge run/predict/explain/demo` use when given no --bundle."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import edge.model.shipped as default_model
from edge.contract import CLASSES
from edge.errors import BundleError
from edge.model.bundle import SPEC_FILE, load_spec, verify_checksums

BIN = Path(sys.executable).parent
SHIPPED = default_model.DEFAULT_BUNDLE


def test_an_explicit_bundle_wins_and_a_missing_default_is_one_clear_error(tmp_path, monkeypatch, capsys):
    assert default_model.resolve_bundle(tmp_path / "mine", "run") == tmp_path / "mine"
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(default_model, "DEFAULT_BUNDLE", tmp_path / "absent")
    with pytest.raises(BundleError, match="no --bundle and this install has no shipped default model"):
        default_model.resolve_bundle(None, "predict")


def test_the_default_is_announced_on_stderr(tmp_path, monkeypatch, capsys):
    (tmp_path / SPEC_FILE).write_text("{}")
    monkeypatch.setattr(default_model, "DEFAULT_BUNDLE", tmp_path)
    assert default_model.resolve_bundle(None, "run") == tmp_path
    assert "edge run: no --bundle given: using the shipped default model" in capsys.readouterr().err


@pytest.mark.skipif(not (SHIPPED / SPEC_FILE).is_file(), reason="no default model built (make default-model)")
def test_shipped_bundle_is_small_verified_and_describes_its_training():
    verify_checksums(SHIPPED)
    assert sum(p.stat().st_size for p in SHIPPED.iterdir()) <= 12_000_000
    figures = load_spec(SHIPPED).training["default_model"]
    assert figures["eegmat"]["all"]["alarms"] == figures["eegmat"]["subjects_18_23"]["alarms"] == 0
    assert figures["eegmat"]["all"]["files"] == 48
    assert figures["real_12"]["lookahead_s"] == load_spec(SHIPPED).lookahead_s
    assert "eegmat" in figures["training_data"]


@pytest.mark.skipif(not default_model.DEMO_RECORDING.is_file(), reason="no default model built (make default-model)")
def test_edge_predict_without_bundle_calls_the_demo_recording_seizure():
    result = subprocess.run([str(BIN / "edge"), "predict", str(default_model.DEMO_RECORDING)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "using the shipped default model" in result.stderr
    tops = [line.split(": ")[1].split(" ")[0] for line in result.stdout.splitlines() if " label " in line]
    assert tops and set(tops) <= set(CLASSES)
    assert tops.count("seizure") > len(tops) / 2
