"""Recompute BatchNorm statistics for the weights that are evaluated and shipped ("precise BN").

During training each BatchNorm keeps a running average of the statistics of small, augmented
batches (mixup, cutout, masks) computed by weights that keep changing; the weight EMA then averages
those buffers too. The shipped weights never produced those statistics, and on held-out patients
the mismatch was the largest error we measured in mel2d (`python -m scripts.bn_check`, figures in
docs/benchmarks.md "train").
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from train.fit.evaluate import window_batches


def recalibrate_batchnorm(model: nn.Module, windows, rows: np.ndarray, *, count: int, batch_size: int,
                          device: torch.device) -> int:
    """Reset every BatchNorm's running statistics of ``model`` and re-estimate them as the plain average of
    the per-batch statistics over ``count`` unshifted, unaugmented windows spread evenly over ``rows``
    (whole batches only, so every window weighs the same); returns the windows used.

    Deterministic (no random choice) and gradient-free; the model's train/eval mode is restored.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not norms or count <= 0 or len(rows) == 0:
        return 0
    count = min(count, len(rows))
    if count >= batch_size:
        count -= count % batch_size  # whole batches only, so every window weighs the same
    chosen = np.asarray(rows)[np.linspace(0, len(rows) - 1, count).round().astype(int)]
    momenta = [m.momentum for m in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over the batches below, not an exponential one
    was_training = model.training
    model.train()
    with torch.no_grad():
        for batch in window_batches(windows, chosen, batch_size, device=device):
            model(batch)
    for norm, momentum in zip(norms, momenta, strict=True):
        norm.momentum = momentum
    model.train(was_training)
    return len(chosen)
