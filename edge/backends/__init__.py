"""Inference backends: small runners behind one protocol (Polygraphy style).

A backend is a context manager with `infer(feed) -> outputs` over name-bound float32 arrays. Heavy
runtimes (TensorRT, torch) are imported only when their backend is opened.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Protocol

import numpy as np

from edge.bundle import ONNX_FILE
from edge.errors import BundleError, SpecError
from edge.spec import ModelSpec

BACKENDS: tuple[str, ...] = ("auto", "onnxruntime", "tensorrt", "torch")
TORCH_PROGRAM_FILE = "model.pt2"


class Backend(Protocol):
    name: str

    def infer(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Backend: ...

    def __exit__(self, *exc: object) -> None: ...


class BackendBase:
    """Context-manager plumbing shared by the runners."""

    name = "base"

    def close(self) -> None:
        """Release runtime resources; the runners hold nothing that needs more than garbage collection."""

    def __enter__(self) -> BackendBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_backend(bundle: Path, spec: ModelSpec, name: str = "auto", threads: int = 0) -> Backend:
    if name not in BACKENDS:
        raise SpecError(f"--backend must be one of {', '.join(BACKENDS)}, got {name!r}")
    if name == "auto":
        name = "tensorrt" if _tensorrt_engine(bundle) is not None else "onnxruntime"
    if name == "onnxruntime":
        from edge.backends.onnxruntime_backend import OnnxRuntimeBackend

        return OnnxRuntimeBackend(_need(bundle / ONNX_FILE, "calibrate export"), threads=threads)
    if name == "tensorrt":
        from edge.backends.tensorrt_backend import TensorRTBackend

        engine = _tensorrt_engine(bundle)
        if engine is None:
            raise BundleError(f"{bundle} has no TensorRT engine for this GPU (or TensorRT/CUDA is missing); "
                              "build one on this device with `calibrate build`")
        return TensorRTBackend(engine, spec)
    from edge.backends.torch_backend import TorchBackend

    return TorchBackend(_need(bundle / TORCH_PROGRAM_FILE, "a torch.export of the model (torch.export.save)"),
                        spec.output_name, threads=threads)


def _need(path: Path, how: str) -> Path:
    if not path.is_file():
        raise BundleError(f"bundle file {path.name} is missing from {path.parent}; create it with {how}")
    return path


def _tensorrt_engine(bundle: Path) -> Path | None:
    """The engine built for this machine's GPU, when TensorRT and a GPU are both present."""
    if importlib.util.find_spec("tensorrt") is None:
        return None
    from edge.backends.tensorrt_backend import gpu_name

    name = gpu_name()
    if name is None:
        return None
    from edge.bundle import engine_file

    path = bundle / engine_file(name)
    return path if path.is_file() else None
