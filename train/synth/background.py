"""Per-patient background EEG: spatially correlated 1/f activity, a posterior dominant rhythm, slowing."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

from edge.contract import SAMPLE_RATE_HZ
from train.synth.head import N_EEG, XY, field, frontal_gain, hemisphere_centre, mixing_matrix, posterior_weight


@dataclass(frozen=True)
class Patient:
    """What stays the same across one patient's recordings."""

    patient_id: int
    background_uv: float  # std of the 1/f background per channel
    spectral_exponent: float  # 1/f^exponent power spectrum
    mixing_width: float  # volume-conduction kernel width on the unit head
    pdr_hz: float  # posterior dominant rhythm (slow in encephalopathy)
    pdr_uv: float  # 0 when the patient has no PDR
    slowing_uv: float  # polymorphic (arrhythmic) delta, the non-specific ICU slowing
    slowing_side: int  # 0 diffuse, -1 left, +1 right
    beta_uv: float  # diffuse low-amplitude fast activity (sedatives: benzodiazepines, propofol)
    heart_rate_bpm: float
    ecg_uv: float  # R-wave amplitude on the EKG channel
    ekg_artifact_uv: float  # QRS picked up by the scalp electrodes
    line_noise_uv: float  # 60 Hz amplitude on the worst channel
    artifact_rate: float  # multiplies every artifact's rate


def draw_patient(rng: np.random.Generator, patient_id: int) -> Patient:
    return Patient(
        patient_id=patient_id,
        background_uv=float(rng.uniform(12, 35)),
        spectral_exponent=float(rng.uniform(1.4, 2.2)),
        mixing_width=float(rng.uniform(0.3, 0.5)),
        pdr_hz=float(rng.uniform(6.0, 10.5)),
        pdr_uv=float(rng.uniform(5, 25) if rng.random() < 0.4 else 0.0),  # ICU: often absent
        slowing_uv=float(rng.uniform(0, 25)),
        slowing_side=int(rng.choice([0, 0, -1, 1])),
        beta_uv=float(rng.uniform(1, 8)),
        heart_rate_bpm=float(rng.uniform(55, 115)),
        ecg_uv=float(rng.lognormal(np.log(300), 0.5)),
        ekg_artifact_uv=float(rng.uniform(0, 12) if rng.random() < 0.4 else 0.0),
        line_noise_uv=float(rng.lognormal(np.log(2), 1.0) if rng.random() < 0.4 else 0.0),
        artifact_rate=float(rng.lognormal(0, 0.5)),
    )


def shaped_noise(rng: np.random.Generator, n_sources: int, n_samples: int, *, gain: np.ndarray) -> np.ndarray:
    """[n_sources, n_samples] Gaussian noise whose amplitude spectrum is ``gain`` (on the rfft grid), unit std."""
    # float32 end to end: half the memory traffic of float64, and far below the 16-bit resolution of EEG amplifiers.
    white = rng.standard_normal((n_sources, n_samples), dtype=np.float32)
    noise = scipy.fft.irfft(scipy.fft.rfft(white, axis=1) * gain.astype(np.float32), n=n_samples, axis=1)
    std = noise.std(axis=1, keepdims=True)
    # A gain that passes nothing but DC on this grid (a < 2 Hz shape over a 0.5 s burst) leaves a constant
    # whose std is float rounding: there is no fluctuation to normalise, so such a row is zero, not ~1e8.
    flat = std <= 1e-4 * np.abs(noise).mean(axis=1, keepdims=True)
    return np.where(flat, 0.0, noise / np.where(flat, 1.0, std)).astype(np.float32)


def frequencies(n_samples: int) -> np.ndarray:
    return np.fft.rfftfreq(n_samples, 1 / SAMPLE_RATE_HZ)


def pink_gain(n_samples: int, exponent: float, low_hz: float = 0.3) -> np.ndarray:
    """1/f^(exponent/2) amplitude, flat below ``low_hz``, rolled off above 70 Hz like a clinical amplifier."""
    f = frequencies(n_samples)
    return np.maximum(f, low_hz) ** (-exponent / 2) / (1 + (f / 70.0) ** 4)


def band_gain(n_samples: int, centre_hz: float, width_hz: float) -> np.ndarray:
    f = frequencies(n_samples)
    return np.exp(-0.5 * ((f - centre_hz) / width_hz) ** 2)


def mix(matrix: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """matrix @ sources without BLAS: these products are tiny, and a threaded BLAS on a busy machine
    spends 10x longer spinning than computing (measured: 40 ms vs 3 ms for 19x19 @ 19x14000)."""
    return np.einsum("ij,jt->it", matrix.astype(sources.dtype), sources)


def background(rng: np.random.Generator, patient: Patient, n_samples: int, *, scale: float = 1.0) -> np.ndarray:
    """[19, n_samples] uV of resting ICU background for this patient, times ``scale`` (< 1: attenuated)."""
    sources = shaped_noise(rng, N_EEG, n_samples, gain=pink_gain(n_samples, patient.spectral_exponent))
    eeg = patient.background_uv * mix(mixing_matrix(patient.mixing_width), sources)
    if patient.pdr_uv > 0:
        # Two posterior generators (left/right) of narrowband noise: the rhythm waxes and wanes by itself.
        alpha = shaped_noise(rng, 2, n_samples, gain=band_gain(n_samples, patient.pdr_hz, 0.6))
        left = (1 - XY[:, 0]) / 2  # 1 on the left edge, 0.5 on the midline, 0 on the right
        side_mix = np.stack([left, 1 - left], axis=1)
        eeg += patient.pdr_uv * posterior_weight()[:, None] * mix(side_mix, alpha)
    beta = shaped_noise(rng, N_EEG, n_samples, gain=band_gain(n_samples, 18.0, 4.0))
    eeg += patient.beta_uv * frontal_gain(0.3)[:, None] * mix(mixing_matrix(0.3), beta)
    if patient.slowing_uv > 0:
        delta = shaped_noise(rng, N_EEG, n_samples, gain=band_gain(n_samples, 1.5, 1.0))
        delta = mix(mixing_matrix(0.6), delta)
        spatial = field(hemisphere_centre(rng, patient.slowing_side), 0.7) if patient.slowing_side else np.ones(N_EEG)
        eeg += patient.slowing_uv * spatial[:, None] * delta
    return scale * eeg
