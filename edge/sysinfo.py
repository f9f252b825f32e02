"""`edge sys-info`: what the runtime stack is made of on this machine, without importing heavy packages."""

from __future__ import annotations

import hashlib
import importlib.metadata
import platform
from pathlib import Path

from edge import __version__


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _cuda_version() -> str:
    from edge.model.backends.tensorrt_backend import _check, _cudart, gpu_name

    try:
        cudart = _cudart()
        runtime = int(_check(cudart.cudaRuntimeGetVersion()))
    except Exception as exc:  # no cuda-python, no driver or no device: report why, do not fail
        return f"not available ({type(exc).__name__})"
    return f"{runtime // 1000}.{runtime % 1000 // 10} ({gpu_name() or 'no GPU'})"


def _providers() -> str:
    """The execution providers onnxruntime offers, and which of its GPU ones can run here."""
    try:
        import onnxruntime as ort
    except ImportError:
        return "none (install eeg-edge[cpu] or make install-gpu)"
    from edge.model.backends.onnxruntime_backend import usable_gpu_providers

    usable = ", ".join(sorted(usable_gpu_providers())) or "none"
    return f"{', '.join(ort.get_available_providers())} (usable GPU backends: {usable})"


def _liblsl_version() -> str:
    import pylsl

    version = pylsl.library_version()
    return f"{version // 100}.{version % 100} (pylsl {_version('pylsl')})"


def collect(bundle: str | Path | None = None) -> dict[str, str]:
    info = {
        "eeg-edge": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "numpy": _version("numpy"),
        "onnxruntime": _version("onnxruntime"),
        "onnxruntime-gpu": _version("onnxruntime-gpu"),
        "onnxruntime providers": _providers(),
        "tensorrt": _version("tensorrt"),
        "cuda": _cuda_version(),
        "liblsl": _liblsl_version(),
    }
    from edge.model.backends import auto_backend

    info["backend auto"] = auto_backend(None if bundle is None else Path(bundle))
    if bundle is not None:
        from edge.model.bundle import SPEC_FILE, bundle_id, load_spec

        spec = load_spec(bundle)  # verifies SHA256SUMS
        info["bundle"] = str(bundle)
        info["bundle id"] = bundle_id(bundle)
        info["model"] = spec.model
        info["spec sha256"] = hashlib.sha256((Path(bundle) / SPEC_FILE).read_bytes()).hexdigest()
    return info
