"""The synthetic rhythmic delta looks, in the bipolar montage, the way its class is defined.

Real LRDA (sparcnet_iiic LRDA_sample1/2) carries 4.8-5.8x more delta power over one hemisphere's
chains than the other's; GRDA is symmetric. A pattern that fails this is one no rater would call
LRDA, and a model trained on it learns nothing that transfers (docs/synthetic-data.md, "LRDA against
the real segments").
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfiltfilt

from edge.contract import CLASSES, LABEL_START, LABEL_STOP, MONTAGE_CHAINS, SAMPLE_RATE_HZ, montage_matrix
from train.synth.background import draw_patient
from train.synth.generate import synth_recording

LABELLED = slice(LABEL_START, LABEL_STOP)
LEFT_CHAINS = [k for k, name in enumerate(MONTAGE_CHAINS) if name.startswith("L")]
RIGHT_CHAINS = [k for k, name in enumerate(MONTAGE_CHAINS) if name.startswith("R")]


def _delta_figures(eeg: np.ndarray) -> tuple[float, float]:
    """(|log10| of left/right chain delta power, max pair delta RMS / median pair broadband RMS)."""
    bipolar = montage_matrix() @ eeg  # [16 pairs, samples], chain by chain in MONTAGE_CHAINS order
    delta = sosfiltfilt(butter(4, [0.5, 4.0], "bandpass", fs=SAMPLE_RATE_HZ, output="sos"), bipolar)
    broad = sosfiltfilt(butter(4, [0.5, 40.0], "bandpass", fs=SAMPLE_RATE_HZ, output="sos"), bipolar)
    power = delta[:, LABELLED].var(axis=1).reshape(len(MONTAGE_CHAINS), -1)
    left, right = power[LEFT_CHAINS].sum(), power[RIGHT_CHAINS].sum()
    prominence = np.sqrt(power.max()) / np.median(broad[:, LABELLED].std(axis=1))
    return abs(float(np.log10(left / right))), float(prominence)


def _figures(label: str, n: int = 24) -> np.ndarray:
    """[n, 2] figures of ``n`` clear (strength 0.8) 50 s recordings of ``label``, one patient each."""
    rng = np.random.default_rng(5)
    rows = []
    for k in range(n):
        eeg = synth_recording(rng, draw_patient(rng, k), CLASSES.index(label), seconds=50, offsets_s=np.zeros(1),
                              strength=0.8)
        rows.append(_delta_figures(eeg.astype(np.float64)))
    return np.array(rows)


def test_lrda_is_lateralised_and_prominent_and_grda_is_not_lateralised():
    lrda, grda, other = _figures("lrda"), _figures("grda"), _figures("other")
    assert np.median(lrda[:, 0]) > 0.5  # > 3x the delta power on one side
    assert np.median(grda[:, 0]) < 0.2  # < 1.6x
    assert np.median(lrda[:, 1]) > np.median(other[:, 1]) + 0.5
