"""The Kaggle HMS metric: KL divergence of predicted from expert vote distributions.

Same arithmetic as the competition's scorer: predictions clipped to [eps, 1 - eps] WITHOUT
renormalisation, 0 * log 0 = 0 (classes no expert voted for contribute nothing), the per-row sum
over the six classes, then the mean over rows.
"""

from __future__ import annotations

import numpy as np

from edge.contract import CLASSES
from edge.errors import DataError

EPSILON = 1e-15
# Rows must sum to 1 within this absolute tolerance. float32 softmax over six classes is exact to a
# few 1e-7, and probabilities written to CSV with 6 decimals can drift by up to 6 * 5e-7 = 3e-6;
# logits, percentages or forgotten softmaxes are off by far more than 1e-5.
SUM_TOLERANCE = 1e-5


def _check_distributions(name: str, values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != len(CLASSES):
        raise DataError(f"{name} must have shape [rows, {len(CLASSES)}] (classes {', '.join(CLASSES)}), "
                        f"got {values.shape}")
    if not np.isfinite(values).all():
        rows = int((~np.isfinite(values)).any(axis=1).sum())
        raise DataError(f"{name}: {rows} of {len(values)} rows contain NaN or Inf")
    if (values < 0).any():
        rows = int((values < 0).any(axis=1).sum())
        raise DataError(f"{name}: {rows} of {len(values)} rows contain negative probabilities")
    off = np.abs(values.sum(axis=1) - 1.0) > SUM_TOLERANCE
    if off.any():
        first = int(np.flatnonzero(off)[0])
        raise DataError(f"{name}: {int(off.sum())} of {len(values)} rows do not sum to 1 (tolerance "
                        f"{SUM_TOLERANCE:g}; first is row {first}, sum {values[first].sum():.6g}); pass probabilities, "
                        f"not logits or vote counts")
    return values


def kl_terms(targets: np.ndarray, preds: np.ndarray) -> np.ndarray:
    """Per-row, per-class terms targets * log(targets / clip(preds)) [rows, 6]; 0 where no expert voted."""
    targets = _check_distributions("targets", targets)
    preds = _check_distributions("preds", preds)
    if targets.shape != preds.shape:
        raise DataError(f"targets {targets.shape} and preds {preds.shape} must have the same shape")
    if len(targets) == 0:
        raise DataError("cannot score zero rows")
    clipped = np.clip(preds, EPSILON, 1 - EPSILON)
    positive = targets > 0
    terms = np.zeros_like(targets)
    terms[positive] = targets[positive] * np.log(targets[positive] / clipped[positive])
    return terms


def score(targets: np.ndarray, preds: np.ndarray) -> float:
    """Mean over rows of KL(targets || clip(preds)); lower is better, 0 is perfect."""
    return float(kl_terms(targets, preds).sum(axis=1).mean())


def class_prior(targets: np.ndarray) -> np.ndarray:
    """Mean soft target per class: the constant prediction that minimises the KL over these rows."""
    targets = _check_distributions("targets", targets)
    if len(targets) == 0:
        raise DataError("cannot compute a class prior from zero rows")
    return targets.mean(axis=0)
