"""edge/monitoring/smoothing.py: the mean and EMA smoothers and the per-window alarm hysteresis."""

from __future__ import annotations

import numpy as np
import pytest

from edge.config import AlarmConfig, SmoothingConfig
from edge.monitoring.smoothing import Alarm, Smoother


def test_mean_of_last_k_and_ema() -> None:
    mean = Smoother(SmoothingConfig(kind="mean", k=2))
    a, b, c = np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.array([0.0, 0.0])
    assert mean.update(a).tolist() == [1.0, 0.0]
    assert mean.update(b).tolist() == [0.5, 0.5]
    assert mean.update(c).tolist() == [0.0, 0.5]
    mean.reset()
    assert mean.update(c).tolist() == [0.0, 0.0]
    ema = Smoother(SmoothingConfig(kind="ema", alpha=0.5))
    assert ema.update(a).tolist() == [1.0, 0.0]
    assert ema.update(b).tolist() == [0.5, 0.5]


def test_alarm_hysteresis() -> None:
    alarm = Alarm(AlarmConfig(target="seizure", on=0.6, off=0.4))
    seizure = [0.1, 0.59, 0.6, 0.5, 0.41, 0.39, 0.45, 0.7]
    changes = [alarm.update(np.array([p, 1 - p, 0, 0, 0, 0])) for p in seizure]
    assert changes == [None, None, "on", None, None, "off", None, "on"]


def test_ema_refuses_nan_so_it_can_never_stick() -> None:
    ema = Smoother(SmoothingConfig(kind="ema", alpha=0.5))
    ema.update(np.array([0.9, 0.1]))
    with pytest.raises(ValueError, match="non-finite"):
        ema.update(np.array([np.nan, 0.1]))
    assert ema.update(np.array([0.1, 0.9])).tolist() == [0.5, 0.5]  # the state never saw the NaN
