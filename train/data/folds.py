"""Cross-validation folds that never put one patient in two folds."""

from __future__ import annotations

import numpy as np

from edge.errors import DataError


def patient_kfold(patient_ids: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold index (0..k-1) per row: patients grouped, folds balanced by row count.

    Greedy: patients in a seeded random order, then largest first, each to the fold with the fewest
    rows so far (the shuffle breaks ties between equal-sized patients differently per seed).
    """
    patient_ids = np.asarray(patient_ids)
    if k < 2:
        raise DataError(f"need at least 2 folds, got k={k}")
    patients, inverse, counts = np.unique(patient_ids, return_inverse=True, return_counts=True)
    if len(patients) < k:
        raise DataError(f"cannot make {k} patient folds from {len(patients)} patient(s); use k <= {len(patients)}")
    order = np.random.default_rng(seed).permutation(len(patients))
    order = order[np.argsort(-counts[order], kind="stable")]
    fold_rows = np.zeros(k, dtype=np.int64)
    patient_fold = np.empty(len(patients), dtype=np.int64)
    for p in order:
        fold = int(np.argmin(fold_rows))
        patient_fold[p] = fold
        fold_rows[fold] += counts[p]
    return patient_fold[inverse]
