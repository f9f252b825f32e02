"""Smoothing of successive probability vectors, and alarm hysteresis on one class."""

from __future__ import annotations

from collections import deque

import numpy as np

from edge.config import AlarmConfig, SmoothingConfig
from edge.contract import CLASSES


class Smoother:
    """Mean of the last k predictions, or an exponential moving average; `reset()` forgets them."""

    def __init__(self, config: SmoothingConfig) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        self._recent: deque[np.ndarray] = deque(maxlen=self.config.k)
        self._ema: np.ndarray | None = None

    def update(self, probs: np.ndarray) -> np.ndarray:
        """Add one prediction; a non-finite one is refused (it would stay in the state: EMA never forgets)."""
        if not np.all(np.isfinite(probs)):
            raise ValueError(f"non-finite probabilities cannot be smoothed: {probs}")
        if self.config.kind == "ema":
            alpha = self.config.alpha
            self._ema = probs.copy() if self._ema is None else alpha * probs + (1 - alpha) * self._ema
            return self._ema.copy()
        self._recent.append(probs)
        return np.mean(self._recent, axis=0)


class Alarm:
    """On when the smoothed target probability reaches `on`; off only once it falls below `off`."""

    def __init__(self, config: AlarmConfig) -> None:
        self.config = config
        self.index = CLASSES.index(config.target)
        self.reset()

    def reset(self) -> None:
        self.active = False

    def update(self, smoothed: np.ndarray) -> str | None:
        """'on' / 'off' when the state changes, else None."""
        p = float(smoothed[self.index])
        if not self.active and p >= self.config.on:
            self.active = True
            return "on"
        if self.active and p < self.config.off:
            self.active = False
            return "off"
        return None
