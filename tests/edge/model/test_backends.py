"""Backends behind one protocol: the same probabilities from every runner that can load here."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from edge.contract import CHANNELS, WINDOW_SAMPLES
from edge.errors import BundleError, SpecError
from edge.model.backends import BACKENDS, open_backend
from edge.model.bundle import CALIBRATION_FILE, ONNX_FILE, ONNX_INT8_FILE, SPEC_FILE, load_spec, write_checksums
from edge.model.engine import Engine


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


def test_the_bedside_never_unpickles_a_torch_program(test_bundle, tmp_path) -> None:
    """No torch backend at the edge: a model.pt2 (torch.export.load unpickles) is never opened, whatever it holds."""
    assert "torch" not in BACKENDS
    bundle = shutil.copytree(test_bundle, tmp_path / "bundle")
    (bundle / "model.pt2").write_bytes(b"\x80\x04crafted pickle")
    write_checksums(bundle)
    with pytest.raises(SpecError, match="--backend must be one of auto, onnxruntime, "):
        Engine(bundle, "torch")
    with Engine(bundle) as engine:
        assert engine.backend.name == "onnxruntime" and engine.predict(windows(1)).shape == (1, 6)


def test_a_wrong_tensor_name_in_the_spec_is_one_bundle_error(test_bundle, tmp_path) -> None:
    bundle = shutil.copytree(test_bundle, tmp_path / "bundle")
    spec = json.loads((bundle / SPEC_FILE).read_text())
    spec["input_name"] = "signal"
    (bundle / SPEC_FILE).write_text(json.dumps(spec))
    write_checksums(bundle)
    with pytest.raises(BundleError, match="spec.json names input 'signal'") as caught:
        Engine(bundle, "onnxruntime")
    assert "\n" not in str(caught.value) and "['eeg']" in str(caught.value)


def test_edge_runs_the_precision_calibration_json_chose(test_bundle, tmp_path) -> None:
    """The CPU backend opens the graph calibrate chose (here a stand-in int8 file: a copy of the fp32 graph)."""
    bundle = shutil.copytree(test_bundle, tmp_path / "bundle")
    with Engine(bundle, "onnxruntime") as engine:
        assert engine.precision == "fp32"  # no calibration.json: the fp32 graph
        expected = engine.predict(windows(2))
    shutil.copy(bundle / ONNX_FILE, bundle / ONNX_INT8_FILE)
    choice = {"verified": ["fp32", "int8"], "chosen": {"onnxruntime": "int8", "tensorrt": "fp32"}}
    (bundle / CALIBRATION_FILE).write_text(json.dumps({"precision": choice}))
    write_checksums(bundle)
    with Engine(bundle, "onnxruntime") as engine:
        assert (engine.precision, engine.backend.precision) == ("int8", "int8")
        np.testing.assert_allclose(engine.predict(windows(2)), expected, atol=1e-6)
    (bundle / ONNX_INT8_FILE).unlink()
    write_checksums(bundle)
    with pytest.raises(BundleError, match=f"{ONNX_INT8_FILE} is missing"):
        Engine(bundle, "onnxruntime")
    choice["chosen"]["onnxruntime"] = "int4"
    (bundle / CALIBRATION_FILE).write_text(json.dumps({"precision": choice}))
    write_checksums(bundle)
    with pytest.raises(BundleError, match="chooses precision 'int4'"):
        Engine(bundle, "onnxruntime")


@pytest.mark.trt
@pytest.mark.gpu
def test_tensorrt_engine_matches_onnxruntime(test_bundle, tmp_path) -> None:
    """Runs only where TensorRT and a GPU exist (not on the development machines)."""
    trt = pytest.importorskip("tensorrt")
    from edge.model.backends.tensorrt_backend import gpu_name
    from edge.model.bundle import engine_file

    name = gpu_name()
    if name is None:
        pytest.skip("no CUDA device")
    bundle = shutil.copytree(test_bundle, tmp_path / "bundle")
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    assert parser.parse((bundle / ONNX_FILE).read_bytes())
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
