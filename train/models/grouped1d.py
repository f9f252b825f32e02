"""grouped1d: a grouped 1D-CNN over the scaled bipolar signals -> GeM over time -> FC.

Channels are kept pair-major (channel = pair * width + feature). Each stage has a temporal block
(conv grouped by pair: each pair's features see only that pair, across time) and a spatial block
(channels shuffled to feature-major, conv grouped by feature: each group sees one feature of every
pair). Both sit between grouped 1x1 convs whose groups are runs of neighbouring pairs (by default
2 pairs of the same chain); the spatial block's channel shuffle carries information between them.
A strided per-pair stem downsamples early (stem_stride) so the blocks run at a low rate.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from edge.config_io import require_field
from edge.contract import CLASSES
from edge.model.model_spec import FrontEndConfig
from train.models.frontend import SignalFrontEnd
from train.models.layers import ChannelShuffle, ConvBnAct1d, GeM, Temperature, classify
from train.models.registry import register_model


class GroupedUnit(nn.Module):
    """x + project(mix(expand(x))): grouped 1x1 expand/project around a grouped k-tap mix.

    Temporal unit: the mix is grouped by pair (each group = one pair's features, across time).
    Spatial unit: channels are shuffled pair-major -> feature-major before the mix and back after it,
    so each group holds one feature of every pair; this shuffle is what lets the local 1x1 groups
    exchange information.
    """

    def __init__(self, channels: int, pairs: int, pointwise_groups: int, kernel: int, stride: int,
                 spatial: bool) -> None:
        super().__init__()
        width = channels // pairs
        self.expand = ConvBnAct1d(channels, channels, 1, groups=pointwise_groups)
        self.to_feature_major = ChannelShuffle(pairs) if spatial else nn.Identity()
        self.mix = ConvBnAct1d(channels, channels, kernel, stride=stride, groups=width if spatial else pairs)
        self.to_pair_major = ChannelShuffle(width) if spatial else nn.Identity()
        self.project = ConvBnAct1d(channels, channels, 1, groups=pointwise_groups, act=False)
        self.skip = nn.AvgPool1d(stride, stride, ceil_mode=True) if stride > 1 else nn.Identity()
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.to_pair_major(self.mix(self.to_feature_major(self.expand(x))))
        return self.act(self.skip(x) + self.project(y))


@register_model("grouped1d")
class Grouped1d(nn.Module):
    """forward(eeg) = forward_classifier(forward_frontend(eeg)); the front end gives the scaled
    bipolar signals [B, P, T]."""

    def __init__(self, frontend: FrontEndConfig, width: int = 16, stem_kernel: int = 15, stem_stride: int = 5,
                 kernel: int = 9, stage_strides: Sequence[int] = (2, 2, 2, 2), pointwise_groups: int = 8,
                 drop_rate: float = 0.2, gem_p: float = 3.0, flip_average: bool = False) -> None:
        super().__init__()
        self.flip_average = flip_average  # layers.hemisphere_average at inference
        pairs = frontend.n_pairs
        channels = pairs * width
        require_field(width >= 1 and stem_stride >= 1 and len(stage_strides) >= 1 and min(stage_strides) >= 1,
                      "grouped1d.width/stem_stride/stage_strides", "must be >= 1 (stage_strides non-empty)",
                      value=(width, stem_stride, stage_strides))
        require_field(stem_kernel % 2 == 1 and kernel % 2 == 1, "grouped1d.stem_kernel/kernel", "must be odd",
                      value=(stem_kernel, kernel))
        require_field(channels % pointwise_groups == 0, "grouped1d.pointwise_groups",
                      f"must divide pairs * width = {channels}", value=pointwise_groups)
        require_field(0.0 <= drop_rate < 1.0, "grouped1d.drop_rate", "must be in [0, 1)", value=drop_rate)
        self.frontend = SignalFrontEnd(frontend)
        self.stem = ConvBnAct1d(pairs, channels, stem_kernel, stride=stem_stride, groups=pairs)
        self.stages = nn.Sequential(*(
            nn.Sequential(GroupedUnit(channels, pairs, pointwise_groups, kernel, stride, spatial=False),
                          GroupedUnit(channels, pairs, pointwise_groups, 3, 1, spatial=True))
            for stride in stage_strides
        ))
        self.pool = GeM(gem_p)
        self.dropout = nn.Dropout(drop_rate)
        self.head = nn.Linear(channels, len(CLASSES))
        self.calibration = Temperature()

    def forward_frontend(self, eeg: torch.Tensor) -> torch.Tensor:
        return self.frontend(eeg)

    def logits(self, signals: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.pool(self.stages(self.stem(signals)))))

    def forward_classifier(self, signals: torch.Tensor) -> torch.Tensor:
        return self.calibration(self.logits(signals))

    def forward(self, eeg: torch.Tensor) -> torch.Tensor:
        return classify(self, eeg)

