"""Small building blocks shared by the models."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from edge.contract import hemisphere_flip_permutation
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


def hemisphere_average(logits_of: Callable[[torch.Tensor], torch.Tensor], eeg: torch.Tensor) -> torch.Tensor:
    """log of the mean softmax of ``logits_of`` over each window and its left-right mirror.

    One pass over a doubled batch, so it traces into the exported graph. Every IIIC class is defined the
    same on either side, and a model trained on synthetic EEG leans on details of one side that real EEG
    does not share: averaging the two views was better on the 12 real segments for each of 7 bundles
    scored both ways (docs/experiments/2026-12-causal-model.md), at twice the inference cost.
    """
    flip = torch.tensor(hemisphere_flip_permutation(), device=eeg.device)
    log_p = torch.log_softmax(logits_of(torch.cat([eeg, eeg.index_select(1, flip)])), dim=-1)
    half = eeg.shape[0]
    return torch.logsumexp(torch.stack([log_p[:half], log_p[half:]]), dim=0) - math.log(2.0)


def classify(model: nn.Module, eeg: torch.Tensor) -> torch.Tensor:
    """A single model's forward: calibrated logits of logits(forward_frontend(eeg)), averaged over the two
    hemisphere views at inference when the model was built with ``flip_average``."""
    if model.flip_average and not model.training:
        return model.calibration(hemisphere_average(lambda x: model.logits(model.forward_frontend(x)), eeg))
    return model.forward_classifier(model.forward_frontend(eeg))


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
