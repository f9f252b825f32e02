import dataclasses
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

import train.data.windows as windows_module
from edge.spec import CHANNELS, SAMPLE_RATE_HZ, WINDOW_SAMPLES
from train.data import build_window_set, fill_gaps
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
    write_csv(tmp_path / "data", "train", train_columns([5, 5], [0.0, 10.0], [1, 1], [[1, 0, 0, 0, 0, 2]] * 2))
    return tmp_path / "data"


def test_windows_are_file_slices_with_filled_margins(layout, tmp_path):
    ws = build_window_set(layout, tmp_path / "cache", margin=MARGIN, workers=2)
    raw = read_eeg_file(layout / "train_eegs" / "5.parquet")
    assert ws.signals.shape == (2, 20, WINDOW_SAMPLES + 2 * MARGIN) and ws.signals.dtype == np.float32
    assert len(ws) == 2 and ws.margin == MARGIN
    np.testing.assert_array_equal(ws.window(0, 0), raw[:, :10000])
    np.testing.assert_array_equal(ws.window(1, -MARGIN)[:, :9000], raw[:, 1800:10800])  # up to the NaN stretch
    np.testing.assert_array_equal(ws.pad_samples, [[MARGIN, 0], [0, MARGIN]])  # row 1 ends at the file end
    # before the file: each channel's mean over the row, not a step to 0
    row_mean = np.nanmean(raw[:, :WINDOW_SAMPLES + MARGIN], axis=1)
    np.testing.assert_allclose(ws.signals[0, :, 0], row_mean, rtol=1e-5)
    np.testing.assert_allclose(ws.targets, [[1 / 3, 0, 0, 0, 0, 2 / 3]] * 2, rtol=1e-6)
    np.testing.assert_array_equal(ws.total_votes, [3, 3])
    with pytest.raises(ValueError, match="shift must be within"):
        ws.window(0, MARGIN + 1)


def test_nan_stretch_is_counted_and_replaced(layout, tmp_path):
    ws = build_window_set(layout, tmp_path / "cache", margin=MARGIN)
    stretch = 2 * SAMPLE_RATE_HZ * len(CHANNELS)
    np.testing.assert_array_equal(ws.nan_counts, [0, stretch])  # row 0 stops at 51 s, before the stretch
    assert np.isfinite(ws.signals).all()
    row = ws.signals[1]
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
    assert isinstance(first.signals, np.memmap)

    def no_parquet(*args):
        raise AssertionError("an unchanged dataset must not re-read parquet")

    monkeypatch.setattr(windows_module, "read_eeg_file", no_parquet)
    again = build_window_set(layout, cache, margin=MARGIN)
    np.testing.assert_array_equal(again.signals, first.signals)
    monkeypatch.undo()

    csv = layout / "train.csv"
    csv.write_text(csv.read_text().replace(",10.0,", ",8.0,"))
    changed = build_window_set(layout, cache, margin=MARGIN)
    np.testing.assert_array_equal(changed.offsets_s, [0.0, 8.0])
    assert len(list(cache.glob("windows-train-*.npy"))) == 1  # the stale version was removed


def test_killed_build_leaves_no_cache(layout, tmp_path, monkeypatch):
    def crash(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(windows_module, "_decode_eeg", crash)
    with pytest.raises(KeyboardInterrupt):
        build_window_set(layout, tmp_path / "cache", margin=MARGIN)
    assert list((tmp_path / "cache").iterdir()) == []


def test_real_hms_file_and_synthetic_nans(shared_data, tmp_path):
    """A real 90 s Kaggle file: windows equal the file, no NaN; then a copy with a NaN stretch."""
    source = shared_data / "hms" / "train_eeg_1628180742.parquet"
    raw = read_eeg_file(source)
    assert np.isfinite(raw).all() and raw.shape == (20, 18000)
    data = tmp_path / "hms"
    (data / "train_eegs").mkdir(parents=True)
    shutil.copy(source, data / "train_eegs" / "1628180742.parquet")
    write_csv(data, "train", train_columns([1628180742] * 2, [0.0, 40.0], [42516] * 2, [[3, 0, 0, 0, 0, 0]] * 2))
    ws = build_window_set(data, margin=MARGIN)
    np.testing.assert_array_equal(ws.window(1), raw[:, 8000:18000])
    np.testing.assert_array_equal(ws.nan_counts, [0, 0])
    np.testing.assert_array_equal(ws.pad_samples, [[MARGIN, 0], [0, MARGIN]])

    raw[:, 12000:12100] = np.nan  # only in row 1 (row 0 stops at sample 10200)
    write_eeg_parquet(data / "train_eegs" / "1628180742.parquet", raw)
    ws = build_window_set(data, margin=MARGIN)
    np.testing.assert_array_equal(ws.nan_counts, [0, 100 * 20])
    assert np.isfinite(ws.signals).all()


def test_read_row_reads_the_file_and_refuses_to_misread_a_sliced_memmap(tmp_path):
    rows = np.arange(5 * 3 * 4, dtype=np.float32).reshape(5, 3, 4)
    path = tmp_path / "rows.npy"
    np.save(path, rows)
    mapped = np.load(path, mmap_mode="r")
    for i in range(5):
        np.testing.assert_array_equal(windows_module.read_row(mapped, i), rows[i])
    # A slice keeps the parent's filename and offset: it must fall back to indexing, not read row 0 for row 2.
    np.testing.assert_array_equal(windows_module.read_row(mapped[2:], 0), rows[2])
    np.testing.assert_array_equal(windows_module.read_row(rows, 3), rows[3])


def test_a_cached_window_set_pickles_by_path_for_spawned_loader_processes(layout, tmp_path):
    ws = build_window_set(layout, tmp_path / "cache", margin=MARGIN)
    payload = pickle.dumps(ws)
    assert len(payload) < ws.signals.nbytes / 10  # the path and the metadata, not the signals
    copy = pickle.loads(payload)
    np.testing.assert_array_equal(copy.window(1, 3), ws.window(1, 3))
    np.testing.assert_array_equal(copy.targets, ws.targets)
    in_memory = dataclasses.replace(ws, signals=np.array(ws.signals))  # not file-backed: pickled as is
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(in_memory)).window(0), ws.window(0))
