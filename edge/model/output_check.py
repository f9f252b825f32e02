"""Is a model's output a batch of probability distributions? One check, used when a bundle loads (a probe
with a reference input: edge.model.engine.Engine) and on every batch at run time.

A bundle whose graph ends in logits, gives integers, or has another shape would otherwise be read as
probabilities: predictions, burden and alarms from numbers that are not probabilities. Verified here with
onnxruntime; the TensorRT backend (not runnable here) hands its output over as float32, so there the dtype
check cannot fire, while the shape and value checks still do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# Each value in [0, 1] and each row summing to 1 within this: float32 softmax outputs sum to 1 within
# ~1e-6; fp16/int8 graphs within ~1e-4 (calibrate's parity gates); logits or unnormalised scores miss by far more.
PROB_TOLERANCE = 1e-3


@dataclass(frozen=True)
class CheckedOutput:
    probs: np.ndarray  # [rows, classes] float32; a row with a problem holds NaN, never a number to use
    problems: tuple[str | None, ...]  # per row: None, or one line saying what is wrong with it
    whole_batch: bool = False  # the batch failed as a whole (type, dtype, shape, or the backend raised)

    @classmethod
    def failed(cls, rows: int, classes: int, problem: str) -> CheckedOutput:
        return cls(np.full((rows, classes), np.nan, np.float32), (problem,) * rows, whole_batch=True)

    @classmethod
    def concat(cls, parts: list[CheckedOutput], classes: int) -> CheckedOutput:
        if not parts:
            return cls(np.zeros((0, classes), np.float32), ())
        return cls(np.concatenate([p.probs for p in parts]), sum((p.problems for p in parts), ()),
                   whole_batch=any(p.whole_batch for p in parts))


def check_output(output: Any, *, rows: int, classes: int, name: str = "output",
                 tolerance: float = PROB_TOLERANCE) -> CheckedOutput:
    """`output` as the backend gave it (None when the named output is absent), for a batch of `rows` windows."""
    whole = _structure_problem(output, rows=rows, classes=classes)
    if whole is not None:
        return CheckedOutput.failed(rows, classes, f"{name} {whole}")
    probs = np.array(output, dtype=np.float32, copy=True)
    problems = tuple(_row_problem(row, tolerance) for row in probs)
    probs[[p is not None for p in problems]] = np.nan
    return CheckedOutput(probs, tuple(None if p is None else f"{name} {p}" for p in problems))


def first_problem(checked: CheckedOutput) -> str | None:
    return next((p for p in checked.problems if p is not None), None)


def _structure_problem(output: Any, *, rows: int, classes: int) -> str | None:
    if output is None:
        return "is missing from the model's outputs"
    if not isinstance(output, np.ndarray):
        return f"is a {type(output).__name__}, not an array"
    if output.dtype != np.float32:
        return f"has dtype {output.dtype}, not float32 probabilities"
    if output.shape != (rows, classes):
        return (f"has shape {list(output.shape)} for a batch of {rows}, not [batch, classes] = [{rows}, {classes}]"
                + (" (is the batch fixed in the graph?)" if output.ndim >= 1 and output.shape[0] != rows else ""))
    return None


def _row_problem(row: np.ndarray, tolerance: float) -> str | None:
    if not np.all(np.isfinite(row)):
        return "holds non-finite values (NaN or Inf)"
    low, high, total = float(row.min()), float(row.max()), float(row.sum(dtype=np.float64))
    if low < -tolerance or high > 1 + tolerance:
        return (f"has values from {low:.3g} to {high:.3g}, outside [0, 1]: logits or scores, not probabilities "
                "(end the graph in a softmax)")
    if abs(total - 1.0) > tolerance:
        return f"sums to {total:.4g}, not 1 within {tolerance:g}: not a probability distribution"
    return None
