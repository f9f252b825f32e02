"""ensemble: several registered models in one graph; forward = log(mean of the members' softmax)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from edge.errors import SpecError
from edge.model.model_spec import FrontEndConfig
from train.models.layers import Temperature
from train.models.registry import create_model, register_model, without_init_options


@register_model("ensemble")
class Ensemble(nn.Module):
    """members: [{"model": name, "model_kwargs": {...}}, ...]; every member shares the front-end config.

    The output is valid logits: softmax(forward(x)) is exactly the mean of the members' probabilities
    (before the ensemble's own temperature, which `train fit` fits like a single model's).
    There is no single forward_frontend/forward_classifier split (members have different front ends),
    so training augments members separately or not at all.
    """

    def __init__(self, frontend: FrontEndConfig, members: list[dict[str, Any]] | None = None) -> None:
        super().__init__()
        if members is None:  # the default: one of each single model, with its default options
            members = [{"model": "mel2d"}, {"model": "grouped1d"}]
        if not members:
            raise SpecError('ensemble.members must list at least one {"model": name, "model_kwargs": {...}}')
        built = []
        for i, member in enumerate(members):
            if (not isinstance(member, dict) or set(member) - {"model", "model_kwargs"} or "model" not in member
                    or not isinstance(member.get("model_kwargs", {}), dict)):
                raise SpecError(f'ensemble.members[{i}] must be {{"model": name, "model_kwargs": {{...}}}}, '
                                f"got {member!r}")
            if member["model"] == "ensemble":
                raise SpecError(f"ensemble.members[{i}] cannot itself be an ensemble")
            built.append(create_model(member["model"], frontend=frontend, **member.get("model_kwargs", {})))
        self.members = nn.ModuleList(built)
        self.register_buffer("log_count", torch.tensor(math.log(len(built))))
        self.calibration = Temperature()

    @staticmethod
    def without_init_options(kwargs: dict[str, Any]) -> dict[str, Any]:
        if not kwargs.get("members"):
            return dict(kwargs)
        members = [{**m, "model_kwargs": without_init_options(m["model"], m.get("model_kwargs", {}))}
                   if isinstance(m, dict) and "model" in m else m for m in kwargs["members"]]
        return {**kwargs, "members": members}

    def forward(self, eeg: torch.Tensor) -> torch.Tensor:
        log_probs = torch.stack([torch.log_softmax(m(eeg), dim=-1) for m in self.members])
        return self.calibration(torch.logsumexp(log_probs, dim=0) - self.log_count)

    def forward_frontend(self, eeg: torch.Tensor) -> torch.Tensor:
        raise SpecError("ensemble has no forward_frontend/forward_classifier split; train its members separately")

    forward_classifier = forward_frontend
