"""Burden per stream: the share of the last `window_s` of stream time assigned to seizure, each IIIC class
and any IIIC, from the overlapping 10 s labelled spans of the valid predictions (docs/monitoring.md).

Stream time is cut into 1 s cells on a grid anchored at the first labelled span after `reset()`. A
prediction covers the cells whose centre lies in its labelled span (at hop 2 s, 5 predictions cover
each cell). A cell is final once a prediction starts after it (no later one can cover it); its class
is the argmax of the mean probability vector of the predictions that covered it when that mean is at
least `min_p`, else "other" (a guess among six classes is no burden), and a cell no valid
prediction covered is unknown. The window is the newest `window_s` of final cells, so it ends at the
newest labelled span's start. Shares are over the known cells of the window, and `coverage` says how
much of the window is known: a gap lowers coverage, never the burden.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edge.config import BurdenConfig
from edge.contract import CLASSES

IIIC_CLASSES: tuple[str, ...] = ("lpd", "gpd", "lrda", "grda")
BURDEN_NAMES: tuple[str, ...] = (*CLASSES[:-1], "any_iiic")  # "other" is what is left
_MARGIN_CELLS = 16  # cells kept beyond the window, so a late span still finds its cells
_OTHER = CLASSES.index("other")


@dataclass(frozen=True)
class Burden:
    t: float  # end of the window: the start of the newest labelled span (on the 1 s grid)
    window_s: float
    coverage: float  # share of the window's seconds with at least one valid prediction
    seconds: dict[str, int]  # known seconds assigned to each name in BURDEN_NAMES
    known_s: int
    recent_s: float = 0.0  # the newest seconds of the window that `recent` counts
    recent: dict[str, int] | None = None  # known seconds per name among the newest recent_s

    def recent_share(self, name: str) -> float:
        """Share of the newest recent_s seconds assigned to `name`, unknown counted as not: is it still going."""
        return (self.recent or {}).get(name, 0) / self.recent_s if self.recent_s else 0.0

    def share(self, name: str) -> float | None:
        """Share of the known seconds; None while nothing in the window is known."""
        return self.seconds[name] / self.known_s if self.known_s else None

    def lower_bound(self, name: str) -> float:
        """Share of the whole window, unknown seconds counted as not `name`: what alarms use."""
        return self.seconds[name] / self.window_s

    def record(self) -> dict:
        return {"t": self.t, "window_s": self.window_s, "coverage": round(self.coverage, 4),
                **{name: None if (s := self.share(name)) is None else round(s, 4) for name in BURDEN_NAMES}}


class BurdenState:
    """Rolling per-second class assignment; `update()` per valid prediction, `reset()` forgets everything."""

    def __init__(self, config: BurdenConfig | None = None) -> None:
        self.config = config or BurdenConfig()
        self.cells = math.ceil(self.config.window_s)
        self.recent_cells = min(math.ceil(self.config.recent_s), self.cells)
        self.capacity = self.cells + _MARGIN_CELLS
        self._iiic = [CLASSES.index(c) for c in IIIC_CLASSES]
        self.reset()

    def reset(self) -> None:
        self._sums = np.zeros((self.capacity, len(CLASSES)))
        self._counts = np.zeros(self.capacity, dtype=np.int64)
        self._anchor: float | None = None
        self._newest: int | None = None  # index of the newest cell written
        self._final: int | None = None  # index of the newest final cell

    def update(self, probs: np.ndarray, label_start: float, label_end: float) -> Burden:
        """Add one valid prediction about [label_start, label_end) and return the burden after it."""
        if self._anchor is None:
            self._anchor = label_start
        first = math.ceil(label_start - self._anchor - 0.5)  # cells whose centre lies in the span
        last = math.ceil(label_end - self._anchor - 0.5) - 1
        if self._newest is not None and last < self._newest - self.capacity + 1:
            self.reset()  # far behind everything kept (a clock reset): start over
            return self.update(probs, label_start, label_end)
        if self._newest is None or last > self._newest:
            fresh = first if self._newest is None else self._newest + 1
            self._clear(range(max(fresh, last - self.capacity + 1), last + 1))
            self._newest = last
        cells = np.arange(max(first, self._newest - self.capacity + 1), last + 1) % self.capacity
        self._sums[cells] += probs
        self._counts[cells] += 1
        self._final = first - 1 if self._final is None else max(self._final, first - 1)
        return self.current()

    def _clear(self, cells: range) -> None:
        index = np.arange(cells.start, cells.stop) % self.capacity
        self._sums[index] = 0.0
        self._counts[index] = 0

    @property
    def empty(self) -> bool:
        return self._final is None

    def current(self) -> Burden:
        assert self._final is not None and self._anchor is not None, "no prediction since reset()"
        window = np.arange(self._final - self.cells + 1, self._final + 1) % self.capacity
        known = self._counts[window] > 0
        labels = np.full(len(window), -1)
        mean = self._sums[window][known] / self._counts[window][known, None]
        top = np.argmax(mean, axis=1)
        labels[known] = np.where(mean[np.arange(len(top)), top] >= self.config.min_p, top, _OTHER)
        known_s = int(known.sum())
        return Burden(self._anchor + self._final + 1, float(self.cells), known_s / self.cells, self._seconds(labels),
                      known_s, float(self.recent_cells), self._seconds(labels[-self.recent_cells:]))

    def _seconds(self, labels: np.ndarray) -> dict[str, int]:
        """Seconds per name in BURDEN_NAMES among cell labels (-1: unknown)."""
        seconds = {name: int(np.sum(labels == CLASSES.index(name))) for name in CLASSES[:-1]}
        seconds["any_iiic"] = int(np.isin(labels, self._iiic).sum())
        return seconds
