"""Parity harness: the same windows through every runner edge has (edge.model.backends) plus the torch reference.

Each runner is a Backend (`infer(feed) -> outputs`): onnxruntime on each precision's graph, TensorRT on
the bundle's engine when this machine can run it, and the trained torch model
(calibrate.reference.TorchReference) behind the same interface. Two sets of windows: held-out windows
of the labelled data (patients not used for calibration) and real expert-voted EEG segments. torch is
the reference for onnxruntime fp32 (export parity); onnxruntime fp32 is the reference for every other
precision (fp16, int8, TensorRT). Held-out windows are also scored with the Kaggle KL to the votes.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from calibrate.gates import GateResult, Gates
from calibrate.sensitivity import agreement, mean_kl, renormalised
from edge.errors import SpecError
from edge.model.backends import REFERENCE_PRECISION, Backend
from train.metric import score

TORCH_REFERENCE = "torch:fp32"
ORT_FP32 = "onnxruntime:fp32"
HELD_OUT, REAL = "held-out", "real"


def runner_label(backend: Backend) -> str:
    return f"{backend.name}:{backend.precision}"


@dataclass(frozen=True)
class VerifyConfig:
    windows: int = 256
    batch: int = 16
    seed: int = 1

    def validate(self) -> VerifyConfig:
        if self.windows <= 0 or self.batch <= 0:
            raise SpecError(f"verify windows and batch must be > 0, got {self.windows} and {self.batch}")
        return self


@dataclass(frozen=True)
class EvalSet:
    name: str
    eeg: np.ndarray = field(repr=False)  # [N, channels, samples] float32
    targets: np.ndarray | None = field(repr=False)  # vote distributions, or None
    note: str
    excluded: dict[str, int] = field(default_factory=dict)  # windows the bedside gate refused, by reason


@dataclass(frozen=True)
class RunnerResult:
    runner: str
    precision: str
    data: str
    windows: int
    ms_per_window: float
    kaggle_kl: float | None = None
    reference: str | None = None
    max_abs_diff: float | None = None
    mean_kl: float | None = None  # mean over windows of KL(reference || this runner)
    argmax_agreement: float | None = None
    # windows whose top class differs from the reference's: (window, the reference's top-2 probability margin)
    flips: tuple[tuple[int, float], ...] = ()


@dataclass(frozen=True)
class ParityReport:
    sets: tuple[dict, ...]
    results: tuple[RunnerResult, ...]
    gates: tuple[GateResult, ...]
    probs: dict[tuple[str, str], np.ndarray] = field(repr=False, compare=False)

    def runner_passed(self, runner: str) -> bool:
        return all(g.passed for g in self.gates if g.runner == runner)

    @property
    def fp32_passed(self) -> bool:
        return self.runner_passed(ORT_FP32)

    def result(self, runner: str, data: str) -> RunnerResult | None:
        return next((r for r in self.results if r.runner == runner and r.data == data), None)

    def to_dict(self) -> dict:
        return {"sets": list(self.sets), "results": [asdict(r) for r in self.results],
                "gates": [asdict(g) | {"passed": g.passed} for g in self.gates], "fp32_passed": self.fp32_passed}


def run_runners(runners: dict[str, Backend], eeg: np.ndarray, *, input_name: str, output_name: str,
                batch: int) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Probabilities [N, classes] and milliseconds per window of every runner; runners take turns batch by batch,
    so a busy machine slows them alike."""
    outputs: dict[str, list[np.ndarray]] = {name: [] for name in runners}
    seconds = dict.fromkeys(runners, 0.0)
    for start in range(0, len(eeg), batch):
        feed = {input_name: np.ascontiguousarray(eeg[start:start + batch])}
        for name, runner in runners.items():
            began = time.perf_counter()
            outputs[name].append(np.asarray(runner.infer(feed)[output_name], dtype=np.float64))
            seconds[name] += time.perf_counter() - began
    return ({name: np.concatenate(parts) for name, parts in outputs.items()},
            {name: 1000 * s / len(eeg) for name, s in seconds.items()})


def top2_margin(probs: np.ndarray) -> np.ndarray:
    """Per window, the top class's probability minus the runner-up's: near 0 where the model is undecided."""
    top = np.sort(probs, axis=1)
    return top[:, -1] - top[:, -2]


def flipped(reference: np.ndarray, probs: np.ndarray) -> tuple[tuple[int, float], ...]:
    """(window, reference's top-2 margin) of every window whose top class changed (or went non-finite)."""
    changed = (reference.argmax(axis=1) != probs.argmax(axis=1)) | ~np.all(np.isfinite(probs), axis=1)
    margins = top2_margin(reference)
    return tuple((int(i), float(margins[i])) for i in np.flatnonzero(changed))


def _reference_of(runner: str) -> str | None:
    if runner == TORCH_REFERENCE:
        return None
    return TORCH_REFERENCE if runner == ORT_FP32 else ORT_FP32


def _kaggle_kl(targets: np.ndarray, probs: np.ndarray) -> float:
    """Kaggle KL to the votes; infinite for a runner that produced NaN or inf (an overflowed fp16 graph), which
    then fails its gates instead of stopping the run."""
    return float(score(targets, renormalised(probs))) if np.all(np.isfinite(probs)) else float("inf")


def compare(probs: dict[str, np.ndarray], ms: dict[str, float], data: EvalSet, *, precisions: dict[str, str],
            gates: Gates) -> tuple[list[RunnerResult], list[GateResult]]:
    results, checks = [], []
    for runner, p in probs.items():
        kaggle = _kaggle_kl(data.targets, p) if data.targets is not None else None
        ref = _reference_of(runner)
        if ref not in probs:
            results.append(RunnerResult(runner, precisions[runner], data.name, len(p), ms[runner], kaggle))
            continue
        diff = float(np.abs(p - probs[ref]).max()) if np.all(np.isfinite(p)) else float("inf")
        kl, agree = mean_kl(probs[ref], p), agreement(probs[ref], p)
        results.append(RunnerResult(runner, precisions[runner], data.name, len(p), ms[runner], kaggle, ref, diff, kl,
                                    agree, flipped(probs[ref], p)))
        if runner == ORT_FP32:
            checks.append(GateResult("max_abs_diff_vs_torch", runner, data.name, diff, gates.fp32_max_abs_diff))
            continue
        checks.append(GateResult("mean_kl_vs_fp32", runner, data.name, kl, gates.max_mean_kl))
        if data.name == REAL:  # see Gates.real_decisive_margin
            decided = top2_margin(probs[ref]) > gates.real_decisive_margin
            checks.append(GateResult(f"argmax_agreement_margin>{gates.real_decisive_margin:g}", runner, data.name,
                                     agreement(probs[ref][decided], p[decided]) if decided.any() else 1.0,
                                     gates.min_argmax_agreement, at_least=True))
        else:
            checks.append(GateResult("argmax_agreement", runner, data.name, agree, gates.min_argmax_agreement,
                                     at_least=True))
        if kaggle is not None and data.name == HELD_OUT:  # a dozen real segments are too few to score
            degradation = kaggle - _kaggle_kl(data.targets, probs[ref])
            checks.append(GateResult("kaggle_kl_degradation", runner, data.name, degradation,
                                     gates.max_kaggle_kl_degradation))
    return results, checks


def verify(runners: dict[str, Backend], sets: list[EvalSet], *, input_name: str, output_name: str,
           config: VerifyConfig | None = None, gates: Gates | None = None,
           graph_gates: tuple[GateResult, ...] = ()) -> ParityReport:
    """Every runner on every set, compared with its reference; ``graph_gates`` are checks on the files themselves."""
    config, gates = config or VerifyConfig(), gates or Gates()
    config.validate()
    gates.validate()
    if ORT_FP32 not in runners or TORCH_REFERENCE not in runners:
        raise SpecError(f"verify needs the {TORCH_REFERENCE} and {ORT_FP32} runners, got {', '.join(runners)}")
    precisions = {name: getattr(r, "precision", REFERENCE_PRECISION) for name, r in runners.items()}
    results, checks, all_probs = [], list(graph_gates), {}
    for data in sets:
        probs, ms = run_runners(runners, data.eeg, input_name=input_name, output_name=output_name, batch=config.batch)
        found, gated = compare(probs, ms, data, precisions=precisions, gates=gates)
        results += found
        checks += gated
        all_probs.update({(runner, data.name): p for runner, p in probs.items()})
    sets_info = tuple({"name": s.name, "windows": len(s.eeg), "note": s.note, "excluded_by_bedside_gate": s.excluded}
                      for s in sets)
    return ParityReport(sets_info, tuple(results), tuple(checks), all_probs)
