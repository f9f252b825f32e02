"""Exponential moving average of model weights (evaluated and shipped instead of the raw weights)."""

from __future__ import annotations

import copy

import torch


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
        """Average in ``model``'s weights after optimizer step ``step`` (0-based)."""
        decay = self.decay_at(step)
        ema_state = self.module.state_dict()
        for name, value in model.state_dict().items():
            if value.dtype.is_floating_point:
                ema_state[name].lerp_(value, 1 - decay)
            else:
                ema_state[name].copy_(value)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.module.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.module.load_state_dict(state)
