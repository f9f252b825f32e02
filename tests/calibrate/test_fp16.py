"""fp16 keeps the front end float32 up to the dB normalisation, so valid EEG near edge's 10 mV limit cannot overflow."""

from __future__ import annotations

import numpy as np
import onnx

from calibrate.bedside_gate import BedsideGate
from calibrate.fp16 import extreme_windows, to_fp16
from calibrate.gates import Gates
from calibrate.graph import frontend_nodes, upstream_closure
from calibrate.sensitivity import mean_kl, probabilities
from edge.contract import CHANNELS, LABEL_START, WINDOW_SAMPLES
from edge.model.bundle import ONNX_FILE, ONNX_FP16_FILE


def _near_limit_window(range_uv: float) -> np.ndarray:
    """Ordinary EEG with one channel's spike train at 99.9 % of the validity limit: the bedside predicts on it."""
    rng = np.random.default_rng(0)
    window = (rng.standard_normal((len(CHANNELS), WINDOW_SAMPLES)) * 30).astype(np.float32)
    window[3, LABEL_START:LABEL_START + 2000:40] = 0.999 * range_uv
    return window


def test_fp16_graph_is_finite_and_within_its_gate_near_the_validity_limit(calibrated):
    bundle, _ = calibrated
    gate = BedsideGate()
    window = gate.judge(_near_limit_window(gate.config.quality.range_uv))
    assert window is not None  # a window the bedside predicts on
    eeg = window[None]
    reference = probabilities(onnx.load(str(bundle / ONNX_FILE)), eeg)
    half = probabilities(onnx.load(str(bundle / ONNX_FP16_FILE)), eeg)
    assert np.all(np.isfinite(half))
    assert mean_kl(reference, half) <= Gates().max_mean_kl


def test_float32_front_end_reads_float32_values_without_an_fp16_round_trip(calibrated):
    model = onnx.load(str(calibrated[0] / ONNX_FILE))
    kept = sorted(set(frontend_nodes(model)) | upstream_closure(
        model.graph, [n.name for n in model.graph.node if n.op_type == "Log"]))
    half = to_fp16(model, kept)
    casts = {n.output[0]: next(a.i for a in n.attribute if a.name == "to") for n in half.graph.node
             if n.op_type == "Cast"}
    half_casts = {name for name, to in casts.items() if to == onnx.TensorProto.FLOAT16}
    round_trips = [n.name for n in half.graph.node
                   if n.op_type == "Cast" and casts[n.output[0]] == onnx.TensorProto.FLOAT and n.input[0] in half_casts]
    assert not round_trips  # float32 -> fp16 -> float32 loses what the float32 front end is for
    quiet = extreme_windows(np.random.default_rng(1).standard_normal((2, len(CHANNELS), WINDOW_SAMPLES))
                            .astype(np.float32) * 30)
    assert len(quiet) and np.all(np.isfinite(probabilities(half, quiet)))
