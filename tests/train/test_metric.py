import math

import numpy as np
import pytest

from edge.errors import DataError
from train.metric import EPSILON, class_prior, score


def test_perfect_prediction_scores_zero():
    targets = np.array([[1, 0, 0, 0, 0, 0], [0.5, 0.5, 0, 0, 0, 0]], dtype=float)
    assert score(targets, targets) == pytest.approx(0.0, abs=1e-12)


def test_hand_computed_rows():
    targets = np.array([[0.5, 0.5, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1.0]])
    preds = np.array([[0.25, 0.25, 0.5, 0, 0, 0], [0.1, 0.1, 0.1, 0.1, 0.1, 0.5]])
    row0 = 0.5 * math.log(0.5 / 0.25) * 2  # zero-target classes contribute nothing
    row1 = math.log(1 / 0.5)
    assert score(targets, preds) == pytest.approx((row0 + row1) / 2, rel=1e-12)


def test_zero_prediction_is_clipped_not_renormalised():
    targets = np.array([[0, 1.0, 0, 0, 0, 0]])
    preds = np.array([[1.0, 0, 0, 0, 0, 0]])
    assert score(targets, preds) == pytest.approx(-math.log(EPSILON), rel=1e-9)


def test_rows_not_summing_to_one_are_rejected_with_count():
    targets = np.full((3, 6), 1 / 6)
    preds = targets.copy()
    preds[[0, 2]] *= 2
    with pytest.raises(DataError, match=r"preds: 2 of 3 rows do not sum to 1"):
        score(targets, preds)
    with pytest.raises(DataError, match="shape"):
        score(targets, preds[:, :5])


def test_float32_rounding_is_accepted():
    logits = np.random.default_rng(0).normal(size=(100, 6)).astype(np.float32)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert score(probs.astype(np.float32), probs) < 1e-6


def test_class_prior_is_mean_target_and_beats_uniform():
    targets = np.array([[1, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1.0]])
    prior = class_prior(targets)
    np.testing.assert_allclose(prior, [2 / 3, 0, 0, 0, 0, 1 / 3])
    uniform = np.full((3, 6), 1 / 6)
    assert score(targets, np.tile(prior, (3, 1))) < score(targets, uniform)
