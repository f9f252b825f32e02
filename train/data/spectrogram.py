"""Kaggle HMS spectrograms: compute them from raw EEG, write them, and validate them against train.csv.

Kaggle's `train_spectrograms/<spectrogram_id>.parquet` has a `time` column (odd seconds 1, 3, 5, ...: one
row per 2 s) and 400 float columns `LL_0.59 ... RP_19.92`: for each double-banana chain (LL, RL, LP, RP) the
power at the 100 frequencies k * 200/1024 Hz, k = 3..102, averaged over the chain's 4 bipolar pairs. A labelled
row's 10 min spectrogram window starts at `spectrogram_label_offset_seconds` and is centred on the 50 s EEG
window (Kaggle's convention), so spectrogram time t is EEG time t - SPECTROGRAM_LEAD_S. The model never reads
these (it runs on the raw stream); they are for reviewers and for Kaggle-format completeness.
"""

from __future__ import annotations

import io
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from edge.contract import MONTAGE_CHAINS, SAMPLE_RATE_HZ, WINDOW_SAMPLES, montage_matrix
from edge.errors import DataError
from edge.model.bundle import atomic_write
from train.data.columns import csv_path

NFFT = 1024  # 0.195 Hz bins, Kaggle's frequency grid
BINS = np.arange(3, 103)
FREQS = BINS * SAMPLE_RATE_HZ / NFFT
# Kaggle's names round half up and drop trailing zeros (LL_3.13 for 3.125 Hz, LL_4.1 for 4.1015625 Hz).
_NAMES = [str(float((Decimal(int(k) * 200) / 1024).quantize(Decimal("0.01"), ROUND_HALF_UP))) for k in BINS]
COLUMNS: tuple[str, ...] = ("time", *(f"{chain}_{f}" for chain in MONTAGE_CHAINS for f in _NAMES))
STEP_S = 2
WINDOW_S = 600  # the 10 min a labelled row's spectrogram window spans
SPECTROGRAM_LEAD_S = (WINDOW_S - WINDOW_SAMPLES // SAMPLE_RATE_HZ) // 2  # 275 s before the EEG window
# Ranges seen in the shared real files: 0 to 2e5; a value outside [0, MAX_VALUE] is not a power spectrum.
MAX_VALUE = 1e7
# Kaggle's values are power spectral density in uV^2/Hz, rounded to 0.01: on the one real pair with both files
# (shared/data/hms eeg 1628180742 and its spectrogram 353733) this computation matches Kaggle's rows with a median
# log10 ratio of 0.03 (IQR -0.12..0.20), log correlation 0.93 per cell, 0.98 for row totals at lag 0 (0.90 at +-2 s).
DECIMALS = 2


def spectrogram_ids(eeg_ids: np.ndarray) -> np.ndarray:
    """The spectrogram id `train synth` gives each recording (a distinct number range from the EEG ids)."""
    return np.asarray(eeg_ids, dtype=np.int64) % 2_000_000_000 + 1


def spectrogram_path(data_dir: Path, split: str, spectrogram_id: int) -> Path:
    return Path(data_dir) / f"{split}_spectrograms" / f"{int(spectrogram_id)}.parquet"


def compute_spectrogram(eeg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[20, samples] uV -> (time [rows] int64, values [rows, 400] float32) covering the EEG +- 275 s.

    Rows whose 5.12 s Hann segment is not wholly inside the recording (or touches a NaN gap) are NaN, as
    Kaggle's are where the recording has no data."""
    seconds = eeg.shape[1] / SAMPLE_RATE_HZ
    rows = int(np.ceil((seconds + 2 * SPECTROGRAM_LEAD_S) / STEP_S))
    times = np.arange(rows, dtype=np.int64) * STEP_S + 1
    values = np.full((rows, len(COLUMNS) - 1), np.nan, dtype=np.float32)
    bipolar = montage_matrix()[:, :-1].astype(np.float64) @ eeg[:-1].astype(np.float64)
    hann = np.hanning(NFFT)
    norm = 1.0 / (SAMPLE_RATE_HZ * (hann**2).sum())
    for r, t in enumerate(times):
        start = int(t - SPECTROGRAM_LEAD_S) * SAMPLE_RATE_HZ - NFFT // 2
        if start < 0 or start + NFFT > eeg.shape[1]:
            continue
        segment = bipolar[:, start:start + NFFT]
        if not np.isfinite(segment).all():
            continue
        segment = segment - segment.mean(axis=1, keepdims=True)
        power = np.abs(np.fft.rfft(segment * hann, axis=1)[:, BINS]) ** 2 * norm
        values[r] = power.reshape(len(MONTAGE_CHAINS), 4, len(BINS)).mean(axis=1).ravel()
    return times, np.round(values, DECIMALS)


def write_spectrogram_parquet(path: Path, times: np.ndarray, values: np.ndarray) -> Path:
    if values.shape != (len(times), len(COLUMNS) - 1):
        raise DataError(f"spectrogram must be [{len(times)}, {len(COLUMNS) - 1}], got {values.shape}")
    arrays = {"time": pa.array(np.asarray(times, dtype=np.int64))}
    arrays.update({name: pa.array(values[:, j].astype(np.float32)) for j, name in enumerate(COLUMNS[1:])})
    sink = io.BytesIO()
    pq.write_table(pa.table(arrays), sink, use_dictionary=False)
    return atomic_write(path, sink.getvalue())


def read_spectrogram(path: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(column names, time [rows], values [rows, columns - 1] float64) of one spectrogram parquet."""
    table = pq.read_table(path)
    names = table.column_names
    times = table.column(0).to_numpy().astype(np.float64) if names else np.zeros(0)
    values = np.stack([table.column(n).to_numpy(zero_copy_only=False).astype(np.float64) for n in names[1:]],
                      axis=1) if len(names) > 1 else np.zeros((table.num_rows, 0))
    return names, times, values


def spectrogram_rows(data_dir: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(spectrogram_id, spectrogram_label_offset_seconds) of each csv row; test rows have offset 0."""
    rows = pa_csv.read_csv(csv_path(data_dir, split))
    ids = rows.column("spectrogram_id").to_numpy().astype(np.int64)
    offsets_s = (rows.column("spectrogram_label_offset_seconds").to_numpy().astype(np.float64)
                 if "spectrogram_label_offset_seconds" in rows.column_names else np.zeros(len(ids)))
    return ids, offsets_s


def spectrogram_problems(data_dir: Path, split: str) -> list[str]:
    """One line per problem of `<split>_spectrograms/` against the split's csv (ids, offsets, columns, ranges).

    Call it on a layout `load_table` accepted. A split without the folder has nothing to check (sets written
    before spectrograms, Kaggle layouts without them)."""
    folder = Path(data_dir) / f"{split}_spectrograms"
    if not folder.is_dir():
        return []
    ids, offsets_s = spectrogram_rows(data_dir, split)
    problems = []
    for sid in np.unique(ids):
        path = spectrogram_path(data_dir, split, sid)
        if not path.is_file():
            problems.append(f"{path}: missing (spectrogram_id {sid} in {split}.csv); rerun `train synth`")
            continue
        try:
            names, times, values = read_spectrogram(path)
        except (OSError, pa.ArrowException) as exc:
            problems.append(f"{path}: not a readable parquet ({exc}); rewrite it")
            continue
        if tuple(names) != COLUMNS:
            wrong = sorted(set(names) ^ set(COLUMNS))[:3]
            problems.append(f"{path}: columns must be time, LL_0.59 ... RP_19.92 (401 in Kaggle order); "
                            f"got {len(names)}, differing at {', '.join(wrong) or 'the order'}")
            continue
        if len(times) < 2 or times[0] != 1 or not np.all(np.diff(times) == STEP_S):
            problems.append(f"{path}: time must be 1, 3, 5, ... (one row per {STEP_S} s)")
            continue
        finite = values[np.isfinite(values)]
        if np.isinf(values).any() or (finite.size and (finite.min() < 0 or finite.max() > MAX_VALUE)):
            problems.append(f"{path}: values must be powers in [0, {MAX_VALUE:g}] or NaN; got "
                            f"{finite.min() if finite.size else 'none'} .. {finite.max() if finite.size else 'none'}"
                            f"{' and inf' if np.isinf(values).any() else ''}")
        need = offsets_s[ids == sid].max() + WINDOW_S - 1
        if times[-1] < need:
            problems.append(f"{path}: ends at time {times[-1]:.0f} s but a row's 10 min window at offset "
                            f"{need - WINDOW_S + 1:.0f} s needs {need:.0f} s")
        elif not finite.size:
            problems.append(f"{path}: every value is NaN; no spectrum to review")
    return problems
