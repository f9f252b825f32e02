"""`train synth --profile hms`: the totals of Kaggle's train set, heavy tails, overlapping windows."""

import numpy as np
import pytest

from edge.contract import SAMPLE_RATE_HZ
from edge.errors import DataError
from train.data import load_table, validate_layout
from train.synth.generate import SynthConfig, generate_dataset
from train.synth.profile import (
    HMS_EEGS,
    HMS_PATIENTS,
    HMS_ROWS,
    MAX_OFFSET_S,
    MAX_RECORDING_S,
    WINDOW_S,
    hms_shape,
    scaled_counts,
    shape_statistics,
)


def test_full_profile_has_the_kaggle_totals_and_heavy_tails():
    plan = hms_shape(np.random.default_rng(0))
    stats = shape_statistics(plan)
    assert (stats["eegs"], stats["rows"], stats["patients"]) == (HMS_EEGS, HMS_ROWS, HMS_PATIENTS)
    assert stats["rows_per_eeg_max"] > 20 * stats["rows_per_eeg_median"]  # a few recordings carry hundreds
    assert stats["eegs_per_patient_max"] > 10 * stats["eegs_per_patient_median"]
    assert stats["rows_overlapping_previous"] > 0.5  # Kaggle's sub-windows overlap heavily
    assert 0.9 * MAX_OFFSET_S <= stats["max_offset_s"] <= MAX_OFFSET_S
    assert plan.seconds.min() >= WINDOW_S and plan.seconds.max() <= MAX_RECORDING_S
    for offsets, seconds in zip(plan.offsets_s, plan.seconds, strict=True):
        assert len(np.unique(offsets)) == len(offsets) and np.all(offsets % 2 == 0)
        assert offsets[-1] + WINDOW_S <= seconds


def test_scaled_counts_keep_the_ratios_and_refuse_bad_scales():
    assert scaled_counts(1.0) == (HMS_EEGS, HMS_ROWS, HMS_PATIENTS)
    assert scaled_counts(0.01) == (171, 1068, 20)
    for bad in (0, -1, 1.5):
        with pytest.raises(DataError, match="--scale"):
            scaled_counts(bad)


@pytest.mark.slow
def test_a_small_hms_shaped_layout_is_valid(tmp_path):
    summary = generate_dataset(tmp_path / "hms", SynthConfig.hms(0.002, seed=1))
    assert validate_layout(summary.out) == [] and validate_layout(summary.out, "test") == []
    table = load_table(summary.out)
    eegs, rows, patients = scaled_counts(0.002)
    assert (len(np.unique(table.eeg_ids)), len(table), len(np.unique(table.patient_ids))) == (eegs, rows, patients)
    assert table.eeg_samples.max() / SAMPLE_RATE_HZ > 2 * WINDOW_S  # long recordings, not 50-90 s
