"""scripts/probe_real_segments.py: the rhythm measurement reads a known rhythm, and the gain sweep scores at gain 1
what eval_sparcnet scores."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from edge.contract import CHANNELS, CLASSES, SAMPLE_RATE_HZ, WINDOW_SAMPLES
from scripts.probe_real_segments import gain_rows, peak_rows


def test_peaks_find_a_known_rhythm_per_10_s_and_skip_other_classes():
    t = np.arange(WINDOW_SAMPLES) / SAMPLE_RATE_HZ
    eeg = np.zeros((2, len(CHANNELS), WINDOW_SAMPLES))
    eeg[0, CHANNELS.index("Fp1")] = 80 * np.sin(2 * np.pi * np.where(t < 20, 1.75, 3.0) * t)
    eeg[1, CHANNELS.index("O2")] = 50 * np.sin(2 * np.pi * 1.0 * t)
    targets = np.eye(len(CLASSES))[[CLASSES.index("seizure"), CLASSES.index("lpd")]]
    segments = [SimpleNamespace(path=Path("fast.parquet")), SimpleNamespace(path=Path("slow.parquet"))]
    rows = peak_rows(segments, eeg, targets, {"seizure"})
    assert len(rows) == 3 and rows[2].startswith("| fast | seizure | 1.75 (")  # lpd's segment is left out
    assert [cell.split(" (")[0] for cell in rows[2].split(" | ")[2].split(", ")] == ["1.75", "1.75", "3.00", "3.00",
                                                                                   "3.00"]


def test_gain_one_scores_what_eval_sparcnet_scores(shared_data):
    from edge.contract import VOTE_COLUMNS
    from edge.model.shipped import DEFAULT_BUNDLE
    from train.data.sparcnet import filled_eeg, load_segments, vote_targets
    from train.fit.evaluate import evaluate_bundle_on_segments

    data = shared_data / "sparcnet_iiic"
    segments = load_segments(data, columns=("file", *VOTE_COLUMNS))
    rows = gain_rows(DEFAULT_BUNDLE, [1.0, 2.0], filled_eeg(segments), vote_targets(segments))
    expected = evaluate_bundle_on_segments(DEFAULT_BUNDLE, data, backend="onnx")["kl_model"]
    assert float(rows[2].split(" | ")[1]) == pytest.approx(expected, abs=1e-3)
    assert rows[3].startswith("| 2 | ") and rows[3] != rows[2].replace("| 1 |", "| 2 |", 1)
