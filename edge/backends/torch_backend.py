"""A torch.export program (bundle/model.pt2) run eagerly, on the GPU when there is one; torch is imported only here."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from edge.backends import BackendBase
from edge.errors import BundleError, require


class TorchBackend(BackendBase):
    name = "torch"

    def __init__(self, program: Path, output_name: str, threads: int = 0) -> None:
        self.output_name = output_name
        self.torch = torch = require("torch", "train")
        if threads:
            torch.set_num_threads(threads)
        self.device = f"cuda:{torch.cuda.current_device()}" if torch.cuda.is_available() else "cpu"
        try:
            exported = torch.export.load(str(program))
            if self.device != "cpu":
                from torch.export.passes import move_to_device_pass

                # Not module().to(device): that moves parameters and buffers but leaves the program's lifted
                # tensor constants, and devices baked into its nodes (torch.zeros(..., device="cpu")), on the CPU.
                exported = move_to_device_pass(exported, self.device)
            self.module = exported.module()
        except Exception as exc:  # torch raises several types for a bad archive
            raise BundleError(f"torch cannot load the exported program {program} ({exc})") from None

    def infer(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch = self.torch
        with torch.inference_mode(), self._full_fp32():
            # the program's argument names are the model's, not the ONNX names: feed in order
            outputs = self.module(*(torch.from_numpy(np.ascontiguousarray(x)).to(self.device) for x in feed.values()))
        if isinstance(outputs, (tuple, list)):
            outputs = outputs[0]
        return {self.output_name: outputs.cpu().numpy()}

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
