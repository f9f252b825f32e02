"""A verified bundle plus one backend: windows [B, channels, samples] -> probabilities [B, classes].

The backend runs the precision calibrate verified and chose for it (calibration.json, checksummed with
the rest of the bundle): e.g. int8 on the CPU only where it measured faster than fp32.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.config import TritonConfig
from edge.errors import EegEdgeError
from edge.model.backends import Backend, chosen_precision, open_backend, resolve_backend
from edge.model.bundle import bundle_id, load_spec
from edge.model.model_spec import ModelSpec


class Engine:
    def __init__(self, bundle: str | Path, backend: str = "auto", threads: int = 0, *,
                 public_key: str | Path | None = None, triton: TritonConfig | None = None) -> None:
        """`public_key`: refuse the bundle unless its SHA256SUMS carries this ed25519 key's signature.
        `triton`: the server of backend "triton"."""
        self.bundle = Path(bundle)
        self.spec: ModelSpec = load_spec(self.bundle, public_key=public_key)  # verifies SHA256SUMS first
        self.model_id = bundle_id(self.bundle)
        backend = resolve_backend(self.bundle, backend)
        self.precision = chosen_precision(self.bundle, backend)
        self.backend: Backend = open_backend(self.bundle, self.spec, backend, threads=threads, precision=self.precision,
                                             triton=triton)
        self.max_batch = getattr(self.backend, "max_batch", None)

    def describe(self) -> str:
        """Which backend, precision and (onnxruntime) execution provider run the model: for stderr and sys-info."""
        provider = getattr(self.backend, "provider", None)
        where = f", {provider}" if provider else ""
        if self.backend.name == "triton":
            where = f", {self.backend.config.model!r} at {self.backend.config.url}"
        return f"backend {self.backend.name} ({self.backend.precision}{where})"

    def predict(self, windows: np.ndarray) -> np.ndarray:
        expected = self.spec.input_shape[1:]
        if windows.ndim != 3 or tuple(windows.shape[1:]) != expected:
            raise EegEdgeError(f"engine input must be [batch, {expected[0]}, {expected[1]}], got {windows.shape}")
        step = self.max_batch or len(windows)
        parts = [self._run(windows[i:i + step]) for i in range(0, len(windows), step)]
        return np.concatenate(parts) if parts else np.zeros((0, len(self.spec.contract.classes)), np.float32)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        feed = {self.spec.input_name: np.ascontiguousarray(batch, dtype=np.float32)}
        return np.asarray(self.backend.infer(feed)[self.spec.output_name], dtype=np.float32)

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
