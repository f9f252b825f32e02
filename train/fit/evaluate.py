"""Held-out evaluation: run a model over windows (no augmentation, under no_grad), score it with the Kaggle KL,
fit the shipped temperature on the out-of-fold predictions; and `train eval` / `train predict` on a bundle.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edge.contract import CLASSES, VOTE_COLUMNS, window_for_kaggle_label
from edge.errors import DataError
from edge.model.bundle import atomic_write
from edge.model.model_spec import ModelSpec
from train.metric import class_prior, kl_terms, score


def window_batches(windows, rows: np.ndarray, batch_size: int, *, device: torch.device) -> Iterator[torch.Tensor]:
    """The unshifted windows of `rows`, in order, as float32 [B, 20, T] tensors on `device`."""
    for start in range(0, len(rows), batch_size):
        batch = np.stack([windows.window(int(r)) for r in rows[start:start + batch_size]]).astype(np.float32)
        yield torch.from_numpy(batch).to(device)


@torch.no_grad()
def predict_probs(model: torch.nn.Module, windows, rows: np.ndarray, *, batch_size: int,
                  device: torch.device) -> np.ndarray:
    """Softmax probabilities [len(rows), 6] for the unshifted windows of `rows`, in order."""
    was_training = model.training
    model.eval()
    out = []
    for batch in window_batches(windows, rows, batch_size, device=device):
        logits = model(batch)
        out.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
    model.train(was_training)
    return np.concatenate(out).astype(np.float64) if out else np.zeros((0, len(CLASSES)))


@dataclass(frozen=True)
class ClassFigures:
    name: str
    mean_target: float  # share of expert votes
    mean_pred: float
    kl_share: float  # this class's part of the mean KL
    recall: float  # argmax(pred) == class among rows whose target argmax is the class
    rows: int  # rows whose target argmax is the class


@dataclass(frozen=True)
class EvalReport:
    rows: int
    kl: float
    prior_kl: float  # class-prior prediction on the same rows
    accuracy: float  # argmax agreement
    classes: tuple[ClassFigures, ...]
    confusion: tuple[tuple[int, ...], ...]  # [target argmax][pred argmax]


def confusion_matrix(targets: np.ndarray, preds: np.ndarray) -> np.ndarray:
    matrix = np.zeros((len(CLASSES), len(CLASSES)), dtype=np.int64)
    np.add.at(matrix, (targets.argmax(1), preds.argmax(1)), 1)
    return matrix


def evaluate_predictions(targets: np.ndarray, preds: np.ndarray, prior: np.ndarray | None = None) -> EvalReport:
    """Scores `preds` against `targets`; the baseline predicts `prior` ([6] or one per row; default: the
    targets' own mean, the best constant in hindsight)."""
    prior = class_prior(targets) if prior is None else prior
    terms = kl_terms(targets, preds)
    matrix = confusion_matrix(targets, preds)
    classes = tuple(
        ClassFigures(name=name, mean_target=float(targets[:, c].mean()), mean_pred=float(preds[:, c].mean()),
                     kl_share=float(terms[:, c].mean()),
                     recall=float(matrix[c, c] / matrix[c].sum()) if matrix[c].sum() else float("nan"),
                     rows=int(matrix[c].sum()))
        for c, name in enumerate(CLASSES)
    )
    return EvalReport(rows=len(targets), kl=score(targets, preds),
                      prior_kl=score(targets, np.broadcast_to(prior, targets.shape)),
                      accuracy=float(np.trace(matrix) / max(len(targets), 1)), classes=classes,
                      confusion=tuple(tuple(int(v) for v in row) for row in matrix))


# ----------------------------------------------------------------------------------------------------
# Temperature calibration
# Post-hoc temperature scaling, fitted on held-out patients at the end of `train fit`.
#
# One temperature T divides the shipped model's logits (train.models.layers.Temperature, a buffer saved
# in weights.safetensors and traced into model.onnx), so every backend emits softmax(logits / T). T is
# fitted by minimising the soft-target cross-entropy (equivalently the Kaggle KL) of the out-of-fold
# predictions: every fold's validation rows, patients the predicting model never saw. One scalar keeps
# the argmax, and so accuracy and the confusion matrix, unchanged.
#
# The figures reported are cross-fitted, so T never sees the rows it is scored on: the held-out
# patients are split in two halves, a temperature fitted on one half calibrates the other and vice
# versa; "before" and "after" are the same rows. The shipped T is then fitted on all held-out rows.
#
# ECE is class-wise: for each class, the predicted probabilities are put in N_BINS equal-width bins
# over [0, 1]; ECE_c = sum over bins of (rows in bin / rows) * |mean predicted - mean expert vote share|;
# the reported ECE is the mean of ECE_c over the six classes. Brier: mean over rows of sum_c (p_c - y_c)^2.
# ----------------------------------------------------------------------------------------------------

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


# ----------------------------------------------------------------------------------------------------
# `train eval` and `train predict` on a bundle
# ----------------------------------------------------------------------------------------------------


def predict_bundle(bundle: str | Path, data_dir: str | Path, *, split: str, device: str,
                   batch_size: int) -> tuple[Any, np.ndarray, ModelSpec]:
    """Bundle -> device -> probabilities for every unshifted window of a Kaggle layout split, in row order.

    The one inference path of `train eval` and `train predict`; returns (windows, probs [rows, 6], spec). Each
    row's window is cut for the bundle's lookahead, as the model was trained (a causal L = 0 model sees the 50 s
    ending with its labelled 10 s, not the Kaggle-centred one).
    """
    from train.checkpoint import load_bundle_model
    from train.data import build_window_set
    from train.fit.distributed import resolve_device

    model, spec = load_bundle_model(bundle)
    windows = build_window_set(data_dir, split=split, margin=0, lookahead_s=spec.lookahead_s)
    dev = resolve_device(device)
    probs = predict_probs(model.to(dev), windows, np.arange(len(windows)), batch_size=batch_size, device=dev)
    return windows, probs, spec


def evaluate_bundle(bundle: str | Path, data_dir: str | Path, device: str = "auto",
                    *, batch_size: int = 32) -> EvalReport:
    """`train eval`: score a bundle on a labelled Kaggle layout (prior baseline from the bundle's training data)."""
    windows, probs, spec = predict_bundle(bundle, data_dir, split="train", device=device, batch_size=batch_size)
    if windows.targets is None:
        raise DataError(f"{data_dir} has no vote columns to evaluate against; use `train predict` for test data")
    prior = spec.training.get("data", {}).get("class_prior")
    return evaluate_predictions(np.asarray(windows.targets, dtype=np.float64), probs,
                                None if prior is None else np.asarray(prior, dtype=np.float64))


def evaluate_bundle_on_segments(bundle: Path, data: Path, *, backend: str = "auto") -> dict[str, Any]:
    """A bundle's Kaggle KL on labelled real segments (e.g. the 12 of sparcnet_iiic, Jing et al., Neurology 2023)
    beside the class prior of its training data and the published SPaRCNet probabilities of the same segments,
    with each segment's KL, the confusion (expert majority -> model top class) and p(seizure) where >= 2/3 of the
    experts voted seizure.

    ``backend``: "torch" (the bundle's weights), "onnx" (its model.onnx through the edge engine: what ships;
    the package's default bundle has no weights) or "auto" (torch when the bundle has weights). Each segment is
    scored for its labelled centre, as `edge predict --kaggle` does. SPaRCNet's probabilities are printed to 4
    decimals, so their rows are renormalised to sum to 1 first. Gaps (NaN) are filled with each channel's mean,
    as in training.
    """
    from train.data.sparcnet import filled_eeg, load_segments, vote_targets

    segments = load_segments(data, columns=("file", *VOTE_COLUMNS, *(f"sparcnet_p_{c}" for c in CLASSES)))
    eeg = filled_eeg(segments)
    probs, spec = segment_probs(Path(bundle), eeg, backend=backend)
    targets = vote_targets(segments)
    sparcnet = np.array([[float(s.row[f"sparcnet_p_{c}"]) for c in CLASSES] for s in segments])
    sparcnet /= sparcnet.sum(1, keepdims=True)
    prior = spec.training.get("data", {}).get("class_prior")
    seizure = CLASSES.index("seizure")
    return {
        "bundle": Path(bundle).name, "model": spec.model, "lookahead_s": spec.lookahead_s, "segments": len(segments),
        **segment_figures(targets, probs),
        "kl_class_prior": None if prior is None else score(targets, np.broadcast_to(np.asarray(prior), targets.shape)),
        "kl_sparcnet": score(targets, sparcnet),
        "argmax_agreement_sparcnet": float((sparcnet.argmax(1) == targets.argmax(1)).mean()),
        "per_segment": [{"file": s.path.name, "expert_majority": CLASSES[int(t.argmax())],
                         "model_top": CLASSES[int(p.argmax())], "model_p_top": round(float(p.max()), 3),
                         "model_p_seizure": round(float(p[seizure]), 3), "kl": round(float(kl), 4)}
                        for s, t, p, kl in zip(segments, targets, probs, kl_terms(targets, probs).sum(1), strict=True)],
    }


def segment_figures(targets: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    """The figures a model is judged on for labelled real segments (docs/benchmarks.md, "default-model"), from
    expert-vote targets and probabilities [N, 6]: Kaggle KL, top-class agreement with the expert majority,
    p(seizure) wherever >= 2/3 of the experts voted seizure, how many GPD segments have seizure as their top class,
    and the confusion (expert majority -> model top class)."""
    truth, top = targets.argmax(1), probs.argmax(1)
    seizure, gpd = CLASSES.index("seizure"), CLASSES.index("gpd")
    return {
        "kl_model": score(targets, probs),
        "argmax_agreement_model": float((top == truth).mean()),
        "p_seizure_where_2of3_votes": [round(float(p), 3) for p in probs[targets[:, seizure] >= 2 / 3 - 1e-9, seizure]],
        "gpd_top_seizure": int(((truth == gpd) & (top == seizure)).sum()),
        "confusion": {CLASSES[c]: {CLASSES[k]: int(((truth == c) & (top == k)).sum()) for k in range(len(CLASSES))
                                   if ((truth == c) & (top == k)).any()} for c in sorted(set(truth.tolist()))},
    }


def segment_probs(bundle: Path, eeg: np.ndarray, *, backend: str = "auto") -> tuple[np.ndarray, ModelSpec]:
    """float64 [N, 6] probabilities of each labelled centre of ``eeg`` [N, 20, T], and the bundle's spec."""
    from edge.model.bundle import WEIGHTS_FILE

    if backend not in ("auto", "torch", "onnx"):
        raise DataError(f"backend must be auto, torch or onnx, got {backend!r}")
    if backend == "onnx" or (backend == "auto" and not (bundle / WEIGHTS_FILE).is_file()):
        from edge.model.engine import Engine

        with Engine(bundle, "onnxruntime") as engine:
            windows = labelled_centres(eeg, lookahead_s=engine.spec.lookahead_s)
            return np.asarray(engine.predict(windows), dtype=np.float64), engine.spec
    from train.checkpoint import load_bundle_model

    model, spec = load_bundle_model(bundle)
    return model_segment_probs(model, eeg, lookahead_s=spec.lookahead_s), spec


def model_segment_probs(model: torch.nn.Module, eeg: np.ndarray, *, lookahead_s: float) -> np.ndarray:
    """float64 [N, 6]: a torch model's probabilities for the labelled centre of each of ``eeg`` [N, 20, T]."""
    windows = labelled_centres(eeg, lookahead_s=lookahead_s)
    was_training = model.training
    with torch.no_grad():
        probs = torch.softmax(model.eval()(torch.from_numpy(windows)).double(), dim=1).numpy()
    model.train(was_training)
    return probs


def labelled_centres(eeg: np.ndarray, *, lookahead_s: float) -> np.ndarray:
    """[N, 20, WINDOW_SAMPLES]: the model window of each segment in ``eeg`` [N, 20, T] labelled on its centre 10 s,
    as `edge predict --kaggle` cuts it for a model with this lookahead."""
    return np.stack([window_for_kaggle_label(w, lookahead_s) for w in eeg])


def mean_by_eeg(eeg_ids: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One row per eeg_id (first-appearance order): the mean of its windows' probabilities."""
    unique, first, inverse = np.unique(eeg_ids, return_index=True, return_inverse=True)
    sums = np.zeros((len(unique), probs.shape[1]))
    np.add.at(sums, inverse, probs)
    means = sums / np.bincount(inverse)[:, None]
    order = np.argsort(first)
    return unique[order], means[order]


def submission_csv(eeg_ids: np.ndarray, probs: np.ndarray) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["eeg_id", *VOTE_COLUMNS])
    for eeg_id, row in zip(eeg_ids, probs, strict=True):
        writer.writerow([int(eeg_id), *(f"{v:.8f}" for v in row / row.sum())])
    return buffer.getvalue()


def predict_submission(bundle: str | Path, data_dir: str | Path, out: str | Path, *, split: str = "test",
                       device: str = "auto", batch_size: int = 32) -> Path:
    """`train predict`: a Kaggle submission (eeg_id + the six <class>_vote probabilities) for a test layout."""
    windows, probs, _spec = predict_bundle(bundle, data_dir, split=split, device=device, batch_size=batch_size)
    eeg_ids, means = mean_by_eeg(np.asarray(windows.eeg_ids), probs)
    return atomic_write(out, submission_csv(eeg_ids, means))
