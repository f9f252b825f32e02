"""train/fit/batchnorm.py: BatchNorm recalibration."""


from __future__ import annotations

import numpy as np
import torch

from train.fit.batchnorm import recalibrate_batchnorm


class _Windows:
    """The WindowSet surface recalibrate_batchnorm uses: window(i) -> [20, T]."""

    def __init__(self, signals: np.ndarray) -> None:
        self.signals = signals

    def window(self, i: int) -> np.ndarray:
        return self.signals[i]


def test_batchnorm_recalibration_replaces_stale_statistics_with_the_exact_clean_average():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv1d(20, 3, 5), torch.nn.BatchNorm1d(3)).eval()
    model[1].running_mean.fill_(50.0)  # stale statistics, as after training on augmented batches
    model[1].running_var.fill_(1e-4)
    signals = np.random.default_rng(0).normal(2.0, 3.0, (10, 20, 64)).astype(np.float32)
    used = recalibrate_batchnorm(model, _Windows(signals), np.arange(10), count=10, batch_size=4,
                                 device=torch.device("cpu"))
    assert used == 8 and not model.training and model[1].momentum == 0.1  # mode and momentum restored
    rows = np.linspace(0, 9, 8).round().astype(int)  # whole batches only: 8 windows spread over the 10
    with torch.no_grad():
        features = model[0](torch.from_numpy(signals[rows]))  # [8, 3, 60]
    expected_mean = features.mean(dim=(0, 2))
    torch.testing.assert_close(model[1].running_mean, expected_mean, atol=1e-4, rtol=1e-4)
    with torch.no_grad():  # eval output is now normalised: ~zero mean, unit variance per channel
        out = model(torch.from_numpy(signals[rows]))
    assert out.mean(dim=(0, 2)).abs().max() < 1e-3
    assert (out.std(dim=(0, 2)) - 1).abs().max() < 0.05
    assert recalibrate_batchnorm(torch.nn.Linear(2, 2), _Windows(signals), np.arange(10), count=10, batch_size=4,
                                 device=torch.device("cpu")) == 0  # nothing to do without BatchNorm
