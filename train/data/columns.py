"""Column names and file locations of the Kaggle HMS layout (train.csv / test.csv + *_eegs/)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.contract import SAMPLE_RATE_HZ, VOTE_COLUMNS
from edge.errors import DataError

SPLITS: tuple[str, ...] = ("train", "test")
TRAIN_COLUMNS: tuple[str, ...] = (
    "eeg_id", "eeg_sub_id", "eeg_label_offset_seconds", "spectrogram_id", "spectrogram_sub_id",
    "spectrogram_label_offset_seconds", "label_id", "patient_id", "expert_consensus", *VOTE_COLUMNS,
)  # fmt: skip
TEST_COLUMNS: tuple[str, ...] = ("spectrogram_id", "eeg_id", "patient_id")
# Kaggle's spelling of each class in train.csv's expert_consensus column, in spec.CLASSES order.
CONSENSUS_NAMES: tuple[str, ...] = ("Seizure", "LPD", "GPD", "LRDA", "GRDA", "Other")


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise DataError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    return split


def csv_path(data_dir: Path, split: str) -> Path:
    return Path(data_dir) / f"{check_split(split)}.csv"


def eeg_dir(data_dir: Path, split: str) -> Path:
    return Path(data_dir) / f"{check_split(split)}_eegs"


def eeg_path(data_dir: Path, split: str, eeg_id: int) -> Path:
    return eeg_dir(data_dir, split) / f"{int(eeg_id)}.parquet"


def required_columns(split: str) -> tuple[str, ...]:
    return TRAIN_COLUMNS if check_split(split) == "train" else TEST_COLUMNS


def start_sample(offset_s: float) -> int:
    """First sample of the 50 s window labelled at eeg_label_offset_seconds (offsets are whole or half seconds)."""
    return round(float(offset_s) * SAMPLE_RATE_HZ)


def group_rows(ids: np.ndarray) -> list[np.ndarray]:
    """Row indices per distinct id, ids ascending: one sort instead of a scan per id (17k ids x 107k rows)."""
    order = np.argsort(ids, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(ids[order])) + 1) if len(ids) else []
