"""End to end on a tiny bundle: the steps, the bundle's integrity, and the gates failing when they must."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from calibrate.cli import EXIT_GATE_FAILED, app
from calibrate.export import export_pt2
from calibrate.graph import frontend_nodes, qdq_violations, quantized_compute_nodes
from calibrate.pipeline import (
    CALIBRATION_JSON,
    CALIBRATION_PNG,
    TORCH_PROGRAM_FILE,
    export_step,
    quantize_step,
    verify_step,
)
from calibrate.quantize import QuantizeConfig
from calibrate.verify import ORT_FP32, ORT_INT8, TORCH, VerifyConfig
from edge.bundle import (
    ONNX_FILE,
    ONNX_INT8_FILE,
    SUMS_FILE,
    WEIGHTS_FILE,
    read_checksums,
    verify_checksums,
    write_checksums,
)
from edge.cli_support import EXIT_USER_ERROR, run_app
from edge.errors import BundleError
from edge.spec import CHANNELS, CLASSES, WINDOW_SAMPLES

pytestmark = pytest.mark.slow


def test_run_passes_every_gate_and_reports_all_backends(calibrated, verify_windows):
    _, result = calibrated
    report = result.verify
    assert report.passed, [g.line() for g in report.gates]
    assert [b.name for b in report.backends] == [TORCH, ORT_FP32, ORT_INT8]
    assert report.windows == verify_windows
    assert {g.name for g in report.gates} == {"max_abs_diff_vs_torch", "mean_kl_vs_fp32", "kaggle_kl_degradation"}
    fp32, int8 = report.backends[1], report.backends[2]
    assert fp32.max_abs_diff <= 1e-4 and int8.mean_kl <= 0.01


def test_every_file_is_checksummed_and_edge_can_load_the_bundle(calibrated):
    bundle, _ = calibrated
    verify_checksums(bundle)
    listed = set(read_checksums(bundle))
    present = {p.name for p in bundle.iterdir() if p.name != SUMS_FILE}
    assert present == listed
    assert {ONNX_FILE, ONNX_INT8_FILE, CALIBRATION_JSON, CALIBRATION_PNG} <= listed
    record = json.loads((bundle / CALIBRATION_JSON).read_text())
    assert set(record) == {"export", "quantize", "verify"} and record["verify"]["passed"]
    assert (bundle / CALIBRATION_PNG).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from edge.engine import Engine

    with Engine(bundle, backend="onnxruntime") as engine:
        assert engine.predict(np.zeros((1, len(CHANNELS), WINDOW_SAMPLES), np.float32)).shape == (1, len(CLASSES))


def test_exported_graph_has_the_contract_io_a_dynamic_batch_and_no_stft(calibrated):
    bundle, result = calibrated
    model = onnx.load(str(bundle / ONNX_FILE))
    assert result.export.opset == 18
    assert not {"STFT", "DFT"} & {n.op_type for n in model.graph.node}
    assert len(frontend_nodes(model)) == result.export.frontend_nodes > 5
    session = ort.InferenceSession(str(bundle / ONNX_FILE), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["eeg"] and [o.name for o in session.get_outputs()] == ["probs"]
    rng = np.random.default_rng(0)
    for batch in (1, 3):
        probs = session.run(None, {"eeg": (rng.standard_normal((batch, 20, 10000)) * 30).astype(np.float32)})[0]
        assert probs.shape == (batch, 6)
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_int8_graph_follows_tensorrt_qdq_rules(calibrated):
    bundle, _ = calibrated
    fp32 = onnx.load(str(bundle / ONNX_FILE))
    int8 = onnx.load(str(bundle / ONNX_INT8_FILE))
    frontend = frontend_nodes(fp32)
    assert qdq_violations(int8, frontend) == []
    inits = {i.name: numpy_helper.to_array(i) for i in int8.graph.initializer}
    quantizers = [n for n in int8.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    assert quantizers
    for node in quantizers:
        zero = inits[node.input[2]]
        assert zero.dtype == np.int8 and not zero.any(), node.name
    # every conv/matmul/gemm of the classifier is int8; none of the front end's is
    compute = {n.name for n in fp32.graph.node if n.op_type in ("Conv", "MatMul", "Gemm")}
    assert set(quantized_compute_nodes(int8)) == compute - set(frontend)
    # per-channel weights: some DequantizeLinear carries a vector of scales
    assert any(inits[n.input[1]].ndim == 1 and inits[n.input[1]].size > 1 for n in quantizers)


def _corrupt_classifier_scale(path, factor: float) -> None:
    """Multiply the dequantization scale of the classifier's weights: int8 weights read back `factor` times off.

    An untrained tiny model's classifier sees small, near-constant features, so the factor must be large
    (and flip the sign) to move its near-uniform probabilities well past the gates."""
    model = onnx.load(str(path))
    producers = {out: n for n in model.graph.node for out in n.output}
    head = next(n for n in model.graph.node if n.op_type == "Gemm")
    dequantize = producers[head.input[1]]
    scale = next(i for i in model.graph.initializer if i.name == dequantize.input[1])
    corrupted = numpy_helper.from_array(numpy_helper.to_array(scale) * factor, f"{scale.name}_corrupted")
    model.graph.initializer.append(corrupted)
    dequantize.input[1] = corrupted.name
    onnx.save(model, str(path))


def test_a_broken_quantization_fails_the_gate_and_the_cli_exits_non_zero(bundle_copy, synth_data, verify_windows,
                                                                         capsys):
    _corrupt_classifier_scale(bundle_copy / ONNX_INT8_FILE, -1000.0)
    write_checksums(bundle_copy)
    report = verify_step(bundle_copy, synth_data, VerifyConfig(windows=verify_windows, batch=4))
    assert not report.passed
    assert {g.backend for g in report.gates if not g.passed} == {ORT_INT8}
    code = run_app(app, ["verify", "--bundle", str(bundle_copy), "--data", str(synth_data),
                         "--verify-windows", str(verify_windows), "--batch", "4"])
    assert code == EXIT_GATE_FAILED
    out = capsys.readouterr()
    assert "FAIL  ort_int8" in out.out and "gate failed" in out.err


def test_gates_are_overridable_from_the_cli(bundle_copy, synth_data, verify_windows, capsys):
    code = run_app(app, ["verify", "--bundle", str(bundle_copy), "--data", str(synth_data), "--verify-windows",
                         str(verify_windows), "--batch", "4", "--max-fp32-diff", "0"])
    assert code == EXIT_GATE_FAILED
    assert "FAIL  ort_fp32   max_abs_diff_vs_torch" in capsys.readouterr().out


def test_a_tampered_bundle_is_refused_with_one_line(bundle_copy, synth_data, capsys):
    weights = bundle_copy / WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="tampered"):
        export_step(bundle_copy)
    code = run_app(app, ["verify", "--bundle", str(bundle_copy), "--data", str(synth_data)])
    err = capsys.readouterr().err
    assert code == EXIT_USER_ERROR
    assert err.count("\n") == 1 and "weights.safetensors does not match" in err


def test_int8_quantized_from_an_older_export_is_refused(bundle_copy, synth_data, verify_windows):
    record = json.loads((bundle_copy / CALIBRATION_JSON).read_text())
    record["quantize"]["source_sha256"] = "0" * 64
    (bundle_copy / CALIBRATION_JSON).write_text(json.dumps(record))
    write_checksums(bundle_copy)
    with pytest.raises(BundleError, match="not quantized from the current"):
        verify_step(bundle_copy, synth_data, VerifyConfig(windows=verify_windows))


def test_torch_export_program_runs_in_edge_like_the_onnx_graph(bundle_copy):
    from edge.backends.torch_backend import TorchBackend
    from train.checkpoint import load_bundle_model
    from train.models import ProbabilityModel

    model, spec = load_bundle_model(bundle_copy)
    path = export_pt2(ProbabilityModel(model), spec, bundle_copy / TORCH_PROGRAM_FILE)
    write_checksums(bundle_copy)
    eeg = (np.random.default_rng(1).standard_normal((2, 20, 10000)) * 30).astype(np.float32)
    with TorchBackend(path, spec.output_name) as backend:
        probs = backend.infer({spec.input_name: eeg})[spec.output_name]
    session = ort.InferenceSession(str(bundle_copy / ONNX_FILE), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(probs, session.run(None, {"eeg": eeg})[0], atol=1e-5)


@pytest.mark.parametrize("name", ["grouped1d", "ensemble"])
def test_every_model_family_exports_and_quantizes_by_the_rules(name, tiny_bundle, synth_data, tmp_path):
    bundle = tiny_bundle(tmp_path / name, name)
    export_step(bundle)
    result = quantize_step(bundle, synth_data, QuantizeConfig(windows=8, batch=4))
    verify_checksums(bundle)
    fp32, int8 = onnx.load(str(bundle / ONNX_FILE)), onnx.load(str(bundle / ONNX_INT8_FILE))
    frontend = frontend_nodes(fp32)
    assert frontend and qdq_violations(int8, frontend) == []
    assert len(quantized_compute_nodes(int8)) == result.quantized_nodes > 0
