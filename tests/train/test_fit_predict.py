"""train/fit/predict.py: Kaggle submissions."""


from __future__ import annotations

import numpy as np


def test_submission_averages_windows_per_eeg_in_first_seen_order():
    from train.fit.predict import mean_by_eeg, submission_csv

    ids, means = mean_by_eeg(np.array([7, 3, 7]), np.array([[1.0, 0, 0, 0, 0, 0], [0, 1.0, 0, 0, 0, 0],
                                                           [0, 0, 1.0, 0, 0, 0]]))
    assert ids.tolist() == [7, 3]
    np.testing.assert_allclose(means[0], [0.5, 0, 0.5, 0, 0, 0])
    lines = submission_csv(ids, means).splitlines()
    assert lines[0] == "eeg_id,seizure_vote,lpd_vote,gpd_vote,lrda_vote,grda_vote,other_vote"
    assert lines[1].startswith("7,0.50000000,")
