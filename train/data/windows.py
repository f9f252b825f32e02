"""WindowSet: every labelled 50 s window of a split, decoded once into a memory-mapped float32 array.

Each row holds the window plus ``margin`` samples either side, so training can shift the window by up
to +-margin samples without touching parquet. Missing data policy (identical for NaN stretches and for
margin samples that fall outside the file): per window and channel, the gap is filled with the mean
of that channel's finite samples in the stored row (0 when the whole row is NaN). A constant at the
channel's own level adds no step edge, so no spurious sharp transient reaches the band-pass front end
(a 0 fill would make a step of the channel's DC offset, often hundreds of uV in real recordings).
NaN counts and padding lengths are kept per row so a loader can drop or down-weight such windows.
"""

from __future__ import annotations

import dataclasses
import mmap
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.errors import DataError
from edge.spec import CHANNELS, WINDOW_SAMPLES
from train.data.cache import WindowCache, cache_key
from train.data.columns import check_split, group_rows, start_sample
from train.data.eeg_file import read_eeg_file
from train.data.table import HmsTable, load_table

DEFAULT_WORKERS = min(4, os.cpu_count() or 1)


@dataclass(frozen=True, eq=False)
class WindowSet:
    signals: np.ndarray  # [N, 20, 10000 + 2 * margin] float32 uV (read-only memmap), gaps filled
    margin: int
    targets: np.ndarray | None  # [N, 6] float32 votes / total (None for the test split)
    total_votes: np.ndarray | None  # [N] int32
    patient_ids: np.ndarray  # [N] int64
    eeg_ids: np.ndarray  # [N] int64
    label_ids: np.ndarray  # [N] int64 (-1 for the test split)
    offsets_s: np.ndarray  # [N] float64
    nan_counts: np.ndarray  # [N] int64: NaN samples (all channels) replaced in the stored row
    pad_samples: np.ndarray  # [N, 2] int32: samples before / after the file that were filled

    def __len__(self) -> int:
        return len(self.signals)

    def __reduce__(self):
        """Pickle a file-backed cache by its path: a memmap pickles as its whole contents (gigabytes), which
        every loader process started by spawn or forkserver (macOS, Windows, Python >= 3.14) would receive."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if _is_file_mapping(self.signals):
            values["signals"] = os.fspath(self.signals.filename)
        return _restore_window_set, (values,)

    def window(self, i: int, shift: int = 0) -> np.ndarray:
        """[20, 10000] window of row i, shifted by ``shift`` samples (|shift| <= margin)."""
        if abs(shift) > self.margin:
            raise ValueError(f"shift must be within +-{self.margin} samples (the cached margin), got {shift}")
        start = self.margin + shift
        return read_row(self.signals, i)[:, start:start + WINDOW_SAMPLES]


def read_row(signals: np.ndarray, i: int) -> np.ndarray:
    """signals[i] in memory. From a file-backed memmap it is one read of the row's contiguous bytes:
    slicing the memmap page-faults each channel in separately, which measured 4x slower (100 vs 400
    windows/s) on a cache larger than the page cache, and made training wait on the disk."""
    if not _is_file_mapping(signals):
        return np.asarray(signals[i])
    row_bytes = signals.strides[0]
    return np.fromfile(signals.filename, dtype=signals.dtype, count=row_bytes // signals.itemsize,
                       offset=signals.offset + int(i) * row_bytes).reshape(signals.shape[1:])


def _is_file_mapping(signals: np.ndarray) -> bool:
    """A whole .npy file mapped by np.load: a slice of a memmap keeps its parent's filename and offset."""
    return isinstance(signals, np.memmap) and isinstance(signals.base, mmap.mmap) and signals.flags.c_contiguous


def _restore_window_set(values: dict) -> WindowSet:
    if isinstance(values["signals"], str):
        values = {**values, "signals": np.load(values["signals"], mmap_mode="r")}
    return WindowSet(**values)


def fill_gaps(row: np.ndarray) -> int:
    """Replace NaN/Inf in [channels, samples] in place by each channel's finite mean; return how many."""
    bad = ~np.isfinite(row)
    count = int(bad.sum())
    if count:
        finite_sum = np.where(bad, 0.0, row).sum(axis=1, dtype=np.float64)
        finite_n = (~bad).sum(axis=1)
        means = np.divide(finite_sum, finite_n, out=np.zeros_like(finite_sum), where=finite_n > 0)
        row[bad] = np.broadcast_to(means[:, None], row.shape)[bad]
    return count


def _cut(eeg: np.ndarray, start: int, length: int) -> tuple[np.ndarray, int, int]:
    """eeg[:, start:start + length] with out-of-file samples as NaN, and how many were before / after."""
    before, after = max(0, -start), max(0, start + length - eeg.shape[1])
    out = np.full((eeg.shape[0], length), np.nan, dtype=np.float32)
    out[:, before:length - after] = eeg[:, start + before:start + length - after]
    return out, before, after


def _decode_eeg(table: HmsTable, rows: np.ndarray, margin: int, signals: np.ndarray,
                nan_counts: np.ndarray, pads: np.ndarray) -> None:
    eeg = read_eeg_file(table.eeg_path(table.eeg_ids[rows[0]]))
    length = WINDOW_SAMPLES + 2 * margin
    for i in rows:
        row, before, after = _cut(eeg, start_sample(table.offsets_s[i]) - margin, length)
        nan_counts[i] = int(np.isnan(row[:, before:length - after]).sum())
        fill_gaps(row)
        signals[i] = row
        pads[i] = before, after


def _decode_all(table: HmsTable, margin: int, path: Path, workers: int) -> tuple[np.ndarray, np.ndarray]:
    n = len(table)
    signals = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32,
                                        shape=(n, len(CHANNELS), WINDOW_SAMPLES + 2 * margin))
    nan_counts = np.zeros(n, dtype=np.int64)
    pads = np.zeros((n, 2), dtype=np.int32)
    groups = group_rows(table.eeg_ids)
    with ThreadPoolExecutor(max(1, workers)) as pool:  # pyarrow and numpy copies release the GIL
        for future in [pool.submit(_decode_eeg, table, rows, margin, signals, nan_counts, pads)
                       for rows in groups if len(rows)]:
            future.result()
    signals.flush()
    del signals
    return nan_counts, pads


def build_window_set(data_dir: Path, cache_dir: Path | None = None, split: str = "train", margin: int = 400,
                     workers: int = DEFAULT_WORKERS) -> WindowSet:
    """Decode every parquet once into ``cache_dir`` (default <data_dir>/.eeg-edge-cache/), or reload it.

    The cache is keyed by the csv's content, the EEG files' names/sizes/mtimes and the margin, so a
    changed dataset rebuilds and an unchanged one memory-maps instantly. For the test split the
    windows are the first 50 s of each file.
    """
    data_dir = Path(data_dir)
    check_split(split)
    if margin < 0:
        raise DataError(f"margin must be >= 0 samples, got {margin}")
    cache = WindowCache(Path(cache_dir) if cache_dir is not None else data_dir / ".eeg-edge-cache", data_dir, split,
                        cache_key(data_dir, split, margin))
    if not cache.exists():
        table = load_table(data_dir, split)
        with cache.writing() as (signals_tmp, finish):
            nan_counts, pads = _decode_all(table, margin, signals_tmp, workers)
            finish({
                "targets": table.targets, "total_votes": table.total_votes, "patient_ids": table.patient_ids,
                "eeg_ids": table.eeg_ids, "label_ids": table.label_ids, "offsets_s": table.offsets_s,
                "nan_counts": nan_counts, "pad_samples": pads,
            })
    signals, meta = cache.load()
    return WindowSet(signals=signals, margin=margin, **meta)
