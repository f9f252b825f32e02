"""Burden on synthetic prediction sequences whose seizure seconds are known."""

from __future__ import annotations

import numpy as np
import pytest

from edge.config import BurdenConfig
from edge.contract import CLASSES
from edge.monitoring.burden import BURDEN_NAMES, BurdenState

HOP = 2.0
SPAN = 10.0
SEIZURE, LPD, OTHER = (CLASSES.index(c) for c in ("seizure", "lpd", "other"))


def _truth(seconds: int, rng: np.random.Generator) -> np.ndarray:
    """Per-0.01 s seizure flags: events of 10 s to 3 min at arbitrary (non-integer) times."""
    flags = np.zeros(seconds * 100, dtype=bool)
    t = rng.uniform(0, 60)
    while t < seconds:
        length = rng.uniform(10, 180)
        flags[int(t * 100):int((t + length) * 100)] = True
        t += length + rng.uniform(20, 400)
    return flags


def _prediction(truth: np.ndarray, start: float, rng: np.random.Generator) -> np.ndarray:
    """A decent detector: seizure probability ~ the share of the span in seizure, plus noise."""
    share = truth[int(start * 100):int((start + SPAN) * 100)].mean()
    probs = np.full(len(CLASSES), 0.02)
    probs[SEIZURE] = np.clip(share + rng.normal(0, 0.1), 0, 1)
    probs[OTHER] = 1 - probs[SEIZURE]
    return probs / probs.sum()


def _replay(truth: np.ndarray, rng: np.random.Generator, *, t0: float = 1234.56, skip=lambda start: False):
    """Labelled spans every hop; yields (burden, true share over the same window, start)."""
    state = BurdenState(BurdenConfig(window_s=300))
    for start in np.arange(0, len(truth) / 100 - SPAN, HOP):
        if skip(start):
            continue
        burden = state.update(_prediction(truth, start, rng), t0 + start, t0 + start + SPAN)
        end = burden.t - t0
        yield burden, truth[max(0, int((end - 300) * 100)):int(end * 100)], start


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_burden_within_two_points_of_truth_once_covered(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = _truth(3600, rng)
    checked = 0
    for burden, window, start in _replay(truth, rng):
        if start < 300:  # the window ends at the newest span's start
            assert burden.coverage < 1.0
            continue
        assert burden.coverage == 1.0
        assert abs(burden.share("seizure") - window.mean()) <= 0.02, start
        checked += 1
    assert checked > 1500 and truth.mean() > 0.1


def test_gaps_reduce_coverage_not_burden() -> None:
    rng = np.random.default_rng(4)
    truth = np.ones(1200 * 100, dtype=bool)  # seizure throughout: the burden must stay 100 %
    gap = (500.0, 620.0)
    coverages = []
    for burden, _, start in _replay(truth, rng, skip=lambda s: gap[0] <= s < gap[1]):
        if start >= 300:
            assert burden.share("seizure") == 1.0
            coverages.append(burden.coverage)
            assert burden.lower_bound("seizure") == pytest.approx(burden.coverage)
    # 120 s without predictions, less the spans on either side that still cover part of it
    assert min(coverages) == pytest.approx((300 - (120 - SPAN + HOP)) / 300, abs=0.01)
    assert coverages[-1] == 1.0


def test_jump_in_stream_time_leaves_unknown_seconds_and_far_past_restarts() -> None:
    state = BurdenState(BurdenConfig(window_s=60))
    probs = np.eye(len(CLASSES))[LPD]
    for start in np.arange(0, 60, HOP):
        state.update(probs, start, start + SPAN)
    after = state.update(probs, 100.0, 110.0)  # 32 s after the last span ended: nothing known in between
    # the window [40, 100) ends where the newest span starts; [40, 68) was covered
    assert after.t == 100.0 and after.seconds["lpd"] == after.known_s == 28
    assert after.share("lpd") == after.share("any_iiic") == 1.0
    assert after.coverage == pytest.approx(28 / 60)
    restarted = state.update(probs, -5000.0, -4990.0)  # a clock far behind: history cannot apply
    assert restarted.known_s == 0 and restarted.share("lpd") is None and restarted.t == -5000.0


def test_record_names_every_class_and_reset_forgets() -> None:
    state = BurdenState()
    state.update(np.eye(len(CLASSES))[SEIZURE], 0.0, 10.0)
    burden = state.update(np.eye(len(CLASSES))[OTHER], 2.0, 12.0)  # cells 0 and 1 are final
    assert set(burden.record()) == {"t", "window_s", "coverage", *BURDEN_NAMES}
    assert burden.record()["seizure"] == 1.0 and burden.coverage == pytest.approx(2 / 300)
    state.reset()
    with pytest.raises(AssertionError):
        state.current()


def test_a_second_counts_for_its_class_only_when_the_class_is_likely_enough() -> None:
    """p(seizure) 0.35 is the top of six classes but a guess: no seizure burden at min_p 0.5, all at 0."""
    guess = np.array([0.35, 0.15, 0.1, 0.1, 0.1, 0.2])
    sure = np.array([0.6, 0.1, 0.1, 0.05, 0.05, 0.1])
    for min_p, expected in ((0.5, 0.0), (0.0, 1.0)):
        state = BurdenState(BurdenConfig(window_s=30.0, min_p=min_p))
        for k in range(45):
            burden = state.update(guess, float(k), float(k + 10))
        assert burden.share("seizure") == expected and burden.known_s == burden.window_s
    state = BurdenState(BurdenConfig(window_s=30.0))
    for k in range(45):
        burden = state.update(sure, float(k), float(k + 10))
    assert burden.share("seizure") == 1.0
