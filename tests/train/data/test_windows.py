import dataclasses
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import train.data.windows as windows_module
from edge.contract import CHANNELS, SAMPLE_RATE_HZ, WINDOW_SAMPLES
from train.data import build_window_set, fill_gaps
from train.data.columns import start_sample
from train.data.eeg_file import read_eeg_file
from train.data.writer import train_columns, write_csv, write_eeg_parquet

MARGIN = 200


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """One 60 s EEG labelled at 0 s and 10 s; a 2 s NaN stretch at 55-57 s on every channel."""
    rng = np.random.default_rng(0)
    signals = rng.normal(0, 20, size=(len(CHANNELS), 60 * SAMPLE_RATE_HZ)) + np.arange(len(CHANNELS))[:, None] * 10
    signals[:, 55 * SAMPLE_RATE_HZ:57 * SAMPLE_RATE_HZ] = np.nan
    write_eeg_parquet(tmp_path / "data" / "train_eegs" / "5.parquet", signals)
    write_csv(tmp_path / "data", "train", train_columns([5, 5], [0.0, 10.0], [1, 1], votes=[[1, 0, 0, 0, 0, 2]] * 2))
    return tmp_path / "data"


def test_windows_are_file_slices_with_filled_margins(layout, tmp_path):
    ws = build_window_set(layout, tmp_path / "cache", margin=MARGIN, workers=2)
    raw = read_eeg_file(layout / "train_eegs" / "5.parquet")
    assert ws.samples.dtype == np.float32 and len(ws) == 2 and ws.margin == MARGIN
    assert ws.samples.shape == (60 * SAMPLE_RATE_HZ, 20)  # rows 0-10.8 s and 9-60 s overlap: the file once
    np.testing.assert_array_equal(ws.window(0, 0), raw[:, :10000])
    np.testing.assert_array_equal(ws.window(1, -MARGIN)[:, :9000], raw[:, 1800:10800])  # up to the NaN stretch
    np.testing.assert_array_equal(ws.pad_samples, [[MARGIN, 0], [0, MARGIN]])  # row 1 ends at the file end
    # before the file: each channel's mean over the row, not a step to 0
    row_mean = np.nanmean(raw[:, :WINDOW_SAMPLES + MARGIN], axis=1)
    np.testing.assert_allclose(ws.row(0)[:, 0], row_mean, rtol=1e-5)
    np.testing.assert_allclose(ws.targets, [[1 / 3, 0, 0, 0, 0, 2 / 3]] * 2, rtol=1e-6)
    np.testing.assert_array_equal(ws.total_votes, [3, 3])
    with pytest.raises(ValueError, match="shift must be within"):
        ws.window(0, MARGIN + 1)


def test_nan_stretch_is_counted_and_replaced(layout, tmp_path):
    ws = build_window_set(layout, tmp_path / "cache", margin=MARGIN)
    stretch = 2 * SAMPLE_RATE_HZ * len(CHANNELS)
    np.testing.assert_array_equal(ws.nan_counts, [0, stretch])  # row 0 stops at 51 s, before the stretch
    row = ws.row(1)
    assert np.isfinite(row).all()
    stretch_cols = slice(MARGIN + 45 * SAMPLE_RATE_HZ, MARGIN + 47 * SAMPLE_RATE_HZ)
    expected = np.nanmean(read_eeg_file(layout / "train_eegs" / "5.parquet")[:, 1800:12000], axis=1)
    np.testing.assert_allclose(row[:, stretch_cols], np.repeat(expected[:, None], 400, axis=1), rtol=1e-4)


def test_fill_gaps_uses_channel_mean_and_zero_for_all_nan():
    row = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan]], dtype=np.float32)
    assert fill_gaps(row) == 4
    np.testing.assert_array_equal(row, [[1, 2, 3], [0, 0, 0]])


def test_cache_reloads_without_parquet_and_rebuilds_on_change(layout, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = build_window_set(layout, cache, margin=MARGIN)
    assert isinstance(first.samples, np.memmap)

    def no_parquet(*args):
        raise AssertionError("an unchanged dataset must not re-read parquet")

    monkeypatch.setattr(windows_module, "read_eeg_file", no_parquet)
    again = build_window_set(layout, cache, margin=MARGIN)
    np.testing.assert_array_equal(again.samples, first.samples)
    monkeypatch.undo()

    csv = layout / "train.csv"
    csv.write_text(csv.read_text().replace(",10.0,", ",8.0,"))
    changed = build_window_set(layout, cache, margin=MARGIN)
    np.testing.assert_array_equal(changed.offsets_s, [0.0, 8.0])
    assert len(list(cache.glob("windows-train-*.npy"))) == 1  # the stale version was removed


def test_builds_with_another_lookahead_never_evict_each_other(layout, tmp_path):
    """Two `train fit` runs on one dataset with different lookaheads (an L sweep run side by side)."""
    cache = tmp_path / "cache"
    kaggle = build_window_set(layout, cache, margin=MARGIN)
    causal = build_window_set(layout, cache, margin=MARGIN, lookahead_s=0.0)
    assert len(list(cache.glob("windows-train-*.npy"))) == 2
    assert Path(kaggle.samples.filename).is_file() and Path(causal.samples.filename).is_file()


def test_killed_build_leaves_no_cache(layout, tmp_path, monkeypatch):
    def crash(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(windows_module, "_decode_eeg", crash)
    with pytest.raises(KeyboardInterrupt):
        build_window_set(layout, tmp_path / "cache", margin=MARGIN)
    assert list((tmp_path / "cache").iterdir()) == []


KILL_AFTER_FIRST_RECORDING = """
import os, signal, sys
from pathlib import Path
import train.data.windows as w
decode = w._decode_eeg
def decode_then_die(*args):
    decode(*args)
    os.kill(os.getpid(), signal.SIGKILL)  # no finally, no cleanup: what a power cut or the OOM killer does
w._decode_eeg = decode_then_die
w.build_window_set(Path(sys.argv[1]), Path(sys.argv[2]), margin=int(sys.argv[3]), workers=1)
"""


def test_a_killed_build_leaves_nothing_that_is_accepted(tmp_path):
    data = tmp_path / "data"
    rng = np.random.default_rng(1)
    for eeg_id in (1, 2):
        write_eeg_parquet(data / "train_eegs" / f"{eeg_id}.parquet", rng.normal(0, 20, (len(CHANNELS), 12000)))
    write_csv(data, "train", train_columns([1, 2], [0.0, 4.0], [1, 2], votes=[[1, 0, 0, 0, 0, 2]] * 2))
    cache_dir = tmp_path / "cache"
    killed = subprocess.run([sys.executable, "-c", KILL_AFTER_FIRST_RECORDING, str(data), str(cache_dir), str(MARGIN)],
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[3])}, check=False)
    assert killed.returncode == -9
    leftovers = list(cache_dir.iterdir())
    assert leftovers and all(p.name.endswith(".tmp") for p in leftovers)  # the half-written build is there...
    assert not windows_module.window_cache(cache_dir, data, "train", margin=MARGIN).exists()  # ...not accepted
    ws = build_window_set(data, cache_dir, margin=MARGIN)  # rebuilt from parquet
    np.testing.assert_array_equal(ws.window(1, -MARGIN), read_eeg_file(data / "train_eegs" / "2.parquet")[:, 600:10600])
    assert not any(p.name.endswith(".tmp") for p in cache_dir.iterdir())  # the dead build's files were removed


def _reference_row(data: Path, eeg_id: int, offset_s: float, margin: int) -> tuple[np.ndarray, int, int, int]:
    """The row as the per-row cache defined it: cut from the parquet, out-of-file samples NaN, gaps filled."""
    eeg = read_eeg_file(data / "train_eegs" / f"{eeg_id}.parquet")
    start, length = start_sample(offset_s) - margin, WINDOW_SAMPLES + 2 * margin
    before, after = max(0, -start), max(0, start + length - eeg.shape[1])
    row = np.full((eeg.shape[0], length), np.nan, dtype=np.float32)
    row[:, before:length - after] = eeg[:, start + before:start + length - after]
    nans = int(np.isnan(row).sum()) - (before + after) * eeg.shape[0]
    fill_gaps(row)
    return row, nans, before, after


def test_every_window_and_shift_equals_the_parquet(tmp_path):
    """Overlapping, disjoint and edge rows of recordings with NaN runs: every row at every shift is the file's."""
    rng = np.random.default_rng(2)
    data, ids, offsets = tmp_path / "data", [], []
    plans = {7: (130, [0.0, 2.0, 4.0, 30.0, 80.0]), 8: (50, [0.0]), 9: (300, [10.0, 120.0, 124.0, 250.0]),
             10: (75, [25.0, 0.0, 25.0])}  # 10: rows out of order, one offset twice
    for eeg_id, (seconds, row_offsets) in plans.items():
        signals = rng.normal(0, 30, (len(CHANNELS), seconds * SAMPLE_RATE_HZ)) + rng.normal(0, 300, (len(CHANNELS), 1))
        signals[:, rng.integers(0, signals.shape[1] - 600):][:, :500] = np.nan  # a 2.5 s gap somewhere
        signals[3, :SAMPLE_RATE_HZ] = np.nan  # and one channel missing for the first second
        write_eeg_parquet(data / "train_eegs" / f"{eeg_id}.parquet", signals)
        ids += [eeg_id] * len(row_offsets)
        offsets += row_offsets
    write_csv(data, "train", train_columns(ids, offsets, [1] * len(ids), votes=[[1, 0, 0, 0, 0, 2]] * len(ids)))
    ws = build_window_set(data, tmp_path / "cache", margin=MARGIN, workers=2)
    # The union of rows (window +- 1 s margin, clipped to the file), each sample once: 7: 0-130 s (all rows
    # overlap), 8: 0-50 s, 9: 9-61, 119-175 and 249-300 s, 10: 0-75 s; 414 s instead of 13 rows x 52 s.
    assert ws.samples.shape == ((130 + 50 + 52 + 56 + 51 + 75) * SAMPLE_RATE_HZ, len(CHANNELS))
    for i, (eeg_id, offset_s) in enumerate(zip(ids, offsets, strict=True)):
        row, nans, before, after = _reference_row(data, eeg_id, offset_s, MARGIN)
        np.testing.assert_array_equal(ws.row(i), row)
        for shift in (-MARGIN, -MARGIN + 1, -37, 0, 1, 199, MARGIN):
            np.testing.assert_array_equal(ws.window(i, shift), row[:, MARGIN + shift:MARGIN + shift + WINDOW_SAMPLES])
        assert (ws.nan_counts[i], *ws.pad_samples[i]) == (nans, before, after)


def test_real_hms_file_and_synthetic_nans(shared_data, tmp_path):
    """A real 90 s Kaggle file: windows equal the file, no NaN; then a copy with a NaN stretch."""
    source = shared_data / "hms" / "train_eeg_1628180742.parquet"
    raw = read_eeg_file(source)
    assert np.isfinite(raw).all() and raw.shape == (20, 18000)
    data = tmp_path / "hms"
    (data / "train_eegs").mkdir(parents=True)
    shutil.copy(source, data / "train_eegs" / "1628180742.parquet")
    write_csv(data, "train", train_columns([1628180742] * 2, [0.0, 40.0], [42516] * 2, votes=[[3, 0, 0, 0, 0, 0]] * 2))
    ws = build_window_set(data, margin=MARGIN)
    np.testing.assert_array_equal(ws.window(1), raw[:, 8000:18000])
    np.testing.assert_array_equal(ws.nan_counts, [0, 0])
    np.testing.assert_array_equal(ws.pad_samples, [[MARGIN, 0], [0, MARGIN]])

    raw[:, 12000:12100] = np.nan  # only in row 1 (row 0 stops at sample 10200)
    write_eeg_parquet(data / "train_eegs" / "1628180742.parquet", raw)
    ws = build_window_set(data, margin=MARGIN)
    np.testing.assert_array_equal(ws.nan_counts, [0, 100 * 20])
    assert np.isfinite(ws.window(1)).all()


def test_read_span_reads_the_file_and_refuses_to_misread_a_sliced_memmap(tmp_path):
    rows = np.arange(7 * 3, dtype=np.float32).reshape(7, 3)
    path = tmp_path / "rows.npy"
    np.save(path, rows)
    mapped = np.load(path, mmap_mode="r")
    for lo, hi in [(0, 7), (2, 5), (6, 7), (3, 3)]:
        np.testing.assert_array_equal(windows_module.read_span(mapped, lo, hi), rows[lo:hi])
    # A slice keeps the parent's filename and offset: it must fall back to indexing, not read from row 0.
    np.testing.assert_array_equal(windows_module.read_span(mapped[2:], 0, 2), rows[2:4])
    np.testing.assert_array_equal(windows_module.read_span(rows, 3, 6), rows[3:6])


def test_a_cached_window_set_pickles_by_path_for_spawned_loader_processes(layout, tmp_path):
    ws = build_window_set(layout, tmp_path / "cache", margin=MARGIN)
    payload = pickle.dumps(ws)
    assert len(payload) < ws.samples.nbytes / 10  # the path and the metadata, not the signals
    copy = pickle.loads(payload)
    np.testing.assert_array_equal(copy.window(1, 3), ws.window(1, 3))
    np.testing.assert_array_equal(copy.targets, ws.targets)
    in_memory = dataclasses.replace(ws, samples=np.array(ws.samples))  # not file-backed: pickled as is
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(in_memory)).window(0), ws.window(0))


def test_causal_lookahead_cuts_each_window_relative_to_its_label(layout, tmp_path):
    """Lookahead 0: the labelled 10 s are the window's newest; the 20 s before the file start are filled."""
    kaggle = build_window_set(layout, tmp_path / "cache", margin=MARGIN, workers=1)
    causal = build_window_set(layout, tmp_path / "cache0", margin=MARGIN, lookahead_s=0.0, workers=1)
    assert causal.lookahead_s == 0.0 and kaggle.lookahead_s == 20.0
    raw = read_eeg_file(layout / "train_eegs" / "5.parquet")
    shift = 20 * SAMPLE_RATE_HZ
    for row in (0, 1):  # the same labelled samples, 20 s later in the causal window
        np.testing.assert_array_equal(causal.window(row)[:, -2000:], kaggle.window(row)[:, 4000:6000])
    np.testing.assert_array_equal(causal.window(1)[:, shift - 2000:], raw[:, :10000 - shift + 2000])
    assert causal.pad_samples[0, 0] == shift + MARGIN
    assert causal.pad_samples[1, 0] == shift - 10 * SAMPLE_RATE_HZ + MARGIN
    filled = causal.window(0)[:, :shift]
    assert np.all(filled == filled[:, :1])  # a flat stretch at each channel's level, no step edge
