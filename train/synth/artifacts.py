"""Non-cerebral signals: the ECG on the EKG channel and the artifacts a reviewer learns to ignore.

Every artifact appears in every class at a base rate; ``intensity`` scales the rates (the "other"
class gets more, so artifacts are a confound to learn, not a giveaway).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import fftconvolve

from edge.contract import SAMPLE_RATE_HZ
from train.synth.background import Patient, frequencies, shaped_noise
from train.synth.head import N_EEG, XY

LINE_HZ = 60.0  # HMS recordings are North American
TEMPORAL = np.abs(XY[:, 0]) ** 3  # muscle sits under the temporalis: strongest at T3/T4/F7/F8
FRONTOPOLAR = np.exp(-((1 - XY[:, 1]) ** 2) / (2 * 0.33**2))  # eye movements: Fp >> F > C
# Per-minute base rates (per EEG probabilities for channel faults), scaled by intensity.
BLINKS_PER_MIN, MUSCLE_PER_MIN, CHEWING_PER_MIN, POPS_PER_MIN = 8.0, 2.0, 0.3, 0.5
FLAT_CHANNEL_P, DISCONNECTED_CHANNEL_P = 0.03, 0.03


def _gauss(t: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.exp(-0.5 * ((t - centre) / width) ** 2)


def _events(rng: np.random.Generator, per_min: float, n_samples: int) -> np.ndarray:
    """Sample indices of a Poisson process."""
    count = rng.poisson(per_min * n_samples / SAMPLE_RATE_HZ / 60)
    return np.sort(rng.integers(0, n_samples, count))


def _pulse_train(index: np.ndarray, amplitude: np.ndarray, template: np.ndarray, centre: int, n: int) -> np.ndarray:
    impulses = np.zeros(n + len(template))
    np.add.at(impulses, index + len(template) - centre, amplitude)
    return fftconvolve(impulses, template)[len(template):len(template) + n]


def _highpass_noise(rng: np.random.Generator, n_sources: int, n_samples: int, low_hz: float) -> np.ndarray:
    f = frequencies(n_samples)
    return shaped_noise(rng, n_sources, n_samples, gain=(f > low_hz) / (1 + (f / 90.0) ** 4))


def _burst_envelope(rng: np.random.Generator, n_samples: int) -> np.ndarray:
    """Muscle contraction waxes and wanes: soft onset/offset and a random < 2 Hz amplitude modulation."""
    t = np.arange(n_samples) / SAMPLE_RATE_HZ
    ramp = np.clip(np.minimum(t, t[-1] - t) / 0.3, 0, 1)
    wobble = np.abs(shaped_noise(rng, 1, n_samples, gain=frequencies(n_samples) < 2.0)[0])
    return ramp * (0.3 + wobble)


def ecg(rng: np.random.Generator, patient: Patient, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """(EKG channel uV [n_samples], R-peak sample indices): PQRST beats with heart-rate variability."""
    rr = 60.0 / patient.heart_rate_bpm
    beats = np.cumsum(rr * (1 + 0.03 * rng.standard_normal(int(n_samples / SAMPLE_RATE_HZ / rr) + 3)))
    r_peaks = (beats - rng.uniform(0, rr)) * SAMPLE_RATE_HZ
    r_peaks = r_peaks[(r_peaks >= 0) & (r_peaks < n_samples)].astype(int)
    t = np.arange(int(-0.3 * SAMPLE_RATE_HZ), int(0.5 * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    beat = (0.12 * _gauss(t, -0.2, 0.025) - 0.12 * _gauss(t, -0.035, 0.01) + _gauss(t, 0, 0.012)
            - 0.3 * _gauss(t, 0.035, 0.012) + 0.3 * _gauss(t, 0.25, 0.05))
    sign = rng.choice([-1.0, 1.0])  # lead placement varies
    signal = sign * patient.ecg_uv * _pulse_train(r_peaks, np.ones(len(r_peaks)), beat, int(0.3 * SAMPLE_RATE_HZ),
                                                  n_samples)
    wander = shaped_noise(rng, 1, n_samples, gain=frequencies(n_samples) < 0.5)[0]
    return signal + 0.1 * patient.ecg_uv * wander + 5 * rng.standard_normal(n_samples), r_peaks


def add_artifacts(rng: np.random.Generator, eeg: np.ndarray, patient: Patient, *, r_peaks: np.ndarray,
                  intensity: float) -> None:
    """Add artifacts to [19, n_samples] uV in place."""
    n = eeg.shape[1]
    rate = intensity * patient.artifact_rate
    if rng.random() < 0.5:  # eyes open at all in half the recordings
        index = _events(rng, BLINKS_PER_MIN * rate, n)
        t = np.arange(int(0.8 * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
        blink = _gauss(t, 0.4, rng.uniform(0.07, 0.13))
        eeg += FRONTOPOLAR[:, None] * _pulse_train(index, rng.uniform(80, 250, len(index)), blink,
                                                   int(0.4 * SAMPLE_RATE_HZ), n)[None, :]
    for start in _events(rng, MUSCLE_PER_MIN * rate, n):
        stop = min(n, start + int(rng.uniform(0.5, 6) * SAMPLE_RATE_HZ))
        side = np.clip(1 + rng.uniform(-1, 1) * np.sign(XY[:, 0]), 0, 1)  # often one side more
        eeg[:, start:stop] += rng.uniform(10, 60) * (TEMPORAL * side)[:, None] * _burst_envelope(
            rng, stop - start)[None, :] * _highpass_noise(rng, N_EEG, stop - start, 20.0)
    for start in _events(rng, CHEWING_PER_MIN * rate, n):
        stop = min(n, start + int(rng.uniform(3, 8) * SAMPLE_RATE_HZ))
        t = np.arange(stop - start) / SAMPLE_RATE_HZ
        bursts = (np.sin(2 * np.pi * rng.uniform(1.0, 1.6) * t) > 0.6).astype(float)
        eeg[:, start:stop] += rng.uniform(30, 100) * TEMPORAL[:, None] * bursts * _highpass_noise(
            rng, N_EEG, stop - start, 15.0)
    for start in _events(rng, POPS_PER_MIN * rate, n):
        t = np.arange(n - start) / SAMPLE_RATE_HZ
        eeg[rng.integers(N_EEG), start:] += rng.choice([-1, 1]) * rng.uniform(100, 400) * np.exp(
            -t / rng.uniform(0.1, 0.6))
    if patient.line_noise_uv > 0:
        t = np.arange(n) / SAMPLE_RATE_HZ
        eeg += (patient.line_noise_uv * rng.uniform(0.1, 1.0, N_EEG))[:, None] * np.sin(
            2 * np.pi * LINE_HZ * t + rng.uniform(0, 2 * np.pi))[None, :]
    if patient.ekg_artifact_uv > 0:
        t = np.arange(int(0.1 * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
        qrs = _gauss(t, 0.05, 0.012) - 0.3 * _gauss(t, 0.085, 0.012)
        weights = np.clip(rng.normal(0.5 - 0.5 * XY[:, 0], 0.2), 0, 1)  # left-sided in referential recordings
        eeg += patient.ekg_artifact_uv * weights[:, None] * _pulse_train(
            r_peaks, np.ones(len(r_peaks)), qrs, int(0.05 * SAMPLE_RATE_HZ), n)[None, :]
    if rng.random() < FLAT_CHANNEL_P * intensity:
        eeg[rng.integers(N_EEG)] = rng.normal(0, 0.3, n)
    if rng.random() < DISCONNECTED_CHANNEL_P * intensity:
        drift = np.cumsum(rng.standard_normal(n)) * rng.uniform(2, 8)
        t = np.arange(n) / SAMPLE_RATE_HZ
        eeg[rng.integers(N_EEG)] = drift - drift.mean() + rng.uniform(20, 100) * np.sin(2 * np.pi * LINE_HZ * t)


