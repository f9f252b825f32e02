"""Approximate 10-20 scalp geometry: electrode positions, spatial fields and smooth source mixing."""

from __future__ import annotations

import numpy as np

from edge.contract import EEG_CHANNELS

# Azimuthal projection on the unit disk: x left(-) to right(+), y back(-) to front(+).
POSITIONS: dict[str, tuple[float, float]] = {
    "Fp1": (-0.31, 0.95), "F3": (-0.40, 0.52), "C3": (-0.50, 0.0), "P3": (-0.40, -0.52),
    "F7": (-0.81, 0.59), "T3": (-1.0, 0.0), "T5": (-0.81, -0.59), "O1": (-0.31, -0.95),
    "Fz": (0.0, 0.50), "Cz": (0.0, 0.0), "Pz": (0.0, -0.50),
    "Fp2": (0.31, 0.95), "F4": (0.40, 0.52), "C4": (0.50, 0.0), "P4": (0.40, -0.52),
    "F8": (0.81, 0.59), "T4": (1.0, 0.0), "T6": (0.81, -0.59), "O2": (0.31, -0.95),
}  # fmt: skip
XY = np.array([POSITIONS[c] for c in EEG_CHANNELS])  # [19, 2] in spec.EEG_CHANNELS order
N_EEG = len(EEG_CHANNELS)


def field(centre: np.ndarray, radius: float | np.ndarray) -> np.ndarray:
    """Gaussian spatial field [19] (or [19, T] for a radius per sample) peaking at 1 on ``centre``."""
    d2 = ((XY - np.asarray(centre)) ** 2).sum(axis=1)
    radius = np.asarray(radius, dtype=np.float64)
    return np.exp(-d2.reshape(-1, *([1] * radius.ndim)) / (2 * radius**2))


def mixing_matrix(width: float) -> np.ndarray:
    """[19, 19] smooth volume-conduction kernel; rows have unit norm so mixing keeps the variance."""
    d2 = ((XY[:, None, :] - XY[None, :, :]) ** 2).sum(axis=2)
    kernel = np.exp(-d2 / (2 * width**2))
    return kernel / np.linalg.norm(kernel, axis=1, keepdims=True)


def hemisphere_centre(rng: np.random.Generator, side: int) -> np.ndarray:
    """A focus on one hemisphere (side -1 left, +1 right), anywhere from frontal to occipital."""
    return np.array([side * rng.uniform(0.4, 0.9), rng.uniform(-0.7, 0.7)])


def frontal_gain(strength: float) -> np.ndarray:
    """[19] weights rising towards the front: generalised delta and GPDs are often frontally predominant."""
    return 1.0 + strength * XY[:, 1]


def posterior_weight() -> np.ndarray:
    """[19] weight of the posterior dominant rhythm: maximal at O1/O2, none in front of the centre line."""
    return np.clip(-XY[:, 1], 0.0, 1.0) ** 1.5
