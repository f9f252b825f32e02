"""Real expert-voted EEG segments for verify: every precision must hold on recorded EEG, not only on synthetic data.

Default folders: the 12 sparcnet_iiic segments in the shared data folder beside the repository (when
present) and the 3 redistributable ones in tests/data (copies of three of them: identical files are
read once). Each folder holds 50 s Kaggle-layout parquet files and a labels.csv with the expert votes.
Each centred window goes through edge's validity gate (calibrate.bedside_gate): a segment the bedside
would refuse is left out and counted, the others are masked as edge masks them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from calibrate.bedside_gate import BedsideGate
from calibrate.verify import REAL, EvalSet
from edge.contract import CLASSES, window_for_kaggle_label
from edge.errors import DataError
from edge.model.model_spec import ModelSpec

_REPO = Path(__file__).resolve().parents[1]
SHARED_ENV = "EEG_EDGE_SHARED"  # the shared folder, when not ../shared beside the repository (as the tests read it)


def default_folders() -> list[Path]:
    shared = Path(os.environ.get(SHARED_ENV, _REPO.parent / "shared")) / "data" / "sparcnet_iiic"
    return [folder for folder in (shared, _REPO / "tests" / "data") if (folder / "labels.csv").is_file()]


def load_real_segments(folders: list[Path], spec: ModelSpec, *, gate: BedsideGate | None = None) -> EvalSet | None:
    """The centred window of every labelled segment in ``folders`` (duplicates once) that the bedside would predict
    on, or None when there are none."""
    from train.data.eeg_file import read_eeg_file
    from train.data.sparcnet import read_labels

    gate = gate or BedsideGate()
    gate.reset()

    samples = spec.contract.window_samples
    seen, names, signals, votes = set(), [], [], []
    for folder in folders:
        for row in read_labels(folder):
            path = folder / row["file"]
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest in seen:
                continue
            eeg = read_eeg_file(path)
            if eeg.shape[1] < samples:
                raise DataError(f"{path} holds {eeg.shape[1]} samples, fewer than one {samples}-sample window")
            start = (eeg.shape[1] - samples) // 2
            seen.add(digest)
            window = gate.judge(eeg[:, start:start + samples])  # gaps (NaN) are missing data, as at the bedside
            if window is None:
                continue
            names.append(path.name)
            signals.append(window_for_kaggle_label(window, spec.lookahead_s))  # scored for its labelled centre
            votes.append([float(row[f"{c}_vote"]) for c in CLASSES])
    if not signals:
        return None
    targets = np.asarray(votes)
    note = f"{len(signals)} real segments from " + ", ".join(str(f) for f in folders)
    return EvalSet(REAL, np.stack(signals).astype(np.float32), targets / targets.sum(1, keepdims=True), note,
                   dict(gate.refused))
