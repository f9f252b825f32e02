"""mel2d: Mel-dB image of the bipolar montage -> timm CNN backbone -> GeM -> dropout -> FC."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import torch
from torch import nn

from edge.contract import CLASSES
from edge.errors import SpecError
from edge.model.model_spec import FrontEndConfig
from train._compat import import_timm
from train.models.frontend import MelImageFrontEnd
from train.models.layers import GeM, Temperature, classify
from train.models.registry import register_model


def load_local_state_dict(path: str) -> dict[str, torch.Tensor]:
    """Weights from a local safetensors file or a torch file (weights_only: never unpickles code)."""
    file = Path(path)
    if not file.is_file():
        raise SpecError(f"mel2d.pretrained: {path} is not a file; give a local safetensors or .pt weights file")
    if file.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(file))
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a foreign or corrupt file
        raise SpecError(f"mel2d.pretrained: cannot read {path} as torch weights ({exc})") from None
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    if not isinstance(state, dict):
        raise SpecError(f"mel2d.pretrained: {path} holds no state dict")
    return state


def create_backbone(name: str, in_chans: int, pretrained: str | None, *, drop_path_rate: float) -> nn.Module:
    """A timm model without classifier and pooling, so it returns the feature map [B, F, h, w].

    Pretrained weights come only from a local file (nothing is fetched from a hub).
    """
    timm = import_timm()
    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=5)
        raise SpecError(f"mel2d.backbone: unknown timm model {name!r}; close matches: {', '.join(close) or 'none'}")
    backbone = timm.create_model(name, pretrained=False, in_chans=in_chans, num_classes=0, global_pool="",
                                 drop_path_rate=drop_path_rate)
    if pretrained is not None:
        load_backbone_weights(backbone, load_local_state_dict(pretrained), in_chans, source=pretrained)
    return backbone


def load_backbone_weights(backbone: nn.Module, state: dict[str, torch.Tensor], in_chans: int, *, source: str) -> None:
    """Load a (typically ImageNet) checkpoint strictly, except for its classifier; adapt the stem to in_chans.

    timm's own pretrained loader turns strict off when the classifier is dropped, which would let a
    checkpoint of another architecture load nothing without an error; this one refuses it.
    """
    from timm.models import adapt_input_conv

    cfg = backbone.pretrained_cfg
    classifiers = _names(cfg.get("classifier"))
    state = {k: v for k, v in state.items() if k.rsplit(".", 1)[0] not in classifiers}
    for conv in _names(cfg.get("first_conv")):
        key = f"{conv}.weight"
        if key in state and state[key].ndim == 4 and state[key].shape[1] != in_chans:
            state[key] = adapt_input_conv(in_chans, state[key])
    try:
        missing, unexpected = backbone.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches
        raise SpecError(f"mel2d.pretrained: {source} does not fit backbone ({str(exc).splitlines()[-1]})") from None
    if missing or unexpected:
        raise SpecError(f"mel2d.pretrained: {source} does not fit backbone: missing {sorted(missing)[:3]}, "
                        f"unexpected {sorted(unexpected)[:3]}")


def _names(value: str | tuple[str, ...] | None) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value or ())


@register_model("mel2d")
class Mel2d(nn.Module):
    """forward(eeg) = forward_classifier(forward_frontend(eeg)); the front end gives the image
    so training can augment it in between."""

    def __init__(self, frontend: FrontEndConfig, backbone: str = "mixnet_s", pretrained: str | None = None,
                 drop_rate: float = 0.2, drop_path_rate: float = 0.0, gem_p: float = 3.0,
                 flip_average: bool = False) -> None:
        super().__init__()
        self.flip_average = flip_average  # layers.hemisphere_average at inference
        for option, rate in (("drop_rate", drop_rate), ("drop_path_rate", drop_path_rate)):
            if not 0.0 <= rate < 1.0:
                raise SpecError(f"mel2d.{option} must be in [0, 1), got {rate!r}")
        self.frontend = MelImageFrontEnd(frontend)
        self.backbone = create_backbone(backbone, frontend.image_shape[0], pretrained, drop_path_rate=drop_path_rate)
        # Some timm heads (MobileNetV3) widen the features after the body; head_hidden_size is the final width.
        features = getattr(self.backbone, "head_hidden_size", None) or self.backbone.num_features
        self.pool = GeM(gem_p)
        self.dropout = nn.Dropout(drop_rate)
        self.head = nn.Linear(features, len(CLASSES))
        self.calibration = Temperature()

    @staticmethod
    def without_init_options(kwargs: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in kwargs.items() if k != "pretrained"}

    def forward_frontend(self, eeg: torch.Tensor) -> torch.Tensor:
        return self.frontend(eeg)

    def logits(self, image: torch.Tensor) -> torch.Tensor:
        features = self.backbone(image)
        if features.ndim != 4:
            raise SpecError(f"mel2d.backbone must be a CNN returning [B, F, h, w]; got {features.ndim}-d features")
        return self.head(self.dropout(self.pool(features)))

    def forward_classifier(self, image: torch.Tensor) -> torch.Tensor:
        return self.calibration(self.logits(image))

    def forward(self, eeg: torch.Tensor) -> torch.Tensor:
        return classify(self, eeg)
