"""Patient-grouped K-fold cross-validation: one model per fold, out-of-fold predictions, KL per fold.

No patient is in both the training and the validation rows of a fold (train.data.patient_kfold), so
the out-of-fold KL estimates performance on new patients. The class-prior baseline of each fold is the
mean target of its training rows, predicted for every validation row: the score of a model that
learned nothing from the signal.

Which model the bundle ships (`cv.final`): by default fold 0's model. It costs no extra training, and
its out-of-fold KL is an honest held-out estimate for exactly the shipped weights. "refit" retrains on
every row (one more run; usually a little better, but then the reported KL is a CV estimate of a
different set of weights). An ensemble of the fold models would multiply the bedside inference cost by
K on a Jetson whose budget is one model, so it is left to a deliberate `--model ensemble` bundle.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge.errors import DataError
from train.fit.config import FitConfig
from train.fit.distributed import DistContext
from train.fit.evaluate import predict_probs
from train.fit.loop import FoldSplit, TrainedModel, train_model
from train.fit.progress import ProgressReporter
from train.metric import class_prior, score


@dataclass(frozen=True)
class FoldResult:
    split: FoldSplit
    trained: TrainedModel
    preds: np.ndarray  # [len(val_rows), 6] probabilities
    kl: float
    prior_kl: float


@dataclass(frozen=True)
class CvResult:
    folds: tuple[FoldResult, ...]
    fold_of_row: np.ndarray  # patient-grouped split index of every row
    final: TrainedModel  # the model that goes into the bundle
    final_name: str

    @property
    def oof_rows(self) -> np.ndarray:
        return np.concatenate([f.split.val_rows for f in self.folds])

    @property
    def oof_preds(self) -> np.ndarray:
        return np.concatenate([f.preds for f in self.folds])

    def oof_priors(self, targets: np.ndarray) -> np.ndarray:
        """The baseline prediction for every out-of-fold row: its fold's training class prior."""
        return np.concatenate([np.broadcast_to(class_prior(targets[f.split.train_rows]), f.preds.shape)
                               for f in self.folds])

    def summary(self, targets: np.ndarray) -> dict[str, Any]:
        rows = self.oof_rows
        return {
            "oof_kl": score(targets[rows], self.oof_preds),
            "oof_prior_kl": score(targets[rows], self.oof_priors(targets)),
            "oof_rows": len(rows),
            "folds": [{"name": f.split.name, "kl": f.kl, "prior_kl": f.prior_kl, "train_rows": len(f.split.train_rows),
                       "val_rows": len(f.split.val_rows)} for f in self.folds],
            "final_model": self.final_name,
        }


def fold_splits(fold_of_row: np.ndarray, folds: int, total_votes: np.ndarray | None = None,
                *, val_min_votes: int = 0) -> list[FoldSplit]:
    """Train on the other folds' rows; validate on this fold's rows with >= val_min_votes votes (all when 0)."""
    rows = np.arange(len(fold_of_row))
    scored = np.ones(len(rows), bool) if total_votes is None else np.asarray(total_votes) >= val_min_votes
    splits = [FoldSplit(f"fold{k}", k, rows[fold_of_row != k], rows[(fold_of_row == k) & scored]) for k in range(folds)]
    for split in splits:
        if len(split.val_rows) == 0:
            raise DataError(f"{split.name} has no held-out row with >= {val_min_votes} votes; lower cv.val_min_votes")
    return splits


def run_cv(config: FitConfig, windows, fold_of_row: np.ndarray, *, checkpoint_root: Path | None, ctx: DistContext,
           reporter: ProgressReporter) -> CvResult:
    targets = np.asarray(windows.targets, dtype=np.float64)
    results = []
    for split in fold_splits(fold_of_row, config.cv.folds, windows.total_votes, val_min_votes=config.cv.val_min_votes):
        trained = train_model(config, windows, split, checkpoint_dir=_fold_dir(checkpoint_root, split), ctx=ctx,
                              reporter=reporter)
        preds = predict_probs(trained.model, windows, split.val_rows, batch_size=config.run.eval_batch_size,
                              device=ctx.device)
        prior = class_prior(targets[split.train_rows])
        results.append(FoldResult(split, trained, preds, score(targets[split.val_rows], preds),
                                  score(targets[split.val_rows], np.broadcast_to(prior, preds.shape))))
    if config.cv.final == "refit":
        everything = FoldSplit("all", config.cv.k, np.arange(len(windows)), None)
        final = train_model(config, windows, everything, checkpoint_dir=_fold_dir(checkpoint_root, everything),
                            ctx=ctx, reporter=reporter)
        name = f"refit on all {len(windows)} rows"
    else:
        final, name = results[0].trained, "fold0"
    return CvResult(tuple(results), fold_of_row, final, name)


def _fold_dir(root: Path | None, split: FoldSplit) -> Path | None:
    return None if root is None else root / split.name

