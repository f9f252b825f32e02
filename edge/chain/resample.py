"""Streaming polyphase FIR resampler: any chunk sizes give the same output as one call on the whole signal.

y[j] = sum_k h[k] * u[j*down - k], where u is x upsampled by `up` (zeros between samples) and h is the
anti-alias low-pass of scipy.signal.resample_poly (Kaiser window, beta 5, 10 zero crossings per side),
scaled by `up`. That is scipy.signal.upfirdn(h, x, up, down) computed incrementally: the state is the
last few input samples and the number of samples seen, so chunk boundaries change nothing.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy.signal import firwin

from edge.errors import DataError


def rate_ratio(rate_in: float, rate_out: float) -> tuple[int, int]:
    """(up, down) with rate_out / rate_in = up / down; refuses ratios that would need a huge filter."""
    if rate_in <= 0:
        raise DataError(f"stream sampling rate must be > 0 Hz, got {rate_in}; irregular-rate streams cannot be used")
    ratio = Fraction(rate_out) / Fraction(rate_in).limit_denominator(1000)
    ratio = ratio.limit_denominator(1000)
    if ratio == 1:
        raise DataError(f"no resampling needed from {rate_in} Hz to {rate_out} Hz")
    if abs(float(ratio) - rate_out / rate_in) > 1e-6 * rate_out / rate_in:
        raise DataError(f"cannot resample {rate_in} Hz to {rate_out} Hz with a rational ratio of small integers")
    return ratio.numerator, ratio.denominator


def design_lowpass(up: int, down: int) -> np.ndarray:
    """The resample_poly filter, gain `up` so the upsampled zeros do not scale the signal down."""
    max_rate = max(up, down)
    half_len = 10 * max_rate
    return (firwin(2 * half_len + 1, 1.0 / max_rate, window=("kaiser", 5.0)) * up).astype(np.float64)


class StreamingResampler:
    """Stateful resampler for [n, channels] chunks; `reset()` forgets the history."""

    def __init__(self, rate_in: float, rate_out: float, channels: int) -> None:
        self.up, self.down = rate_ratio(rate_in, rate_out)
        taps = design_lowpass(self.up, self.down)
        self.taps_per_phase = -(-len(taps) // self.up)
        padded = np.zeros(self.taps_per_phase * self.up)
        padded[: len(taps)] = taps
        # phases[p, t] = h[p + t*up]: output j uses phase (j*down) % up on inputs m, m-1, ..., m-T+1
        self.phases = padded.reshape(self.taps_per_phase, self.up).T.copy()
        self.channels = channels
        # Output j sits at input position j*down/up minus the filter's group delay.
        self.delay_in = (len(taps) - 1) / 2 / self.up
        self.reset()

    def reset(self) -> None:
        # T inputs of history: the next output's newest input may be the last one already seen.
        self._history = np.zeros((self.taps_per_phase, self.channels), dtype=np.float64)
        self._seen = 0  # input samples consumed
        self._produced = 0  # output samples emitted

    @property
    def produced(self) -> int:
        return self._produced

    def process(self, chunk: np.ndarray) -> np.ndarray:
        """[n, channels] -> [m, channels] float32; m depends only on the total input so far."""
        n = chunk.shape[0]
        if n == 0:
            return np.zeros((0, self.channels), dtype=np.float32)
        total = self._seen + n
        # outputs j whose newest input index m = (j*down)//up has arrived: m <= total - 1
        last_j = ((total - 1) * self.up) // self.down
        if not chunk.any() and not self._history.any():  # zeros in, zeros out (masks of a clean stream)
            self._seen, first, self._produced = total, self._produced, last_j + 1
            return np.zeros((last_j + 1 - first, self.channels), dtype=np.float32)
        extended = np.concatenate([self._history, np.asarray(chunk, dtype=np.float64)])
        j = np.arange(self._produced, last_j + 1)
        m = (j * self.down) // self.up
        phase = (j * self.down) % self.up
        offset = len(self._history) - self._seen  # extended row of input index i is i + offset
        rows = (m + offset)[:, None] - np.arange(self.taps_per_phase)[None, :]  # [m_out, T]
        out = np.einsum("jt,jtc->jc", self.phases[phase], extended[rows])
        self._history = extended[-self.taps_per_phase:]
        self._seen = total
        self._produced = last_j + 1
        return out.astype(np.float32)

    def output_positions(self, first: int, count: int) -> np.ndarray:
        """Input-sample positions (fractional) of outputs first .. first+count-1."""
        return np.arange(first, first + count) * (self.down / self.up) - self.delay_in
