"""onnxruntime's GPU providers and `--backend auto`: the choice and the I/O-binding path are tested on the CPU;
the CUDA/TensorRT runs only where onnxruntime-gpu and a GPU are present (marker `gpu`)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from edge.config import RunConfig
from edge.contract import CHANNELS, WINDOW_SAMPLES
from edge.errors import SpecError
from edge.model.backends import auto_backend, chosen_precision, open_backend
from edge.model.backends.onnxruntime_backend import OnnxRuntimeBackend, usable_gpu_providers
from edge.model.bundle import CALIBRATION_FILE, ONNX_FILE, load_spec
from edge.model.engine import Engine


def windows(batch: int) -> np.ndarray:
    return np.random.default_rng(batch).normal(0, 30, (batch, len(CHANNELS), WINDOW_SAMPLES)).astype(np.float32)


def test_edge_run_auto_on_a_cpu_machine_picks_onnxruntime_and_says_so(test_bundle, recording_70s, capsys) -> None:
    from edge.inputs.file_source import FileSource
    from edge.runtime import RunOptions, run_streams

    if usable_gpu_providers():
        pytest.skip(f"this machine has usable GPU providers: {sorted(usable_gpu_providers())}")
    assert auto_backend(test_bundle) == auto_backend(None) == "onnxruntime"
    options = RunOptions(str(test_bundle), (FileSource(recording_70s),), RunConfig(), console=False, seconds=0.1)
    run_streams(options)
    assert "edge: backend onnxruntime (fp32, CPUExecutionProvider)" in capsys.readouterr().err
    from edge.sysinfo import collect

    info = collect(test_bundle)
    assert info["backend auto"] == "onnxruntime" and "CPUExecutionProvider" in info["onnxruntime providers"]
    assert "usable GPU backends: none" in info["onnxruntime providers"]


def test_io_binding_gives_the_session_run_probabilities(test_bundle) -> None:
    spec = load_spec(test_bundle)
    plain = OnnxRuntimeBackend(test_bundle / ONNX_FILE, spec)
    bound = OnnxRuntimeBackend(test_bundle / ONNX_FILE, spec, io_binding=True)
    x = {spec.input_name: windows(5)}
    np.testing.assert_array_equal(bound.infer(x)[spec.output_name], plain.infer(x)[spec.output_name])


def test_gpu_backends_run_fp16_where_calibrate_verified_it(test_bundle, tmp_path) -> None:
    bundle = shutil.copytree(test_bundle, tmp_path / "bundle")
    assert chosen_precision(bundle, "onnxruntime-cuda") == "fp32"  # not calibrated
    record = {"verified": ["fp32", "fp16"], "chosen": {"onnxruntime": "fp32"}}
    (bundle / CALIBRATION_FILE).write_text(json.dumps({"precision": record}))
    assert [chosen_precision(bundle, b) for b in ("onnxruntime", "onnxruntime-cuda", "onnxruntime-trt")] == \
        ["fp32", "fp16", "fp16"]
    record["verified"] = ["fp32"]
    (bundle / CALIBRATION_FILE).write_text(json.dumps({"precision": record}))
    assert chosen_precision(bundle, "onnxruntime-cuda") == "fp32"


def test_a_gpu_provider_that_cannot_start_is_one_clear_error(test_bundle) -> None:
    if usable_gpu_providers():
        pytest.skip("a GPU provider can start here")
    with pytest.raises(Exception, match=r"(could not start CUDAExecutionProvider|eeg-edge\[gpu\])") as caught:
        open_backend(test_bundle, load_spec(test_bundle), "onnxruntime-cuda")
    assert "\n" not in str(caught.value)


def test_triton_off_loopback_needs_tls_and_a_token() -> None:
    ok = RunConfig().replace(backend="triton", triton={"url": "127.0.0.1:8001", "model": "m"})
    assert ok.triton.url == "127.0.0.1:8001"
    with pytest.raises(SpecError, match="off loopback"):
        RunConfig().replace(backend="triton", triton={"url": "ward-server:8001", "model": "m"})
    with pytest.raises(SpecError, match="run.triton.url"):
        RunConfig().replace(backend="triton")


@pytest.mark.gpu
@pytest.mark.parametrize("backend", ["onnxruntime-cuda", "onnxruntime-trt"])
def test_gpu_provider_matches_the_cpu(test_bundle, backend) -> None:
    """Needs onnxruntime-gpu (make install-gpu) and a GPU; never ran on the development machines (no GPU)."""
    if backend not in usable_gpu_providers():
        pytest.skip(f"{backend} cannot run here (no onnxruntime-gpu, GPU or provider libraries)")
    with Engine(test_bundle, backend) as gpu, Engine(test_bundle, "onnxruntime") as cpu:
        assert gpu.backend.provider != "CPUExecutionProvider"
        np.testing.assert_allclose(gpu.predict(windows(40)), cpu.predict(windows(40)), atol=1e-4)
