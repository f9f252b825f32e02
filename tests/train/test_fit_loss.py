"""train/fit/loss.py: KL loss, vote weights, prior smoothing."""


from __future__ import annotations

import numpy as np
import pytest
import torch

from train.fit.loss import kl_loss, smooth_toward_prior, vote_weights
from train.metric import score


def test_loss_is_the_kaggle_kl_and_weights_favour_agreed_rows():
    rng = np.random.default_rng(0)
    logits = torch.tensor(rng.normal(size=(8, 6)), dtype=torch.float32)
    targets = torch.tensor(rng.dirichlet(np.ones(6) * 0.3, size=8), dtype=torch.float32)
    expected = score(targets.double().numpy(), torch.softmax(logits.double(), 1).numpy())
    assert kl_loss(logits, targets).item() == pytest.approx(expected, rel=1e-5)
    assert kl_loss(logits, targets, torch.ones(8)).item() == pytest.approx(expected, rel=1e-5)
    weights = vote_weights(torch.tensor([1, 3, 10, 20]), cap=10)
    assert weights.tolist() == pytest.approx([0.1, 0.3, 1.0, 1.0])
    only_last = kl_loss(logits[:2], targets[:2], torch.tensor([0.0, 1.0]))
    assert only_last.item() == pytest.approx(kl_loss(logits[1:2], targets[1:2]).item(), rel=1e-5)


def test_prior_smoothing_mixes_targets_toward_the_prior_and_caps_the_penalty_of_a_confident_miss():
    targets = torch.tensor([[1.0, 0, 0, 0, 0, 0], [0, 0.5, 0.5, 0, 0, 0]])
    prior = torch.tensor([0.2, 0.1, 0.1, 0.1, 0.1, 0.4])
    smoothed = smooth_toward_prior(targets, prior, 0.1)
    np.testing.assert_allclose(smoothed.numpy(), (0.9 * targets + 0.1 * prior).numpy())
    np.testing.assert_allclose(smoothed.sum(1).numpy(), [1.0, 1.0], rtol=1e-6)
    assert smooth_toward_prior(targets, prior, 0.0) is targets
    # the loss-minimising prediction is the smoothed target: no class is ever driven to probability 0
    logits = torch.log(smoothed).requires_grad_()
    kl_loss(logits, smoothed).backward()
    assert logits.grad.abs().max() < 1e-6 and smoothed.min() > 0
