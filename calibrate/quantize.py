"""Explicit INT8 quantization (QDQ) of the exported graph with onnxruntime, laid out the way TensorRT fuses it.

Choices and why:
- QDQ format: TensorRT builds INT8 engines from explicit Q/DQ nodes (implicit calibrators are
  deprecated since TensorRT 10.1 and removed in 11).
- Symmetric int8 for activations and weights, zero points 0: the only form TensorRT accepts.
- Per-channel weights (axis 0 for Conv/Gemm, 1 for MatMul): depthwise/mixed convs have per-channel
  ranges that differ by orders of magnitude.
- Q/DQ only on the inputs of Conv/MatMul/Gemm: TensorRT fuses DQ->Conv->(Q) into an int8 kernel and
  runs everything else (BN after concatenated mixed convs, SiLU, SE gates) in fp16.
- Weights stay float with a Q->DQ pair (AddQDQPairToWeight) and biases stay float (QuantizeBias off):
  TensorRT folds weight Q/DQ itself and has no int32 bias input.
- The front end and the softmax are excluded (computed from the graph, see calibrate.graph).
- Then the nodes whose int8 error hurts the output most stay float (calibrate.sensitivity), measured on
  calibration windows, until the mix meets the target.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

from calibrate.calib_data import WindowBatchReader
from calibrate.graph import COMPUTE_OPS, FRONTEND_TAG, QDQ_OPS, frontend_nodes, qdq_violations, quantized_compute_nodes
from calibrate.sensitivity import Sensitivity, SensitivityTarget, keep_sensitive_float
from edge.config_io import require_field
from edge.errors import EegEdgeError
from edge.model.bundle import ONNX_INT8_FILE, atomic_write

CALIBRATION_METHODS: dict[str, CalibrationMethod] = {
    "minmax": CalibrationMethod.MinMax,
    "entropy": CalibrationMethod.Entropy,
    "percentile": CalibrationMethod.Percentile,
}


@dataclass(frozen=True)
class QuantizeConfig:
    method: str = "percentile"  # see docs/calibrate.md for the measurements behind this default
    windows: int = 256
    batch: int = 16
    percentile: float = 99.99  # used by method "percentile" only
    seed: int = 0
    sensitivity_windows: int = 64  # of the calibration windows, scored once per quantizable node
    target: SensitivityTarget = field(default_factory=SensitivityTarget)

    def validate(self) -> QuantizeConfig:
        self.target.validate()
        require_field(self.sensitivity_windows > 0, "quantize.sensitivity_windows", "must be > 0",
                      value=self.sensitivity_windows)
        require_field(self.method in CALIBRATION_METHODS, "quantize.method",
                      f"must be one of {', '.join(CALIBRATION_METHODS)}", value=self.method)
        require_field(self.windows > 0, "quantize.windows", "must be > 0", value=self.windows)
        require_field(self.batch > 0, "quantize.batch", "must be > 0", value=self.batch)
        require_field(0 < self.percentile <= 100, "quantize.percentile", "must be in (0, 100]", value=self.percentile)
        return self


@dataclass(frozen=True)
class QuantizeResult:
    path: str
    method: str
    windows: int
    quantized_nodes: int
    excluded_nodes: int
    qdq_nodes: int
    sensitivity: Sensitivity
    seconds: float


def nodes_kept_float(model: onnx.ModelProto) -> list[str]:
    """The front end (by name/position) and the softmax: the nodes the quantizer must leave alone."""
    return frontend_nodes(model) + [n.name for n in model.graph.node if n.op_type == "Softmax"]


def _extra_options(config: QuantizeConfig) -> dict:
    return {
        "ActivationSymmetric": True,
        "WeightSymmetric": True,
        "AddQDQPairToWeight": True,
        "QuantizeBias": False,
        "DedicatedQDQPair": True,
        "OpTypesToExcludeOutputQuantization": list(COMPUTE_OPS),
        "QDQOpTypePerChannelSupportToAxis": {"MatMul": 1},
        "CalibPercentile": config.percentile,
    }


def quantize_int8(fp32_path: str | Path, out_path: str | Path, reader: WindowBatchReader, *,
                  sensitivity_eeg: np.ndarray, config: QuantizeConfig = QuantizeConfig()) -> QuantizeResult:
    """Quantize ``fp32_path`` into ``out_path`` (atomic), the nodes most damaging on ``sensitivity_eeg`` kept float;
    raises EegEdgeError if the result breaks TensorRT's rules."""
    config.validate()
    start = time.perf_counter()
    model = onnx.load(str(fp32_path))
    frontend = frontend_nodes(model)
    if not frontend:
        raise EegEdgeError(f"{fp32_path} has no node tagged {FRONTEND_TAG!r}; re-export it with `calibrate export` "
                           "so that the front end can be kept in float")
    excluded = nodes_kept_float(model)
    with tempfile.TemporaryDirectory(prefix="calibrate-") as tmp:
        staged = Path(tmp) / ONNX_INT8_FILE
        quantize_static(str(fp32_path), str(staged), reader, quant_format=QuantFormat.QDQ,
                        op_types_to_quantize=list(COMPUTE_OPS), per_channel=True, reduce_range=False,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                        nodes_to_exclude=excluded, calibrate_method=CALIBRATION_METHODS[config.method],
                        extra_options=_extra_options(config))
        quantized, sensitivity = keep_sensitive_float(model, onnx.load(str(staged)), sensitivity_eeg,
                                                      target=config.target)
    problems = qdq_violations(quantized, frontend)
    if problems:
        raise EegEdgeError(f"quantized graph breaks TensorRT's QDQ rules ({len(problems)} problems; "
                           f"first: {problems[0]})")
    atomic_write(out_path, quantized.SerializeToString())
    return QuantizeResult(path=str(out_path), method=config.method,
                          windows=reader.window_count,
                          quantized_nodes=len(quantized_compute_nodes(quantized)),
                          excluded_nodes=len(excluded) + len(sensitivity.kept_float),
                          qdq_nodes=sum(n.op_type in QDQ_OPS for n in quantized.graph.node), sensitivity=sensitivity,
                          seconds=time.perf_counter() - start)
