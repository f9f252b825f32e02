"""The training loop for one model, read top to bottom: the loss, the LR schedule, the weight EMA, the
epoch order and loader, BatchNorm recalibration, progress, then `Trainer.step` and `train_model`.

AdamW, warmup + cosine, clipping, AMP on CUDA, EMA, resume, DDP: build model and optimizer, restore a
checkpoint if there is one, then for each epoch walk a deterministic (row, shift) order, augment in the
step, step the optimizer, checkpoint every N steps and at the epoch end, and validate under no_grad.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import sys
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch
import torch.nn.functional as F
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset

from edge.contract import SAMPLE_RATE_HZ
from edge.errors import DataError
from train.fit.augment import EncodingFn, augment_batch, identity, step_rng
from train.fit.config import FitConfig
from train.fit.distributed import DistContext, all_reduce_mean, barrier
from train.fit.evaluate import predict_probs
from train.fit.resume import TrainProgress, load_checkpoint, save_checkpoint
from train.metric import class_prior, score

# ----------------------------------------------------------------------------------------------------
# Training loss: KL divergence of the predicted from the expert vote distribution, optionally vote-weighted.
#
# Same quantity as the Kaggle metric (targets * log(targets / p), summed over classes), computed from
# log_softmax so it is stable, with `KLDivLoss(reduction="batchmean")` semantics when unweighted.
# ----------------------------------------------------------------------------------------------------


def vote_weights(total_votes: torch.Tensor, cap: int) -> torch.Tensor:
    """Rows that more experts agreed on weigh more: min(votes, cap) / cap, in (0, 1]."""
    return total_votes.float().clamp(min=1, max=cap) / cap


def kl_loss(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over rows of KL(targets || softmax(logits)); with weights, a weighted mean over rows."""
    log_probs = F.log_softmax(logits.float(), dim=1)
    if weights is None:
        return F.kl_div(log_probs, targets, reduction="batchmean")
    per_row = F.kl_div(log_probs, targets, reduction="none").sum(dim=1)
    return (per_row * weights).sum() / weights.sum().clamp_min(1e-12)


def smooth_toward_prior(targets: torch.Tensor, prior: torch.Tensor, amount: float) -> torch.Tensor:
    """Label smoothing toward the class prior: (1 - amount) * targets + amount * prior (rows still sum to 1)."""
    return targets if amount == 0 else (1.0 - amount) * targets + amount * prior

# ----------------------------------------------------------------------------------------------------
# Learning-rate schedule: linear warmup, then cosine decay to a floor. A pure function of the step.
# ----------------------------------------------------------------------------------------------------


def get_lr(step: int, total_steps: int, lr: float, *, warmup_steps: int, min_lr_ratio: float) -> float:
    """LR for optimizer step `step` (0-based) of `total_steps`."""
    min_lr = lr * min_lr_ratio
    warmup = min(warmup_steps, max(total_steps - 1, 0))
    if step < warmup:
        return lr * (step + 1) / (warmup + 1)
    if step >= total_steps:
        return min_lr
    progress = (step - warmup) / max(total_steps - warmup, 1)
    return min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * progress))

# ----------------------------------------------------------------------------------------------------
# Exponential moving average of model weights (evaluated and shipped instead of the raw weights).
# ----------------------------------------------------------------------------------------------------


class WeightEma:
    """ema = d * ema + (1 - d) * weights after every optimizer step; integer buffers are copied.

    d = min(decay, (1 + step) / (10 + step)): early on the average follows the weights closely, so a
    short run (the demo, a tiny config) does not ship an average dominated by the random initialisation.
    It depends only on the step count, so a resumed run averages exactly as the uninterrupted one.
    """

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    def decay_at(self, step: int) -> float:
        return min(self.decay, (1 + step) / (10 + step))

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        """Average in ``model``'s weights after optimizer step ``step`` (0-based).

        One fused lerp over all floating tensors: building two state dicts and lerping tensor by tensor
        took ~5 % of a mel2d training step on the 2-core CPU. The tensors are paired on every call (cheap),
        so moving either model between calls is safe.
        """
        ema_floats, floats, ema_others, others = [], [], [], []
        for ema_value, value in zip(_tensors(self.module), _tensors(model), strict=True):
            if value.dtype.is_floating_point:
                ema_floats.append(ema_value)
                floats.append(value)
            else:
                ema_others.append(ema_value)
                others.append(value)
        torch._foreach_lerp_(ema_floats, floats, 1 - self.decay_at(step))
        if others:
            torch._foreach_copy_(ema_others, others)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.module.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.module.load_state_dict(state)


def _tensors(module: torch.nn.Module) -> list[torch.Tensor]:
    """Parameters then persistent and non-persistent buffers, in registration order (the same for a deep copy)."""
    return [*module.parameters(), *module.buffers()]

# ----------------------------------------------------------------------------------------------------
# Which windows a rank sees in an epoch, and in what order: a pure function of (seed, fold, epoch).
#
# The permutation and the random shifts are drawn per epoch from a seeded Generator, so a run killed
# mid-epoch resumes by skipping the batches already done. Sharding over ranks follows
# torch's DistributedSampler (pad to a multiple of world_size, then take every world_size-th index),
# extended with the per-window shift, which DistributedSampler cannot carry.
# ----------------------------------------------------------------------------------------------------


def one_row_per_group(rows: np.ndarray, groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random row of each group (e.g. each EEG): overlapping windows of one recording count once an epoch."""
    shuffled = rows[rng.permutation(len(rows))]
    _, first = np.unique(groups[shuffled], return_index=True)
    return np.sort(shuffled[first])


def epoch_size(rows: np.ndarray, groups: np.ndarray | None) -> int:
    return len(rows) if groups is None else len(np.unique(groups[rows]))


def epoch_order(rows: np.ndarray, seed: int, fold: int, *, epoch: int, max_shift: int,
                rank: int = 0, world_size: int = 1, groups: np.ndarray | None = None) -> list[tuple[int, int]]:
    """(row, shift) pairs for this rank's share of the epoch, in training order (one row per group if given)."""
    rng = np.random.default_rng([seed, fold, epoch, 7919])
    if groups is not None:
        rows = one_row_per_group(rows, groups, rng)
    order = rows[rng.permutation(len(rows))]
    shifts = rng.integers(-max_shift, max_shift + 1, size=len(order)) if max_shift else np.zeros(len(order), int)
    padded = math.ceil(len(order) / world_size) * world_size
    index = np.resize(np.arange(len(order)), padded)[rank::world_size]
    return [(int(order[i]), int(shifts[i])) for i in index]


def steps_in_epoch(n_rows: int, batch_size: int, world_size: int = 1) -> int:
    """Optimizer steps: whole global batches (batch_size per rank); a trailing partial one is dropped
    (a 1-row batch breaks BatchNorm), so 1 and N processes with the same global batch take the same steps."""
    return max(n_rows // (batch_size * world_size), 1)


class WindowDataset(Dataset):
    """Items are keyed by (row, shift): returns (eeg [20, 10000], target [6], total_votes, row).

    ``targets`` ([rows, 6]) replaces the windows' vote targets (`[distill]`); None keeps them.
    """

    def __init__(self, windows, targets: np.ndarray | None = None) -> None:
        self.windows = windows
        self.targets = windows.targets if targets is None else targets

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, key: tuple[int, int]):
        row, shift = key
        eeg = torch.from_numpy(np.ascontiguousarray(self.windows.window(row, shift), dtype=np.float32))
        target = torch.from_numpy(np.asarray(self.targets[row], dtype=np.float32))
        return eeg, target, int(self.windows.total_votes[row]), row


def make_loader(windows, keys: list[tuple[int, int]], batch_size: int, *, num_workers: int,
                targets: np.ndarray | None = None) -> DataLoader:
    # An explicit generator keeps the loader from drawing from torch's global RNG, which the model's
    # dropout uses: otherwise creating an iterator at a resume point would shift dropout draws.
    return DataLoader(WindowDataset(windows, targets), batch_size=batch_size, sampler=keys, num_workers=num_workers,
                      drop_last=len(keys) >= batch_size, generator=torch.Generator().manual_seed(0),
                      persistent_workers=False)

# ----------------------------------------------------------------------------------------------------
# Recompute BatchNorm statistics for the weights that are evaluated and shipped ("precise BN").
#
# During training each BatchNorm keeps a running average of the statistics of small, augmented
# batches (mixup, cutout, masks) computed by weights that keep changing; the weight EMA then averages
# those buffers too. The shipped weights never produced those statistics, and on held-out patients
# the mismatch was the largest error we measured in mel2d (`python -m scripts.bn_check`, figures in
# docs/benchmarks.md "train").
# ----------------------------------------------------------------------------------------------------


def recalibrate_batchnorm(model: nn.Module, windows, rows: np.ndarray, *, count: int, batch_size: int,
                          device: torch.device, unlabelled: Sequence[np.ndarray] | None = None,
                          unlabelled_share: float = 0.0) -> int:
    """Reset every BatchNorm's running statistics of ``model`` and re-estimate them as the plain average of
    the per-batch statistics over ``count`` unshifted, unaugmented windows spread evenly over ``rows``
    (whole batches only, so every window weighs the same); returns the windows used.

    ``unlabelled`` (M real [20, T] windows, `[adapt]`): evenly spread ones among them are added until they
    are ``unlabelled_share`` of all windows used (at most M), interleaved with the labelled ones so every batch
    mixes both domains (the estimate then holds the variance between them too). Deterministic (no random
    choice), gradient-free, and the global RNG state is left as it was; the model's train/eval mode is restored.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not norms or count <= 0 or len(rows) == 0:
        return 0
    count = min(count, len(rows))
    n_extra = 0 if unlabelled is None else min(len(unlabelled),
                                               round(count * unlabelled_share / (1 - unlabelled_share)))
    if count + n_extra >= batch_size:  # whole batches only, so every window weighs the same
        excess = (count + n_extra) % batch_size
        if count > excess:
            count -= excess
        else:  # few labelled windows: the unlabelled ones (at least a batch of them) give up the rest
            n_extra -= excess
    chosen = np.asarray(rows)[np.linspace(0, len(rows) - 1, count).round().astype(int)]
    extra = np.linspace(0, len(unlabelled) - 1, n_extra).round().astype(int) if n_extra else np.zeros(0, int)
    # (source, index) pairs ordered by their relative position in their own list: an even interleave
    order = sorted([(i / count, 0, int(r)) for i, r in enumerate(chosen)] +
                   [(i / max(n_extra, 1), 1, int(e)) for i, e in enumerate(extra)])
    momenta = [m.momentum for m in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over the batches below, not an exponential one
    was_training = model.training
    model.train()
    # Train mode draws dropout masks: on a forked RNG, so how many windows this uses never changes the training
    # run's later draws (with [adapt] on, its extra windows would otherwise give another training trajectory).
    cuda = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    with torch.no_grad(), torch.random.fork_rng(devices=cuda):
        for start in range(0, len(order), batch_size):
            batch = np.stack([windows.window(k) if source == 0 else unlabelled[k]
                              for _, source, k in order[start:start + batch_size]]).astype(np.float32)
            model(torch.from_numpy(batch).to(device))
    for norm, momentum in zip(norms, momenta, strict=True):
        norm.momentum = momentum
    model.train(was_training)
    return len(order)

# ----------------------------------------------------------------------------------------------------
# Training progress: a rich bar with live loss/LR/val KL on a TTY, one plain line per epoch otherwise.
# ----------------------------------------------------------------------------------------------------


class ProgressReporter:
    def __init__(self, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.live = enabled and self.stream.isatty()
        self._bar: Progress | None = None
        self._task = None
        self._label = ""

    def start(self, label: str, total_steps: int, done_steps: int) -> None:
        self._label = label
        if not self.enabled:
            return
        if self.live:
            self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                                 transient=False)
            self._bar.start()
            self._task = self._bar.add_task(label, total=total_steps, completed=done_steps, stats="")
        else:
            print(f"[{label}] {total_steps} steps, starting at {done_steps}", file=self.stream, flush=True)

    def step(self, step: int, *, epoch: int, loss: float, lr: float) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=step, stats=f"epoch {epoch} loss {loss:.4f} lr {lr:.2e}")

    def epoch_end(self, epoch: int, *, step: int, train_loss: float, val_kl: float | None) -> None:
        val = "" if val_kl is None else f" val_kl {val_kl:.4f}"
        text = f"epoch {epoch} step {step} train_loss {train_loss:.4f}{val}"
        if self._bar is not None:
            self._bar.console.log(f"[{self._label}] {text}")
        elif self.enabled:
            print(f"[{self._label}] {text}", file=self.stream, flush=True)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

# ----------------------------------------------------------------------------------------------------
# The trainer and the loop
# ----------------------------------------------------------------------------------------------------


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
    """forward_frontend -> (train-only transform) -> forward_classifier, as one module so DDP sees a single forward."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, eeg: torch.Tensor, encoding_fn: EncodingFn = identity) -> torch.Tensor:
        if encoding_fn is identity:
            return self.model(eeg)
        return self.model.forward_classifier(encoding_fn(self.model.forward_frontend(eeg)))


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


def monitoring_rows(val_rows: np.ndarray | None, groups: np.ndarray | None) -> np.ndarray | None:
    """Rows scored after every epoch: the first labelled window of each validation EEG (all when ungrouped).

    The final out-of-fold score uses every validation row; the per-epoch curve only needs to be cheap.
    """
    if val_rows is None or groups is None:
        return val_rows
    _, first = np.unique(groups[val_rows], return_index=True)
    return np.sort(val_rows[first])


def fingerprint(config: FitConfig, split: FoldSplit, world_size: int) -> str:
    payload = json.dumps([config.to_dict(), split.name, split.train_rows.tolist(), world_size], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass
class Trainer:
    """The model and optimizer state of one run, and the optimizer step that advances them."""

    config: FitConfig
    model: torch.nn.Module
    step_module: torch.nn.Module  # EncodedForward(model), wrapped in DDP under torchrun
    optimizer: torch.optim.Optimizer
    ema: WeightEma | None
    device: torch.device
    prior: torch.Tensor  # the training rows' mean target, for loss.prior_smoothing

    def step(self, eeg: torch.Tensor, targets: torch.Tensor, votes: torch.Tensor, *,
             rng: np.random.Generator, lr: float, step: int) -> torch.Tensor:
        """Augment, forward, vote-weighted KL, backward, clip, AdamW step, EMA update; returns the loss."""
        cfg = self.config
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        weights = vote_weights(votes, cfg.loss.vote_weight_cap) if cfg.loss.vote_weighting else torch.ones(len(votes))
        batch = augment_batch(eeg, targets, weights, cfg=cfg.augment, rng=rng)
        use_amp = self.device.type == "cuda" and cfg.run.amp  # bf16 autocast: no loss scaling needed
        with torch.autocast("cuda", dtype=torch.bfloat16) if use_amp else nullcontext():
            logits = self.step_module(batch.eeg.to(self.device), batch.encoding_fn)
        targets = smooth_toward_prior(batch.targets, self.prior, cfg.loss.prior_smoothing)
        loss = kl_loss(logits, targets.to(self.device),
                       batch.weights.to(self.device) if cfg.loss.vote_weighting else None)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.optim.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.optim.grad_clip)
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update(self.model, step)
        return loss.detach()


def build_trainer(config: FitConfig, ctx: DistContext, prior: torch.Tensor) -> Trainer:
    # channels_last 4-D weights make the convolutions run in NHWC (measured 25 % faster per mel2d step on
    # this CPU with oneDNN, and the layout CUDA prefers too); 1-D models are unaffected.
    model = build_model(config).to(ctx.device, memory_format=torch.channels_last)
    ema = WeightEma(model, config.optim.ema_decay) if config.optim.ema_decay > 0 else None
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.optim.lr, weight_decay=config.optim.weight_decay)
    step_module: torch.nn.Module = EncodedForward(model)
    if ctx.distributed:
        device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
        step_module = DistributedDataParallel(step_module, device_ids=device_ids)
    return Trainer(config, model, step_module, optimizer, ema, ctx.device, prior)


def train_model(config: FitConfig, windows, split: FoldSplit, *, checkpoint_dir: Path | None, ctx: DistContext,
                reporter: ProgressReporter, unlabelled: Sequence[np.ndarray] | None = None,
                train_targets: np.ndarray | None = None) -> TrainedModel:
    """Train one model on ``split.train_rows``; ``train_targets`` replaces their vote targets (`[distill]`),
    while validation always scores against the votes."""
    o, run = config.optim, config.run
    torch.manual_seed(run.seed * 1000 + split.index)
    learned = windows.targets if train_targets is None else train_targets
    prior = torch.as_tensor(class_prior(learned[split.train_rows]), dtype=torch.float32)
    trainer = build_trainer(config, ctx, prior)
    model, optimizer, ema = trainer.model, trainer.optimizer, trainer.ema
    batch_size = max(o.batch_size // ctx.world_size, 1)  # the global batch stays o.batch_size under DDP
    plan = epoch_plan(config, windows.total_votes, split.train_rows)
    groups = np.asarray(windows.eeg_ids) if config.data.one_window_per_eeg else None
    epoch_steps = [steps_in_epoch(epoch_size(rows, groups), batch_size, ctx.world_size) for rows in plan]
    total_steps = sum(epoch_steps)
    max_shift = min(int(config.augment.shift_s * SAMPLE_RATE_HZ), windows.margin)

    print_key = fingerprint(config, split, ctx.world_size)
    progress = TrainProgress(config_fingerprint=print_key)
    if checkpoint_dir is not None:
        restored = load_checkpoint(checkpoint_dir, model, optimizer, ema_module=ema.module if ema else None)
        if restored is not None and restored.config_fingerprint == print_key:
            progress = restored
        elif restored is not None:
            raise DataError(f"checkpoint in {checkpoint_dir} was made with another config or data; "
                            f"pass --no-resume to start over")

    targets_all = windows.targets
    monitor_rows = monitoring_rows(split.val_rows, groups)
    history, val_history = list(progress.history), list(progress.val_history)
    step, batch_in_epoch = progress.step, progress.batch_in_epoch

    def checkpoint(epoch: int) -> None:
        if checkpoint_dir is not None and ctx.is_main:
            state = TrainProgress(step, epoch, batch_in_epoch, tuple(history), tuple(val_history), print_key)
            save_checkpoint(checkpoint_dir, model, optimizer, ema_state=ema.state_dict() if ema else None,
                            progress=state)
        barrier(ctx)

    reporter.start(split.name, total_steps, step)
    for epoch in range(progress.epoch, len(plan)):
        keys = epoch_order(plan[epoch], run.seed, split.index, epoch=epoch, max_shift=max_shift, rank=ctx.rank,
                           world_size=ctx.world_size, groups=groups)
        keys = keys[: epoch_steps[epoch] * batch_size][batch_in_epoch * batch_size:]
        model.train()
        for eeg, targets, votes, _rows in make_loader(windows, keys, batch_size, num_workers=run.num_workers,
                                                      targets=train_targets):
            lr = get_lr(step, total_steps, o.lr, warmup_steps=o.warmup_steps, min_lr_ratio=o.min_lr_ratio)
            loss = trainer.step(eeg, targets, votes, rng=step_rng(run.seed, split.index * ctx.world_size + ctx.rank,
                                                                  step), lr=lr, step=step)
            step += 1
            batch_in_epoch += 1
            loss_value = all_reduce_mean(float(loss), ctx)
            history.append({"step": step, "epoch": epoch, "lr": lr, "loss": loss_value})
            reporter.step(step, epoch=epoch, loss=loss_value, lr=lr)
            if step % run.checkpoint_every == 0:
                checkpoint(epoch)
        eval_model = ema.module if ema is not None else model
        # Recalibration resets the BN statistics completely, so only the evaluated epochs and the shipped
        # last one need it. Every rank recalibrates the same rows: the averaged models stay identical under DDP.
        if monitor_rows is not None or epoch == len(plan) - 1:
            recalibrate_batchnorm(eval_model, windows, split.train_rows, count=o.bn_recalibration_windows,
                                  batch_size=run.eval_batch_size, device=ctx.device, unlabelled=unlabelled,
                                  unlabelled_share=config.adapt.bn_share)
        val_kl = None
        if monitor_rows is not None and ctx.is_main:
            preds = predict_probs(eval_model, windows, monitor_rows, batch_size=run.eval_batch_size, device=ctx.device)
            val_kl = score(np.asarray(targets_all[monitor_rows], dtype=np.float64), preds)
        epoch_losses = [h["loss"] for h in history if h["epoch"] == epoch]
        train_loss = float(np.mean(epoch_losses)) if epoch_losses else float("nan")
        val_history.append({"epoch": epoch, "step": step, "train_loss": train_loss, "val_kl": val_kl})
        reporter.epoch_end(epoch, step=step, train_loss=train_loss, val_kl=val_kl)
        batch_in_epoch = 0
        checkpoint(epoch + 1)
    reporter.stop()
    final = (ema.module if ema is not None else model).eval()
    return TrainedModel(final, tuple(history), tuple(val_history))
