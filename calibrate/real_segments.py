"""Real expert-voted EEG segments for verify: every precision must hold on recorded EEG, not only on synthetic data.

Default folders: the 12 sparcnet_iiic segments in the shared data folder beside the repository (when
present) and the 3 redistributable ones in tests/data (copies of three of them: identical files are
read once). Each folder holds 50 s Kaggle-layout parquet files and a labels.csv with the expert votes.
Each centred window goes through edge's validity gate (calibrate.bedside_gate): a segment the bedside
would refuse is left out and counted, the others are masked as edge masks them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from calibrate.bedside_gate import BedsideGate
from calibrate.verify import REAL, EvalSet
from edge.contract import window_for_kaggle_label
from edge.errors import DataError
from edge.model.model_spec import ModelSpec
from edge.testing import shared_data_dir

_REPO = Path(__file__).resolve().parents[1]


def default_folders() -> list[Path]:
    shared = shared_data_dir() / "sparcnet_iiic"
    return [folder for folder in (shared, _REPO / "tests" / "data") if (folder / "labels.csv").is_file()]


def load_real_segments(folders: list[Path], spec: ModelSpec, *, gate: BedsideGate | None = None) -> EvalSet | None:
    """The centred window of every labelled segment in ``folders`` (duplicates once) that the bedside would predict
    on, or None when there are none."""
    from train.data.sparcnet import load_segments

    gate = gate or BedsideGate()
    gate.reset()

    samples = spec.contract.window_samples
    seen, names, signals, votes = set(), [], [], []
    for folder in folders:
        for segment in load_segments(folder):
            digest = hashlib.sha256(segment.path.read_bytes()).hexdigest()
            if digest in seen:
                continue
            if segment.eeg.shape[1] < samples:
                raise DataError(f"{segment.path} holds {segment.eeg.shape[1]} samples, fewer than one "
                                f"{samples}-sample window")
            start = (segment.eeg.shape[1] - samples) // 2
            seen.add(digest)
            window = gate.judge(segment.eeg[:, start:start + samples])  # gaps (NaN) are missing data, as at the bedside
            if window is None:
                continue
            names.append(segment.path.name)
            signals.append(window_for_kaggle_label(window, spec.lookahead_s))  # scored for its labelled centre
            votes.append(segment.votes)
    if not signals:
        return None
    note = f"{len(signals)} real segments from " + ", ".join(str(f) for f in folders)
    return EvalSet(REAL, np.stack(signals).astype(np.float32), np.stack(votes), note, dict(gate.refused))
