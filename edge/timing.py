"""Per-stage wall-clock timings, collected only when asked for (timing=True), so a bench can be honest."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager


class StageTimer:
    def __init__(self, enabled: bool = False) -> None:
        self.enabled = enabled
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start
            self.calls[name] += 1

    def summary(self) -> dict[str, dict[str, float]]:
        """{stage: {"total_ms", "calls", "mean_ms"}}"""
        return {name: {"total_ms": 1e3 * s, "calls": self.calls[name], "mean_ms": 1e3 * s / self.calls[name]}
                for name, s in self.seconds.items()}
