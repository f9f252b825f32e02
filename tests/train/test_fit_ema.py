"""train/fit/ema.py: the weight EMA."""


from __future__ import annotations

import pytest
import torch

from train.fit.ema import WeightEma


def test_weight_ema_follows_early_weights_then_averages_with_the_set_decay():
    model = torch.nn.Linear(2, 1, bias=False)
    torch.nn.init.zeros_(model.weight)
    ema = WeightEma(model, decay=0.99)
    assert ema.decay_at(0) == pytest.approx(0.1) and ema.decay_at(10_000) == 0.99
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model, step=0)  # the first average is 90 % the trained weights, not the random start
    assert ema.module.weight.detach().numpy() == pytest.approx(0.9)
    for step in range(1, 2000):
        ema.update(model, step)
    assert ema.module.weight.detach().numpy() == pytest.approx(1.0, abs=1e-6)
    with torch.no_grad():
        model.weight.fill_(2.0)
    ema.update(model, step=2000)
    assert ema.module.weight.detach().numpy() == pytest.approx(1.01)  # late steps move it by 1 - decay
