"""Which compute nodes stay float: each node's int8 damage measured alone, the worst kept float until the mix holds.

Tool: onnxruntime.quantization, calibrated once. quantize_static writes the fully quantized QDQ graph;
every choice below is that graph with some nodes' Q/DQ pairs bypassed (calibrate.graph.without_qdq),
which is what `nodes_to_exclude` would produce with the same activation ranges, at the cost of one
graph edit instead of one calibration. NVIDIA ModelOpt's ONNX PTQ was not used: `pip install --dry-run
-c constraints.txt 'nvidia-modelopt[onnx]'` (0.47.0) pulls cupy-cuda12x and onnxruntime-gpu and
downgrades onnx to 1.21. onnxruntime's qdq_loss_debug compares every tensor of the fully
quantized graph with float, which mixes each node's own error with what it inherits from upstream;
quantizing one node alone and scoring the output (KL to fp32) measures the damage that node adds.

Greedy: nodes sorted by their KL alone; keep the most damaging in float, one at a time, until the
mix meets the target on the calibration windows (half the verify gates by default, a margin for
held-out and real windows). A node whose float copy would leave less than the minimum share of conv
FLOPs in int8 is skipped for the next, cheaper one; when the list runs out first, verify decides.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import onnx

from calibrate.graph import conv_flops, quantized_compute_nodes, without_qdq
from edge.config_io import require_field

SCORE_BATCH = 16


@dataclass(frozen=True)
class SensitivityTarget:
    max_mean_kl: float = 0.005  # half the verify gate (0.01)
    min_argmax_agreement: float = 0.99  # half the verify gate's allowance (98 %)
    min_quantized_conv_share: float = 0.7

    def validate(self) -> SensitivityTarget:
        require_field(self.max_mean_kl >= 0, "sensitivity.max_mean_kl", "must be >= 0", value=self.max_mean_kl)
        for name in ("min_argmax_agreement", "min_quantized_conv_share"):
            require_field(0 <= getattr(self, name) <= 1, f"sensitivity.{name}", "must be in [0, 1]",
                          value=getattr(self, name))
        return self

    def met(self, mean_kl: float, agreement: float) -> bool:
        return mean_kl <= self.max_mean_kl and agreement >= self.min_argmax_agreement


@dataclass(frozen=True)
class NodeDamage:
    node: str
    op_type: str
    conv_flops: int
    mean_kl: float  # KL(fp32 || this node alone in int8), mean over the sensitivity windows
    argmax_agreement: float


@dataclass(frozen=True)
class Sensitivity:
    windows: int
    nodes: tuple[NodeDamage, ...]  # most damaging first
    kept_float: tuple[str, ...]
    plain_mean_kl: float  # every node int8
    plain_argmax_agreement: float
    mean_kl: float  # the mix that ships
    argmax_agreement: float
    quantized_conv_share: float  # of the classifier's conv FLOPs (the front end is float by design)
    target_met: bool
    seconds: float


def agreement(reference: np.ndarray, probs: np.ndarray) -> float:
    """Share of windows with the same top class; a window with a NaN or inf probability disagrees."""
    finite = np.all(np.isfinite(probs), axis=1)
    return float(((reference.argmax(axis=1) == probs.argmax(axis=1)) & finite).mean())


def renormalised(probs: np.ndarray) -> np.ndarray:
    """Rows scaled to sum to 1: an fp16 softmax is off by up to ~1e-4, more than the metric's tolerance."""
    return probs / probs.sum(axis=1, keepdims=True)


def mean_kl(reference: np.ndarray, probs: np.ndarray) -> float:
    """Mean over windows of KL(reference || probs); NaN or inf (an overflowed graph) counts as infinite."""
    from train.metric import score

    if not np.all(np.isfinite(probs)):
        return float("inf")
    return float(score(renormalised(reference), renormalised(probs)))


def probabilities(model: onnx.ModelProto, eeg: np.ndarray) -> np.ndarray:
    """[N, classes] float64 from an in-memory graph on onnxruntime's CPU provider."""
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    parts = [session.run(None, {name: eeg[i:i + SCORE_BATCH]})[0] for i in range(0, len(eeg), SCORE_BATCH)]
    return np.concatenate(parts).astype(np.float64)


def quantized_share(flops: dict[str, int], quantized: list[str], kept_float: list[str]) -> float:
    total = sum(flops.get(n, 0) for n in quantized)
    int8 = sum(flops.get(n, 0) for n in quantized if n not in kept_float)
    return int8 / total if total else 0.0


def keep_sensitive_float(fp32: onnx.ModelProto, int8: onnx.ModelProto, eeg: np.ndarray, *,
                         target: SensitivityTarget) -> tuple[onnx.ModelProto, Sensitivity]:
    """The QDQ graph with the fewest most-damaging nodes kept float that meets ``target`` on ``eeg``."""
    target.validate()
    start = time.perf_counter()
    reference = probabilities(fp32, eeg)
    quantized = quantized_compute_nodes(int8)
    flops = conv_flops(fp32)
    op_types = {n.name: n.op_type for n in int8.graph.node}
    damages = []
    for node in quantized:
        alone = probabilities(without_qdq(int8, [n for n in quantized if n != node]), eeg)
        damages.append(NodeDamage(node, op_types[node], flops.get(node, 0), mean_kl(reference, alone),
                                  agreement(reference, alone)))
    damages.sort(key=lambda d: (-d.mean_kl, d.node))
    probs = probabilities(int8, eeg)
    plain = mean_kl(reference, probs), agreement(reference, probs)
    kl, agree = plain
    kept: list[str] = []
    mixed = int8
    for damage in damages:
        if target.met(kl, agree):
            break
        if quantized_share(flops, quantized, [*kept, damage.node]) < target.min_quantized_conv_share:
            continue  # too many FLOPs to give up: try the next, cheaper node
        kept.append(damage.node)
        mixed = without_qdq(int8, kept)
        probs = probabilities(mixed, eeg)
        kl, agree = mean_kl(reference, probs), agreement(reference, probs)
    return mixed, Sensitivity(
        windows=len(eeg), nodes=tuple(damages), kept_float=tuple(kept), plain_mean_kl=plain[0],
        plain_argmax_agreement=plain[1], mean_kl=kl, argmax_agreement=agree,
        quantized_conv_share=quantized_share(flops, quantized, kept), target_met=target.met(kl, agree),
        seconds=time.perf_counter() - start)
