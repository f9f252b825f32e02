"""Write EEG tables in exactly the Kaggle HMS layout (train.csv/test.csv + <split>_eegs/<eeg_id>.parquet)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from edge.contract import CHANNELS, VOTE_COLUMNS
from edge.errors import DataError
from edge.model.bundle import atomic_write
from train.data.columns import CONSENSUS_NAMES, csv_path, required_columns
from train.data.spectrogram import spectrogram_ids


def write_eeg_parquet(path: Path, signals: np.ndarray) -> Path:
    """[20, samples] microvolts -> parquet with one float32 column per channel, spec.CHANNELS order."""
    if signals.ndim != 2 or signals.shape[0] != len(CHANNELS):
        raise DataError(f"EEG must be [{len(CHANNELS)}, samples], got {signals.shape}")
    table = pa.table({name: pa.array(np.asarray(signals[i], dtype=np.float32)) for i, name in enumerate(CHANNELS)})
    sink = io.BytesIO()
    pq.write_table(table, sink, use_dictionary=False)  # dictionaries of noisy floats cost 6x the write time
    return atomic_write(path, sink.getvalue())


def write_csv(data_dir: Path, split: str, columns: Mapping[str, Sequence | np.ndarray]) -> Path:
    """train.csv / test.csv with the split's Kaggle columns in Kaggle order (extra keys are an error)."""
    names = required_columns(split)
    if set(columns) != set(names):
        raise DataError(f"{split}.csv needs exactly the columns {', '.join(names)}; got {', '.join(columns)}")
    cells = [[_cell(v) for v in columns[name]] for name in names]
    lines = [",".join(names)] + [",".join(row) for row in zip(*cells, strict=True)]
    return atomic_write(csv_path(data_dir, split), "\n".join(lines) + "\n")


def _cell(value: object) -> str:
    """Kaggle's spelling: integers bare, offsets like 40.0, class names unquoted."""
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(value.item() if isinstance(value, np.generic) else value)


def train_columns(eeg_ids: np.ndarray, offsets_s: np.ndarray, patient_ids: np.ndarray, *, votes: np.ndarray,
                  label_ids: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """All 15 train.csv columns from the ones that matter; sub-ids count the rows of each eeg_id.

    spectrogram_id is derived from eeg_id (a distinct number range, `spectrogram_ids`); its file spans the
    recording +- 275 s, so a row's 10 min spectrogram window starts at the EEG offset and is centred on the
    50 s EEG window, as in Kaggle (train/data/spectrogram.py). expert_consensus is the majority vote.
    """
    eeg_ids = np.asarray(eeg_ids, dtype=np.int64)
    votes = np.asarray(votes, dtype=np.int64)
    sub_ids = np.zeros(len(eeg_ids), dtype=np.int64)
    for eeg_id in np.unique(eeg_ids):
        rows = np.flatnonzero(eeg_ids == eeg_id)
        sub_ids[rows] = np.arange(len(rows))
    offsets_s = np.asarray(offsets_s, dtype=np.float64)
    columns = {
        "eeg_id": eeg_ids, "eeg_sub_id": sub_ids, "eeg_label_offset_seconds": offsets_s,
        "spectrogram_id": spectrogram_ids(eeg_ids), "spectrogram_sub_id": sub_ids,
        "spectrogram_label_offset_seconds": offsets_s,
        "label_id": (np.arange(len(eeg_ids), dtype=np.int64) + 1 if label_ids is None
                     else np.asarray(label_ids, dtype=np.int64)),
        "patient_id": np.asarray(patient_ids, dtype=np.int64),
        "expert_consensus": np.array(CONSENSUS_NAMES)[votes.argmax(axis=1)],
    }
    columns.update({name: votes[:, j] for j, name in enumerate(VOTE_COLUMNS)})
    return columns
