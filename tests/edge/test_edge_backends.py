"""Backends behind one protocol: the same probabilities from every runner that can load here."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from edge.backends import TORCH_PROGRAM_FILE, open_backend
from edge.bundle import load_spec, write_checksums
from edge.engine import Engine
from edge.errors import BundleError, SpecError
from edge.spec import CHANNELS, WINDOW_SAMPLES


def windows(batch: int) -> np.ndarray:
    return np.random.default_rng(batch).normal(0, 30, (batch, len(CHANNELS), WINDOW_SAMPLES)).astype(np.float32)


def test_auto_picks_onnxruntime_without_tensorrt(test_bundle) -> None:
    with Engine(test_bundle) as engine:
        assert engine.backend.name == "onnxruntime"
        single = [engine.predict(windows(3)[i:i + 1]) for i in range(3)]
        batched = engine.predict(windows(3))
    np.testing.assert_allclose(np.concatenate(single), batched, atol=1e-6)  # batching changes nothing
    assert batched.shape == (3, 6) and np.allclose(batched.sum(axis=1), 1.0, atol=1e-5)


def test_unknown_or_unavailable_backend_is_a_clear_error(test_bundle) -> None:
    spec = load_spec(test_bundle)
    with pytest.raises(SpecError, match="--backend must be one of"):
        open_backend(test_bundle, spec, "tvm")
    if shutil.which("nvidia-smi") is None:
        with pytest.raises(BundleError, match="no TensorRT engine"):
            open_backend(test_bundle, spec, "tensorrt")
    with pytest.raises(BundleError, match=f"{TORCH_PROGRAM_FILE} is missing"):
        open_backend(test_bundle, spec, "torch")


@pytest.mark.slow
def test_torch_export_program_matches_onnxruntime(test_bundle, tmp_path) -> None:
    torch = pytest.importorskip("torch")
    import onnx
    from onnx import numpy_helper

    bundle = shutil.copytree(test_bundle, tmp_path / "bundle")
    init = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy())
            for t in onnx.load(bundle / "model.onnx").graph.initializer}

    class Same(torch.nn.Module):  # the test graph, written in torch
        def forward(self, eeg):
            blocks = (init["montage"] @ eeg).reshape(eeg.shape[0], 16, 50, 200)
            level = torch.log(blocks.abs().mean(dim=3) + 1.0) - 3.0
            return torch.softmax(level.reshape(eeg.shape[0], -1) @ init["dense"], dim=1)

    batch = torch.export.Dim("batch", min=1, max=64)
    program = torch.export.export(Same(), (torch.from_numpy(windows(2)),), dynamic_shapes=({0: batch},))
    torch.export.save(program, bundle / TORCH_PROGRAM_FILE)
    write_checksums(bundle)
    with Engine(bundle, "torch") as by_torch, Engine(bundle, "onnxruntime") as by_ort:
        # the GPU when torch sees one (the program's lifted constants, here `init`, move with it)
        assert by_torch.backend.device == (f"cuda:{torch.cuda.current_device()}" if torch.cuda.is_available()
                                           else "cpu")
        np.testing.assert_allclose(by_torch.predict(windows(4)), by_ort.predict(windows(4)), atol=1e-5)


@pytest.mark.trt
@pytest.mark.gpu
def test_tensorrt_engine_matches_onnxruntime(test_bundle, tmp_path) -> None:
    """Runs only where TensorRT and a GPU exist (not on the development machines)."""
    trt = pytest.importorskip("tensorrt")
    from edge.backends.tensorrt_backend import gpu_name
    from edge.bundle import engine_file

    name = gpu_name()
    if name is None:
        pytest.skip("no CUDA device")
    bundle = shutil.copytree(test_bundle, tmp_path / "bundle")
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    assert parser.parse((bundle / "model.onnx").read_bytes())
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    shape = (len(CHANNELS), WINDOW_SAMPLES)
    profile.set_shape("eeg", (1, *shape), (8, *shape), (32, *shape))
    config.add_optimization_profile(profile)
    (bundle / engine_file(name)).write_bytes(bytes(builder.build_serialized_network(network, config)))
    write_checksums(bundle)
    with Engine(bundle) as by_trt, Engine(bundle, "onnxruntime") as by_ort:
        assert by_trt.backend.name == "tensorrt"
        np.testing.assert_allclose(by_trt.predict(windows(40)), by_ort.predict(windows(40)), atol=1e-4)
