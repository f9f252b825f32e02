"""A fragile model: plain int8 fails the gates, the sensitivity step keeps the culprit float and int8 passes again."""

from __future__ import annotations

import dataclasses

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from calibrate.gates import Gates
from calibrate.graph import conv_flops, frontend_nodes, quantized_compute_nodes, without_qdq
from calibrate.pipeline import quantize_step, verify_step
from calibrate.quantize import QuantizeConfig
from calibrate.sensitivity import SensitivityTarget
from calibrate.verify import VerifyConfig
from edge.model.bundle import ONNX_FILE, ONNX_FP16_FILE, ONNX_INT8_FILE, write_checksums

pytestmark = pytest.mark.slow
OUTLIER = 1e4  # one input channel of one conv carries this much more than the others
SHARPEN = 150.0  # the tiny untrained model's near-uniform probabilities made confident, so errors show in KL


def make_fragile(path) -> str:
    """Rewrite the graph at ``path`` into an equal-in-float but int8-hostile one; returns the fragile conv's name.

    Before the last full (group 1) classifier conv, its input is multiplied per channel by s (one channel by
    OUTLIER) and the conv's weights divided by the same s: the same function in float, but the activation's
    per-tensor int8 range now spans the outlier, and every other channel rounds to zero.
    """
    model = onnx.load(str(path))
    inits = {i.name: i for i in model.graph.initializer}
    frontend = set(frontend_nodes(model))
    conv = [n for n in model.graph.node if n.op_type == "Conv" and n.name not in frontend and _group(n) == 1
            and numpy_helper.to_array(inits[n.input[1]]).shape[1] > 1][-1]
    weight = numpy_helper.to_array(inits[conv.input[1]])
    scale = np.ones(weight.shape[1], np.float32)
    scale[0] = OUTLIER
    inits[conv.input[1]].CopyFrom(numpy_helper.from_array(weight / scale[None, :, None, None], conv.input[1]))
    model.graph.initializer.append(numpy_helper.from_array(scale.reshape(1, -1, 1, 1), "fragile_scale"))
    mul = helper.make_node("Mul", [conv.input[0], "fragile_scale"], ["fragile_input"], name="fragile_mul")
    conv.input[0] = "fragile_input"
    model.graph.node.insert(list(model.graph.node).index(conv), mul)
    head = next(n for n in model.graph.node if n.op_type == "Gemm")
    for name in head.input[1:]:
        inits[name].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(inits[name]) * SHARPEN, name))
    onnx.save(model, str(path))
    return conv.name


def _group(node: onnx.NodeProto) -> int:
    return next((a.i for a in node.attribute if a.name == "group"), 1)


def test_without_qdq_restores_the_float_inputs_of_the_chosen_nodes(calibrated):
    bundle, _ = calibrated
    int8 = onnx.load(str(bundle / ONNX_INT8_FILE))
    quantized = quantized_compute_nodes(int8)
    partial = without_qdq(int8, quantized[:2])
    assert set(quantized_compute_nodes(partial)) == set(quantized[2:])
    float_graph = without_qdq(int8, quantized)
    assert not {n.op_type for n in float_graph.graph.node} & {"QuantizeLinear", "DequantizeLinear"}
    fp32 = onnx.load(str(bundle / ONNX_FILE))
    assert len(float_graph.graph.node) == len(fp32.graph.node)
    flops = conv_flops(fp32)
    assert flops and all(f > 0 for f in flops.values())


def test_plain_int8_fails_on_a_fragile_model_and_the_sensitivity_step_recovers_it(bundle_copy, synth_data,
                                                                                 verify_windows):
    fragile = make_fragile(bundle_copy / ONNX_FILE)
    (bundle_copy / ONNX_FP16_FILE).unlink()  # made from the former model.onnx, and not under test here
    write_checksums(bundle_copy)
    config = QuantizeConfig(windows=12, batch=4, sensitivity_windows=8)
    verify = VerifyConfig(windows=verify_windows, batch=4)
    int8 = "onnxruntime:int8"  # judged against onnxruntime fp32 (the torch model is not the fragile graph)
    # The sharpened untrained model is overconfident against the synthetic votes, so its Kaggle KL swings with
    # any change: the gate under test is shipping's mean KL against fp32. The damage is judged on the
    # sensitivity windows: on this fixture's 8 held-out windows the fragile conv's damage does not stand out
    # of int8's rounding elsewhere (plain 0.003, mixed 0.007), so whether verify rejects the plain graph is
    # left to test_pipeline's broken-int8 test.
    gates = Gates(max_kaggle_kl_degradation=float("inf"))
    # plain int8: a target any graph meets keeps nothing float, and the fragile conv's damage shows
    anything = SensitivityTarget(max_mean_kl=float("inf"), min_argmax_agreement=0.0)
    plain = quantize_step(bundle_copy, synth_data, dataclasses.replace(config, target=anything))
    assert plain.sensitivity.kept_float == () and plain.sensitivity.plain_mean_kl > config.target.max_mean_kl
    # with the sensitivity step: the fragile conv is measured worst, kept float, and int8 ships
    mixed = quantize_step(bundle_copy, synth_data, config)
    sensitivity = mixed.sensitivity
    assert sensitivity.nodes[0].node == fragile and sensitivity.kept_float[0] == fragile
    assert sensitivity.target_met and sensitivity.mean_kl <= config.target.max_mean_kl < sensitivity.plain_mean_kl
    assert sensitivity.quantized_conv_share >= 0.7
    outcome = verify_step(bundle_copy, synth_data, verify, gates=gates, real=[])
    assert outcome.report.runner_passed(int8), [g.line() for g in outcome.report.gates if not g.passed]



@pytest.mark.parametrize(("config", "field"), [
    (QuantizeConfig(method="mse"), "quantize.method"), (QuantizeConfig(windows=0), "quantize.windows"),
    (QuantizeConfig(percentile=0.0), "quantize.percentile"),
    (QuantizeConfig(sensitivity_windows=0), "quantize.sensitivity_windows"),
    (QuantizeConfig(target=SensitivityTarget(min_argmax_agreement=1.5)), "sensitivity.min_argmax_agreement"),
])
def test_quantize_config_names_the_bad_field(config: QuantizeConfig, field: str) -> None:
    from edge.errors import SpecError

    with pytest.raises(SpecError, match=f"^{field} must be"):
        config.validate()
