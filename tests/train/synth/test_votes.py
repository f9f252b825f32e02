"""Synthetic votes: real HMS statistics, and rater disagreement that is visible in the signal."""

import numpy as np
from scipy.signal import welch

from edge.contract import CLASSES, SAMPLE_RATE_HZ
from train.synth import votes
from train.synth.background import draw_patient
from train.synth.generate import WINDOW_S, synth_recording

LRDA, OTHER = CLASSES.index("lrda"), CLASSES.index("other")


def test_rival_is_the_most_voted_wrong_class_weighted_against_the_true_one():
    shares = np.array([[0.6, 0.3, 0.1, 0, 0, 0], [0.1, 0.2, 0.05, 0.05, 0.0, 0.6]])
    rival, weight = votes.rival(shares, np.array([0, 5]))
    assert rival.tolist() == [1, 1]
    np.testing.assert_allclose(weight, [0.3 / 0.9, 0.2 / 0.8])


def test_vote_statistics_match_the_measured_populations():
    rng = np.random.default_rng(0)
    high = votes.draw_population(rng, 20_000)
    classes = votes.draw_classes(rng, high)
    counts = votes.draw_counts(rng, votes.draw_shares(rng, classes, high, strength=np.ones(len(high))), high)
    totals = counts.sum(axis=1)
    assert abs(high.mean() - votes.HIGH_VOTER_FRACTION) < 0.02
    assert set(np.unique(totals[~high])) <= set(range(1, 8)) and totals[high].min() >= 10
    majority_share = counts.max(axis=1) / totals
    # Contentious (high-voter) windows split far more often than the few-voter ones, as measured.
    assert np.median(majority_share[high]) < 0.8 < np.mean(majority_share[~high])


def _delta_power(signals: np.ndarray) -> np.ndarray:
    """Per-electrode 0.5-3 Hz power (uV^2/Hz, +1 so a flat channel cannot divide by zero) in the labelled 10 s."""
    centre = signals[:19, 20 * SAMPLE_RATE_HZ: 30 * SAMPLE_RATE_HZ]
    freqs, psd = welch(centre, fs=SAMPLE_RATE_HZ, nperseg=512)
    return psd[:, (freqs >= 0.5) & (freqs <= 3)].mean(axis=1) + 1.0


def test_a_split_vote_shows_the_rival_pattern_in_the_signal():
    """An "other" window with half its raters on LRDA carries rhythmic delta over its focus; without the split
    it does not (LRDA is lateralised, so the electrode with the largest rise is compared)."""
    ratios = []
    for seed in range(6):
        patient = draw_patient(np.random.default_rng(seed), 1)
        split, clean = (synth_recording(np.random.default_rng(100 + seed), patient, OTHER, seconds=WINDOW_S,
                                        offsets_s=np.zeros(1),
                                        strength=1.0, rival=LRDA, rival_weight=w) for w in (0.5, 0.0))
        ratios.append(float((_delta_power(split) / _delta_power(clean)).max()))
    assert np.median(ratios) > 3.0, ratios
