"""The training loop for one model: AdamW, warmup + cosine, clipping, AMP on CUDA, EMA, resume, DDP.

Readable top to bottom: build model and optimizer, restore a checkpoint if there is one, then for each
epoch walk a deterministic (row, shift) order, augment in the step, step the optimizer, checkpoint
every N steps and at the epoch end, and validate under no_grad.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from edge.errors import DataError
from edge.spec import SAMPLE_RATE_HZ
from train.fit.augment import EncodingFn, augment_batch, identity, step_rng
from train.fit.config import FitConfig
from train.fit.distributed import DistContext, all_reduce_mean, barrier
from train.fit.ema import WeightEma
from train.fit.evaluate import predict_probs
from train.fit.loss import kl_loss, vote_weights
from train.fit.progress import ProgressReporter
from train.fit.resume import TrainProgress, load_checkpoint, save_checkpoint
from train.fit.sampling import epoch_order, epoch_size, make_loader, steps_in_epoch
from train.fit.schedule import get_lr
from train.metric import score


@dataclass(frozen=True)
class FoldSplit:
    name: str  # "fold0", "fold1", ... or "all" for a refit on every row
    index: int  # enters every seed, so folds draw different augmentations
    train_rows: np.ndarray
    val_rows: np.ndarray | None


@dataclass(frozen=True)
class TrainedModel:
    model: torch.nn.Module  # the weights to ship: the EMA when enabled, in eval mode
    history: tuple[dict[str, Any], ...]
    val_history: tuple[dict[str, Any], ...]


class EncodedForward(torch.nn.Module):
    """encode -> (train-only transform) -> classify, as one module so DDP sees a single forward."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, eeg: torch.Tensor, encoding_fn: EncodingFn = identity) -> torch.Tensor:
        if encoding_fn is identity:
            return self.model(eeg)
        return self.model.classify(encoding_fn(self.model.encode(eeg)))


def build_model(config: FitConfig) -> torch.nn.Module:
    from train.models import create_model

    return create_model(config.model.name, frontend=config.model.frontend, **config.model.kwargs)


def epoch_plan(config: FitConfig, total_votes: np.ndarray, train_rows: np.ndarray) -> list[np.ndarray]:
    """Rows of every epoch: stage 1 all training rows, stage 2 (optional) only well-agreed rows."""
    plan = [train_rows] * config.optim.epochs
    if config.loss.stage2_epochs:
        agreed = train_rows[total_votes[train_rows] >= config.loss.stage2_min_votes]
        if len(agreed) == 0:
            raise DataError(f"loss.stage2_epochs is set but no training row has >= {config.loss.stage2_min_votes} "
                            f"votes; lower loss.stage2_min_votes or set loss.stage2_epochs = 0")
        plan += [agreed] * config.loss.stage2_epochs
    return plan


def fingerprint(config: FitConfig, split: FoldSplit, world_size: int) -> str:
    payload = json.dumps([config.to_dict(), split.name, split.train_rows.tolist(), world_size], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def train_model(config: FitConfig, windows, split: FoldSplit, checkpoint_dir: Path | None, ctx: DistContext,
                reporter: ProgressReporter) -> TrainedModel:
    o, run = config.optim, config.run
    device = ctx.device
    torch.manual_seed(run.seed * 1000 + split.index)
    model = build_model(config).to(device)
    ema = WeightEma(model, o.ema_decay) if o.ema_decay > 0 else None
    optimizer = torch.optim.AdamW(model.parameters(), lr=o.lr, weight_decay=o.weight_decay)
    batch_size = max(o.batch_size // ctx.world_size, 1)  # the global batch stays o.batch_size under DDP
    plan = epoch_plan(config, windows.total_votes, split.train_rows)
    groups = np.asarray(windows.eeg_ids) if config.data.one_window_per_eeg else None
    epoch_steps = [steps_in_epoch(epoch_size(rows, groups), batch_size, ctx.world_size) for rows in plan]
    total_steps = sum(epoch_steps)
    max_shift = min(int(config.augment.shift_s * SAMPLE_RATE_HZ), windows.margin)

    print_key = fingerprint(config, split, ctx.world_size)
    progress = TrainProgress(config_fingerprint=print_key)
    if checkpoint_dir is not None:
        restored = load_checkpoint(checkpoint_dir, model, optimizer, ema.module if ema else None)
        if restored is not None and restored.config_fingerprint == print_key:
            progress = restored
        elif restored is not None:
            raise DataError(f"checkpoint in {checkpoint_dir} was made with another config or data; "
                            f"pass --no-resume to start over")

    step_module: torch.nn.Module = EncodedForward(model)
    if ctx.distributed:
        step_module = DistributedDataParallel(step_module, device_ids=[device.index] if device.type == "cuda" else None)
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" and run.amp else nullcontext())
    targets_all = windows.targets
    history, val_history = list(progress.history), list(progress.val_history)
    step, batch_in_epoch = progress.step, progress.batch_in_epoch

    def checkpoint(epoch: int) -> None:
        if checkpoint_dir is not None and ctx.is_main:
            state = TrainProgress(step, epoch, batch_in_epoch, tuple(history), tuple(val_history), print_key)
            save_checkpoint(checkpoint_dir, model, optimizer, ema.state_dict() if ema else None, state)
        barrier(ctx)

    reporter.start(split.name, total_steps, step)
    for epoch in range(progress.epoch, len(plan)):
        keys = epoch_order(plan[epoch], run.seed, split.index, epoch, max_shift, ctx.rank, ctx.world_size, groups)
        keys = keys[: epoch_steps[epoch] * batch_size][batch_in_epoch * batch_size:]
        model.train()
        for eeg, targets, votes, _rows in make_loader(windows, keys, batch_size, run.num_workers):
            lr = get_lr(step, total_steps, o.lr, o.warmup_steps, o.min_lr_ratio)
            for group in optimizer.param_groups:
                group["lr"] = lr
            weights = vote_weights(votes, config.loss.vote_weight_cap) if config.loss.vote_weighting \
                else torch.ones(len(votes))
            batch = augment_batch(eeg, targets, weights, config.augment,
                                  step_rng(run.seed, split.index * ctx.world_size + ctx.rank, step))
            with autocast:
                logits = step_module(batch.eeg.to(device), batch.encoding_fn)
            loss = kl_loss(logits, batch.targets.to(device),
                           batch.weights.to(device) if config.loss.vote_weighting else None)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if o.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), o.grad_clip)
            optimizer.step()
            if ema is not None:
                ema.update(model)
            step += 1
            batch_in_epoch += 1
            loss_value = all_reduce_mean(float(loss.detach()), ctx)
            history.append({"step": step, "epoch": epoch, "lr": lr, "loss": loss_value})
            reporter.step(step, epoch, loss_value, lr)
            if step % run.checkpoint_every == 0:
                checkpoint(epoch)
        eval_model = ema.module if ema is not None else model
        val_kl = None
        if split.val_rows is not None and ctx.is_main:
            preds = predict_probs(eval_model, windows, split.val_rows, run.eval_batch_size, device)
            val_kl = score(np.asarray(targets_all[split.val_rows], dtype=np.float64), preds)
        epoch_losses = [h["loss"] for h in history if h["epoch"] == epoch]
        train_loss = float(np.mean(epoch_losses)) if epoch_losses else float("nan")
        val_history.append({"epoch": epoch, "step": step, "train_loss": train_loss, "val_kl": val_kl})
        reporter.epoch_end(epoch, step, train_loss, val_kl)
        batch_in_epoch = 0
        checkpoint(epoch + 1)
    reporter.stop()
    final = (ema.module if ema is not None else model).eval()
    return TrainedModel(final, tuple(history), tuple(val_history))

