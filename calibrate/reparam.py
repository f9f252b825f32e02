"""Exact, weight-only rewrites of the torch model for deployment: the same function in fewer graph nodes.

MixNet's mixed convolutions split the channels, run one conv per kernel size and concatenate the
results. Exported as is, each becomes Split + k Convs + Concat, and onnxruntime's NCHWc layout pass
wraps every piece in layout reorders: the default mel2d graph ran as 517 nodes, ~35% of them Split,
Concat and Reorder. A depthwise mixed conv equals one depthwise conv whose smaller kernels sit zero
padded in the centre of the largest (odd kernels, centred padding, so every output samples the same
inputs); a grouped pointwise one with equal splits is a grouped 1x1 conv. The merged model has 231
nodes in onnxruntime and computes the same probabilities to float32 rounding (the parity gates check it).
"""

from __future__ import annotations

import torch
from torch import nn


def _mixed_conv_type() -> type[nn.Module]:
    from train._compat import import_timm

    import_timm()
    from timm.layers.mixed_conv2d import MixedConv2d

    return MixedConv2d


def _branch_padding(conv: nn.Conv2d) -> int:
    if isinstance(conv.padding, str) or len(set(conv.padding)) != 1 or conv.kernel_size[0] != conv.kernel_size[1]:
        raise ValueError(f"cannot merge a mixed-conv branch with padding {conv.padding} and kernel {conv.kernel_size}")
    return conv.padding[0]


def merged_conv(branches: list[nn.Conv2d]) -> nn.Conv2d | None:
    """One Conv2d equal to running ``branches`` on consecutive channel splits and concatenating, or None
    when the branches are not of a mergeable form (dilation, bias, 'same' padding modules, even kernels)."""
    if any(type(b) is not nn.Conv2d or b.bias is not None or b.dilation != (1, 1) or b.kernel_size[0] % 2 == 0
           or b.stride != branches[0].stride for b in branches):
        return None
    ins, outs = [b.in_channels for b in branches], [b.out_channels for b in branches]
    size = max(b.kernel_size[0] for b in branches)
    first = branches[0]
    padding = _branch_padding(first) + (size - first.kernel_size[0]) // 2
    if any(_branch_padding(b) + (size - b.kernel_size[0]) // 2 != padding for b in branches):
        return None  # uncentred padding: the zero-padded kernel would sample different inputs
    depthwise = all(b.groups == b.in_channels == b.out_channels for b in branches)
    if depthwise:
        groups, per_group = sum(ins), 1
    elif all(b.groups == 1 for b in branches) and len(set(ins)) == 1 and len(set(outs)) == 1:
        groups, per_group = len(branches), ins[0]
    else:
        return None
    weight = torch.zeros(sum(outs), per_group, size, size, dtype=first.weight.dtype)
    row = 0
    for branch in branches:
        k = branch.kernel_size[0]
        offset = (size - k) // 2
        weight[row:row + branch.out_channels, :, offset:offset + k, offset:offset + k] = branch.weight.detach()
        row += branch.out_channels
    merged = nn.Conv2d(sum(ins), sum(outs), size, stride=first.stride, padding=padding, groups=groups, bias=False)
    merged.weight = nn.Parameter(weight, requires_grad=False)
    return merged


def merge_mixed_convs(model: nn.Module) -> int:
    """Replace, in place, every timm MixedConv2d in ``model`` that has an exact single-conv form; the count."""
    mixed = _mixed_conv_type()
    count = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, mixed):
                merged = merged_conv(list(child.values()))
                if merged is not None:
                    setattr(parent, name, merged.to(next(child.parameters()).device))
                    count += 1
    return count
