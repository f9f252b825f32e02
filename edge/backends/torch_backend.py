"""A torch.export program (bundle/model.pt2) run eagerly; torch is imported only here."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.backends import BackendBase
from edge.errors import BundleError, require


class TorchBackend(BackendBase):
    name = "torch"

    def __init__(self, program: Path, output_name: str, threads: int = 0) -> None:
        self.output_name = output_name
        self.torch = require("torch", "train")
        if threads:
            self.torch.set_num_threads(threads)
        try:
            self.module = self.torch.export.load(str(program)).module()
        except Exception as exc:  # torch raises several types for a bad archive
            raise BundleError(f"torch cannot load the exported program {program} ({exc})") from None

    def infer(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with self.torch.inference_mode():
            # the program's argument names are the model's, not the ONNX names: feed in order
            outputs = self.module(*(self.torch.from_numpy(np.ascontiguousarray(x)) for x in feed.values()))
        if isinstance(outputs, (tuple, list)):
            outputs = outputs[0]
        return {self.output_name: outputs.numpy()}
