"""95 % intervals for the figures `edge evaluate` reports: Wilson for proportions, exact (Garwood) Poisson for
rates, percentile bootstrap for everything else (latency quantiles, F1, sample-based shares, burden error).

Every interval is (value, low, high); value None (nothing to estimate) gives (None, None, None).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats

Z95 = 1.959963984540054
BOOTSTRAP_RESAMPLES = 2000
Interval = tuple[float | None, float | None, float | None]
NONE: Interval = (None, None, None)


def wilson(successes: int, trials: int) -> Interval:
    """Proportion successes / trials with its Wilson score interval (good at 0 and at 1)."""
    if trials <= 0:
        return NONE
    p = successes / trials
    centre = (p + Z95**2 / (2 * trials)) / (1 + Z95**2 / trials)
    half = Z95 * np.sqrt(p * (1 - p) / trials + Z95**2 / (4 * trials**2)) / (1 + Z95**2 / trials)
    return p, float(max(0.0, centre - half)), float(min(1.0, centre + half))


def poisson_rate(events: int, exposure: float) -> Interval:
    """Rate events / exposure with the exact (Garwood) Poisson interval; 0 events still bound the rate."""
    if exposure <= 0:
        return NONE
    low = 0.0 if events == 0 else stats.chi2.ppf(0.025, 2 * events) / 2
    high = stats.chi2.ppf(0.975, 2 * events + 2) / 2
    return events / exposure, float(low / exposure), float(high / exposure)


def bootstrap(items: Sequence, statistic: Callable[[list], float | None], *, seed: int = 0) -> Interval:
    """statistic(items) with the percentile interval over resamples of the items (with replacement).
    Resamples where the statistic is undefined (None) are dropped."""
    value = statistic(list(items)) if len(items) else None
    if value is None:
        return NONE
    rng = np.random.default_rng(seed)
    draws = [statistic([items[i] for i in rng.integers(0, len(items), len(items))])
             for _ in range(BOOTSTRAP_RESAMPLES)]
    finite = np.array([d for d in draws if d is not None], dtype=np.float64)
    if not len(finite):
        return value, None, None
    return float(value), float(np.percentile(finite, 2.5)), float(np.percentile(finite, 97.5))


def quantile(q: float) -> Callable[[list], float | None]:
    """The q-th percentile of a list of numbers (None when empty), for bootstrap()."""
    return lambda values: float(np.percentile(values, q)) if values else None


def format_interval(value: Interval, spec: str = ".1f", *, scale: float = 1.0, unit: str = "",
                    brackets: str = "[]") -> str:
    """'90.0 % [80.1, 95.2]'-style text of an interval ("-" when there is no value)."""
    if value[0] is None:
        return "-"
    text = format(scale * value[0], spec) + unit
    if value[1] is None:
        return text
    return f"{text} {brackets[0]}{scale * value[1]:{spec}}, {scale * value[2]:{spec}}{brackets[1]}"
