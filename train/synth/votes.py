"""Expert votes for synthetic windows, with the real HMS vote statistics.

Every number below was measured from /work/shared/data/hms/hms_eeg_labels_from_roysaurabh_valfolds.csv
(vote counts of the first labelled window of 17,001 Kaggle train eeg_ids). Raters form two
populations: windows seen by 1-7 voters (68.2 %) and by >= 10 voters (31.8 %); none has 8 or 9.
The "high" windows are the contentious ones: their majority share is 0.56-0.78 against 0.83-0.95.
"""

from __future__ import annotations

import numpy as np

from edge.contract import CLASSES

HIGH_VOTER_FRACTION = 0.318
# P(total votes = 1..7) and P(total votes = 10..28), per population.
LOW_VOTER_PMF = (0.2776, 0.1534, 0.4879, 0.0326, 0.0393, 0.0091, 0.0)
HIGH_VOTER_PMF = (0.0166, 0.0527, 0.1187, 0.191, 0.1115, 0.2495, 0.0873, 0.054, 0.0544, 0.0111, 0.0362, 0.0089,
                  0.0041, 0.0018, 0.0004, 0.0009, 0.0004, 0.0002, 0.0002)
# Majority-class frequencies (spec.CLASSES order) per population: used as true-class priors.
LOW_CLASS_FREQ = (0.223, 0.132, 0.095, 0.057, 0.124, 0.37)
HIGH_CLASS_FREQ = (0.034, 0.191, 0.127, 0.046, 0.072, 0.531)
# Mean vote share given the majority class (rows) per population: the confusions raters make
# (seizure vs GPD/LPD, LRDA vs GRDA, anything vs other).
LOW_CONFUSION = (
    (0.938, 0.015, 0.013, 0.005, 0.003, 0.026),
    (0.014, 0.853, 0.027, 0.029, 0.004, 0.073),
    (0.008, 0.021, 0.882, 0.003, 0.019, 0.066),
    (0.002, 0.016, 0.002, 0.825, 0.057, 0.098),
    (0.002, 0.002, 0.004, 0.016, 0.917, 0.058),
    (0.003, 0.012, 0.007, 0.016, 0.016, 0.946),
)
HIGH_CONFUSION = (
    (0.613, 0.081, 0.145, 0.032, 0.018, 0.111),
    (0.029, 0.735, 0.036, 0.061, 0.014, 0.126),
    (0.052, 0.053, 0.696, 0.006, 0.040, 0.152),
    (0.027, 0.089, 0.006, 0.555, 0.063, 0.259),
    (0.010, 0.026, 0.063, 0.050, 0.574, 0.278),
    (0.012, 0.047, 0.038, 0.053, 0.072, 0.777),
)
# Dirichlet concentration of each window's rater distribution around its confusion row, chosen by
# simulation so the share of unanimous windows is near the measured one (about 0.8 low, 0.1 high).
LOW_CONCENTRATION, HIGH_CONCENTRATION = 2.0, 1.0  # times the number of classes
OTHER = CLASSES.index("other")


def draw_population(rng: np.random.Generator, n: int) -> np.ndarray:
    """True where a window belongs to the high-voter (contentious) population."""
    return rng.random(n) < HIGH_VOTER_FRACTION


def draw_classes(rng: np.random.Generator, high: np.ndarray) -> np.ndarray:
    """True class per window from the population's class frequencies."""
    low_freq, high_freq = np.asarray(LOW_CLASS_FREQ), np.asarray(HIGH_CLASS_FREQ)
    return np.where(high, rng.choice(len(CLASSES), size=len(high), p=high_freq / high_freq.sum()),
                    rng.choice(len(CLASSES), size=len(high), p=low_freq / low_freq.sum()))


def draw_shares(rng: np.random.Generator, classes: np.ndarray, high: np.ndarray, *, strength: np.ndarray) -> np.ndarray:
    """[N, 6] each window's rater distribution: Dirichlet around its class's confusion row; a faint
    pattern (strength near 0) pulls it towards "other"."""
    confusion = np.where(high[:, None], np.asarray(HIGH_CONFUSION)[classes], np.asarray(LOW_CONFUSION)[classes])
    other_row = np.where(high[:, None], np.asarray(HIGH_CONFUSION)[OTHER], np.asarray(LOW_CONFUSION)[OTHER])
    pull = 0.5 * (1.0 - np.clip(strength, 0.0, 1.0))[:, None]
    mean = (1 - pull) * confusion + pull * other_row
    mean /= mean.sum(axis=1, keepdims=True)
    concentration = np.where(high, HIGH_CONCENTRATION, LOW_CONCENTRATION)[:, None] * len(CLASSES)
    shares = rng.gamma(concentration * mean + 1e-3)  # Dirichlet draw, vectorised over rows
    return shares / shares.sum(axis=1, keepdims=True)


def draw_counts(rng: np.random.Generator, shares: np.ndarray, high: np.ndarray) -> np.ndarray:
    """[N, 6] vote counts: each window's voter count from its population, votes multinomial over its shares."""
    low_pmf, high_pmf = np.asarray(LOW_VOTER_PMF), np.asarray(HIGH_VOTER_PMF)
    n = len(shares)
    totals = np.where(high, 10 + rng.choice(len(high_pmf), size=n, p=high_pmf / high_pmf.sum()),
                      1 + rng.choice(len(low_pmf), size=n, p=low_pmf / low_pmf.sum()))
    return np.stack([rng.multinomial(t, p) for t, p in zip(totals, shares, strict=True)]).astype(np.int64)


def rival(shares: np.ndarray, classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The class raters most often chose instead of the true one, and its weight share / (share + true share).

    Real disagreement follows what is on the page: a window raters split between LPD and seizure shows
    features of both. The generator draws the rival's pattern into the signal with this weight, so
    the split is visible rather than noise no model could learn.
    """
    rows = np.arange(len(classes))
    others = shares.copy()
    others[rows, classes] = -1.0
    second = others.argmax(axis=1)
    return second, shares[rows, second] / (shares[rows, classes] + shares[rows, second])
