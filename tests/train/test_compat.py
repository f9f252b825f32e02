"""timm imports through the torchvision shim, repeatedly, and builds a model."""

from __future__ import annotations

from train._compat import import_timm


def test_import_timm_twice_and_build_a_model():
    timm = import_timm()
    assert import_timm() is timm
    model = timm.create_model("resnet10t", pretrained=False, num_classes=0, in_chans=4)
    assert sum(p.numel() for p in model.parameters()) > 0
