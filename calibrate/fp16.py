"""The fp16 graph: the classifier in half precision, the signal front end in float32 up to its dB normalisation.

Converted with onnxruntime's float16 tool (onnxruntime.transformers.float16, the converter of
onnxconverter-common shipped inside onnxruntime: no new dependency), graph inputs and outputs kept
float32 so the bedside feeds the same arrays. The front end (calibrate.graph's tag: montage, FIR, clip,
STFT-as-conv, power, mel, log, dB offset and scale) and everything upstream of its Log stay float32:
mel power of valid EEG near edge's 10 mV limit exceeds fp16's 65504 before the log compresses it. That
candidate ships when it meets the target on the scoring windows and stays finite on the largest and
smallest inputs the bedside can feed it (`extreme_windows`: the windows scaled to edge's validity
limit, a 1 s burst at that limit, the windows scaled down HEADROOM times, each passed through edge's
own validity gate, since a window it refuses never reaches the model); otherwise every node but the
convolutions and matrix products stays float32 (casts around each: TensorRT still runs them in fp16).
TensorRT builds the engine from this graph as typed (strongly typed network: `--stronglyTyped`), so
the precision verified here is the one that runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from calibrate.bedside_gate import BedsideGate
from calibrate.graph import COMPUTE_OPS, frontend_nodes, upstream_closure
from calibrate.sensitivity import SensitivityTarget, agreement, mean_kl, probabilities
from edge.contract import SAMPLE_RATE_HZ
from edge.model.bundle import atomic_write

HEADROOM = 1e4  # candidates must stay finite on the scoring windows scaled down this much (quiet channels
# underflow fp16 before the log's floor) and, up, on them scaled to edge's validity limit
LIMIT_SHARE = 0.999  # "at the limit": this share of range_uv, still inside it


@dataclass(frozen=True)
class Fp16Candidate:
    float32: str  # which nodes stay float32: "frontend" or "all but convs and matmuls"
    mean_kl: float  # KL(fp32 || candidate) on the calibration windows
    argmax_agreement: float
    finite_on_extremes: bool  # outputs finite on the extreme windows the bedside accepts (see extreme_windows)


@dataclass(frozen=True)
class Fp16Result:
    path: str
    float32: str  # the candidate shipped (see Fp16Candidate.float32)
    candidates: tuple[Fp16Candidate, ...]
    windows: int
    extreme_windows: int  # of the extremes tried, those edge's validity gate accepts (the others never run)
    seconds: float


def extreme_windows(eeg: np.ndarray, gate: BedsideGate | None = None) -> np.ndarray:
    """The largest and smallest inputs the bedside feeds the model, from ``eeg`` [n, channels, samples]: each window
    scaled to the validity limit, with a 1 s burst at the limit on one channel, and scaled down HEADROOM times;
    only those edge's validity gate accepts, masked as edge masks them."""
    gate = gate or BedsideGate()
    limit = np.float32(LIMIT_SHARE * gate.config.quality.range_uv)
    peak = np.maximum(np.abs(eeg).max(axis=(1, 2), keepdims=True), np.float32(1e-6))
    burst = eeg.copy()
    burst[:, 0, :SAMPLE_RATE_HZ] = limit  # 1 s of the first channel at the limit (a pop, a saturation)
    tried = np.concatenate([eeg / peak * limit, burst, eeg / np.float32(HEADROOM)])
    kept = [seen for seen in map(gate.judge, tried) if seen is not None]
    return np.stack(kept) if kept else np.zeros((0, *eeg.shape[1:]), np.float32)


def to_fp16(model: onnx.ModelProto, keep_float: list[str]) -> onnx.ModelProto:
    """fp16 copy of ``model``, ``keep_float`` nodes in float32. A float32 node reads float32 values as given: the
    converter routes every tensor between two kept nodes (and the graph input) through a cast to fp16 and back,
    which overflows on large inputs and underflows quiet ones (measured: NaN on windows 1e4 times quieter)."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    converted = convert_float_to_float16(copy, keep_io_types=True, node_block_list=keep_float)
    graph = converted.graph
    to_half = {n.output[0]: n.input[0] for n in graph.node if n.op_type == "Cast"
               and next((a.i for a in n.attribute if a.name == "to"), None) == onnx.TensorProto.FLOAT16}
    for node in graph.node:
        to = next((a.i for a in node.attribute if a.name == "to"), None)
        if node.op_type == "Cast" and to == onnx.TensorProto.FLOAT and node.input[0] in to_half:
            node.input[0] = to_half[node.input[0]]  # float32 straight from the input, never through fp16
    used = {name for node in graph.node for name in node.input}
    for node in [n for n in graph.node if n.op_type == "Cast" and n.output[0] in to_half and n.output[0] not in used]:
        graph.node.remove(node)
    return converted


def convert_fp16(fp32_path: str | Path, out_path: str | Path, eeg: np.ndarray, *,
                 target: SensitivityTarget) -> Fp16Result:
    """Write the fp16 graph (atomic): the first candidate, front end float32 then fp16 convs/matmuls only, that meets
    ``target`` on ``eeg`` and stays finite on its extremes (the last one when none does: verify decides)."""
    start = time.perf_counter()
    model = onnx.load(str(fp32_path))
    reference = probabilities(model, eeg)
    extremes = extreme_windows(eeg)
    compute = {n.name for n in model.graph.node if n.op_type in COMPUTE_OPS}
    float32 = {  # what stays float32 in each candidate, tried in this order
        # the front end up to its log and the dB normalisation after it: power spectra span many decades (and pass
        # fp16's 65504 on valid EEG near the 10 mV limit) until the log compresses them
        "frontend": sorted(set(frontend_nodes(model)) | upstream_closure(
            model.graph, [n.name for n in model.graph.node if n.op_type == "Log"])),
        "all but convs and matmuls": [n.name for n in model.graph.node if n.name not in compute],
    }
    candidates, graphs = [], {}
    for kept, names in float32.items():
        graphs[kept] = to_fp16(model, names)
        probs = probabilities(graphs[kept], eeg)
        finite = not len(extremes) or bool(np.all(np.isfinite(probabilities(graphs[kept], extremes))))
        candidates.append(Fp16Candidate(kept, mean_kl(reference, probs), agreement(reference, probs), finite))
        if target.met(candidates[-1].mean_kl, candidates[-1].argmax_agreement) and candidates[-1].finite_on_extremes:
            break
    chosen = candidates[-1]
    atomic_write(out_path, graphs[chosen.float32].SerializeToString())
    return Fp16Result(str(out_path), chosen.float32, tuple(candidates), len(eeg), len(extremes),
                      time.perf_counter() - start)
