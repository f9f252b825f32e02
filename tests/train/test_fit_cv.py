"""Validation on high-agreement rows (cv.val_min_votes) and the Kaggle recipe config (configs/hms.toml)."""

from pathlib import Path

import numpy as np
import pytest

from edge.errors import DataError, SpecError
from train.fit.config import load_config
from train.fit.cv import fold_splits
from train.fit.loop import epoch_plan
from train.models import create_model

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_held_out_rows_are_filtered_by_votes_training_rows_are_not():
    fold_of_row = np.array([0, 0, 0, 1, 1, 1])
    votes = np.array([3, 12, 15, 1, 10, 2])
    everything = fold_splits(fold_of_row, 2, votes, val_min_votes=0)
    agreed = fold_splits(fold_of_row, 2, votes, val_min_votes=9)
    assert [s.val_rows.tolist() for s in everything] == [[0, 1, 2], [3, 4, 5]]
    assert [s.val_rows.tolist() for s in agreed] == [[1, 2], [4]]
    assert [s.train_rows.tolist() for s in agreed] == [[3, 4, 5], [0, 1, 2]]  # all rows of the other patients
    with pytest.raises(DataError, match="fold1 has no held-out row with >= 11 votes"):
        fold_splits(fold_of_row, 2, votes, val_min_votes=11)
    with pytest.raises(SpecError, match="cv.val_min_votes must be >= 0"):
        load_config(None, {"cv.val_min_votes": -1})


def test_hms_recipe_is_two_stage_vote_weighted_and_builds_its_model():
    config = load_config(CONFIGS / "hms.toml")
    assert config.loss.vote_weighting and config.cv.val_min_votes == 9
    votes = np.array([1, 3, 10, 12, 2, 28])
    plan = epoch_plan(config, votes, np.arange(len(votes)))
    assert len(plan) == config.optim.epochs + config.loss.stage2_epochs
    assert plan[0].tolist() == list(range(6)) and plan[-1].tolist() == [2, 3, 5]
    model = create_model(config.model.name, config.model.frontend, **config.model.kwargs)
    assert sum(p.numel() for p in model.parameters()) < 5e6  # the bedside budget (docs/models.md)
