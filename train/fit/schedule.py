"""Learning-rate schedule: linear warmup, then cosine decay to a floor. A pure function of the step."""

from __future__ import annotations

import math


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
