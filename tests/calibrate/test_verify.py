"""The parity comparison and the shipping decision on hand-made probabilities (no model needed)."""

from __future__ import annotations

import numpy as np

from calibrate.gates import Gates
from calibrate.shipping import plan_precisions
from calibrate.verify import HELD_OUT, ORT_FP32, REAL, TORCH_REFERENCE, EvalSet, ParityReport, compare

PRECISIONS = {TORCH_REFERENCE: "fp32", ORT_FP32: "fp32", "onnxruntime:fp16": "fp16", "onnxruntime:int8": "int8"}


def _probs(seed: int, n: int = 50) -> np.ndarray:
    return np.random.default_rng(seed).dirichlet(np.ones(6), n)


def _report(probs: dict[str, np.ndarray], ms: dict[str, float]) -> ParityReport:
    targets = _probs(9)
    data = EvalSet(HELD_OUT, np.zeros((50, 1, 1), np.float32), targets, "hand-made")
    results, gates = compare(probs, ms, data, precisions=PRECISIONS, gates=Gates())
    return ParityReport(({"name": HELD_OUT, "windows": 50, "note": ""},), tuple(results), tuple(gates),
                        {(r, HELD_OUT): p for r, p in probs.items()})


def test_an_overflowed_precision_fails_its_gates_instead_of_stopping_the_run():
    reference = _probs(0)
    overflowed = reference.copy()
    overflowed[3] = np.nan  # one window through an fp16 front end that overflowed
    report = _report({TORCH_REFERENCE: reference, ORT_FP32: reference, "onnxruntime:fp16": overflowed},
                     dict.fromkeys(PRECISIONS, 1.0))
    failed = {g.name for g in report.gates if g.runner == "onnxruntime:fp16" and not g.passed}
    assert failed == {"mean_kl_vs_fp32", "kaggle_kl_degradation"}
    assert report.result("onnxruntime:fp16", HELD_OUT).argmax_agreement == 49 / 50
    plan = plan_precisions(report)
    assert plan.verified == ("fp32",) and list(plan.rejected) == ["fp16"]
    assert plan.chosen == {"onnxruntime": "fp32", "tensorrt": "fp32"}


def test_the_cpu_runs_a_lower_precision_only_when_it_measured_faster_than_fp32():
    reference = _probs(0)
    probs = {TORCH_REFERENCE: reference, ORT_FP32: reference, "onnxruntime:fp16": reference,
             "onnxruntime:int8": reference}
    slower = plan_precisions(_report(probs, {TORCH_REFERENCE: 9.0, ORT_FP32: 10.0, "onnxruntime:fp16": 12.0,
                                             "onnxruntime:int8": 9.8}))  # int8 faster, but within the margin
    assert slower.verified == ("fp32", "fp16", "int8")
    assert slower.chosen == {"onnxruntime": "fp32", "tensorrt": "fp16"}
    faster = plan_precisions(_report(probs, {TORCH_REFERENCE: 9.0, ORT_FP32: 10.0, "onnxruntime:fp16": 8.0,
                                             "onnxruntime:int8": 6.0}))
    assert faster.chosen == {"onnxruntime": "int8", "tensorrt": "fp16"}
    built = plan_precisions(_report(probs, dict.fromkeys(PRECISIONS, 1.0)), tensorrt_built="int8")
    assert built.chosen["tensorrt"] == "int8"


def _swap_top_two(probs: np.ndarray, row: int) -> np.ndarray:
    out = probs.copy()
    first, second = np.argsort(probs[row])[-1], np.argsort(probs[row])[-2]
    out[row, [first, second]] = out[row, [second, first]]
    return out


def test_on_real_segments_only_a_flip_where_fp32_was_decided_fails_agreement():
    reference = np.full((12, 6), 0.1)
    reference[:, 0] = 0.5
    reference[0, :2] = [0.31, 0.29]  # segment 0: fp32 undecided (margin 0.02)
    reference[1, :2] = [0.4, 0.2]  # segment 1: fp32 decided (margin 0.2)
    reference /= reference.sum(axis=1, keepdims=True)
    data = EvalSet(REAL, np.zeros((12, 1, 1), np.float32), None, "hand-made")
    runners = {ORT_FP32: "fp32", "onnxruntime:int8": "int8"}

    def agreement_gate(int8: np.ndarray):
        results, gates = compare({ORT_FP32: reference, "onnxruntime:int8": int8}, dict.fromkeys(runners, 1.0), data,
                                 precisions=runners, gates=Gates())
        return results[-1], next(g for g in gates if g.name.startswith("argmax_agreement"))

    result, gate = agreement_gate(_swap_top_two(reference, 0))
    assert gate.passed and gate.name == "argmax_agreement_margin>0.05" and result.argmax_agreement == 11 / 12
    assert [i for i, _ in result.flips] == [0] and result.flips[0][1] < 0.05  # reported with fp32's margin
    result, gate = agreement_gate(_swap_top_two(reference, 1))
    assert not gate.passed and gate.value == 10 / 11


def test_on_held_out_windows_every_flip_counts():
    reference = _probs(0)
    two_flips = _swap_top_two(_swap_top_two(reference, 0), 1)
    report = _report({TORCH_REFERENCE: reference, ORT_FP32: reference, "onnxruntime:int8": two_flips},
                     dict.fromkeys(PRECISIONS, 1.0))
    gate = next(g for g in report.gates if g.runner == "onnxruntime:int8" and g.name == "argmax_agreement")
    assert gate.value == 48 / 50 and not gate.passed
