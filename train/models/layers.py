"""Small building blocks shared by the models."""

from __future__ import annotations

import torch
from torch import nn

from edge.errors import SpecError


class GeM(nn.Module):
    """Generalised-mean pooling over every axis after the channels: [B, C, ...] -> [B, C].

    p is trainable; written as clamp -> pow -> mean -> pow(1/p) so it exports to plain ONNX ops.
    """

    def __init__(self, p: float = 3.0, eps: float = 1e-6) -> None:
        super().__init__()
        if not p > 0:
            raise SpecError(f"gem_p must be > 0, got {p!r}")
        self.p = nn.Parameter(torch.tensor([float(p)]))
        self.register_buffer("eps", torch.tensor(eps))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clamp(min=self.eps).pow(self.p).flatten(2).mean(-1).pow(1.0 / self.p)


class Temperature(nn.Module):
    """logits / temperature: post-hoc calibration, the last step of every model's logits.

    Training leaves it at 1 (the identity); `train fit` then fits it on held-out patients
    (train.fit.evaluate). A buffer, not a Parameter: the optimiser never moves it, yet it is saved in
    weights.safetensors and traced into the exported graph, so the edge emits calibrated probabilities.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("temperature", torch.tensor(1.0))

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        return logits / self.temperature


class ChannelShuffle(nn.Module):
    """[B, groups * n, T] -> [B, n * groups, T]: channel j of group g moves to position j * groups + g."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(1, (self.groups, -1)).transpose(1, 2).flatten(1, 2)


class ConvBnAct1d(nn.Sequential):
    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True):
        super().__init__(
            nn.Conv1d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=False),
            nn.BatchNorm1d(out_ch),
            nn.SiLU() if act else nn.Identity(),
        )
