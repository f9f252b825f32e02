"""Inference backends: small runners behind one protocol (Polygraphy style).

A backend is a context manager with `infer(feed) -> outputs` over name-bound float32 arrays. Heavy
runtimes (TensorRT, tritonclient) are imported only when their backend is opened. Nothing here unpickles:
the bedside runs ONNX graphs (onnxruntime on CPU, CUDA or its TensorRT provider), serialized TensorRT
engines, or sends the windows to a Triton server serving the same bundle's graph.

`auto` picks, in order: a TensorRT engine built for this GPU, onnxruntime's TensorRT provider where its
libraries load, onnxruntime's CUDA provider where a CUDA device answers, then onnxruntime on the CPU.
No GPU was available while this was written: the GPU choices are tested only where one is (marker `gpu`).

Which graph a backend runs is the precision `calibrate` verified and chose for it, recorded in the
bundle's calibration.json (covered by SHA256SUMS); fp32 when the bundle records none.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from edge.config_io import read_json
from edge.errors import BundleError, SpecError
from edge.model.bundle import CALIBRATION_FILE, PRECISION_FILES
from edge.model.model_spec import ModelSpec

if TYPE_CHECKING:
    from edge.config import TritonConfig

# onnxruntime-cuda / onnxruntime-trt: onnxruntime-gpu's CUDA and TensorRT execution providers.
BACKENDS: tuple[str, ...] = ("auto", "onnxruntime", "onnxruntime-cuda", "onnxruntime-trt", "tensorrt", "triton")
EDGE_BACKENDS: tuple[str, ...] = BACKENDS[1:]
GPU_BACKENDS = frozenset({"onnxruntime-cuda", "onnxruntime-trt", "tensorrt"})
REFERENCE_PRECISION = "fp32"


class Backend(Protocol):
    name: str
    precision: str

    def infer(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Backend: ...

    def __exit__(self, *exc: object) -> None: ...


class BackendBase:
    """Context-manager plumbing shared by the runners."""

    name = "base"
    precision = REFERENCE_PRECISION

    def close(self) -> None:
        """Release runtime resources; the runners hold nothing that needs more than garbage collection."""

    def __enter__(self) -> BackendBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_io_names(where: str, inputs: list[str], outputs: list[str], *, spec: ModelSpec) -> None:
    """One clear line when spec.json's tensor names are not the model's (a hand-edited or mismatched spec)."""
    if inputs != [spec.input_name] or spec.output_name not in outputs:
        raise BundleError(f"spec.json names input {spec.input_name!r} and output {spec.output_name!r}, but {where} "
                          f"takes {inputs} and gives {outputs}; fix spec.json or re-export with `calibrate run`")


def resolve_backend(bundle: Path, name: str) -> str:
    """``name``, with "auto" resolved in the module docstring's order (never to triton: that needs a server)."""
    if name not in BACKENDS:
        raise SpecError(f"--backend must be one of {', '.join(BACKENDS)}, got {name!r}")
    return name if name != "auto" else auto_backend(bundle)


def auto_backend(bundle: Path | None) -> str:
    """What `--backend auto` runs here (without a bundle: which runtime would, TensorRT engines aside)."""
    if bundle is not None and _tensorrt_engine(bundle) is not None:
        return "tensorrt"
    from edge.model.backends.onnxruntime_backend import usable_gpu_providers

    usable = usable_gpu_providers()
    for backend in ("onnxruntime-trt", "onnxruntime-cuda"):
        if backend in usable:
            return backend
    return "onnxruntime"


def _precision_record(bundle: Path) -> dict:
    """calibration.json's "precision" record: {"verified": [precision, ...], "chosen": {backend: precision}},
    typed and depth-limited like every JSON input (edge.config_io.read_json); {} when not calibrated."""
    path = bundle / CALIBRATION_FILE
    if not path.is_file():
        return {}
    try:
        data = read_json(path, "calibration record", allow_nonfinite=True)  # metrics may be NaN; unused here
    except SpecError as exc:
        raise BundleError(f"{exc}; re-run `calibrate run` on the bundle") from None
    record = data.get("precision", {}) if isinstance(data, dict) else None
    if record is None or not isinstance(record, dict):
        raise BundleError(f"{path}: expected an object with a \"precision\" object, got "
                          f"{type(data if record is None else record).__name__}; re-run `calibrate run`")
    verified, chosen = record.get("verified", [REFERENCE_PRECISION]), record.get("chosen", {})
    if not (isinstance(verified, list) and all(isinstance(v, str) for v in verified)):
        raise BundleError(f"{path}: precision.verified must be a list of precision names, got {verified!r:.80}")
    if not (isinstance(chosen, dict) and all(isinstance(v, str) for v in chosen.values())):
        raise BundleError(f"{path}: precision.chosen must map backends to precision names, got {chosen!r:.80}")
    return {"verified": verified, "chosen": chosen}


def verified_precisions(bundle: Path) -> tuple[str, ...]:
    """The precisions whose graphs passed calibrate's parity gates (fp32 alone when none are recorded)."""
    return tuple(_precision_record(bundle).get("verified", (REFERENCE_PRECISION,)))


def chosen_precision(bundle: Path, backend: str) -> str:
    """The precision calibration.json says ``backend`` runs (fp32 when the bundle has not been calibrated). The
    GPU providers of onnxruntime run fp16 where calibrate verified it (fp32 otherwise); triton serves fp32 unless
    the repository was written from another verified graph (the server, not edge, runs it)."""
    record = _precision_record(bundle)
    default = REFERENCE_PRECISION
    if backend in GPU_BACKENDS and "fp16" in record.get("verified", ()):
        default = "fp16"
    precision = record.get("chosen", {}).get(backend, default)
    if precision not in PRECISION_FILES:
        raise BundleError(f"{bundle / CALIBRATION_FILE} chooses precision {precision!r} for {backend}; expected one "
                          f"of {', '.join(PRECISION_FILES)}")
    return precision


def open_backend(bundle: Path, spec: ModelSpec, name: str = "auto", *, threads: int = 0,
                 precision: str | None = None, triton: TritonConfig | None = None) -> Backend:
    """Open backend ``name`` on the bundle's graph of ``precision`` (default: the one calibrate chose for it).
    `triton`: the server to send windows to (backend "triton" only)."""
    name = resolve_backend(bundle, name)
    precision = precision or chosen_precision(bundle, name)
    if precision not in PRECISION_FILES:
        raise SpecError(f"precision must be one of {', '.join(PRECISION_FILES)}, got {precision!r}")
    if name.startswith("onnxruntime"):
        from edge.model.backends.onnxruntime_backend import OnnxRuntimeBackend

        return OnnxRuntimeBackend(_need(bundle / PRECISION_FILES[precision], "calibrate run"), spec,
                                  threads=threads, precision=precision, provider=name)
    if name == "triton":
        from edge.model.backends.triton_backend import TritonBackend

        if triton is None or not triton.url:
            raise SpecError("--backend triton needs --triton-url and --triton-model (or a [run.triton] table)")
        return TritonBackend(bundle, spec, triton)
    from edge.model.backends.tensorrt_backend import TensorRTBackend

    engine = _tensorrt_engine(bundle)
    if engine is None:
        raise BundleError(f"{bundle} has no TensorRT engine for this GPU (or TensorRT/CUDA is missing); "
                          "build one on this device with `calibrate build`")
    return TensorRTBackend(engine, spec, precision=precision)


def _need(path: Path, how: str) -> Path:
    if not path.is_file():
        raise BundleError(f"bundle file {path.name} is missing from {path.parent}; create it with {how}")
    return path


def _tensorrt_engine(bundle: Path) -> Path | None:
    """The engine built for this machine's GPU, when TensorRT and a GPU are both present."""
    if importlib.util.find_spec("tensorrt") is None:
        return None
    from edge.model.backends.tensorrt_backend import gpu_name

    name = gpu_name()
    if name is None:
        return None
    from edge.model.bundle import engine_file

    path = bundle / engine_file(name)
    return path if path.is_file() else None
