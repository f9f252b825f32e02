"""Calibration window selection and the onnxruntime data reader."""

from __future__ import annotations

import numpy as np
import pytest

from calibrate.calib_data import WindowBatchReader, split_by_patient, stratified_indices
from edge.errors import DataError


def _one_hot_targets(labels) -> np.ndarray:
    return np.eye(6)[np.asarray(labels)]


def test_stratified_selection_takes_classes_in_turn():
    # 90 rows of "other", 5 of seizure, 5 of lpd: a plain random draw of 12 would mostly be "other".
    targets = _one_hot_targets([5] * 90 + [0] * 5 + [1] * 5)
    chosen = stratified_indices(targets, 12, seed=0)
    counts = np.bincount(targets[chosen].argmax(axis=1), minlength=6)
    assert counts[0] == 4 and counts[1] == 4 and counts[5] == 4
    assert len(set(chosen.tolist())) == 12
    np.testing.assert_array_equal(chosen, stratified_indices(targets, 12, seed=0))  # deterministic


def test_stratified_selection_respects_candidates_and_runs_out_gracefully():
    targets = _one_hot_targets([0, 1, 2, 3, 4, 5] * 3)
    chosen = stratified_indices(targets, 50, seed=1, candidates=np.arange(6))
    np.testing.assert_array_equal(chosen, np.arange(6))
    with pytest.raises(DataError, match="> 0"):
        stratified_indices(targets, 0)


def test_patient_split_shares_no_patient():
    patients = np.repeat(np.arange(10), 3)
    calib, held = split_by_patient(patients, 0.3, seed=0)
    assert len(calib) + len(held) == 30
    assert not set(patients[calib]) & set(patients[held])
    assert len(set(patients[held])) == 3
    with pytest.raises(DataError, match="at least 2 patients"):
        split_by_patient(np.zeros(5), 0.3)


class _Source:
    def __init__(self, n: int) -> None:
        self.targets = _one_hot_targets(np.arange(n) % 6)
        self.patient_ids = np.arange(n)

    def window(self, index: int) -> np.ndarray:
        return np.full((20, 10000), index, dtype=np.float64)


def test_reader_feeds_float32_batches_then_none_and_rewinds():
    reader = WindowBatchReader(_Source(10), np.array([1, 3, 5, 7, 9]), "eeg", batch=2)
    batches = [reader.get_next() for _ in range(3)]
    assert reader.get_next() is None
    assert [b["eeg"].shape[0] for b in batches] == [2, 2, 1]
    assert batches[0]["eeg"].dtype == np.float32 and batches[0]["eeg"].shape[1:] == (20, 10000)
    assert batches[2]["eeg"][0, 0, 0] == 9
    reader.rewind()
    assert reader.get_next()["eeg"][1, 0, 0] == 3
    assert reader.window_count == 5
