"""The five IIIC patterns as additive [19, samples] uV fields on top of the background.

Each pattern is a waveform in time, a spatial field over the 19 scalp electrodes and a small
per-electrode delay (the field travels across the scalp), switched on between ``onset`` and
``offset`` (seconds) with short cosine ramps. Fields are uneven and delayed on purpose: a perfectly
uniform, synchronous field cancels in a bipolar montage, which real generalised patterns do not.
``strength`` scales the amplitude: faint patterns are the ones raters disagree on. The votes are
drawn from it (votes.draw_shares), so each pattern has one typical peak amplitude, jittered by only
+-15 %: a wide amplitude draw independent of the votes would let patterns that raters voted for
unanimously sink into the background, and leave loud ones with split votes.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import fftconvolve

from edge.contract import SAMPLE_RATE_HZ
from train.synth.background import band_gain, shaped_noise
from train.synth.head import N_EEG, XY, field, frontal_gain, hemisphere_centre

# Typical peak amplitudes (uV, referential) at strength 1: the means of the former uniform ranges
# (80-300, 100-400, 30-160 uV). LRDA's is higher than GRDA's because its focal field loses more to the
# bipolar montage than GRDA's broad one: at GRDA's amplitude its delta stood out of the background far
# less than in the two real LRDA segments of sparcnet_iiic (docs/synthetic-data.md, "LRDA against the
# real segments").
SEIZURE_UV = 190.0
DISCHARGE_UV = 250.0
GRDA_UV = 95.0
LRDA_UV = 125.0


def _jitter(rng: np.random.Generator) -> float:
    return float(rng.uniform(0.85, 1.15))


def span_envelope(n_samples: int, onset_s: float, offset_s: float, *, ramp_s: float = 1.0) -> np.ndarray:
    """[n_samples] 0 outside [onset, offset], 1 inside, raised-cosine ramps of ``ramp_s`` at both ends."""
    t = np.arange(n_samples) / SAMPLE_RATE_HZ
    rise = np.clip((t - onset_s) / ramp_s, 0, 1)
    fall = np.clip((offset_s - t) / ramp_s, 0, 1)
    return (0.5 - 0.5 * np.cos(np.pi * rise)) * (0.5 - 0.5 * np.cos(np.pi * fall))


def _phase(rng: np.random.Generator, freq_hz: np.ndarray) -> np.ndarray:
    return 2 * np.pi * np.cumsum(freq_hz) / SAMPLE_RATE_HZ + rng.uniform(0, 2 * np.pi)


def _wander(rng: np.random.Generator, n_samples: int, depth: float) -> np.ndarray:
    """Slow (< 0.2 Hz) random modulation around 1 with std ``depth``: real rhythms are never metronomes."""
    return 1 + depth * shaped_noise(rng, 1, n_samples, gain=band_gain(n_samples, 0.0, 0.15))[0]


def _sharp(phase: np.ndarray, kappa: float) -> np.ndarray:
    """Periodic wave with sharp negative peaks and broad troughs (von Mises shape), zero mean, unit peak."""
    bump = np.exp(kappa * (np.cos(phase) - 1))
    return -(bump - np.i0(kappa) * np.exp(-kappa)) / (1 - np.i0(kappa) * np.exp(-kappa))


def _delays(rng: np.random.Generator, origin: np.ndarray) -> np.ndarray:
    """[19] seconds each electrode lags the field's origin: 10-60 ms per head radius."""
    return np.linalg.norm(XY - origin, axis=1) * rng.uniform(0.01, 0.06)


def _uneven(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0.4, 1.0, N_EEG)


def seizure(rng: np.random.Generator, n_samples: int, onset_s: float, *, offset_s: float,
            strength: float) -> np.ndarray:
    """Evolving rhythmic activity: frequency, amplitude and spatial extent change over the seizure.

    Two forms: a focal rhythm that starts fast and low (3-8 Hz) and slows (to 1.5-3 Hz) while it grows
    and spreads from its focus, or generalised 2.5-3.5 Hz spike-and-wave that slows as it goes on. The
    focal rhythm started at 5-10 Hz before: the labelled windows then sat mostly in theta, while the real
    IIIC seizures are delta-dominant (docs/domain-gap.md).
    """
    t = np.arange(n_samples) / SAMPLE_RATE_HZ
    progress = np.clip((t - onset_s) / (offset_s - onset_s), 0, 1)
    if rng.random() < 0.7:
        f_start, f_end = rng.uniform(3, 8), rng.uniform(1.5, 3)
        freq = (f_start + (f_end - f_start) * progress) * _wander(rng, n_samples, 0.05)
        centre = hemisphere_centre(rng, rng.choice([-1, 1]))
        radius = rng.uniform(0.25, 0.4) + rng.uniform(0.2, 1.2) * progress  # spreads from the focus
        spatial = field(centre, radius) * _uneven(rng)[:, None]
        kappa = rng.uniform(0.5, 2.0)
    else:
        freq = rng.uniform(2.5, 3.5) * (1 - 0.3 * progress) * _wander(rng, n_samples, 0.03)
        centre = np.array([0.0, 0.6])
        spatial = (frontal_gain(rng.uniform(0.4, 0.9)) * _uneven(rng))[:, None]
        kappa = rng.uniform(3.0, 6.0)  # spike-and-wave: a narrow spike on a broad wave
    phase = _phase(rng, freq)[None, :] - 2 * np.pi * freq[None, :] * _delays(rng, centre)[:, None]
    growth = 0.3 + 0.7 * np.clip(progress * rng.uniform(2, 4), 0, 1)
    amplitude = strength * SEIZURE_UV * _jitter(rng) * growth * span_envelope(n_samples, onset_s, offset_s, ramp_s=1.5)
    amplitude *= _wander(rng, n_samples, 0.25).clip(0.3)  # cycle amplitudes vary, unlike a test signal
    return spatial * amplitude[None, :] * _sharp(phase, kappa)


def _discharge_template(rng: np.random.Generator) -> np.ndarray:
    """A sharp, often triphasic discharge (~0.3-0.5 s): small positive, dominant negative, slow positive."""
    t = np.arange(int(0.6 * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    width = rng.uniform(0.02, 0.045)
    wave = -np.exp(-0.5 * ((t - 0.12) / width) ** 2)  # the sharp component
    wave += (0.35 if rng.random() < 0.6 else 0.1) * np.exp(-0.5 * ((t - 0.12 + 2.2 * width) / width) ** 2)
    wave += rng.uniform(0.3, 0.5) * np.exp(-0.5 * ((t - 0.12 - 3 * width - 0.08) / 0.07) ** 2)
    return wave


def periodic_discharges(rng: np.random.Generator, n_samples: int, onset_s: float, *, offset_s: float,
                        strength: float, generalised: bool) -> np.ndarray:
    """LPD (one hemisphere, with a field) or GPD (both, near-synchronous): a discharge every 0.5-3 s."""
    period = rng.uniform(0.5, 2.5) if generalised else rng.uniform(0.6, 3.0)
    times, now = [], onset_s + rng.uniform(0, period)
    while now < offset_s:
        times.append(now)
        now += period * rng.uniform(0.85, 1.15)
    impulses = np.zeros(n_samples)
    index = (np.asarray(times) * SAMPLE_RATE_HZ).astype(int)
    index = index[(index >= 0) & (index < n_samples)]
    impulses[index] = rng.uniform(0.7, 1.3, len(index))
    train = fftconvolve(impulses, _discharge_template(rng))[:n_samples]
    if generalised:
        centre = np.array([0.0, 0.6])
        spatial = frontal_gain(rng.uniform(0.2, 0.8)) * _uneven(rng)
    else:
        centre = hemisphere_centre(rng, rng.choice([-1, 1]))
        spatial = field(centre, rng.uniform(0.3, 0.55))
    lags = np.round(_delays(rng, centre) * SAMPLE_RATE_HZ).astype(int)
    out = np.zeros((N_EEG, n_samples))
    for channel, lag in enumerate(lags):
        out[channel, lag:] = train[:n_samples - lag]
    return strength * DISCHARGE_UV * _jitter(rng) * spatial[:, None] * out


def rhythmic_delta(rng: np.random.Generator, n_samples: int, onset_s: float, *, offset_s: float,
                   strength: float, generalised: bool) -> np.ndarray:
    """LRDA (one hemisphere, often fronto-temporal) or GRDA (both, frontally predominant): 0.5-4 Hz."""
    f0 = rng.uniform(1.2, 3.0) if generalised else rng.uniform(0.8, 2.5)
    if generalised:
        centre = np.array([0.0, 0.6])
        spatial = frontal_gain(rng.uniform(0.4, 0.9)) * _uneven(rng)
    else:
        centre = np.array([rng.choice([-1, 1]) * rng.uniform(0.6, 1.0), rng.uniform(-0.2, 0.6)])  # fronto-temporal
        spatial = field(centre, rng.uniform(0.35, 0.6))
    freq = f0 * _wander(rng, n_samples, 0.1)
    phase = _phase(rng, freq)[None, :] - 2 * np.pi * f0 * _delays(rng, centre)[:, None]
    wave = _sharp(phase, rng.uniform(0.3, 1.5)) * _wander(rng, n_samples, 0.35).clip(0.2)[None, :]
    peak_uv = (GRDA_UV if generalised else LRDA_UV) * _jitter(rng)
    amplitude = strength * peak_uv * span_envelope(n_samples, onset_s, offset_s)
    return spatial[:, None] * amplitude[None, :] * wave
