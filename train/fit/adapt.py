"""`train adapt`: adapt a trained bundle's BatchNorm statistics to unlabelled real EEG, without retraining.

The same step `train fit --unlabelled` takes for its shipped weights (`[adapt]`, docs/models.md), applied to a
bundle trained before: a site can adapt the shipped model to its own recordings, no label needed. The bundle's
training layout is needed too (the synthetic windows keep their share of the statistics, and its held-out
patients refit the temperature and rescore the bundle); its fold split is rebuilt from the bundle's config and
checked against the bundle's out-of-fold rows, so another layout is refused. The new bundle keeps the training
record (curves, config) and carries the adapted weights, temperature and held-out figures (over fold 0's held-out
patients, the fold whose model a bundle ships).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from edge.config_io import from_dict
from edge.errors import DataError
from edge.model.bundle import SPEC_FILE
from train.fit.config import FitConfig
from train.fit.distributed import DistContext, resolve_device
from train.fit.loop import TrainedModel, recalibrate_batchnorm
from train.fit.reports import METRICS_FILE, OOF_FILE
from train.fit.run import (
    CvResult,
    FitSummary,
    assign_folds,
    fold_splits,
    load_unlabelled,
    load_windows,
    score_fold,
    set_temperature,
    write_bundle,
)


def adapt_bundle(bundle: str | Path, data_dir: str | Path, out: str | Path, *, unlabelled: str | Path,
                 bn_share: float | None = None, device: str = "auto") -> FitSummary:
    """Write ``out``: ``bundle`` with BatchNorm statistics re-estimated over its training windows and ``unlabelled``."""
    from train.checkpoint import load_bundle_model, require_new_bundle_dir

    bundle, data_dir, out = Path(bundle), Path(data_dir), Path(out)
    require_new_bundle_dir(out)
    if not (bundle / SPEC_FILE).is_file() or not (bundle / OOF_FILE).is_file():
        raise DataError(f"--bundle {bundle}: not a bundle written by `train fit` (needs {SPEC_FILE} and {OOF_FILE})")
    started = time.perf_counter()
    model, spec = load_bundle_model(bundle)
    trained = spec.training or {}
    if "config" not in trained:
        raise DataError(f"--bundle {bundle}: its spec.json has no training config; adapt a bundle from `train fit`")
    config = from_dict(FitConfig, trained["config"], "training.config")
    adapt = dataclasses.replace(config.adapt, unlabelled_eeg=str(unlabelled),
                                bn_share=config.adapt.bn_share if bn_share is None else bn_share)
    config = dataclasses.replace(config, adapt=adapt).validate()
    if config.cv.final != "fold":
        raise DataError(f"--bundle {bundle} ships a refit on every row: no held-out patients to rescore it on; "
                        "adapt a bundle with cv.final = 'fold'")
    ctx = DistContext(0, 1, resolve_device(device))
    windows = load_windows(data_dir, config, ctx)
    fold_of_row = assign_folds(windows, config)
    split = fold_splits(fold_of_row, 1, windows.total_votes, val_min_votes=config.cv.val_min_votes)[0]
    with (bundle / OOF_FILE).open() as fh:
        held_out = sorted(int(r["label_id"]) for r in csv.DictReader(fh) if r["fold"] == "0")
    if held_out != sorted(int(x) for x in windows.label_ids[split.val_rows]):
        raise DataError(f"--data {data_dir} is not the layout {bundle} was trained on (its held-out rows differ); "
                        "pass that layout")
    real = load_unlabelled(config)
    model = model.to(ctx.device)
    set_temperature(model, 1.0)  # write_bundle fits the temperature of the adapted model
    recalibrate_batchnorm(model, windows, split.train_rows, count=config.optim.bn_recalibration_windows,
                          batch_size=config.run.eval_batch_size, device=ctx.device, unlabelled=real,
                          unlabelled_share=config.adapt.bn_share)
    curves = json.loads((bundle / METRICS_FILE).read_text())["curves"].get(split.name, {})
    history = tuple({"step": s, "loss": v} for s, v in zip(curves.get("step", []), curves.get("loss", []), strict=True))
    val_history = tuple({"step": s, "val_kl": v}
                        for s, v in zip(curves.get("val_step", []), curves.get("val_kl", []), strict=True))
    final = TrainedModel(model.eval(), history, val_history)
    fold = score_fold(split, final, windows, np.asarray(windows.targets, dtype=np.float64),
                      batch_size=config.run.eval_batch_size, device=ctx.device)
    metrics = trained.get("metrics", {})
    timing = {k: metrics[k] for k in ("wall_seconds", "cpu_seconds", "torch_threads") if k in metrics}
    timing["adapt"] = real.summary() | {"from_bundle": str(bundle), "seconds": round(time.perf_counter() - started, 1)}
    return write_bundle(out, config, windows, data_dir=data_dir, cv=CvResult((fold,), fold_of_row, final, "fold0"),
                        world_size=int(trained.get("world_size", 1)), timing=timing)
