"""Parity harness: the same held-out windows through every backend, compared step by step against the previous one.

torch fp32 is the reference for onnxruntime fp32 (export parity); onnxruntime fp32 is the reference
for onnxruntime int8 and TensorRT (quantization/compilation parity). Every backend is also scored with
the Kaggle KL against the expert votes, so a degradation is measured where it matters.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from calibrate.calib_data import WindowSource, load_windows
from calibrate.gates import GateResult, Gates
from edge.errors import SpecError
from train.metric import score

Runner = Callable[[np.ndarray], np.ndarray]
TORCH, ORT_FP32, ORT_INT8, TENSORRT = "torch", "ort_fp32", "ort_int8", "tensorrt"
# Which backend each one is compared with; quantized backends face the int8 gates.
REFERENCE = {ORT_FP32: TORCH, ORT_INT8: ORT_FP32, TENSORRT: ORT_FP32}
QUANTIZED = (ORT_INT8, TENSORRT)


@dataclass(frozen=True)
class VerifyConfig:
    windows: int = 256
    batch: int = 16
    seed: int = 1

    def validate(self) -> None:
        if self.windows <= 0 or self.batch <= 0:
            raise SpecError(f"verify windows and batch must be > 0, got {self.windows} and {self.batch}")


@dataclass(frozen=True)
class BackendResult:
    name: str
    kaggle_kl: float
    ms_per_window: float
    reference: str | None = None
    max_abs_diff: float | None = None
    mean_kl: float | None = None  # mean over windows of KL(reference || this backend)
    argmax_agreement: float | None = None


@dataclass(frozen=True)
class ParityReport:
    windows: int
    patients: int
    holdout: str
    backends: tuple[BackendResult, ...]
    gates: tuple[GateResult, ...]
    probs: dict[str, np.ndarray] = field(repr=False, compare=False)

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)

    def to_dict(self) -> dict:
        return {"windows": self.windows, "patients": self.patients, "holdout": self.holdout,
                "backends": [asdict(b) for b in self.backends],
                "gates": [asdict(g) | {"passed": g.passed} for g in self.gates], "passed": self.passed}


def torch_runner(prob_model) -> Runner:
    import torch

    def run(eeg: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return prob_model(torch.from_numpy(eeg)).numpy()

    return run


def onnxruntime_runner(path: str | Path) -> Runner:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    return lambda eeg: session.run(None, {input_name: eeg})[0]


def run_backends(runners: dict[str, Runner], source: WindowSource, indices: np.ndarray,
                 batch: int) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Probabilities [N, classes] and milliseconds per window of every backend, batch by batch."""
    outputs: dict[str, list[np.ndarray]] = {name: [] for name in runners}
    seconds = dict.fromkeys(runners, 0.0)
    for start in range(0, len(indices), batch):
        eeg = load_windows(source, indices[start:start + batch])
        for name, run in runners.items():
            began = time.perf_counter()
            outputs[name].append(np.asarray(run(eeg), dtype=np.float64))
            seconds[name] += time.perf_counter() - began
    return ({name: np.concatenate(parts) for name, parts in outputs.items()},
            {name: 1000 * s / len(indices) for name, s in seconds.items()})


def compare_backends(probs: dict[str, np.ndarray], targets: np.ndarray, ms: dict[str, float],
                     gates: Gates) -> tuple[tuple[BackendResult, ...], tuple[GateResult, ...]]:
    gates.validate()
    results, checks = [], []
    kaggle = {name: score(targets, p) for name, p in probs.items()}
    for name, p in probs.items():
        ref = REFERENCE.get(name)
        if ref not in probs:
            results.append(BackendResult(name, kaggle[name], ms[name]))
            continue
        diff = float(np.abs(p - probs[ref]).max())
        mean_kl = score(probs[ref], p)
        agreement = float((p.argmax(axis=1) == probs[ref].argmax(axis=1)).mean())
        results.append(BackendResult(name, kaggle[name], ms[name], ref, diff, mean_kl, agreement))
        if name in QUANTIZED:
            checks.append(GateResult("mean_kl_vs_fp32", name, mean_kl, gates.int8_mean_kl))
            checks.append(GateResult("kaggle_kl_degradation", name, kaggle[name] - kaggle[ref],
                                     gates.int8_kaggle_kl_degradation))
        else:
            checks.append(GateResult("max_abs_diff_vs_torch", name, diff, gates.fp32_max_abs_diff))
    return tuple(results), tuple(checks)


def verify(runners: dict[str, Runner], source: WindowSource, indices: np.ndarray, holdout: str,
           config: VerifyConfig | None = None, gates: Gates | None = None) -> ParityReport:
    config, gates = config or VerifyConfig(), gates or Gates()
    config.validate()
    probs, ms = run_backends(runners, source, indices, config.batch)
    targets = np.asarray(source.targets, dtype=np.float64)[indices]
    backends, checks = compare_backends(probs, targets, ms, gates)
    patients = len(np.unique(np.asarray(source.patient_ids)[indices]))
    return ParityReport(len(indices), patients, holdout, backends, checks, probs)
