"""The torch reference behind edge's Backend protocol: the trained model itself, the yardstick for model.onnx.

Built from spec.json + weights.safetensors (train.checkpoint: no pickle anywhere), run eagerly on the
GPU when torch sees one. It lives in calibrate, not in edge: the bedside runs only ONNX graphs and
TensorRT engines; this runner exists to check that the exported graph computes what was trained.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from edge.model.backends import REFERENCE_PRECISION, BackendBase


class TorchReference(BackendBase):
    name = "torch"
    precision = REFERENCE_PRECISION

    def __init__(self, prob_model, output_name: str) -> None:
        import torch

        self.torch = torch
        self.output_name = output_name
        self.device = f"cuda:{torch.cuda.current_device()}" if torch.cuda.is_available() else "cpu"
        self.module = prob_model.eval().to(self.device)

    @classmethod
    def from_bundle(cls, bundle: str | Path, *, verify: bool = True) -> TorchReference:
        from train.checkpoint import load_bundle_model
        from train.models import ProbabilityModel

        model, spec = load_bundle_model(Path(bundle), verify=verify)
        return cls(ProbabilityModel(model), spec.output_name)

    def infer(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch = self.torch
        (eeg,) = feed.values()
        with torch.inference_mode(), self._full_fp32():
            probs = self.module(torch.from_numpy(np.ascontiguousarray(eeg)).to(self.device))
        return {self.output_name: probs.float().cpu().numpy()}

    @contextlib.contextmanager
    def _full_fp32(self) -> Iterator[None]:
        """On CUDA, no TF32 (cuDNN allows it for convolutions by default, a ~1e-3 relative error): the same
        float32 arithmetic as onnxruntime, whatever the process's global flags. Nothing changes on the CPU."""
        if self.device == "cpu":
            yield
            return
        backends = self.torch.backends
        saved = backends.cudnn.allow_tf32, backends.cuda.matmul.allow_tf32
        backends.cudnn.allow_tf32 = backends.cuda.matmul.allow_tf32 = False
        try:
            yield
        finally:
            backends.cudnn.allow_tf32, backends.cuda.matmul.allow_tf32 = saved
