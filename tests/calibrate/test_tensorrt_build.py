"""TensorRT build: profile shapes, the trtexec command and deploy/build_engine.sh, the missing-TensorRT error,
and the real build where TensorRT and a GPU exist (marker trt)."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from calibrate.cli import app
from calibrate.tensorrt_build import BuildConfig, build_engine, profile_shapes, trtexec_command, trtexec_text
from edge.cli_support import EXIT_USER_ERROR, run_app
from edge.errors import MissingExtraError, SpecError
from edge.model.bundle import CALIBRATION_FILE, PRECISION_FILES, engine_file, write_checksums
from edge.model.model_spec import ModelSpec

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "build_engine.sh"
HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None


def test_profile_covers_batch_min_to_max_with_the_contract_window():
    shapes = profile_shapes(ModelSpec(model="mel2d"), BuildConfig(min_batch=1, opt_batch=4, max_batch=32))
    assert (shapes.min, shapes.opt, shapes.max) == ((1, 20, 10000), (4, 20, 10000), (32, 20, 10000))
    assert shapes.trtexec_flags() == ["--minShapes=eeg:1x20x10000", "--optShapes=eeg:4x20x10000",
                                      "--maxShapes=eeg:32x20x10000"]
    with pytest.raises(SpecError, match="min <= opt <= max"):
        profile_shapes(ModelSpec(model="mel2d"), BuildConfig(opt_batch=64, max_batch=16))
    with pytest.raises(SpecError, match="precision"):
        BuildConfig(precision="int4").validate()


@pytest.mark.parametrize(("precision", "graph"), list(PRECISION_FILES.items()))
def test_trtexec_command_builds_the_verified_graph_as_typed_with_a_timing_cache(precision, graph):
    command = trtexec_command("/b", ModelSpec(model="mel2d"), BuildConfig(precision=precision), gpu_name="Orin (nvgpu)")
    assert command[:3] == ["trtexec", f"--onnx=/b/{graph}", "--stronglyTyped"]
    assert not {"--int8", "--fp16"} & set(command)  # a strongly typed network takes its types from the graph
    assert "--optShapes=eeg:8x20x10000" in command
    assert f"--saveEngine=/b/{engine_file('Orin (nvgpu)')}" in command
    assert "--timingCacheFile=/b/model.orin__nvgpu.timing.cache" in command
    assert shlex.split(trtexec_text(command)) == command


def test_build_engine_script_passes_the_same_flags_as_the_python_build():
    script = SCRIPT.read_text()
    assert "TensorRT 10.3" in script and "JetPack 6" in script
    config = BuildConfig(precision="fp16")
    flags = {part.split("=")[0] for part in trtexec_command("/b", ModelSpec(model="mel2d"), config, gpu_name="x")[1:]}
    used = set(re.findall(r"(--[A-Za-z0-9]+)", script))
    assert flags <= used, flags - used
    assert "--int8" not in used and "--fp16" not in used


def test_trtexec_command_line_prints_the_chosen_precision_and_refuses_an_unverified_one(bundle_copy, capsys):
    assert run_app(app, ["trtexec", "--bundle", str(bundle_copy), "--gpu-name", "Orin", "--opt-batch", "4"]) == 0
    printed = shlex.split(capsys.readouterr().out)
    fp16 = BuildConfig(precision="fp16", opt_batch=4)
    assert printed == trtexec_command(bundle_copy, ModelSpec(model="mel2d"), fp16, gpu_name="Orin")
    record = json.loads((bundle_copy / CALIBRATION_FILE).read_text())
    record["precision"]["verified"] = ["fp32", "fp16"]
    (bundle_copy / CALIBRATION_FILE).write_text(json.dumps(record))
    write_checksums(bundle_copy)
    code = run_app(app, ["trtexec", "--bundle", str(bundle_copy), "--gpu-name", "Orin", "--precision", "int8"])
    err = capsys.readouterr().err
    assert code == EXIT_USER_ERROR and err.count("\n") == 1 and "int8 has not passed" in err


@pytest.mark.skipif(HAS_TENSORRT, reason="TensorRT is installed: the missing-TensorRT path cannot be exercised")
def test_build_without_tensorrt_is_a_one_line_error_and_a_non_zero_exit(calibrated, capsys):
    bundle, _ = calibrated
    with pytest.raises(MissingExtraError, match=r"eeg-edge\[trt\]"):
        build_engine(bundle, ModelSpec(model="mel2d"), BuildConfig(precision="fp16"), gpu_name="Orin")
    assert run_app(app, ["build", "--bundle", str(bundle)]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "tensorrt is not installed" in err
    assert not list(bundle.glob("*.engine"))


@pytest.mark.trt
@pytest.mark.gpu
@pytest.mark.skipif(not HAS_TENSORRT, reason="TensorRT is not installed")
def test_build_writes_an_engine_edge_can_run(bundle_copy, synth_data, verify_windows, tiny_gates):
    from calibrate.pipeline import build_step, verify_step
    from calibrate.verify import HELD_OUT, VerifyConfig

    result = build_step(bundle_copy, BuildConfig(opt_batch=2, max_batch=4))
    assert Path(result.engine).is_file() and Path(result.timing_cache).is_file() and result.precision == "fp16"
    outcome = verify_step(bundle_copy, synth_data, VerifyConfig(windows=verify_windows, batch=4), gates=tiny_gates)
    assert ("tensorrt:fp16", HELD_OUT) in outcome.report.probs and outcome.report.runner_passed("tensorrt:fp16")


def test_trtexec_path_needs_no_training_stack():
    """`calibrate trtexec` runs on a Jetson where only edge is installed: no torch import on that path."""
    code = ("import sys, calibrate.cli, calibrate.tensorrt_build; "
            "sys.exit(1 if 'torch' in sys.modules or 'train' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_build_engine_script_refuses_a_precision_calibrate_rejected(bundle_copy):
    record = json.loads((bundle_copy / CALIBRATION_FILE).read_text())
    record["precision"]["verified"] = ["fp32", "fp16"]
    (bundle_copy / CALIBRATION_FILE).write_text(json.dumps(record))
    write_checksums(bundle_copy)
    done = subprocess.run(["bash", str(SCRIPT), str(bundle_copy), "int8"], capture_output=True, text=True, check=False,
                          env={"PYTHON": sys.executable, "TRTEXEC": "/bin/false", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2 and "int8 has not passed calibrate's parity gates" in done.stderr
