"""Merging MixNet's mixed convolutions before export: exact, and gone from the graph."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from calibrate.reparam import merge_mixed_convs, merged_conv
from train._compat import import_timm


def _mixed_conv(in_ch: int, out_ch: int, kernels: list[int], stride: int = 1, depthwise: bool = True, **kwargs):
    import_timm()
    from timm.layers.mixed_conv2d import MixedConv2d

    torch.manual_seed(0)
    return MixedConv2d(in_ch, out_ch, kernels, stride=stride, depthwise=depthwise, **kwargs).eval()


@pytest.mark.parametrize(("kernels", "stride", "depthwise", "channels"), [
    ([3, 5, 7, 9], 1, True, 40),
    ([3, 5, 7], 2, True, 120),  # uneven split (40 each) with stride 2
    ([3, 5], 2, True, 30),
    ([1, 1], 1, False, 48),  # grouped pointwise
])
def test_merged_conv_equals_the_mixed_conv(kernels, stride, depthwise, channels) -> None:
    mixed = _mixed_conv(channels, channels if depthwise else 2 * channels, kernels, stride, depthwise)
    merged = merged_conv(list(mixed.values()))
    x = torch.randn(2, channels, 33, 29)  # odd sizes: padding must match at both edges
    with torch.no_grad():
        torch.testing.assert_close(merged(x), mixed(x), atol=1e-5, rtol=1e-5)


def test_unmergeable_mixed_convs_are_left_alone() -> None:
    model = torch.nn.Sequential(_mixed_conv(24, 24, [3, 5], dilation=2))
    assert merge_mixed_convs(model) == 0
    assert merged_conv(list(_mixed_conv(24, 24, [2, 4]).values())) is None  # even kernels cannot be centred


def test_default_mel2d_exports_without_split_or_concat_and_matches_the_unmerged_model(tmp_path) -> None:
    import onnxruntime as ort

    from calibrate.export import deployable, export_onnx
    from edge.model.model_spec import ModelSpec
    from train.models import ProbabilityModel, create_model

    torch.manual_seed(0)
    spec = ModelSpec(model="mel2d")
    model = ProbabilityModel(create_model("mel2d", spec.frontend)).eval()
    for module in model.modules():  # non-trivial BN statistics, so BN folding is exercised too
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
    merged = deployable(model)
    assert not any(type(m).__name__ == "MixedConv2d" for m in merged.modules())
    assert any(type(m).__name__ == "MixedConv2d" for m in model.modules())  # the caller's model is untouched

    result = export_onnx(model, spec, tmp_path / "model.onnx")
    assert result.op_counts.get("Split", 0) == 0 and result.op_counts.get("Concat", 0) == 0
    assert result.op_counts.get("BatchNormalization", 0) == 0
    eeg = np.random.default_rng(1).normal(0, 40, (3, *spec.input_shape[1:])).astype(np.float32)
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {spec.input_name: eeg})[0]
    with torch.no_grad():
        expected = model(torch.from_numpy(eeg)).numpy()
    assert np.abs(got - expected).max() <= 1e-5
