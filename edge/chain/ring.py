"""Preallocated ring buffer over the last `capacity` samples of a [rows, time] signal (modulo index)."""

from __future__ import annotations

import numpy as np


class RingBuffer:
    def __init__(self, rows: int, capacity: int, dtype: np.dtype | type = np.float32) -> None:
        self._data = np.zeros((rows, capacity), dtype=dtype)
        self.capacity = capacity
        self.total = 0  # samples written since the last reset

    def reset(self) -> None:
        self._data[...] = 0
        self.total = 0

    def write(self, block: np.ndarray) -> None:
        """Append [rows, n] (n <= capacity)."""
        n = block.shape[1]
        if n > self.capacity:
            raise ValueError(f"block of {n} samples exceeds the ring capacity {self.capacity}")
        start = self.total % self.capacity
        first = min(n, self.capacity - start)
        self._data[:, start:start + first] = block[:, :first]
        self._data[:, : n - first] = block[:, first:]
        self.total += n

    def latest(self, n: int) -> np.ndarray:
        """Copy of the newest n samples, oldest first: [rows, n]."""
        if not 0 < n <= min(self.total, self.capacity):
            raise ValueError(f"cannot read {n} samples: {self.total} written, capacity {self.capacity}")
        start = (self.total - n) % self.capacity
        if start + n <= self.capacity:
            return self._data[:, start:start + n].copy()
        return np.concatenate([self._data[:, start:], self._data[:, : start + n - self.capacity]], axis=1)
