"""Export the probability model (front end inside) to ONNX fp32 with a dynamic batch.

Opset 18: the torch dynamo exporter emits 18 natively (lowering to 17 fails on the reflect Pad of the
STFT centre padding), it is inside the range onnx-tensorrt lists for TensorRT 10.x (opsets 9 to 20),
and it is >= 13, which per-channel QuantizeLinear/DequantizeLinear (the `axis` attribute) needs.
BatchNormalization is folded into the preceding Conv/Gemm here, so that the quantizer sees the
weights TensorRT will actually run and places Q/DQ directly on them. Before tracing, MixNet's mixed
convolutions are merged into single convs (calibrate.reparam), on a copy: the caller's model is untouched.
"""

from __future__ import annotations

import copy
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import onnx
import torch

from calibrate.graph import forbidden_ops, frontend_nodes
from calibrate.reparam import merge_mixed_convs
from edge.errors import EegEdgeError
from edge.model.bundle import atomic_write
from edge.model.model_spec import ModelSpec

DEFAULT_OPSET = 18
MAX_EXPORT_BATCH = 1024


@dataclass(frozen=True)
class ExportResult:
    path: str
    opset: int
    nodes: int
    frontend_nodes: int
    op_counts: dict[str, int]
    seconds: float


def _example_input(spec: ModelSpec, batch: int = 2) -> torch.Tensor:
    _, channels, samples = spec.input_shape
    # A fixed-seed EEG-scale input: the exporter traces shapes only, values never reach the graph.
    generator = torch.Generator().manual_seed(0)
    return torch.randn(batch, channels, samples, generator=generator) * 30.0


def _fold_batchnorm(model: onnx.ModelProto) -> onnx.ModelProto:
    from onnxscript import rewriter
    from onnxscript.rewriter.rules.common import fuse_batchnorm_into_conv_rule, fuse_batchnorm_into_gemm_rule

    return rewriter.rewrite(model, pattern_rewrite_rules=[fuse_batchnorm_into_conv_rule, fuse_batchnorm_into_gemm_rule])


def deployable(prob_model: torch.nn.Module) -> torch.nn.Module:
    """An eval-mode copy of ``prob_model`` with its mixed convs merged (same outputs, fewer graph nodes)."""
    model = copy.deepcopy(prob_model).eval()
    merge_mixed_convs(model)
    return model


def check_onnx(model: onnx.ModelProto, spec: ModelSpec) -> None:
    """Raise EegEdgeError when the graph is not one the edge runtime and TensorRT 10.3 can load."""
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise EegEdgeError(f"exported ONNX graph fails onnx.checker: {str(exc).splitlines()[0]}") from None
    bad = forbidden_ops(model)
    if bad:
        raise EegEdgeError(f"exported graph contains {', '.join(bad)} ops, which TensorRT 10.3 cannot parse; "
                           "the front end must compute the STFT as a conv1d")
    inputs = [i.name for i in model.graph.input]
    outputs = [o.name for o in model.graph.output]
    if inputs != [spec.input_name] or outputs != [spec.output_name]:
        raise EegEdgeError(f"exported graph has inputs {inputs} and outputs {outputs}; "
                           f"the bundle spec expects [{spec.input_name!r}] -> [{spec.output_name!r}]")
    dims = model.graph.input[0].type.tensor_type.shape.dim
    if dims[0].dim_value or [d.dim_value for d in dims[1:]] != list(spec.input_shape[1:]):
        raise EegEdgeError(f"exported input shape {[d.dim_param or d.dim_value for d in dims]} is not "
                           f"[batch, {', '.join(map(str, spec.input_shape[1:]))}] with a dynamic batch")


def export_onnx(prob_model: torch.nn.Module, spec: ModelSpec, path: str | Path,
                *, opset: int = DEFAULT_OPSET) -> ExportResult:
    """Export ``prob_model`` (eeg [B, C, T] -> probs [B, classes]) to ``path`` (written atomically)."""
    start = time.perf_counter()
    prob_model = deployable(prob_model)
    batch = torch.export.Dim("batch", min=1, max=MAX_EXPORT_BATCH)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore", FutureWarning)  # exporter-internal deprecation notices
        program = torch.onnx.export(prob_model, (_example_input(spec),), input_names=[spec.input_name],
                                    output_names=[spec.output_name], opset_version=opset,
                                    dynamic_shapes=({0: batch},), dynamo=True, verbose=False)
    model = _fold_batchnorm(program.model_proto)
    check_onnx(model, spec)
    atomic_write(path, model.SerializeToString())
    return ExportResult(path=str(path), opset=opset, nodes=len(model.graph.node),
                        frontend_nodes=len(frontend_nodes(model)),
                        op_counts=dict(sorted(Counter(n.op_type for n in model.graph.node).items())),
                        seconds=time.perf_counter() - start)

