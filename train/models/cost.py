"""Compute cost of a model on one window: FLOPs (FlopCounterMode, 2 x MACs) and parameter count."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from edge.contract import CHANNELS, WINDOW_SAMPLES


@dataclass(frozen=True)
class ModelCost:
    flops: int  # per window, batch 1; only matmul/conv-like ops are counted (elementwise ops are not)
    params: int


def model_cost(module: nn.Module) -> ModelCost:
    """Run one zero window [1, 20, 10000] through ``module`` in eval mode under FlopCounterMode."""
    counter = FlopCounterMode(display=False)
    was_training = module.training
    with torch.no_grad(), counter:
        module.eval()(torch.zeros(1, len(CHANNELS), WINDOW_SAMPLES))
    module.train(was_training)
    return ModelCost(flops=counter.get_total_flops(), params=sum(p.numel() for p in module.parameters()))
