"""The exported form of every model: raw window in, class probabilities out."""

from __future__ import annotations

import torch
from torch import nn


class ProbabilityModel(nn.Module):
    """forward(eeg [B, 20, T]) -> softmax probabilities [B, n_classes] (ONNX input "eeg", output "probs")."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, eeg: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(eeg), dim=-1)
