"""WindowSet: every labelled 50 s window of a split, over one memory-mapped copy of the signal they need.

Each recording's needed samples (the union of its labelled windows, each widened by ``margin``
samples either side so training can shift a window by up to +-margin, clipped to the file) are
decoded once and stored once, time-major, in a float32 array: overlapping windows of a long
recording share their samples, so the cache grows with the unique signal, not with the rows. A row
is sliced out at load time. Missing data policy (identical for NaN stretches and for margin samples
that fall outside the file), applied to each row (window plus margins) as it is read: per channel,
the gap is filled with the mean of that channel's finite samples in the row (0 when the whole row is
NaN). A constant at the channel's own level adds no step edge, so no spurious sharp transient reaches
the band-pass front end (a 0 fill would make a step of the channel's DC offset, often hundreds of uV in
real recordings). NaN counts and padding lengths are kept per row so a loader can drop or down-weight
such windows.

A model's window may sit elsewhere than Kaggle's around the same label (``lookahead_s``, edge/contract.py):
for a causal model (lookahead 0) each row's window starts 20 s before its Kaggle window, so the labelled
10 s are the window's newest. Where that earlier context lies before the file start it is filled by the
same policy (the channel's mean: a flat stretch, no step edge) and counted in ``pad_samples``.

float32, not float16: uV values of real recordings reach past float16's 65504 (flat-lined or saturated
electrodes), which float16 would turn into inf and then into a filled gap.
"""

from __future__ import annotations

import dataclasses
import mmap
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.contract import CHANNELS, KAGGLE_LOOKAHEAD_S, WINDOW_SAMPLES, window_shift_samples
from edge.errors import DataError
from train.data.cache import WindowCache, cache_key
from train.data.columns import check_split, group_rows, start_sample
from train.data.eeg_file import read_eeg_file
from train.data.table import HmsTable, load_table

DEFAULT_WORKERS = min(4, os.cpu_count() or 1)
SEGMENT_START, SEGMENT_LENGTH, ROW_START = range(3)  # columns of WindowSet.row_spans


@dataclass(frozen=True, eq=False)
class WindowSet:
    samples: np.ndarray  # [S, 20] float32 uV (read-only memmap), time-major; NaN where the file has NaN
    margin: int
    # [N, 3] int64 per row: where its recording's segment starts in ``samples``, the segment's length, and
    # where the row (window minus margin) starts within the segment (negative when it starts before the file).
    row_spans: np.ndarray
    targets: np.ndarray | None  # [N, 6] float32 votes / total (None for the test split)
    total_votes: np.ndarray | None  # [N] int32
    patient_ids: np.ndarray  # [N] int64
    eeg_ids: np.ndarray  # [N] int64
    label_ids: np.ndarray  # [N] int64 (-1 for the test split)
    offsets_s: np.ndarray  # [N] float64
    nan_counts: np.ndarray  # [N] int64: NaN samples (all channels) of the file inside the row, filled on read
    pad_samples: np.ndarray  # [N, 2] int32: samples before / after the file that are filled on read
    lookahead_s: float = KAGGLE_LOOKAHEAD_S  # seconds after the labelled span in each window

    def __len__(self) -> int:
        return len(self.row_spans)

    def __reduce__(self):
        """Pickle a file-backed cache by its path: a memmap pickles as its whole contents (gigabytes), which
        every loader process started by spawn or forkserver (macOS, Windows, Python >= 3.14) would receive."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if _is_file_mapping(self.samples):
            values["samples"] = os.fspath(self.samples.filename)
        return _restore_window_set, (values,)

    @property
    def row_samples(self) -> int:
        return WINDOW_SAMPLES + 2 * self.margin

    def row(self, i: int) -> np.ndarray:
        """[20, 10000 + 2 * margin] float32: the window of row i with its margins, gaps filled."""
        segment_start, segment_length, at = (int(v) for v in self.row_spans[i])
        length = self.row_samples
        lo, hi = max(0, at), min(segment_length, at + length)
        out = np.full((len(CHANNELS), length), np.nan, dtype=np.float32)
        out[:, lo - at:hi - at] = read_span(self.samples, segment_start + lo, segment_start + hi).T
        fill_gaps(out)
        return out

    def window(self, i: int, shift: int = 0) -> np.ndarray:
        """[20, 10000] window of row i, shifted by ``shift`` samples (|shift| <= margin)."""
        if abs(shift) > self.margin:
            raise ValueError(f"shift must be within +-{self.margin} samples (the cached margin), got {shift}")
        start = self.margin + shift
        return self.row(i)[:, start:start + WINDOW_SAMPLES]


def read_span(samples: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """samples[lo:hi] in memory. From a file-backed memmap it is one read of the span's contiguous bytes:
    page-faulting a memmap in measured 4x slower (100 vs 400 windows/s) on a cache larger than the page
    cache, made training wait on the disk, and counts the mapped pages in every loader's RSS."""
    if not _is_file_mapping(samples):
        return np.asarray(samples[lo:hi])
    row_bytes = samples.strides[0]
    count = (hi - lo) * (row_bytes // samples.itemsize)
    return np.fromfile(samples.filename, dtype=samples.dtype, count=count,
                       offset=samples.offset + int(lo) * row_bytes).reshape(hi - lo, *samples.shape[1:])


def _is_file_mapping(samples: np.ndarray) -> bool:
    """A whole .npy file mapped by np.load: a slice of a memmap keeps its parent's filename and offset."""
    return isinstance(samples, np.memmap) and isinstance(samples.base, mmap.mmap) and samples.flags.c_contiguous


def _restore_window_set(values: dict) -> WindowSet:
    if isinstance(values["samples"], str):
        values = {**values, "samples": np.load(values["samples"], mmap_mode="r")}
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


@dataclass(frozen=True)
class SpanPlan:
    """Where every row's samples live: one segment per run of overlapping rows of a recording."""

    row_spans: np.ndarray  # [N, 3] as WindowSet.row_spans
    pad_samples: np.ndarray  # [N, 2] int32
    groups: list[np.ndarray]  # row indices per recording
    segments: list[np.ndarray]  # per recording, as groups: [k, 3] (file start, length, start in samples)
    total: int  # samples stored


def merge_intervals(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """[k, 2] sorted, non-overlapping [start, stop) covering the union of [lo, hi) (touching ones merge)."""
    merged: list[list[int]] = []
    for k in np.argsort(lo, kind="stable"):
        if merged and lo[k] <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], int(hi[k]))
        else:
            merged.append([int(lo[k]), int(hi[k])])
    return np.array(merged, dtype=np.int64).reshape(-1, 2)


def row_start(offset_s: float, margin: int, lookahead_s: float) -> int:
    """First sample (in the file) of a row: the model's window for the label at ``offset_s``, minus the margin."""
    return start_sample(offset_s) + window_shift_samples(lookahead_s) - margin


def plan_spans(table: HmsTable, margin: int, lookahead_s: float = KAGGLE_LOOKAHEAD_S) -> SpanPlan:
    """Merge each recording's rows (window plus margins, clipped to the file) into non-overlapping segments."""
    length = WINDOW_SAMPLES + 2 * margin
    row_spans = np.zeros((len(table), 3), dtype=np.int64)
    pads = np.zeros((len(table), 2), dtype=np.int32)
    starts = np.array([row_start(s, margin, lookahead_s) for s in table.offsets_s], dtype=np.int64)
    groups = [rows for rows in group_rows(table.eeg_ids) if len(rows)]
    segments, total = [], 0
    for rows in groups:
        file_length = int(table.eeg_samples[rows[0]])
        lo = np.clip(starts[rows], 0, file_length)
        hi = np.clip(starts[rows] + length, 0, file_length)
        pads[rows, 0] = lo - starts[rows]
        pads[rows, 1] = starts[rows] + length - hi
        spans = merge_intervals(lo, hi)
        seg = np.column_stack([spans[:, 0], spans[:, 1] - spans[:, 0], np.zeros(len(spans), dtype=np.int64)])
        seg[:, 2] = total + np.concatenate([[0], np.cumsum(seg[:-1, 1])])
        total += int(seg[:, 1].sum())
        which = np.searchsorted(seg[:, 0], lo, side="right") - 1
        row_spans[rows, SEGMENT_START] = seg[which, 2]
        row_spans[rows, SEGMENT_LENGTH] = seg[which, 1]
        row_spans[rows, ROW_START] = starts[rows] - seg[which, 0]
        segments.append(seg)
    return SpanPlan(row_spans=row_spans, pad_samples=pads, groups=groups, segments=segments, total=total)


def _decode_eeg(table: HmsTable, rows: np.ndarray, segments: np.ndarray, margin: int, lookahead_s: float,
                samples: RowWriter, nan_counts: np.ndarray) -> None:
    eeg = read_eeg_file(table.eeg_path(table.eeg_ids[rows[0]]))
    for file_start, length, at in segments:
        samples[at:at + length] = eeg[:, file_start:file_start + length].T
    nan_before = np.zeros(eeg.shape[1] + 1, dtype=np.int64)  # NaN samples (all channels) before each sample
    np.cumsum(np.isnan(eeg).sum(axis=0), out=nan_before[1:])
    for i in rows:
        start = row_start(table.offsets_s[i], margin, lookahead_s)
        lo, hi = np.clip([start, start + WINDOW_SAMPLES + 2 * margin], 0, eeg.shape[1])
        nan_counts[i] = nan_before[hi] - nan_before[lo]


class RowWriter:
    """A float32 [rows, columns] .npy file written by row ranges (``writer[a:b] = block``) with pwrite.
    A w+ memmap kept every written page resident in the building process: its peak RSS was the cache's
    size (7.0 GiB for 7200 EEGs); written this way the pages sit in the kernel's page cache instead."""

    def __init__(self, path: Path, rows: int, columns: int) -> None:
        with open(path, "wb") as fh:
            np.lib.format.write_array_header_1_0(fh, {"descr": "<f4", "fortran_order": False,
                                                      "shape": (rows, columns)})
            self.data_offset = fh.tell()
            fh.truncate(self.data_offset + rows * columns * 4)
        self.row_bytes = columns * 4
        self.fd = os.open(path, os.O_WRONLY)

    def __setitem__(self, rows: slice, block: np.ndarray) -> None:
        view = memoryview(np.ascontiguousarray(block, dtype="<f4")).cast("B")
        offset = self.data_offset + int(rows.start) * self.row_bytes
        while view:  # pwrite may write less than asked
            written = os.pwrite(self.fd, view, offset)
            view, offset = view[written:], offset + written

    def close(self) -> None:
        """On disk before the cache is renamed into place (the memmap writer's flush did the same)."""
        try:
            os.fsync(self.fd)
        finally:
            os.close(self.fd)


def _decode_all(table: HmsTable, plan: SpanPlan, margin: int, lookahead_s: float, path: Path,
                workers: int) -> np.ndarray:
    samples = RowWriter(path, plan.total, len(CHANNELS))
    nan_counts = np.zeros(len(table), dtype=np.int64)
    try:
        with ThreadPoolExecutor(max(1, workers)) as pool:  # pyarrow and numpy copies release the GIL
            for future in [pool.submit(_decode_eeg, table, rows, segments, margin, lookahead_s, samples, nan_counts)
                           for rows, segments in zip(plan.groups, plan.segments, strict=True)]:
                future.result()
    finally:
        samples.close()
    return nan_counts


def window_cache(folder: Path, data_dir: Path, split: str, *, margin: int,
                 lookahead_s: float = KAGGLE_LOOKAHEAD_S) -> WindowCache:
    """The cache of one split's windows placed with ``margin`` and ``lookahead_s``."""
    return WindowCache(folder, data_dir, split, cache_key(data_dir, split, margin, lookahead_s),
                       variant=f"m{margin}-L{lookahead_s:g}")


def build_window_set(data_dir: Path, cache_dir: Path | None = None, split: str = "train", *, margin: int = 400,
                     lookahead_s: float = KAGGLE_LOOKAHEAD_S, workers: int = DEFAULT_WORKERS) -> WindowSet:
    """Decode every parquet once into ``cache_dir`` (default <data_dir>/.eeg-edge-cache/), or reload it.

    The cache is keyed by the csv's content, the EEG files' names/sizes/mtimes and the margin, so a
    changed dataset rebuilds and an unchanged one memory-maps instantly. For the test split the
    windows are the first 50 s of each file. ``lookahead_s`` places each window around its label
    (module docstring).
    """
    data_dir = Path(data_dir)
    check_split(split)
    if margin < 0:
        raise DataError(f"margin must be >= 0 samples, got {margin}")
    cache = window_cache(Path(cache_dir) if cache_dir is not None else data_dir / ".eeg-edge-cache", data_dir, split,
                         margin=margin, lookahead_s=lookahead_s)
    if not cache.exists():
        table = load_table(data_dir, split)
        plan = plan_spans(table, margin, lookahead_s)
        with cache.writing() as (samples_tmp, finish):
            nan_counts = _decode_all(table, plan, margin, lookahead_s, samples_tmp, workers)
            finish({
                "row_spans": plan.row_spans, "targets": table.targets, "total_votes": table.total_votes,
                "patient_ids": table.patient_ids, "eeg_ids": table.eeg_ids, "label_ids": table.label_ids,
                "offsets_s": table.offsets_s, "nan_counts": nan_counts, "pad_samples": plan.pad_samples,
            })
    samples, meta = cache.load()
    return WindowSet(samples=samples, margin=margin, lookahead_s=lookahead_s, **meta)
