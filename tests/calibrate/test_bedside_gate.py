"""Calibration and parity windows are the ones edge's validity gate lets through, masked as edge masks them."""

from __future__ import annotations

import numpy as np
import pytest

from calibrate.bedside_gate import BedsideGate, BedsideSource
from calibrate.calib_data import stratified_indices
from edge.contract import CHANNELS, LABEL_START, LABEL_STOP, WINDOW_SAMPLES


def _eeg(seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((len(CHANNELS), WINDOW_SAMPLES)) * 20).astype(np.float32)


def _artifact(seed: int) -> np.ndarray:
    window = _eeg(seed)
    window[:, LABEL_START:LABEL_STOP] *= 1e6  # every channel far beyond 10 mV in the labelled span
    return window


class _Source:
    def __init__(self, windows: list[np.ndarray]) -> None:
        self.windows = windows
        self.targets = np.eye(6)[np.arange(len(windows)) % 6]
        self.patient_ids = np.arange(len(windows))

    def window(self, index: int) -> np.ndarray:
        return self.windows[index]


def test_gate_passes_clean_eeg_unchanged_and_refuses_what_edge_refuses():
    gate = BedsideGate()
    clean = _eeg(0)
    np.testing.assert_array_equal(gate.judge(clean), clean)
    assert gate.judge(_artifact(1)) is None
    gappy = _eeg(2)
    gappy[:, LABEL_START:LABEL_STOP] = np.nan
    assert gate.judge(gappy) is None
    assert gate.refused == {"artifact": 1, "missing": 1}


def test_gate_masks_out_of_range_samples_outside_the_labelled_span():
    window = _eeg(3)
    window[4, 100:120] = 5e8  # a short artifact before the labelled span: predicted, but masked
    seen = BedsideGate().judge(window)
    assert seen is not None and np.abs(seen).max() < 1e4
    np.testing.assert_array_equal(seen[4, 100:120], window[4, 99])  # the channel's last good value


def test_stratified_choice_skips_refused_windows_and_counts_them():
    windows = [_artifact(i) if i % 3 == 0 else _eeg(i) for i in range(18)]
    source = BedsideSource(_Source(windows))
    chosen = stratified_indices(source.targets, 12, seed=0, accept=source.accepts)
    assert len(chosen) == 12 and not any(i % 3 == 0 for i in chosen)
    assert source.excluded() == {"artifact": 6}
    with pytest.raises(ValueError, match="refused"):
        source.window(0)
