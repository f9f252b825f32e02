"""`[distill]`: training rows learn (1 - w) * votes + w * a teacher bundle's probabilities; held-out rows are
still scored against the votes, and a teacher that answers another question is a one-line error."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from edge.contract import CLASSES
from edge.errors import DataError, SpecError
from edge.model.model_spec import FrontEndConfig, ModelSpec
from train.checkpoint import load_bundle_model, save_bundle
from train.data import build_window_set
from train.fit.config import load_config
from train.fit.evaluate import predict_probs
from train.fit.loop import make_loader
from train.fit.run import distilled_targets, fit
from train.models import TINY_KWARGS, create_model

TINY = Path(__file__).resolve().parents[3] / "configs" / "tiny.toml"
CPU = torch.device("cpu")


def _teacher(path: Path, *, lookahead_s: float = 20.0) -> Path:
    torch.manual_seed(11)
    model = create_model("grouped1d", frontend=FrontEndConfig(), **TINY_KWARGS["grouped1d"]).eval()
    spec = ModelSpec(model="grouped1d", model_kwargs=TINY_KWARGS["grouped1d"], lookahead_s=lookahead_s)
    return save_bundle(path, model, spec)


def test_training_targets_blend_votes_with_the_teachers_probabilities(layout, tmp_path):
    teacher = _teacher(tmp_path / "teacher")
    config = load_config(TINY, {"distill.teacher": str(teacher), "distill.weight": 0.25})
    windows = build_window_set(layout, split="train", margin=config.data.margin, lookahead_s=config.data.lookahead_s)
    votes = np.asarray(windows.targets, dtype=np.float64).copy()
    blended = distilled_targets(config, windows, device=CPU)
    model, _ = load_bundle_model(teacher)
    probs = predict_probs(model, windows, np.arange(len(windows)), batch_size=8, device=CPU)
    np.testing.assert_allclose(blended, 0.75 * votes + 0.25 * probs, atol=1e-6)
    np.testing.assert_allclose(blended.sum(1), 1.0, atol=1e-6)
    assert not np.allclose(blended, votes)  # the teacher disagrees with the votes somewhere
    np.testing.assert_array_equal(windows.targets, votes)  # the votes themselves are untouched
    assert distilled_targets(load_config(TINY), windows, device=CPU) is None  # off by default

    rows = [(r, 0) for r in range(4)]
    _, targets, _, seen = next(iter(make_loader(windows, rows, 4, num_workers=0, targets=blended)))
    np.testing.assert_allclose(targets.numpy(), blended[seen.numpy()], atol=1e-6)


def test_a_teacher_for_another_lookahead_or_a_bad_weight_is_refused(layout, tmp_path):
    config = load_config(TINY, {"distill.teacher": str(_teacher(tmp_path / "causal", lookahead_s=0.0))})
    windows = build_window_set(layout, split="train", margin=config.data.margin, lookahead_s=config.data.lookahead_s)
    with pytest.raises(DataError, match="looks 0.0 s ahead but data.lookahead_s is 20.0"):
        distilled_targets(config, windows, device=CPU)
    for weight in (0.0, 1.5):
        with pytest.raises(SpecError, match=r"distill.weight must be in \(0, 1\]"):
            load_config(TINY, {"distill.weight": weight})


def test_a_distilled_fit_is_still_scored_against_the_votes(layout, tmp_path):
    teacher = _teacher(tmp_path / "teacher")
    summary = fit(layout, tmp_path / "student", load_config(TINY, {"distill.teacher": str(teacher)}),
                  show_progress=False)
    windows = build_window_set(layout, split="train", margin=200)
    votes = {int(label): row for label, row in zip(windows.label_ids, np.asarray(windows.targets), strict=True)}
    with (summary.bundle / "oof.csv").open() as fh:
        for row in csv.DictReader(fh):
            target = [float(row[f"target_{c}"]) for c in CLASSES]
            np.testing.assert_allclose(target, votes[int(row["label_id"])], atol=1e-5)
    _, spec = load_bundle_model(summary.bundle)
    assert spec.training["config"]["distill"] == {"teacher": str(teacher), "weight": 0.5}
