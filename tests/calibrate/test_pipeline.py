"""End to end on a tiny bundle: the steps, the bundle's integrity, and the gates failing when they must."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from calibrate.cli import EXIT_GATE_FAILED, app
from calibrate.graph import frontend_nodes, qdq_violations, quantized_compute_nodes
from calibrate.pipeline import export_step, quantize_step, verify_step
from calibrate.quantize import QuantizeConfig
from calibrate.real_segments import default_folders
from calibrate.reference import TorchReference
from calibrate.verify import HELD_OUT, ORT_FP32, REAL, TORCH_REFERENCE, VerifyConfig
from edge.cli_support import EXIT_USER_ERROR, run_app
from edge.contract import CHANNELS, CLASSES, WINDOW_SAMPLES
from edge.errors import BundleError
from edge.model.backends import open_backend
from edge.model.bundle import (
    CALIBRATION_FILE,
    CALIBRATION_PNG_FILE,
    ONNX_FILE,
    ONNX_FP16_FILE,
    ONNX_INT8_FILE,
    SUMS_FILE,
    WEIGHTS_FILE,
    load_spec,
    read_checksums,
    verify_checksums,
    write_checksums,
)

pytestmark = pytest.mark.slow


ORT_FP16, ORT_INT8 = "onnxruntime:fp16", "onnxruntime:int8"


def test_run_verifies_every_precision_on_held_out_and_real_windows(calibrated, verify_windows):
    _, result = calibrated
    report, plan = result.verify.report, result.verify.plan
    assert all(g.passed for g in report.gates), [g.line() for g in report.gates if not g.passed]
    runners = [TORCH_REFERENCE, ORT_FP32, ORT_FP16, ORT_INT8]
    assert [r.runner for r in report.results if r.data == HELD_OUT] == runners
    assert [r.runner for r in report.results if r.data == REAL] == runners
    assert report.result(ORT_FP32, HELD_OUT).windows == verify_windows
    # the 12 shared segments plus tests/data's 3 copies of three of them, each read once
    shared = any(folder.name == "sparcnet_iiic" for folder in default_folders())
    assert report.result(ORT_FP32, REAL).windows == (12 if shared else 3)
    assert {(g.name, g.data) for g in report.gates if g.runner == ORT_INT8} == {
        ("mean_kl_vs_fp32", HELD_OUT), ("argmax_agreement", HELD_OUT), ("kaggle_kl_degradation", HELD_OUT),
        ("mean_kl_vs_fp32", REAL), ("argmax_agreement_margin>0.05", REAL), ("int8_conv_flops_share", "graph")}
    assert plan.verified == ("fp32", "fp16", "int8") and not plan.rejected
    # on this CPU a lower precision is chosen only when it measured faster than fp32
    ms = plan.cpu_ms_per_window
    cpu = plan.chosen["onnxruntime"]
    assert cpu == "fp32" or ms[cpu] < ms["fp32"]
    assert plan.chosen["tensorrt"] == "fp16"


def test_every_file_is_checksummed_and_edge_can_load_the_bundle(calibrated):
    bundle, _ = calibrated
    verify_checksums(bundle)
    listed = set(read_checksums(bundle))
    present = {p.name for p in bundle.iterdir() if p.name != SUMS_FILE}
    assert present == listed
    assert {ONNX_FILE, ONNX_FP16_FILE, ONNX_INT8_FILE, CALIBRATION_FILE, CALIBRATION_PNG_FILE} <= listed
    record = json.loads((bundle / CALIBRATION_FILE).read_text())
    assert set(record) == {"export", "fp16", "quantize", "verify", "precision"} and record["verify"]["fp32_passed"]
    sensitivity = record["quantize"]["sensitivity"]
    assert len(sensitivity["nodes"]) == record["quantize"]["quantized_nodes"] + len(sensitivity["kept_float"])
    assert 0.7 <= sensitivity["quantized_conv_share"] <= 1
    assert (bundle / CALIBRATION_PNG_FILE).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from edge.model.engine import Engine

    with Engine(bundle, backend="onnxruntime") as engine:
        assert engine.precision == record["precision"]["chosen"]["onnxruntime"]
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
    # every conv/matmul/gemm of the classifier is int8 but those kept float for accuracy; none of the front end's is
    compute = {n.name for n in fp32.graph.node if n.op_type in ("Conv", "MatMul", "Gemm")}
    kept = json.loads((bundle / CALIBRATION_FILE).read_text())["quantize"]["sensitivity"]["kept_float"]
    assert set(quantized_compute_nodes(int8)) == compute - set(frontend) - set(kept)
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


def test_a_broken_int8_is_rejected_and_removed_while_fp32_ships(bundle_copy, synth_data, verify_windows, tiny_gates,
                                                                capsys):
    _corrupt_classifier_scale(bundle_copy / ONNX_INT8_FILE, -1000.0)
    write_checksums(bundle_copy)
    outcome = verify_step(bundle_copy, synth_data, VerifyConfig(windows=verify_windows, batch=4), gates=tiny_gates)
    assert outcome.report.fp32_passed and not outcome.report.runner_passed(ORT_INT8)
    assert {g.runner for g in outcome.report.gates if not g.passed} == {ORT_INT8}
    assert list(outcome.plan.rejected) == ["int8"] and outcome.removed == (ONNX_INT8_FILE,)
    assert not (bundle_copy / ONNX_INT8_FILE).exists()
    verify_checksums(bundle_copy)
    record = json.loads((bundle_copy / CALIBRATION_FILE).read_text())["precision"]
    assert "int8" not in record["verified"] and record["rejected"]["int8"][0]["value"] > 0.01
    # the CLI on the same bundle: int8 is gone, the rest verifies, exit 0 and the choice printed
    code = run_app(app, ["verify", "--bundle", str(bundle_copy), "--data", str(synth_data),
                         "--verify-windows", str(verify_windows), "--batch", "4", "--min-agreement", "0"])
    out = capsys.readouterr().out
    assert code == 0 and "onnxruntime (CPU) will run" in out and "tensorrt will build fp16" in out


def test_only_a_failing_fp32_exits_non_zero(bundle_copy, synth_data, verify_windows, capsys):
    code = run_app(app, ["verify", "--bundle", str(bundle_copy), "--data", str(synth_data), "--verify-windows",
                         str(verify_windows), "--batch", "4", "--max-fp32-diff", "0"])
    captured = capsys.readouterr()
    assert code == EXIT_GATE_FAILED
    assert "FAIL  onnxruntime:fp32" in captured.out and "fp32 graph failed" in captured.err


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
    record = json.loads((bundle_copy / CALIBRATION_FILE).read_text())
    record["quantize"]["source_sha256"] = "0" * 64
    (bundle_copy / CALIBRATION_FILE).write_text(json.dumps(record))
    write_checksums(bundle_copy)
    with pytest.raises(BundleError, match="was not made from the current"):
        verify_step(bundle_copy, synth_data, VerifyConfig(windows=verify_windows))


def test_torch_reference_runs_behind_the_backend_protocol_like_the_onnx_graph(bundle_copy):
    spec = load_spec(bundle_copy)
    eeg = (np.random.default_rng(1).standard_normal((2, 20, 10000)) * 30).astype(np.float32)
    with TorchReference.from_bundle(bundle_copy) as torch_runner, \
            open_backend(bundle_copy, spec, "onnxruntime", precision="fp32") as onnx_runner:
        assert (torch_runner.name, torch_runner.precision) == ("torch", "fp32")
        np.testing.assert_allclose(torch_runner.infer({"eeg": eeg})["probs"], onnx_runner.infer({"eeg": eeg})["probs"],
                                   atol=1e-5)


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
