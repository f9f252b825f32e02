"""Reading ONNX graphs: where the signal front end is, which ops are forbidden, and TensorRT's QDQ rules.

The front end (montage, FIR bandpass, clip, STFT-as-conv1d, mel, dB) stays in float: its dynamic
range spans many decades (power spectra before the log), so int8 would destroy it, and on Jetson it
runs in fp16 on the GPU anyway. Its nodes are found from the graph itself: a node belongs to the front
end when its name or its exporter metadata (the torch module path) contains ``frontend``, and so does
every node upstream of such a node (ops the exporter's optimizer created carry no metadata).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import onnx
from onnx import numpy_helper

from edge.errors import EegEdgeError

FRONTEND_TAG = "frontend"
# torch.stft exports to STFT (TensorRT parses it only from 10.5; JetPack 6 ships 10.3); DFT likewise.
FORBIDDEN_OPS: frozenset[str] = frozenset({"STFT", "DFT", "MelWeightMatrix"})
# The ops TensorRT runs in int8 when Q/DQ sit on both their activation and weight inputs.
COMPUTE_OPS: tuple[str, ...] = ("Conv", "MatMul", "Gemm")
QDQ_OPS: frozenset[str] = frozenset({"QuantizeLinear", "DequantizeLinear"})
# Other consumers a quantized activation may also feed: a residual Add (TensorRT fuses it into the int8
# conv) and ops TensorRT moves Q/DQ across (pooling on a skip path, data movement).
DQ_SIDE_CONSUMERS: frozenset[str] = frozenset({
    "Add", "AveragePool", "MaxPool", "GlobalAveragePool", "Concat", "Reshape", "Transpose", "Flatten", "Split",
    "Slice", "Squeeze", "Unsqueeze",
})
# Metadata keys the torch dynamo exporter writes with the module path of each node.
_SCOPE_KEYS = ("pkg.torch.onnx.name_scopes", "namespace")


def _is_tagged(node: onnx.NodeProto) -> bool:
    if FRONTEND_TAG in node.name:
        return True
    return any(p.key in _SCOPE_KEYS and FRONTEND_TAG in p.value for p in node.metadata_props)


def _producers(graph: onnx.GraphProto) -> dict[str, onnx.NodeProto]:
    return {out: node for node in graph.node for out in node.output if out}


def consumers(graph: onnx.GraphProto) -> dict[str, list[onnx.NodeProto]]:
    table: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            table.setdefault(name, []).append(node)
    return table


def upstream_closure(graph: onnx.GraphProto, seeds: Iterable[str]) -> set[str]:
    """Names of the seed nodes and of every node they depend on."""
    producers = _producers(graph)
    by_name = {node.name: node for node in graph.node}
    seen: set[str] = set()
    stack = [by_name[name] for name in seeds if name in by_name]
    while stack:
        node = stack.pop()
        if node.name in seen:
            continue
        seen.add(node.name)
        stack.extend(producers[i] for i in node.input if i in producers)
    return seen


def frontend_nodes(model: onnx.ModelProto) -> list[str]:
    """Names of the front-end nodes, in graph order. Empty when the graph tags no front end."""
    graph = model.graph
    unnamed = [n.op_type for n in graph.node if not n.name]
    if unnamed:
        raise EegEdgeError(f"{len(unnamed)} graph nodes have no name (first: {unnamed[0]}); "
                           "re-export the model with `calibrate export`")
    closure = upstream_closure(graph, [n.name for n in graph.node if _is_tagged(n)])
    return [n.name for n in graph.node if n.name in closure]


def forbidden_ops(model: onnx.ModelProto) -> list[str]:
    """Op types in the graph that TensorRT 10.3 cannot parse (sorted, unique)."""
    return sorted({n.op_type for n in model.graph.node} & FORBIDDEN_OPS)


def _initializer(graph: onnx.GraphProto, name: str) -> np.ndarray | None:
    for init in graph.initializer:
        if init.name == name:
            return numpy_helper.to_array(init)
    return None


def qdq_violations(model: onnx.ModelProto, frontend: Iterable[str]) -> list[str]:
    """Every way the QDQ graph departs from what TensorRT fuses; empty means the graph follows the rules.

    Rules: zero points are int8 zeros (symmetric); scales are positive and finite; a QuantizeLinear
    feeds only DequantizeLinear (a Q->DQ pair); a DequantizeLinear feeds a Conv/MatMul/Gemm data or
    weight input (never a bias, never the softmax; see DQ_SIDE_CONSUMERS for the others); a quantized
    compute op has Q/DQ on both its activation and its weight; no Q/DQ node sits in the front end.
    """
    graph = model.graph
    problems: list[str] = []
    users = consumers(graph)
    producers = _producers(graph)
    for node in graph.node:
        if node.op_type not in QDQ_OPS:
            continue
        scale = _initializer(graph, node.input[1])
        zero = _initializer(graph, node.input[2]) if len(node.input) > 2 and node.input[2] else None
        if zero is None or zero.dtype != np.int8 or np.any(zero != 0):
            problems.append(f"{node.name}: zero point must be an int8 initializer of zeros, got {zero!r}")
        if scale is None or not np.all(np.isfinite(scale)) or np.any(scale <= 0):
            problems.append(f"{node.name}: scale must be a positive finite initializer")
        targets = users.get(node.output[0], [])
        if node.op_type == "QuantizeLinear":
            bad = [t.name for t in targets if t.op_type != "DequantizeLinear"]
            if bad or not targets:
                problems.append(f"{node.name}: QuantizeLinear must feed DequantizeLinear only, "
                                f"feeds {bad or 'nothing'}")
            continue
        feeds_compute = False
        for target in targets:
            slots = [i for i, name in enumerate(target.input) if name == node.output[0]]
            if target.op_type in COMPUTE_OPS and all(i <= 1 for i in slots):
                feeds_compute = True
            elif target.op_type not in DQ_SIDE_CONSUMERS:
                problems.append(f"{node.name}: DequantizeLinear feeds {target.op_type} {target.name} input {slots}; "
                                "only Conv/MatMul/Gemm data or weight inputs (and DQ_SIDE_CONSUMERS) may take it")
        if not feeds_compute:
            problems.append(f"{node.name}: DequantizeLinear feeds no Conv/MatMul/Gemm")
    for node in graph.node:
        if node.op_type not in COMPUTE_OPS:
            continue
        dq_inputs = [producers.get(name) is not None and producers[name].op_type == "DequantizeLinear"
                     for name in node.input[:2]]
        if any(dq_inputs) and not all(dq_inputs):
            problems.append(f"{node.name}: {node.op_type} has Q/DQ on only one of its activation and weight inputs")
    in_frontend = upstream_closure(graph, frontend)
    problems.extend(f"{n.name}: {n.op_type} inside the front end" for n in graph.node
                    if n.op_type in QDQ_OPS and n.name in in_frontend)
    return problems


def quantized_compute_nodes(model: onnx.ModelProto) -> list[str]:
    """Compute nodes whose weight input comes through a DequantizeLinear."""
    producers = _producers(model.graph)
    return [n.name for n in model.graph.node if n.op_type in COMPUTE_OPS and len(n.input) > 1
            and n.input[1] in producers and producers[n.input[1]].op_type == "DequantizeLinear"]


def without_qdq(model: onnx.ModelProto, nodes: Iterable[str]) -> onnx.ModelProto:
    """A copy of the QDQ ``model`` in which the compute ``nodes`` read their float inputs again.

    Their Q->DQ pairs (activation and weight) are bypassed; a DequantizeLinear left feeding no compute
    op (only side consumers such as a residual Add) is bypassed too, and every Q/DQ node and initializer
    left unused is dropped: the graph quantize_static writes with those nodes in ``nodes_to_exclude``,
    calibrated once instead of once per choice.
    """
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    producers = _producers(graph)

    def float_source(name: str) -> str | None:
        dq = producers.get(name)
        q = producers.get(dq.input[0]) if dq is not None and dq.op_type == "DequantizeLinear" else None
        return q.input[0] if q is not None and q.op_type == "QuantizeLinear" else None

    chosen = set(nodes)
    for node in graph.node:
        if node.name in chosen:
            for slot, name in enumerate(node.input[:2]):
                node.input[slot] = float_source(name) or name
    users = consumers(graph)
    for dq in [n for n in graph.node if n.op_type == "DequantizeLinear"]:
        targets = users.get(dq.output[0], [])
        feeds_compute = any(t.op_type in COMPUTE_OPS and dq.output[0] in t.input[:2] for t in targets)
        source = float_source(dq.output[0])
        if not feeds_compute and source is not None:
            for target in targets:
                for slot, name in enumerate(target.input):
                    if name == dq.output[0]:
                        target.input[slot] = source
    _drop_unused(graph)
    return out


def _drop_unused(graph: onnx.GraphProto) -> None:
    """Remove Q/DQ nodes whose outputs nobody reads (repeatedly: a Q feeds only its DQ), then orphan initializers."""
    outputs = {o.name for o in graph.output}
    while True:
        used = {name for node in graph.node for name in node.input} | outputs
        dead = [n for n in graph.node if n.op_type in QDQ_OPS and not any(o in used for o in n.output)]
        if not dead:
            break
        for node in dead:
            graph.node.remove(node)
    used = {name for node in graph.node for name in node.input}
    for init in [i for i in graph.initializer if i.name not in used]:
        graph.initializer.remove(init)


def conv_flops(model: onnx.ModelProto) -> dict[str, int]:
    """Multiply-adds x 2 per input window of every Conv node, from the inferred shapes (batch counted as 1)."""
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes: dict[str, list[int]] = {i.name: list(i.dims) for i in inferred.graph.initializer}
    for value in (*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output):
        shapes[value.name] = [d.dim_value for d in value.type.tensor_type.shape.dim]
    flops = {}
    for node in inferred.graph.node:
        if node.op_type != "Conv":
            continue
        out, weight = shapes.get(node.output[0]), shapes.get(node.input[1])
        if not out or not weight or not all(out[1:]) or not all(weight):
            raise EegEdgeError(f"cannot infer the shapes of {node.name}; re-export the model with `calibrate export`")
        flops[node.name] = 2 * int(np.prod(out[1:])) * int(np.prod(weight[1:]))
    return flops
