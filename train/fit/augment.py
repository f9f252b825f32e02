"""Train-only augmentations, applied in the training step (never in a model's forward).

All randomness comes from one numpy Generator per optimizer step, seeded from (seed, fold, step),
so a run is deterministic and a resumed run draws exactly what the uninterrupted run drew. Raw-signal
augmentations act on the [B, 20, 10000] uV batch; cutout and encoding mixup act on `encode()` output
through the callable returned in `AugmentedBatch.encoding_fn`. The random shift of the window around
the label is drawn by the sampler (it needs a different slice of the recording).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from edge.contract import SAMPLE_RATE_HZ, hemisphere_flip_permutation
from train.fit.config import AugmentConfig

EncodingFn = Callable[[torch.Tensor], torch.Tensor]


def identity(z: torch.Tensor) -> torch.Tensor:
    return z


@dataclass(frozen=True)
class AugmentedBatch:
    eeg: torch.Tensor
    targets: torch.Tensor
    weights: torch.Tensor
    encoding_fn: EncodingFn


def step_rng(seed: int, fold: int, step: int) -> np.random.Generator:
    return np.random.default_rng([seed, fold, step])


def _pick(rng: np.random.Generator, p: float, n: int) -> np.ndarray:
    return np.flatnonzero(rng.random(n) < p)


def flip_hemispheres(eeg: torch.Tensor, rows: np.ndarray) -> torch.Tensor:
    perm = torch.tensor(hemisphere_flip_permutation())
    out = eeg.clone()
    out[rows] = eeg[rows][:, perm]
    return out


def bandpass_gains(rng: np.random.Generator, rows: int, n_samples: int) -> np.ndarray:
    """Smooth random band edges: high-pass corner 0.2-1.5 Hz, low-pass corner 12-40 Hz (rfft gains)."""
    freqs = np.fft.rfftfreq(n_samples, d=1 / SAMPLE_RATE_HZ)
    low = rng.uniform(0.2, 1.5, size=(rows, 1))
    high = rng.uniform(12.0, 40.0, size=(rows, 1))
    highpass = 1 / (1 + (low / np.maximum(freqs, 1e-3)) ** 4)
    lowpass = 1 / (1 + (freqs / high) ** 8)
    return (highpass * lowpass).astype(np.float32)


def jitter_bandpass(eeg: torch.Tensor, rows: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
    out = eeg.clone()
    gains = torch.from_numpy(bandpass_gains(rng, len(rows), eeg.shape[-1]))[:, None, :]
    spectrum = torch.fft.rfft(eeg[rows], dim=-1)
    out[rows] = torch.fft.irfft(spectrum * gains, n=eeg.shape[-1], dim=-1)
    return out


def channel_gains(eeg: torch.Tensor, rows: np.ndarray, rng: np.random.Generator, *, sigma: float) -> torch.Tensor:
    """Per-electrode gain (log-normal): uneven amplifier gain and electrode impedance, seen in real spread."""
    out = eeg.clone()
    gains = np.exp(rng.normal(0.0, sigma, size=(len(rows), eeg.shape[1]))).astype(np.float32)
    out[rows] = eeg[rows] * torch.from_numpy(gains)[:, :, None]
    return out


def add_line_noise(eeg: torch.Tensor, rows: np.ndarray, rng: np.random.Generator, *,
                   uv_range: tuple[float, ...]) -> torch.Tensor:
    """50 or 60 Hz mains (plus a 3rd harmonic at a tenth) with uneven per-electrode amplitude and phase.

    Real ICU windows carry far more mains than the generator's lognormal ~2 uV (docs/domain-gap.md)."""
    out = eeg.clone()
    t = torch.arange(eeg.shape[-1], dtype=torch.float32) / SAMPLE_RATE_HZ
    for row in rows:
        freq = float(rng.choice((50.0, 60.0)))
        level = float(np.exp(rng.uniform(np.log(uv_range[0]), np.log(uv_range[1]))))
        amps = torch.from_numpy((level * rng.lognormal(0.0, 0.8, size=(eeg.shape[1], 1))).astype(np.float32))
        phase = torch.from_numpy(rng.uniform(0, 2 * np.pi, size=(eeg.shape[1], 1)).astype(np.float32))
        out[row] += amps * (torch.sin(2 * np.pi * freq * t + phase) + 0.1 * torch.sin(6 * np.pi * freq * t + phase))
    return out


def add_electrode_noise(eeg: torch.Tensor, rows: np.ndarray, rng: np.random.Generator, *,
                        uv_max: float) -> torch.Tensor:
    """White (broadband) noise of a few high-impedance electrodes, up to ``uv_max`` uV rms each."""
    out = eeg.clone()
    for row in rows:
        channels = rng.choice(eeg.shape[1] - 1, size=int(rng.integers(1, 5)), replace=False)
        rms = rng.uniform(0.5, uv_max, size=(len(channels), 1))
        noise = rng.standard_normal((len(channels), eeg.shape[-1])) * rms
        out[row, channels] += torch.from_numpy(noise.astype(np.float32))
    return out


def drop_channels(eeg: torch.Tensor, rows: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
    out = eeg.clone()
    for row in rows:
        channels = rng.choice(eeg.shape[1], size=rng.integers(1, 3), replace=False)
        out[row, channels] = 0
    return out


def mask_time(eeg: torch.Tensor, rows: np.ndarray, rng: np.random.Generator, *, max_samples: int) -> torch.Tensor:
    out = eeg.clone()
    for row in rows:
        length = int(rng.integers(1, max(max_samples, 1) + 1))
        start = int(rng.integers(0, eeg.shape[-1] - length + 1))
        out[row, :, start:start + length] = 0
    return out


def cutout(z: torch.Tensor, rng: np.random.Generator, p: float, *, max_fraction: float) -> torch.Tensor:
    """Zero one time band (last axis) per chosen row, and one frequency band (axis -2) on 4D images."""
    rows = _pick(rng, p, z.shape[0])
    if len(rows) == 0 or max_fraction == 0:
        return z
    mask = torch.ones_like(z)
    axes = (-1, -2) if z.dim() == 4 else (-1,)
    for row in rows:
        for axis in axes:
            size = z.shape[axis]
            width = int(rng.integers(1, max(int(size * max_fraction), 1) + 1))
            start = int(rng.integers(0, size - width + 1))
            mask[row].narrow(axis, start, width).zero_()
    return z * mask


def augment_batch(eeg: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor, *, cfg: AugmentConfig,
                  rng: np.random.Generator) -> AugmentedBatch:
    n = eeg.shape[0]
    if (rows := _pick(rng, cfg.flip_p, n)).size:
        eeg = flip_hemispheres(eeg, rows)
    if (rows := _pick(rng, cfg.amplitude_p, n)).size:
        scale = np.ones(n, dtype=np.float32)
        # log-uniform: real windows span a decade of amplitude around the generator's (docs/domain-gap.md)
        low, high = np.log(cfg.amplitude_range[0]), np.log(cfg.amplitude_range[1])
        scale[rows] = np.exp(rng.uniform(low, high, size=len(rows)))
        eeg = eeg * torch.from_numpy(scale)[:, None, None]
    if (rows := _pick(rng, cfg.channel_gain_p, n)).size:
        eeg = channel_gains(eeg, rows, rng, sigma=cfg.channel_gain_sigma)
    if (rows := _pick(rng, cfg.line_noise_p, n)).size:
        eeg = add_line_noise(eeg, rows, rng, uv_range=cfg.line_noise_uv)
    if (rows := _pick(rng, cfg.electrode_noise_p, n)).size:
        eeg = add_electrode_noise(eeg, rows, rng, uv_max=cfg.electrode_noise_uv)
    if (rows := _pick(rng, cfg.bandpass_jitter_p, n)).size:
        eeg = jitter_bandpass(eeg, rows, rng)
    if (rows := _pick(rng, cfg.channel_dropout_p, n)).size:
        eeg = drop_channels(eeg, rows, rng)
    if (rows := _pick(rng, cfg.time_mask_p, n)).size:
        eeg = mask_time(eeg, rows, rng, max_samples=int(cfg.time_mask_max_s * SAMPLE_RATE_HZ))

    mix_perm, lam = None, 1.0
    if n > 1 and rng.random() < cfg.mixup_p:
        lam = float(rng.beta(cfg.mixup_alpha, cfg.mixup_alpha))
        mix_perm = torch.from_numpy(rng.permutation(n))
        targets = lam * targets + (1 - lam) * targets[mix_perm]
        weights = lam * weights + (1 - lam) * weights[mix_perm]
        if cfg.mixup_on == "signal":
            eeg = lam * eeg + (1 - lam) * eeg[mix_perm]

    # Draw the encoding-side randomness now, so the step's draws do not depend on when encode runs.
    cutout_seed = int(rng.integers(2**63 - 1))
    mix_encoding = mix_perm is not None and cfg.mixup_on == "encoding"

    def encoding_fn(z: torch.Tensor) -> torch.Tensor:
        if mix_encoding:
            z = lam * z + (1 - lam) * z[mix_perm.to(z.device)]
        return cutout(z, np.random.default_rng(cutout_seed), cfg.cutout_p, max_fraction=cfg.cutout_max_fraction)

    needs_encoding = mix_encoding or cfg.cutout_p > 0
    return AugmentedBatch(eeg, targets, weights, encoding_fn if needs_encoding else identity)
