"""train/_compat.py: timm imports through the torchvision shim, which acts only on the failure it is for.

What the shim promises: `import_timm` returns the one timm module, every time; when torchvision fails to
import on its missing `torchvision::` schemas it drops the half-imported modules, defines exactly
`nms`/`qnms`, keeps them alive and imports again; any other error reaches the caller unchanged; and the timm
it returns builds models that run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

import train._compat as compat
from train._compat import import_timm

REPO = Path(__file__).resolve().parents[2]

# In a fresh interpreter (the schemas can be defined once per process): the first torchvision import leaves a
# half-imported submodule behind and fails on a missing schema, as the CUDA wheel does on the CPU torch.
RETRY = """
import importlib, sys, types
import torch
import train._compat as compat
calls = []
def fake_import(name):
    calls.append(name)
    if name == "torchvision" and calls.count(name) == 1:
        sys.modules["torchvision"] = types.ModuleType("torchvision")
        sys.modules["torchvision.half"] = types.ModuleType("torchvision.half")
        raise RuntimeError("operator torchvision::nms does not exist")
    if name == "torchvision":
        assert "torchvision.half" not in sys.modules and "torchvision" not in sys.modules, "half import kept"
        return sys.modules.setdefault(name, types.ModuleType(name))
    return types.ModuleType(name)
compat.importlib.import_module = fake_import
timm = compat.import_timm()
assert timm.__name__ == "timm" and calls == ["torchvision", "torchvision", "timm"], calls
assert len(compat._KEEP_ALIVE) == 1
for op in ("nms", "qnms"):
    print(getattr(torch.ops.torchvision, op).default._schema)
"""


def test_import_timm_returns_one_timm_whose_models_run():
    timm = import_timm()
    assert import_timm() is timm and timm.__name__ == "timm"
    torch.manual_seed(0)
    model = timm.create_model("resnet10t", pretrained=False, num_classes=0, in_chans=4).eval()
    with torch.no_grad():
        features = model(torch.randn(2, 4, 32, 32))
    assert features.shape == (2, model.num_features) and torch.isfinite(features).all()


def test_a_missing_torchvision_schema_is_defined_once_and_the_import_retried():
    result = subprocess.run([sys.executable, "-c", RETRY], cwd=REPO, capture_output=True, text=True, check=False,
                            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == [
        "torchvision::nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
        "torchvision::qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    ]


def test_other_torchvision_errors_reach_the_caller_and_define_nothing(monkeypatch):
    def broken(name):
        raise RuntimeError("CUDA driver version is insufficient")

    monkeypatch.setattr(compat.importlib, "import_module", broken)
    kept = list(compat._KEEP_ALIVE)
    with pytest.raises(RuntimeError, match="CUDA driver version is insufficient"):
        compat.import_timm()
    assert kept == compat._KEEP_ALIVE
