"""train/fit/schedule.py: the learning-rate schedule."""


from __future__ import annotations

import itertools
import math

import pytest

from train.fit.schedule import get_lr


def test_lr_warms_up_then_decays_by_cosine_to_the_floor():
    lrs = [get_lr(s, 100, 1e-3, warmup_steps=10, min_lr_ratio=0.1) for s in range(100)]
    assert lrs[0] < lrs[5] < lrs[9] <= 1e-3
    assert all(a >= b for a, b in itertools.pairwise(lrs[10:]))  # monotone after warmup
    assert lrs[10] == pytest.approx(1e-3)
    assert lrs[55] == pytest.approx(1e-4 + 0.5 * 9e-4 * (1 + math.cos(math.pi * 0.5)))
    assert get_lr(100, 100, 1e-3, warmup_steps=10, min_lr_ratio=0.1) == pytest.approx(1e-4)
