"""Is a stream delivering samples at its stated rate? Measured from its own timestamps, so a consumer
that fell behind (a backlog arriving in a burst) never looks like a fast stream.

A replay at k times real time (`edge replay --speed 4`) stamps its samples k times closer together than
the nominal period: over the last `window_s` of timestamps it measures k x nominal. A timestamp jump
beyond the gap policy, or timestamps falling that far behind their newest, starts the measurement
again (the chain resets there too).
"""

from __future__ import annotations

from collections import deque

import numpy as np


class RateMonitor:
    def __init__(self, nominal_hz: float, *, window_s: float, gap_s: float) -> None:
        self.nominal_hz = nominal_hz
        self.window_s = window_s
        self.gap_s = gap_s
        self.reset()

    def reset(self) -> None:
        self._marks: deque[tuple[float, int]] = deque()  # (timestamp, samples counted up to and including it)
        self._count = 0

    def update(self, stamps: np.ndarray) -> float | None:
        """Measured rate over nominal after these samples; None until `window_s` of timestamps are seen."""
        if len(stamps) == 0:
            return self.ratio()
        joined = stamps if not self._marks else np.concatenate([[self._marks[-1][0]], stamps])
        steps = np.diff(joined)
        # falling behind the newest timestamp by more than gap_s is a broken clock, never a rate (the chain
        # says "clock"); smaller jitter is tolerated
        newest = np.maximum.accumulate(joined)[:-1]
        jumps = np.flatnonzero((steps - 1.0 / self.nominal_hz > self.gap_s) | (joined[1:] < newest - self.gap_s))
        if len(jumps):  # measure only what follows the last discontinuity
            stamps = joined[int(jumps[-1]) + 1:]
            self.reset()
        if not self._marks:
            self._count = 1
            self._marks.append((float(stamps[0]), 1))
            stamps = stamps[1:]
            if len(stamps) == 0:
                return None
        self._count += len(stamps)
        self._marks.append((float(stamps[-1]), self._count))
        newest = self._marks[-1][0]
        while len(self._marks) > 2 and newest - self._marks[1][0] >= self.window_s:
            self._marks.popleft()
        return self.ratio()

    def ratio(self) -> float | None:
        if len(self._marks) < 2:
            return None
        (t0, c0), (t1, c1) = self._marks[0], self._marks[-1]
        if t1 - t0 < self.window_s:
            return None
        return (c1 - c0) / (t1 - t0) / self.nominal_hz
