"""train/fit/evaluate.py: evaluation figures."""


from __future__ import annotations

import numpy as np
import pytest

from train.metric import score


def test_evaluation_figures_and_confusion_matrix():
    from train.fit.evaluate import evaluate_predictions

    targets = np.array([[1, 0, 0, 0, 0, 0], [0, 0.5, 0.5, 0, 0, 0], [0, 0, 0, 0, 0, 1.0]])
    report = evaluate_predictions(targets, targets.copy())
    assert report.kl == pytest.approx(0) and report.accuracy == 1.0
    assert np.array_equal(np.diag(report.confusion), [1, 1, 0, 0, 0, 1])
    wrong = np.roll(targets, 1, axis=1) * 0.9 + 0.1 / 6
    report = evaluate_predictions(targets, wrong)
    assert report.kl == pytest.approx(score(targets, wrong))
    assert report.prior_kl == pytest.approx(score(targets, np.broadcast_to(targets.mean(0), targets.shape)))
    assert sum(c.kl_share for c in report.classes) == pytest.approx(report.kl)
    assert report.classes[0].recall == 0.0 and report.classes[0].rows == 1
