"""Training loss: KL divergence of the predicted from the expert vote distribution, optionally vote-weighted.

Same quantity as the Kaggle metric (targets * log(targets / p), summed over classes), computed from
log_softmax so it is stable, with `KLDivLoss(reduction="batchmean")` semantics when unweighted.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


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
