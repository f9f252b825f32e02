"""Import shims for this project's pinned wheels."""

from __future__ import annotations

import importlib
from types import ModuleType


def import_timm() -> ModuleType:
    """Import timm, working around a torchvision wheel whose C extension cannot load.

    The torchvision wheel that matches torch 2.13.0 here is a CUDA build; on the CPU torch its
    `_C` extension fails to load, and torchvision's meta registrations then fail on the missing
    `torchvision::nms`/`qnms` schemas. timm imports torchvision but never calls those ops, so
    defining the two schemas (only when the extension failed) lets it import.
    """
    import torch

    try:
        importlib.import_module("torchvision")
    except RuntimeError as exc:
        if "torchvision::" not in str(exc):
            raise
        for name in list(importlib.sys.modules):  # drop the half-imported package before retrying
            if name == "torchvision" or name.startswith("torchvision."):
                del importlib.sys.modules[name]
        lib = torch.library.Library("torchvision", "DEF")
        for op in ("nms", "qnms"):
            lib.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        _KEEP_ALIVE.append(lib)  # the schemas live as long as the Library object
        importlib.import_module("torchvision")
    return importlib.import_module("timm")


_KEEP_ALIVE: list = []
