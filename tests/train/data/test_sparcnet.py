"""The data layer reads real expert-voted EEG (IIIC-SPaRCNet fixtures in tests/data, ODC-By 1.0)."""

from pathlib import Path

import numpy as np
import pyarrow.csv as pcsv

from edge.contract import VOTE_COLUMNS
from train.data import build_window_set, load_table
from train.data.eeg_file import read_eeg_file
from train.data.sparcnet import sparcnet_layout

FIXTURES = Path(__file__).resolve().parents[2] / "data"


def test_real_segments_read_back_through_the_data_layer(tmp_path):
    layout = sparcnet_layout(FIXTURES, tmp_path / "sparcnet")
    table = load_table(layout)
    labels = pcsv.read_csv(FIXTURES / "labels.csv").to_pylist()
    assert len(table) == len(labels) == 3
    votes = np.array([[row[c] for c in VOTE_COLUMNS] for row in labels])
    np.testing.assert_array_equal(table.votes, votes)
    np.testing.assert_allclose(table.targets.sum(axis=1), 1, rtol=1e-6)

    windows = build_window_set(layout, tmp_path / "cache", margin=100)
    for i, row in enumerate(labels):
        raw = read_eeg_file(FIXTURES / row["file"])
        assert raw.shape == (20, 10_000) and np.isfinite(raw).all()
        np.testing.assert_array_equal(windows.window(i), raw)
    np.testing.assert_array_equal(windows.pad_samples, [[100, 100]] * 3)  # 50 s files: both margins padded
    assert windows.nan_counts.sum() == 0
    # real amplitudes are tens of microvolts, not volts or raw ADC counts
    assert 5 < np.median(np.abs(windows.window(0)[:19])) < 200
