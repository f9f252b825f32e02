"""train/fit/augment.py: train-only augmentations."""


from __future__ import annotations

import numpy as np
import torch

from edge.contract import CHANNELS, hemisphere_flip_permutation
from train.fit.augment import augment_batch, cutout, flip_hemispheres, step_rng
from train.fit.config import AugmentConfig


def test_augmentations_are_deterministic_per_step_and_keep_targets_distributions(make_batch):
    eeg, targets, weights = make_batch()
    cfg = AugmentConfig(flip_p=0.5, amplitude_p=0.5, bandpass_jitter_p=0.5, channel_dropout_p=0.5, time_mask_p=0.5,
                        mixup_p=1.0, cutout_p=1.0)
    a = augment_batch(eeg, targets, weights, cfg=cfg, rng=step_rng(1, 0, 5))
    b = augment_batch(eeg, targets, weights, cfg=cfg, rng=step_rng(1, 0, 5))
    c = augment_batch(eeg, targets, weights, cfg=cfg, rng=step_rng(1, 0, 6))
    assert torch.equal(a.eeg, b.eeg) and torch.equal(a.targets, b.targets)
    z = torch.randn(6, 4, 32, 40)
    assert torch.equal(a.encoding_fn(z), b.encoding_fn(z))
    assert not torch.equal(a.eeg, c.eeg)
    assert torch.allclose(a.targets.sum(1), torch.ones(6))
    assert not torch.equal(a.targets, targets)  # mixup mixed the soft targets
    assert torch.equal(eeg, make_batch()[0])  # the input batch is never modified in place


def test_switched_off_augmentations_leave_the_batch_alone(make_batch):
    eeg, targets, weights = make_batch()
    off = AugmentConfig(shift_s=0, flip_p=0, amplitude_p=0, bandpass_jitter_p=0, channel_dropout_p=0, time_mask_p=0,
                        mixup_p=0, cutout_p=0)
    out = augment_batch(eeg, targets, weights, cfg=off, rng=step_rng(0, 0, 0))
    z = torch.randn(6, 16, 100)
    assert torch.equal(out.eeg, eeg) and torch.equal(out.targets, targets) and torch.equal(out.encoding_fn(z), z)


def test_flip_swaps_homologous_channels_of_chosen_rows_only(make_batch):
    eeg, _, _ = make_batch(3)
    out = flip_hemispheres(eeg, np.array([1]))
    perm = list(hemisphere_flip_permutation())
    assert torch.equal(out[0], eeg[0]) and torch.equal(out[1], eeg[1][perm])
    assert torch.equal(out[1][CHANNELS.index("Fp1")], eeg[1][CHANNELS.index("Fp2")])
    assert torch.equal(out[1][CHANNELS.index("Cz")], eeg[1][CHANNELS.index("Cz")])


def test_cutout_zeroes_a_time_and_a_frequency_band_on_images():
    z = torch.ones(2, 1, 20, 50)
    out = cutout(z, np.random.default_rng(0), p=1.0, max_fraction=0.2)
    for row in out:
        assert (row == 0).any(dim=-2).any() and (row == 0).any(dim=-1).any()
        assert (row == 1).any()


def test_domain_randomisation_adds_mains_at_50_or_60_hz_and_uneven_gains(make_batch):
    eeg, targets, weights = make_batch(4)
    cfg = AugmentConfig(flip_p=0, time_mask_p=0, mixup_p=0, cutout_p=0, line_noise_p=1.0, line_noise_uv=(20.0, 20.0))
    out = augment_batch(eeg, targets, weights, cfg=cfg, rng=step_rng(0, 0, 0)).eeg
    added = torch.fft.rfft(out - eeg, dim=-1).abs().mean(dim=1)
    freqs = np.fft.rfftfreq(eeg.shape[-1], d=1 / 200)
    peaks = freqs[added.argmax(dim=-1).numpy()]
    assert set(peaks.tolist()) <= {50.0, 60.0}
    gains = AugmentConfig(flip_p=0, time_mask_p=0, mixup_p=0, cutout_p=0, channel_gain_p=1.0, channel_gain_sigma=0.2)
    scaled = augment_batch(eeg, targets, weights, cfg=gains, rng=step_rng(0, 0, 1)).eeg
    ratio = scaled.std(dim=-1) / eeg.std(dim=-1)
    assert ratio.std(dim=1).min() > 0.05  # each window's electrodes got different gains
    noisy = AugmentConfig(flip_p=0, time_mask_p=0, mixup_p=0, cutout_p=0, electrode_noise_p=1.0)
    changed = (augment_batch(eeg, targets, weights, cfg=noisy, rng=step_rng(0, 0, 2)).eeg != eeg).any(dim=-1)
    assert ((changed.sum(dim=1) >= 1) & (changed.sum(dim=1) <= 4)).all()
