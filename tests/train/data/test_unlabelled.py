"""Unlabelled real EEG for BatchNorm adaptation: windows of real recordings, false-alarm subjects left out."""

import shutil

import numpy as np
import pytest

from edge.contract import CHANNELS, SAMPLE_RATE_HZ, WINDOW_SAMPLES
from edge.errors import DataError, SpecError
from edge.testing import shared_data_dir
from train.data.unlabelled import unlabelled_windows
from train.data.writer import write_eeg_parquet
from train.fit.config import load_config

EEGMAT = shared_data_dir() / "eegmat"


@pytest.mark.skipif(not EEGMAT.is_dir(), reason="needs ../shared/data/eegmat")
def test_real_eegmat_recordings_become_windows_and_the_false_alarm_subjects_stay_out(tmp_path):
    for name in ("Subject00_2.edf", "Subject18_2.edf"):
        shutil.copy(EEGMAT / name, tmp_path / name)
    got = unlabelled_windows(tmp_path, stride_s=10.0)
    assert got.summary() == {"windows": 2, "files": 1, "held_out_files": 1}  # 60 s at 500 Hz: starts 0 and 10 s
    windows = np.stack([got[0], got[1]])
    assert windows.shape == (2, len(CHANNELS), WINDOW_SAMPLES) and windows.dtype == np.float32
    assert np.shares_memory(got[0], got[1])  # overlapping windows are views of one recording, not copies
    eeg = windows[:, :19]
    assert np.isfinite(eeg).all() and 2 < float(np.median(eeg.std(axis=2))) < 200  # microvolts of real EEG
    np.testing.assert_array_equal(windows[0, :, 2000:], windows[1, :, :-2000])  # 10 s stride


def test_unlabelled_folder_errors_are_one_line(tmp_path):
    with pytest.raises(DataError, match="--unlabelled .*: not a directory"):
        unlabelled_windows(tmp_path / "missing", stride_s=10.0)
    write_eeg_parquet(tmp_path / "short.parquet", np.zeros((len(CHANNELS), 30 * SAMPLE_RATE_HZ)))
    with pytest.raises(DataError, match="no recording is at least 50 s long"):
        unlabelled_windows(tmp_path, stride_s=10.0)


def test_adapt_config_bounds():
    assert load_config(None).adapt.unlabelled_eeg == ""  # off by default
    for field, value in (("bn_share", 0.0), ("bn_share", 1.0), ("stride_s", 0.0)):
        with pytest.raises(SpecError, match=f"adapt.{field}"):
            load_config(None, {f"adapt.{field}": value})
