"""TensorRT build: profile shapes, the trtexec command and deploy/build_engine.sh, the missing-TensorRT error,
and the real build where TensorRT and a GPU exist (marker trt)."""

from __future__ import annotations

import importlib.util
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from calibrate.cli import app
from calibrate.tensorrt_build import BuildConfig, build_engine, profile_shapes, trtexec_command, trtexec_text
from edge.bundle import engine_file
from edge.cli_support import EXIT_USER_ERROR, run_app
from edge.errors import MissingExtraError, SpecError
from edge.spec import ModelSpec

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


def test_trtexec_command_builds_int8_from_qdq_with_fp16_fallback_and_a_timing_cache():
    command = trtexec_command("/b", ModelSpec(model="mel2d"), BuildConfig(), "Orin (nvgpu)")
    assert command[:4] == ["trtexec", "--onnx=/b/model.int8.onnx", "--int8", "--fp16"]
    assert "--optShapes=eeg:8x20x10000" in command
    assert f"--saveEngine=/b/{engine_file('Orin (nvgpu)')}" in command
    assert "--timingCacheFile=/b/model.orin__nvgpu.timing.cache" in command
    fp16 = trtexec_command("/b", ModelSpec(model="mel2d"), BuildConfig(precision="fp16"), "Orin")
    assert "--onnx=/b/model.onnx" in fp16 and "--int8" not in fp16
    assert shlex.split(trtexec_text(command)) == command


def test_build_engine_script_passes_the_same_flags_as_the_python_build():
    script = SCRIPT.read_text()
    assert "TensorRT 10.3" in script and "JetPack 6" in script
    flags = {part.split("=")[0] for part in trtexec_command("/b", ModelSpec(model="mel2d"), BuildConfig(), "x")[1:]}
    used = set(re.findall(r"(--[A-Za-z0-9]+)", script))
    assert flags <= used, flags - used


def test_trtexec_command_line_prints_the_command(calibrated, capsys):
    bundle, _ = calibrated
    assert run_app(app, ["trtexec", "--bundle", str(bundle), "--gpu-name", "Orin", "--opt-batch", "4"]) == 0
    printed = shlex.split(capsys.readouterr().out)
    assert printed == trtexec_command(bundle, ModelSpec(model="mel2d"), BuildConfig(opt_batch=4), "Orin")


@pytest.mark.skipif(HAS_TENSORRT, reason="TensorRT is installed: the missing-TensorRT path cannot be exercised")
def test_build_without_tensorrt_is_a_one_line_error_and_a_non_zero_exit(calibrated, capsys):
    bundle, _ = calibrated
    with pytest.raises(MissingExtraError, match=r"eeg-edge\[trt\]"):
        build_engine(bundle, ModelSpec(model="mel2d"), BuildConfig(), "Orin")
    assert run_app(app, ["build", "--bundle", str(bundle)]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "tensorrt is not installed" in err
    assert not list(bundle.glob("*.engine"))


@pytest.mark.trt
@pytest.mark.gpu
@pytest.mark.skipif(not HAS_TENSORRT, reason="TensorRT is not installed")
def test_build_writes_an_engine_edge_can_run(bundle_copy, synth_data, verify_windows):
    from calibrate.pipeline import build_step, verify_step
    from calibrate.verify import TENSORRT, VerifyConfig

    result = build_step(bundle_copy, BuildConfig(opt_batch=2, max_batch=4))
    assert Path(result.engine).is_file() and Path(result.timing_cache).is_file()
    report = verify_step(bundle_copy, synth_data, VerifyConfig(windows=verify_windows, batch=4))
    assert TENSORRT in report.probs and report.passed


def test_trtexec_path_needs_no_training_stack():
    """`calibrate trtexec` runs on a Jetson where only edge is installed: no torch import on that path."""
    code = ("import sys, calibrate.cli, calibrate.tensorrt_build; "
            "sys.exit(1 if 'torch' in sys.modules or 'train' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
