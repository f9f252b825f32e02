"""Offline prediction through the CLI: files in, one JSON object per window out; bad input -> one line, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from edge.cli import app
from edge.cli_support import run_app
from edge.contract import CHANNELS, CLASSES
from edge.model.engine import Engine
from edge.offline.predict import predict_files
from edge.testing import synthetic_eeg, write_parquet


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    code = run_app(app, argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_predict_json_one_object_per_window(test_bundle, recording_70s, capsys) -> None:
    code, out, _ = run_cli(["predict", str(recording_70s), "--bundle", str(test_bundle), "--json"], capsys)
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["offset"] for r in rows] == [2.0 * k for k in range(11)]
    for row in rows:
        assert row["file"] == str(recording_70s) and list(row["probs"]) == list(CLASSES)
        assert sum(row["probs"].values()) == pytest.approx(1.0, abs=1e-5)
    assert len({round(r["probs"]["seizure"], 6) for r in rows}) > 5  # the output follows the data


def test_predict_offset_selects_the_window_start(test_bundle, recording_70s) -> None:
    with Engine(test_bundle, "onnxruntime") as engine:
        grid = {r["offset"]: r["probs"] for r in predict_files([recording_70s], engine, hop_s=2.0)}
        shifted = list(predict_files([recording_70s], engine, hop_s=5.0, offset_s=4.0))
    assert [r["offset"] for r in shifted] == [4.0, 9.0, 14.0, 19.0]
    assert shifted[0]["probs"] == pytest.approx(grid[4.0], abs=1e-6)


def test_edf_in_volts_at_250_hz_is_converted_and_resampled(test_bundle, tmp_path) -> None:
    from edfio import Edf, EdfSignal
    from scipy.signal import resample_poly

    source = synthetic_eeg(60.0)
    at_250 = resample_poly(source.astype(np.float64), 5, 4, axis=0) * 1e-6  # volts
    signals = [EdfSignal(at_250[:, i], 250, label=f"EEG {c}-REF", physical_dimension="V")
               for i, c in enumerate(CHANNELS)]
    path = tmp_path / "rec.edf"
    Edf(signals).write(path)
    parquet = write_parquet(tmp_path / "rec.parquet", source)
    with Engine(test_bundle, "onnxruntime") as engine:
        from_edf = list(predict_files([path], engine))
        from_parquet = {r["offset"]: r["probs"] for r in predict_files([parquet], engine)}
    assert len(from_edf) == 6
    for row in from_edf[1:]:  # same EEG, resampled: probabilities agree closely (filter delay: 10 samples)
        reference = from_parquet.get(row["offset"])
        assert reference is not None
        assert max(abs(row["probs"][c] - reference[c]) for c in CLASSES) < 0.05


def test_user_errors_are_one_line_and_exit_2(test_bundle, tmp_path, capsys) -> None:
    short = write_parquet(tmp_path / "short.parquet", synthetic_eeg(20.0))
    code, _, err = run_cli(["predict", str(short), "--bundle", str(test_bundle)], capsys)
    assert code == 2 and "shorter than one 50 s window" in err and len(err.strip().splitlines()) == 1
    missing = write_parquet(tmp_path / "missing.parquet", synthetic_eeg(55.0)[:, 1:], CHANNELS[1:])
    code, _, err = run_cli(["predict", str(missing), "--bundle", str(test_bundle)], capsys)
    assert code == 2 and "lacks channel(s) Fp1" in err
    code, out, _ = run_cli(["predict", str(missing), "--bundle", str(test_bundle), "--json", "--allow-missing"],
                           capsys)
    assert code == 0 and json.loads(out.splitlines()[0])["quality"]["missing"] == ["Fp1"]


def test_tampered_bundle_is_refused(test_bundle, recording_70s, tmp_path, capsys) -> None:
    import shutil

    bundle = shutil.copytree(test_bundle, tmp_path / "bundle")
    (bundle / "model.onnx").write_bytes((bundle / "model.onnx").read_bytes() + b"\0")
    code, _, err = run_cli(["predict", str(recording_70s), "--bundle", str(bundle)], capsys)
    assert code == 2 and "does not match its SHA256SUMS" in err


def test_sys_info_reports_versions_and_bundle_hash(test_bundle, capsys) -> None:
    code, out, _ = run_cli(["sys-info", "--bundle", str(test_bundle)], capsys)
    assert code == 0
    for key in ("numpy:", "onnxruntime:", "tensorrt:", "cuda:", "liblsl:", "bundle id:", "spec sha256:"):
        assert key in out


def test_import_edge_and_onnxruntime_prediction_load_no_torch(test_bundle, recording_70s) -> None:
    script = (
        "import sys\n"
        "import edge, edge.cli, edge.runtime, edge.demo, edge.inputs.replay, edge.offline.predict, edge.sysinfo\n"
        "from edge.cli_support import run_app\n"
        f"assert run_app(edge.cli.app, ['predict', {str(recording_70s)!r}, '--bundle', {str(test_bundle)!r},"
        " '--backend', 'onnxruntime']) == 0\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'train', 'calibrate', 'tensorrt'))\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_kaggle_centre_for_a_causal_model(tmp_path) -> None:
    """A 50 s Kaggle window, labelled on its centre: a lookahead-0 model's own span is the last 10 s; with
    --kaggle its prediction is for the centre, its missing earlier context filled with channel means."""
    from edge.config import ChainConfig
    from edge.contract import window_for_kaggle_label
    from edge.model.engine import Engine
    from edge.offline.predict import file_windows, predict_files
    from edge.testing import build_test_bundle, synthetic_eeg, write_parquet

    bundle = build_test_bundle(tmp_path / "causal", lookahead_s=0.0)
    path = write_parquet(tmp_path / "k.parquet", synthetic_eeg(50.0, seed=3))
    with Engine(bundle, "onnxruntime") as engine:
        own, = [r for r in predict_files([path], engine) if r["type"] == "prediction"]
        centre, = [r for r in predict_files([path], engine, kaggle=True) if r["type"] == "prediction"]
        window, = list(file_windows(path, ChainConfig()))
        expected = engine.predict(window_for_kaggle_label(window.data, 0.0)[None])[0]
    assert (own["label_start"], own["label_end"]) == (40.0, 50.0) and "kaggle_centre" not in own
    assert (centre["label_start"], centre["label_end"]) == (20.0, 30.0)
    assert "20 s earlier" in centre["kaggle_centre"] and "channel means" in centre["kaggle_centre"]
    np.testing.assert_allclose(list(centre["probs"].values()), expected, rtol=1e-6)
    assert not np.allclose(list(centre["probs"].values()), list(own["probs"].values()))
