"""Graph rules on hand-built ONNX graphs: front-end detection, forbidden ops, TensorRT's QDQ placement."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from calibrate.graph import forbidden_ops, frontend_nodes, qdq_violations, quantized_compute_nodes, without_qdq
from edge.errors import EegEdgeError


def _model(nodes, initializers=()) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def _init(name: str, value) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value), name)


def test_frontend_is_tagged_nodes_plus_everything_upstream_of_them():
    scoped = helper.make_node("Log", ["b"], ["c"], name="node_log10")
    scoped.metadata_props.add(key="pkg.torch.onnx.name_scopes", value="['', 'model', 'model.frontend', 'log10']")
    model = _model([
        helper.make_node("Relu", ["x"], ["a"], name="frontend_rectify"),
        helper.make_node("Abs", ["a"], ["b"], name="node_Split_9"),  # optimizer-made: no name, no metadata
        scoped,
        helper.make_node("Relu", ["c"], ["d"], name="backbone_act"),
        helper.make_node("Softmax", ["d"], ["y"], name="softmax"),
    ])
    assert frontend_nodes(model) == ["frontend_rectify", "node_Split_9", "node_log10"]


def test_frontend_refuses_unnamed_nodes():
    with pytest.raises(EegEdgeError, match="no name"):
        frontend_nodes(_model([helper.make_node("Relu", ["x"], ["y"])]))


def test_stft_and_dft_ops_are_reported():
    model = _model([helper.make_node("DFT", ["x"], ["a"], name="dft"),
                    helper.make_node("Relu", ["a"], ["y"], name="relu")])
    assert forbidden_ops(model) == ["DFT"]


def _qdq_conv(zero_point=0, dq_feeds_softmax=False, bias_through_dq=False, weight_qdq=True, frontend_qdq=False):
    """x -> [Q/DQ] -> frontend_relu -> Q -> DQ -> Conv(W: Q -> DQ, bias) -> Softmax."""
    zp = np.array(zero_point, dtype=np.int8)
    inits = [_init("s", np.float32(0.1)), _init("zp", zp), _init("w", np.ones((2, 1, 3, 3), np.float32)),
             _init("ws", np.full(2, 0.01, np.float32)), _init("wzp", np.zeros(2, np.int8)),
             _init("bias", np.zeros(2, np.float32))]
    nodes = []
    source = "x"
    if frontend_qdq:
        nodes += [helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["xq"], name="fe_q"),
                  helper.make_node("DequantizeLinear", ["xq", "s", "zp"], ["xdq"], name="fe_dq")]
        source = "xdq"
    nodes += [helper.make_node("Relu", [source], ["f"], name="frontend_relu"),
              helper.make_node("QuantizeLinear", ["f", "s", "zp"], ["fq"], name="act_q"),
              helper.make_node("DequantizeLinear", ["fq", "s", "zp"], ["fdq"], name="act_dq")]
    weight = "w"
    if weight_qdq:
        nodes += [helper.make_node("QuantizeLinear", ["w", "ws", "wzp"], ["wq"], name="w_q", axis=0),
                  helper.make_node("DequantizeLinear", ["wq", "ws", "wzp"], ["wdq"], name="w_dq", axis=0)]
        weight = "wdq"
    bias = "bias"
    if bias_through_dq:
        nodes += [helper.make_node("QuantizeLinear", ["bias", "ws", "wzp"], ["bq"], name="b_q", axis=0),
                  helper.make_node("DequantizeLinear", ["bq", "ws", "wzp"], ["bdq"], name="b_dq", axis=0)]
        bias = "bdq"
    nodes.append(helper.make_node("Conv", ["fdq", weight, bias], ["c"], name="conv"))
    nodes.append(helper.make_node("Softmax", ["fdq" if dq_feeds_softmax else "c"], ["y"], name="softmax"))
    if dq_feeds_softmax:
        nodes.append(helper.make_node("Relu", ["c"], ["unused"], name="sink"))
    return _model(nodes, inits)


def test_a_tensorrt_style_qdq_graph_has_no_violations():
    model = _qdq_conv()
    assert qdq_violations(model, frontend_nodes(model)) == []
    assert quantized_compute_nodes(model) == ["conv"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"zero_point": 3}, "zero point"),
    ({"dq_feeds_softmax": True}, "feeds Softmax"),
    ({"bias_through_dq": True}, "input [2]"),
    ({"weight_qdq": False}, "only one of its activation and weight"),
    ({"frontend_qdq": True}, "inside the front end"),
])
def test_each_broken_rule_is_reported(kwargs, message):
    model = _qdq_conv(**kwargs)
    problems = qdq_violations(model, ["frontend_relu"])
    assert any(message in p for p in problems), problems


def test_without_qdq_also_bypasses_a_dequantize_left_feeding_only_a_residual_add():
    """conv's activation DQ also feeds a residual Add: once conv is float, that DQ must not stay on the Add alone."""
    model = _qdq_conv()
    softmax = next(n for n in model.graph.node if n.op_type == "Softmax")
    model.graph.node.insert(len(model.graph.node) - 1, helper.make_node("Add", ["c", "fdq"], ["r"], name="residual"))
    softmax.input[0] = "r"
    assert qdq_violations(model, ["frontend_relu"]) == []
    float_conv = without_qdq(model, ["conv"])
    assert quantized_compute_nodes(float_conv) == []
    assert not {n.op_type for n in float_conv.graph.node} & {"QuantizeLinear", "DequantizeLinear"}
    assert next(n for n in float_conv.graph.node if n.name == "residual").input[1] == "f"
    assert {i.name for i in float_conv.graph.initializer} == {"w", "bias"}
