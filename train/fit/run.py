"""`train fit` as a library call: data -> patient-grouped CV -> final model -> bundle with reports.

Under torchrun every rank trains (DistributedDataParallel) and only rank 0 writes. Training
checkpoints live beside the bundle in `.<bundle>.ckpt/` (outside it, so they never enter SHA256SUMS)
and are removed once the bundle is written.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edge.errors import DataError
from edge.model.model_spec import ModelSpec
from train.fit.calibration import MIN_PATIENTS, calibrate
from train.fit.config import FitConfig
from train.fit.cv import CvResult, run_cv
from train.fit.distributed import DistContext, barrier, init_distributed, shutdown
from train.fit.evaluate import evaluate_predictions
from train.fit.progress import ProgressReporter
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
from train.metric import class_prior


@dataclass(frozen=True)
class FitSummary:
    bundle: Path
    oof_kl: float
    oof_prior_kl: float
    final_model: str
    metrics: dict[str, Any]


def checkpoint_root(out: Path) -> Path:
    return out.parent / f".{out.name}.ckpt"


def load_windows(data_dir: Path, config: FitConfig, ctx: DistContext):
    from train.data import build_window_set

    if not ctx.is_main:  # rank 0 builds the cache first; the others then read it
        barrier(ctx)
    windows = build_window_set(data_dir, split="train", margin=config.data.margin,
                               lookahead_s=config.data.lookahead_s)
    if ctx.is_main:
        barrier(ctx)
    if windows.targets is None:
        raise DataError(f"{data_dir} has no vote columns; `train fit` needs the labelled train layout")
    return windows


def assign_folds(windows, config: FitConfig) -> np.ndarray:
    from train.data import patient_kfold

    fold_of_row = np.asarray(patient_kfold(np.asarray(windows.patient_ids), config.cv.k, config.run.seed))
    for k in range(config.cv.folds):
        if not (fold_of_row == k).any() or (fold_of_row == k).all():
            raise DataError(f"fold {k} of cv.k={config.cv.k} is empty or holds every row: the data has "
                            f"{len(np.unique(windows.patient_ids))} patients; lower cv.k")
    return fold_of_row


def data_summary(data_dir: Path, windows, targets: np.ndarray) -> dict[str, Any]:
    votes = np.asarray(windows.total_votes)
    return {"source": data_dir.name, "rows": len(windows), "eegs": len(np.unique(windows.eeg_ids)),
            "patients": len(np.unique(windows.patient_ids)), "class_prior": class_prior(targets).tolist(),
            "total_votes_median": float(np.median(votes)), "margin": int(windows.margin)}


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


def fit(data_dir: str | Path, out: str | Path, config: FitConfig, *, resume: bool = True,
        show_progress: bool = True) -> FitSummary | None:
    """Train and write the bundle; returns the summary on rank 0 and None on the other ranks."""
    data_dir, out = Path(data_dir), Path(out)
    started_wall, started_cpu = time.perf_counter(), time.process_time()
    if out.is_dir() and any(out.iterdir()):
        raise DataError(f"--out {out} already exists and is not empty; choose a new directory or delete it")
    ctx = init_distributed(config.run.device)
    try:
        ckpt = checkpoint_root(out)
        if not resume and ctx.is_main:
            shutil.rmtree(ckpt, ignore_errors=True)
        barrier(ctx)
        windows = load_windows(data_dir, config, ctx)
        fold_of_row = assign_folds(windows, config)
        reporter = ProgressReporter(enabled=show_progress and ctx.is_main)
        cv = run_cv(config, windows, fold_of_row, checkpoint_root=ckpt, ctx=ctx, reporter=reporter)
        # This run's time (a resumed run counts only itself); CPU seconds are all threads of this process.
        timing = {"wall_seconds": time.perf_counter() - started_wall, "cpu_seconds": time.process_time() - started_cpu,
                  "torch_threads": torch.get_num_threads()}
        summary = write_bundle(out, config, windows, data_dir=data_dir, cv=cv, world_size=ctx.world_size,
                               timing=timing) if ctx.is_main else None
        barrier(ctx)
        if ctx.is_main:
            shutil.rmtree(ckpt, ignore_errors=True)
        return summary
    finally:
        shutdown(ctx)
