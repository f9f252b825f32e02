"""Signal sanitising (NaN/Inf) and per-channel quality of a window: flat, railing, line noise."""

from __future__ import annotations

import numpy as np

from edge.config import ChainConfig
from edge.spec import CHANNELS

LINE_FREQUENCIES_HZ = (50.0, 60.0)


class Sanitizer:
    """Replaces non-finite samples by the channel's last finite value (0 before any); state: that value."""

    def __init__(self, channels: int) -> None:
        self.channels = channels
        self.reset()

    def reset(self) -> None:
        self._last = np.zeros(self.channels, dtype=np.float32)

    def process(self, block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[n, channels] -> (clean copy, bad mask [n, channels])."""
        bad = ~np.isfinite(block)
        if not bad.any():
            if block.shape[0]:
                self._last = block[-1].copy()
            return block, bad
        # forward fill: index of the latest good sample at or before each row (-1: none in this block)
        rows = np.where(bad, -1, np.arange(block.shape[0])[:, None])
        np.maximum.accumulate(rows, axis=0, out=rows)
        clean = np.where(rows >= 0, block[np.maximum(rows, 0), np.arange(self.channels)], self._last)
        clean = clean.astype(np.float32)
        self._last = clean[-1].copy()
        return clean, bad


def window_quality(window: np.ndarray, bad: np.ndarray, sample_rate: float, config: ChainConfig,
                   missing: tuple[str, ...], absent: tuple[str, ...]) -> dict[str, list[str]]:
    """Flags over the newest `quality_s` of a [channels, time] window; lists name the channels affected.

    `missing` are required channels the source lacks (filled); `absent` also counts optional ones (EKG):
    neither is judged flat or noisy.
    """
    n = min(window.shape[1], round(config.quality_s * sample_rate))
    recent = window[:, -n:].astype(np.float64)
    names = np.array(CHANNELS)
    usable = np.array([c not in absent for c in CHANNELS])
    flat = usable & (np.ptp(recent, axis=1) < config.flat_uv)
    railing = usable & (np.mean(np.abs(recent) >= config.rail_uv, axis=1) > config.rail_fraction)
    spectrum = np.abs(np.fft.rfft(recent - recent.mean(axis=1, keepdims=True), axis=1)) ** 2
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
    band = spectrum[:, (freqs >= 0.5) & (freqs <= 40.0)].sum(axis=1) + 1e-12
    line = np.zeros(len(CHANNELS), dtype=bool)
    for f0 in LINE_FREQUENCIES_HZ:
        if f0 + 1.0 < sample_rate / 2:
            line |= spectrum[:, np.abs(freqs - f0) <= 1.0].sum(axis=1) / band > config.line_noise_ratio
    line &= usable & ~flat
    return {
        "missing": list(missing),
        "sanitized": names[bad.any(axis=1)].tolist(),
        "flat": names[flat].tolist(),
        "railing": names[railing].tolist(),
        "line_noise": names[line].tolist(),
    }
