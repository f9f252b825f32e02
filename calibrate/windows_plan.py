"""Which rows of the data calibrate and which ones verify, decided once from the bundle and the data.

Held-out rows are, when the bundle says so, the validation patients of the fold whose model was
shipped (train fit's patient_kfold with the bundle's own k and seed): patients the model never saw.
Otherwise (a refit model, other data) they are patients not used for calibration, and the report
says that the model may have trained on them. Both sets hold only windows the bedside would predict on
(calibrate.bedside_gate: edge's validity gate), masked as edge masks them; the refused ones are counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calibrate.bedside_gate import BedsideSource
from calibrate.calib_data import split_by_patient, stratified_indices
from edge.errors import DataError
from edge.model.model_spec import ModelSpec

HOLDOUT_FRACTION = 0.3  # share of patients held out when the bundle names no validation fold


@dataclass(frozen=True)
class WindowPlan:
    indices: np.ndarray
    patients: tuple[int, ...]
    note: str
    excluded: dict[str, int]  # windows of the pool drawn but refused by the bedside gate, by reason


def load_window_set(data_dir: str | Path, cache_dir: str | Path | None = None):
    """The labelled windows of ``data_dir`` (train.data's default margin, so `train fit`'s decoded cache is reused)."""
    from train.data import build_window_set

    windows = build_window_set(Path(data_dir), cache_dir=None if cache_dir is None else Path(cache_dir),
                               split="train")
    if windows.targets is None:
        raise DataError(f"{data_dir} has no vote columns; calibrate needs the labelled train layout")
    return windows


def bedside_window_set(data_dir: str | Path, cache_dir: str | Path | None = None) -> BedsideSource:
    """The labelled windows of ``data_dir`` as the bedside sees them (refused ones skipped, samples masked)."""
    return BedsideSource(load_window_set(data_dir, cache_dir))


def validation_rows(spec: ModelSpec, data_dir: Path, patient_ids: np.ndarray) -> np.ndarray | None:
    """Rows of the shipped model's validation fold, or None when the bundle does not identify one for this data."""
    from train.data import patient_kfold

    training = spec.training
    match = re.fullmatch(r"fold(\d+)", str(training.get("metrics", {}).get("final_model", "")))
    data = training.get("data", {})
    if match is None or data.get("source") != data_dir.name or data.get("rows") != len(patient_ids):
        return None
    cv, run = training.get("config", {}).get("cv", {}), training.get("config", {}).get("run", {})
    if "k" not in cv or "seed" not in run:
        return None
    folds = patient_kfold(patient_ids, int(cv["k"]), int(run["seed"]))
    return np.flatnonzero(folds == int(match[1]))


def _plan(windows: BedsideSource, pool: np.ndarray, count: int, seed: int, note: str, what: str) -> WindowPlan:
    patient_ids = np.asarray(windows.patient_ids)
    indices = stratified_indices(np.asarray(windows.targets), count, seed, candidates=pool, accept=windows.accepts)
    excluded = windows.excluded(pool)
    if len(indices) < count:
        raise DataError(f"only {len(indices)} {what} windows are available ({note}; refused by the bedside gate: "
                        f"{excluded or 'none'}), {count} requested; lower the window count or use more data")
    return WindowPlan(indices, tuple(int(p) for p in np.unique(patient_ids[indices])), note, excluded)


def calibration_plan(spec: ModelSpec, data_dir: Path, windows: BedsideSource, *, count: int, seed: int) -> WindowPlan:
    patient_ids = np.asarray(windows.patient_ids)
    held = validation_rows(spec, data_dir, patient_ids)
    if held is not None:
        pool, note = np.setdiff1d(np.arange(len(patient_ids)), held), "training patients of the shipped fold"
    else:
        pool, _ = split_by_patient(patient_ids, HOLDOUT_FRACTION, seed)
        note = f"{1 - HOLDOUT_FRACTION:.0%} of patients (the rest are held out for verify)"
    return _plan(windows, pool, count, seed, note, "calibration")


def holdout_plan(spec: ModelSpec, data_dir: Path, windows: BedsideSource, *, count: int, seed: int,
                 calibration_patients: tuple[int, ...]) -> WindowPlan:
    patient_ids = np.asarray(windows.patient_ids)
    held = validation_rows(spec, data_dir, patient_ids)
    if held is not None:
        note = "validation patients of the shipped fold (never seen in training or calibration)"
        pool = held[~np.isin(patient_ids[held], calibration_patients)]
    else:
        note = "patients not used for calibration (the model may have been trained on them)"
        pool = np.flatnonzero(~np.isin(patient_ids, calibration_patients))
    return _plan(windows, pool, count, seed, note, "held-out")
