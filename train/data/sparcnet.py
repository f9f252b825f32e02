"""The IIIC-SPaRCNet sample segments (50 s parquet + labels.csv of expert votes): loaded, or as a Kaggle layout.

Origin: bdsp-core IIIC-SPaRCNet (Jing et al., Neurology 2023;100(17):e1750), ODC-By 1.0. Each
segment becomes one eeg_id labelled at offset 0 and, since patients are not given, its own patient.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.csv as pcsv

from edge.contract import CLASSES, VOTE_COLUMNS
from edge.errors import DataError
from train.data.columns import eeg_path
from train.data.eeg_file import read_eeg_file
from train.data.windows import fill_gaps
from train.data.writer import train_columns, write_csv


def read_labels(source_dir: Path, *, columns: tuple[str, ...] = ("file", *VOTE_COLUMNS)) -> list[dict[str, Any]]:
    """The rows of ``source_dir``/labels.csv (one per segment: its parquet file, the expert votes and, in
    sparcnet_iiic, SPaRCNet's probabilities); a missing file or column is a one-line DataError."""
    labels = Path(source_dir) / "labels.csv"
    if not labels.is_file():
        raise DataError(f"{labels} is missing: expected a labels.csv (file + expert votes) next to the parquet "
                        "segments, as in ../shared/data/sparcnet_iiic")
    rows = pcsv.read_csv(labels).to_pylist()
    missing = [c for c in columns if rows and c not in rows[0]]
    if missing:
        raise DataError(f"{labels}: missing column(s) {', '.join(missing)}")
    return rows


@dataclass(frozen=True)
class Segment:
    path: Path
    eeg: np.ndarray  # [20, samples] uV as recorded: NaN where the recording has gaps
    votes: np.ndarray  # [6] expert vote distribution, CLASSES order
    row: dict[str, Any]  # its labels.csv row (e.g. SPaRCNet's published probabilities)


def load_segments(source_dir: Path, *, columns: tuple[str, ...] = ("file", *VOTE_COLUMNS)) -> list[Segment]:
    """Every segment listed in ``source_dir``/labels.csv, in its order; the one reader of these folders."""
    segments = []
    for row in read_labels(source_dir, columns=columns):
        votes = np.array([float(row[f"{c}_vote"]) for c in CLASSES])
        path = Path(source_dir) / row["file"]
        segments.append(Segment(path, read_eeg_file(path), votes / votes.sum(), row))
    return segments


def filled_eeg(segments: list[Segment]) -> np.ndarray:
    """[N, 20, samples] float32 of ``segments``, gaps filled with each channel's mean as in training (a copy)."""
    eeg = np.stack([s.eeg for s in segments]).astype(np.float32)
    for row in eeg:
        fill_gaps(row)
    return eeg


def vote_targets(segments: list[Segment]) -> np.ndarray:
    """[N, 6] float64: each segment's expert vote distribution, the Kaggle KL's targets."""
    return np.stack([s.votes for s in segments]).astype(np.float64)


def sparcnet_layout(source_dir: Path, out_dir: Path) -> Path:
    """Write ``out_dir``/train.csv + train_eegs/ from ``source_dir``/labels.csv and its parquet files."""
    rows = read_labels(source_dir)
    eeg_ids = np.arange(1, len(rows) + 1)
    for eeg_id, row in zip(eeg_ids, rows, strict=True):
        target = eeg_path(out_dir, "train", eeg_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(source_dir) / row["file"], target)
    votes = np.array([[row[c] for c in VOTE_COLUMNS] for row in rows])
    write_csv(out_dir, "train", train_columns(eeg_ids, np.zeros(len(rows)), eeg_ids, votes=votes))
    return Path(out_dir)
