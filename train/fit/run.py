"""`train fit` as a library call: data -> patient-grouped CV -> final model -> bundle with reports.

Under torchrun every rank trains (DistributedDataParallel) and only rank 0 writes. Training
checkpoints live beside the bundle in `.<bundle>.ckpt/` (outside it, so they never enter SHA256SUMS)
and are removed once the bundle is written.

Patient-grouped K-fold cross-validation: one model per fold, out-of-fold predictions, KL per fold.

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

import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edge.errors import DataError
from edge.model.model_spec import ModelSpec
from train.fit.config import FitConfig
from train.fit.distributed import DistContext, barrier, init_distributed, shutdown
from train.fit.evaluate import MIN_PATIENTS, calibrate, evaluate_predictions, predict_probs
from train.fit.loop import FoldSplit, ProgressReporter, TrainedModel, train_model
from train.fit.reports import (
    CONFUSION_FILE,
    CURVES_FILE,
    METRICS_FILE,
    OOF_FILE,
    RELIABILITY_FILE,
    confusion_png,
    curves_from_history,
    curves_png,
    metrics_json,
    oof_csv,
    reliability_png,
)
from train.metric import class_prior, score


@dataclass(frozen=True)
class FitSummary:
    bundle: Path
    oof_kl: float
    oof_prior_kl: float
    final_model: str
    metrics: dict[str, Any]


def fit(data_dir: str | Path, out: str | Path, config: FitConfig, *, resume: bool = True,
        show_progress: bool = True) -> FitSummary | None:
    """Train and write the bundle; returns the summary on rank 0 and None on the other ranks."""
    from train.checkpoint import require_new_bundle_dir

    data_dir, out = Path(data_dir), Path(out)
    started_wall, started_cpu = time.perf_counter(), time.process_time()
    require_new_bundle_dir(out)
    ctx = init_distributed(config.run.device)
    try:
        ckpt = checkpoint_root(out)
        if not resume and ctx.is_main:
            shutil.rmtree(ckpt, ignore_errors=True)
        barrier(ctx)
        windows = load_windows(data_dir, config, ctx)
        fold_of_row = assign_folds(windows, config)
        unlabelled = load_unlabelled(config)
        train_targets = distilled_targets(config, windows, device=ctx.device)
        reporter = ProgressReporter(enabled=show_progress and ctx.is_main)
        cv = run_cv(config, windows, fold_of_row, checkpoint_root=ckpt, ctx=ctx, reporter=reporter,
                    unlabelled=unlabelled, train_targets=train_targets)
        # This run's time (a resumed run counts only itself); CPU seconds are all threads of this process.
        timing = {"wall_seconds": time.perf_counter() - started_wall, "cpu_seconds": time.process_time() - started_cpu,
                  "torch_threads": torch.get_num_threads()}
        adapt = {} if unlabelled is None else {"adapt": unlabelled.summary()}
        summary = write_bundle(out, config, windows, data_dir=data_dir, cv=cv, world_size=ctx.world_size,
                               timing=timing | adapt) if ctx.is_main else None
        barrier(ctx)
        if ctx.is_main:
            shutil.rmtree(ckpt, ignore_errors=True)
        return summary
    finally:
        shutdown(ctx)


def checkpoint_root(out: Path) -> Path:
    return out.parent / f".{out.name}.ckpt"


def load_windows(data_dir: Path, config: FitConfig, ctx: DistContext):
    """The labelled training windows of ``data_dir`` (`train fit`, `train adapt`); never an evaluation set's."""
    from train.data import build_window_set
    from train.synth.evaluation_set import refuse_training_on

    refuse_training_on(data_dir)
    if not ctx.is_main:  # rank 0 builds the cache first; the others then read it
        barrier(ctx)
    windows = build_window_set(data_dir, split="train", margin=config.data.margin,
                               lookahead_s=config.data.lookahead_s)
    if ctx.is_main:
        barrier(ctx)
    if windows.targets is None:
        raise DataError(f"{data_dir} has no vote columns; `train fit` needs the labelled train layout")
    return windows


def load_unlabelled(config: FitConfig):
    """The `[adapt]` real windows, or None when adaptation is off."""
    from train.data.unlabelled import unlabelled_windows

    if not config.adapt.unlabelled_eeg:
        return None
    return unlabelled_windows(config.adapt.unlabelled_eeg, stride_s=config.adapt.stride_s)


def distilled_targets(config: FitConfig, windows, *, device: torch.device) -> np.ndarray | None:
    """`[distill]`: every row's vote target blended with the teacher's probability, or None when off.

    The teacher scores each row's unshifted window once; every rank computes the same array.
    """
    from train.checkpoint import load_bundle_model

    d = config.distill
    if not d.teacher:
        return None
    teacher, spec = load_bundle_model(d.teacher)
    if spec.lookahead_s != config.data.lookahead_s:
        raise DataError(f"distill.teacher {d.teacher} looks {spec.lookahead_s} s ahead but data.lookahead_s is "
                        f"{config.data.lookahead_s}: the teacher must answer the question the student learns")
    probs = predict_probs(teacher.to(device), windows, np.arange(len(windows)),
                          batch_size=config.run.eval_batch_size, device=device)
    return (1 - d.weight) * np.asarray(windows.targets, dtype=np.float64) + d.weight * probs


def assign_folds(windows, config: FitConfig) -> np.ndarray:
    from train.data import patient_kfold

    fold_of_row = np.asarray(patient_kfold(np.asarray(windows.patient_ids), config.cv.k, config.run.seed))
    for k in range(config.cv.folds):
        if not (fold_of_row == k).any() or (fold_of_row == k).all():
            raise DataError(f"fold {k} of cv.k={config.cv.k} is empty or holds every row: the data has "
                            f"{len(np.unique(windows.patient_ids))} patients; lower cv.k")
    return fold_of_row


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
           reporter: ProgressReporter, unlabelled: Sequence[np.ndarray] | None = None,
           train_targets: np.ndarray | None = None) -> CvResult:
    targets = np.asarray(windows.targets, dtype=np.float64)
    results = []
    for split in fold_splits(fold_of_row, config.cv.folds, windows.total_votes, val_min_votes=config.cv.val_min_votes):
        trained = train_model(config, windows, split, checkpoint_dir=_fold_dir(checkpoint_root, split), ctx=ctx,
                              reporter=reporter, unlabelled=unlabelled, train_targets=train_targets)
        results.append(score_fold(split, trained, windows, targets, batch_size=config.run.eval_batch_size,
                                  device=ctx.device))
    if config.cv.final == "refit":
        everything = FoldSplit("all", config.cv.k, np.arange(len(windows)), None)
        final = train_model(config, windows, everything, checkpoint_dir=_fold_dir(checkpoint_root, everything),
                            ctx=ctx, reporter=reporter, unlabelled=unlabelled, train_targets=train_targets)
        name = f"refit on all {len(windows)} rows"
    else:
        final, name = results[0].trained, "fold0"
    return CvResult(tuple(results), fold_of_row, final, name)


def score_fold(split: FoldSplit, trained: TrainedModel, windows, targets: np.ndarray, *, batch_size: int,
               device: torch.device) -> FoldResult:
    """The model's predictions for the split's held-out rows, their KL and the class-prior baseline's."""
    preds = predict_probs(trained.model, windows, split.val_rows, batch_size=batch_size, device=device)
    prior = class_prior(targets[split.train_rows])
    return FoldResult(split, trained, preds, score(targets[split.val_rows], preds),
                      score(targets[split.val_rows], np.broadcast_to(prior, preds.shape)))


def _fold_dir(root: Path | None, split: FoldSplit) -> Path | None:
    return None if root is None else root / split.name


def write_bundle(out: Path, config: FitConfig, windows, *, data_dir: Path, cv: CvResult, world_size: int,
                 timing: dict[str, float]) -> FitSummary:
    from train.checkpoint import runtime_versions, save_bundle

    targets = np.asarray(windows.targets, dtype=np.float64)
    rows = cv.oof_rows
    calibrated = calibrate(targets[rows], cv.oof_preds, np.asarray(windows.patient_ids)[rows], seed=config.run.seed)
    if calibrated is None:
        calibration = {"temperature": 1.0, "skipped": f"fewer than {MIN_PATIENTS} held-out patients"}
    else:
        calibration = asdict(calibrated[0])
        set_temperature(cv.final.model, calibrated[0].temperature)
    summary = cv.summary(targets) | timing | {"calibration": calibration}
    report = evaluate_predictions(targets[rows], cv.oof_preds, cv.oof_priors(targets))
    curves = {f.split.name: curves_from_history(f.trained.history, f.trained.val_history) for f in cv.folds}
    if all(f.trained is not cv.final for f in cv.folds):
        curves["all"] = curves_from_history(cv.final.history, cv.final.val_history)
    spec = ModelSpec(model=config.model.name, model_kwargs=dict(config.model.kwargs), frontend=config.model.frontend,
                     lookahead_s=config.data.lookahead_s, versions=runtime_versions(),
                     training={"config": config.to_dict(), "data": data_summary(data_dir, windows, targets),
                               "metrics": summary, "world_size": world_size})
    files = {
        METRICS_FILE: metrics_json(summary, report, curves),
        OOF_FILE: oof_csv(windows, rows, cv.fold_of_row, preds=cv.oof_preds),
        CURVES_FILE: curves_png(curves, summary["oof_prior_kl"]),
        CONFUSION_FILE: confusion_png(report, f"out-of-fold ({len(cv.folds)} fold(s), held-out patients)"),
    }
    if calibrated is not None:
        files[RELIABILITY_FILE] = reliability_png(targets[rows], cv.oof_preds, calibrated[1], result=calibrated[0])
    save_bundle(out, cv.final.model.cpu(), spec, extra_files=files)
    return FitSummary(out, summary["oof_kl"], summary["oof_prior_kl"], cv.final_name, summary)


def set_temperature(model: torch.nn.Module, temperature: float) -> None:
    """Store the fitted temperature in the model's calibration buffer (train.models.layers.Temperature)."""
    with torch.no_grad():
        model.calibration.temperature.fill_(temperature)


def data_summary(data_dir: Path, windows, targets: np.ndarray) -> dict[str, Any]:
    votes = np.asarray(windows.total_votes)
    return {"source": data_dir.name, "rows": len(windows), "eegs": len(np.unique(windows.eeg_ids)),
            "patients": len(np.unique(windows.patient_ids)), "class_prior": class_prior(targets).tolist(),
            "total_votes_median": float(np.median(votes)), "margin": int(windows.margin)}
