"""Post-hoc temperature scaling, fitted on held-out patients at the end of `train fit`.

One temperature T divides the shipped model's logits (train.models.layers.Temperature, a buffer saved
in weights.safetensors and traced into model.onnx), so every backend emits softmax(logits / T). T is
fitted by minimising the soft-target cross-entropy (equivalently the Kaggle KL) of the out-of-fold
predictions: every fold's validation rows, patients the predicting model never saw. One scalar keeps
the argmax, and so accuracy and the confusion matrix, unchanged.

The figures reported are cross-fitted, so T never sees the rows it is scored on: the held-out
patients are split in two halves, a temperature fitted on one half calibrates the other and vice
versa; "before" and "after" are the same rows. The shipped T is then fitted on all held-out rows.

ECE is class-wise: for each class, the predicted probabilities are put in N_BINS equal-width bins
over [0, 1]; ECE_c = sum over bins of (rows in bin / rows) * |mean predicted - mean expert vote share|;
the reported ECE is the mean of ECE_c over the six classes. Brier: mean over rows of sum_c (p_c - y_c)^2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from train.metric import score

N_BINS = 10
MIN_PATIENTS = 2  # the cross-fit needs a patient in each half
LOG_T_BOUNDS = (np.log(0.05), np.log(20.0))
TINY = 1e-30  # floor before the log: softmax outputs of 0 (float32 underflow) stay finite


@dataclass(frozen=True)
class CalibrationFigures:
    kl: float  # Kaggle KL
    brier: float
    ece: float  # mean of ece_per_class
    ece_per_class: tuple[float, ...]


@dataclass(frozen=True)
class CalibrationResult:
    temperature: float  # shipped: fitted on every held-out row
    half_temperatures: tuple[float, float]  # the cross-fit's two temperatures
    rows: int
    patients: int
    before: CalibrationFigures
    after: CalibrationFigures  # cross-fitted
    method: str = (f"temperature scaling; cross-fitted over two halves of the held-out patients; class-wise ECE, "
                   f"{N_BINS} equal-width bins")


def scale_probs(probs: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(logits / T) from softmax(logits): log p equals the logits up to a per-row constant."""
    scaled = np.log(np.maximum(probs, TINY)) / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    out = np.exp(scaled)
    return out / out.sum(axis=1, keepdims=True)


def soft_cross_entropy(targets: np.ndarray, probs: np.ndarray) -> float:
    return float(-(targets * np.log(np.maximum(probs, TINY))).sum(axis=1).mean())


def fit_temperature(targets: np.ndarray, probs: np.ndarray) -> float:
    """The T in [0.05, 20] minimising the soft-target cross-entropy of scale_probs(probs, T)."""
    from scipy.optimize import minimize_scalar

    result = minimize_scalar(lambda log_t: soft_cross_entropy(targets, scale_probs(probs, float(np.exp(log_t)))),
                             bounds=LOG_T_BOUNDS, method="bounded", options={"xatol": 1e-4})
    return float(np.exp(result.x))


def reliability_bins(target: np.ndarray, prob: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per equal-width bin of `prob` (one class): rows, mean predicted, mean vote share (NaN when empty)."""
    index = np.minimum((prob * N_BINS).astype(int), N_BINS - 1)
    counts = np.bincount(index, minlength=N_BINS)
    with np.errstate(invalid="ignore"):
        mean_pred = np.bincount(index, weights=prob, minlength=N_BINS) / counts
        mean_target = np.bincount(index, weights=target, minlength=N_BINS) / counts
    return counts, mean_pred, mean_target


def classwise_ece(targets: np.ndarray, probs: np.ndarray) -> np.ndarray:
    ece = np.zeros(targets.shape[1])
    for c in range(targets.shape[1]):
        counts, mean_pred, mean_target = reliability_bins(targets[:, c], probs[:, c])
        filled = counts > 0
        ece[c] = float((counts[filled] * np.abs(mean_pred[filled] - mean_target[filled])).sum() / counts.sum())
    return ece


def figures(targets: np.ndarray, probs: np.ndarray) -> CalibrationFigures:
    ece = classwise_ece(targets, probs)
    return CalibrationFigures(kl=score(targets, probs), brier=float(((probs - targets) ** 2).sum(axis=1).mean()),
                              ece=float(ece.mean()), ece_per_class=tuple(float(v) for v in ece))


def patient_halves(patient_ids: np.ndarray, seed: int) -> np.ndarray:
    """True for the rows of a random half of the patients (at least one patient on each side)."""
    patients = np.unique(patient_ids)
    chosen = np.random.default_rng(seed).permutation(patients)[:len(patients) // 2]
    return np.isin(patient_ids, chosen)


def cross_fit(targets: np.ndarray, probs: np.ndarray, first_half: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """Every row scaled by the temperature fitted on the other half; returns (probs, (T_first, T_second))."""
    out = np.empty_like(probs)
    temperatures = []
    for fit_rows in (first_half, ~first_half):
        t = fit_temperature(targets[fit_rows], probs[fit_rows])
        out[~fit_rows] = scale_probs(probs[~fit_rows], t)
        temperatures.append(t)
    return out, (temperatures[0], temperatures[1])


def calibrate(targets: np.ndarray, probs: np.ndarray, patient_ids: np.ndarray, *,
              seed: int) -> tuple[CalibrationResult, np.ndarray] | None:
    """The shipped temperature and the before/after figures, with the cross-fitted probabilities they score.

    None when the held-out rows hold fewer than MIN_PATIENTS patients (nothing to cross-fit on).
    """
    patients = len(np.unique(patient_ids))
    if patients < MIN_PATIENTS:
        return None
    after, halves = cross_fit(targets, probs, patient_halves(patient_ids, seed))
    result = CalibrationResult(temperature=fit_temperature(targets, probs), half_temperatures=halves,
                               rows=len(targets), patients=patients, before=figures(targets, probs),
                               after=figures(targets, after))
    return result, after
