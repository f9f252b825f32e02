"""`train predict`: a Kaggle submission (eeg_id + the six <class>_vote probabilities) for a test layout."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from edge.contract import VOTE_COLUMNS
from edge.model.bundle import atomic_write
from train.fit.evaluate import predict_probs


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
    from train.checkpoint import load_bundle_model
    from train.data import build_window_set
    from train.fit.distributed import resolve_device

    model, _spec = load_bundle_model(bundle)
    windows = build_window_set(data_dir, split=split, margin=0)
    dev = resolve_device(device)
    probs = predict_probs(model.to(dev), windows, np.arange(len(windows)), batch_size=batch_size, device=dev)
    eeg_ids, means = mean_by_eeg(np.asarray(windows.eeg_ids), probs)
    return atomic_write(out, submission_csv(eeg_ids, means))
