"""Run a model over windows (no augmentation, under no_grad) and score it with the Kaggle KL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from edge.contract import CLASSES
from edge.errors import DataError
from train.metric import class_prior, score


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
    clipped = np.clip(preds, 1e-15, 1 - 1e-15)
    terms = np.where(targets > 0, targets * np.log(np.where(targets > 0, targets, 1) / clipped), 0.0)
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


def evaluate_bundle(bundle: str | Path, data_dir: str | Path, device: str = "auto",
                    *, batch_size: int = 32) -> EvalReport:
    """`train eval`: score a bundle on a labelled Kaggle layout (prior baseline from the bundle's training data)."""
    from train.checkpoint import load_bundle_model
    from train.data import build_window_set
    from train.fit.distributed import resolve_device

    model, spec = load_bundle_model(bundle)
    windows = build_window_set(data_dir, split="train", margin=0)
    if windows.targets is None:
        raise DataError(f"{data_dir} has no vote columns to evaluate against; use `train predict` for test data")
    dev = resolve_device(device)
    preds = predict_probs(model.to(dev), windows, np.arange(len(windows)), batch_size=batch_size, device=dev)
    prior = spec.training.get("data", {}).get("class_prior")
    return evaluate_predictions(np.asarray(windows.targets, dtype=np.float64), preds,
                                None if prior is None else np.asarray(prior, dtype=np.float64))
