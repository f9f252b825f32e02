"""Inference backends: small runners behind one protocol (Polygraphy style).

A backend is a context manager with `infer(feed) -> outputs` over name-bound float32 arrays. Heavy
runtimes (TensorRT) are imported only when their backend is opened. Nothing here unpickles: the
bedside runs ONNX graphs (onnxruntime) and serialized TensorRT engines only.

Which graph a backend runs is the precision `calibrate` verified and chose for it, recorded in the
bundle's calibration.json (covered by SHA256SUMS); fp32 when the bundle records none.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Protocol

import numpy as np

from edge.config_io import read_json
from edge.errors import BundleError, SpecError
from edge.model.bundle import CALIBRATION_FILE, PRECISION_FILES
from edge.model.model_spec import ModelSpec

BACKENDS: tuple[str, ...] = ("auto", "onnxruntime", "tensorrt")
EDGE_BACKENDS: tuple[str, ...] = BACKENDS[1:]
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
    """``name``, with "auto" resolved: TensorRT when an engine for this GPU is in the bundle, else onnxruntime."""
    if name not in BACKENDS:
        raise SpecError(f"--backend must be one of {', '.join(BACKENDS)}, got {name!r}")
    if name == "auto":
        return "tensorrt" if _tensorrt_engine(bundle) is not None else "onnxruntime"
    return name


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
    """The precision calibration.json says ``backend`` runs (fp32 when the bundle has not been calibrated)."""
    precision = _precision_record(bundle).get("chosen", {}).get(backend, REFERENCE_PRECISION)
    if precision not in PRECISION_FILES:
        raise BundleError(f"{bundle / CALIBRATION_FILE} chooses precision {precision!r} for {backend}; expected one "
                          f"of {', '.join(PRECISION_FILES)}")
    return precision


def open_backend(bundle: Path, spec: ModelSpec, name: str = "auto", *, threads: int = 0,
                 precision: str | None = None) -> Backend:
    """Open backend ``name`` on the bundle's graph of ``precision`` (default: the one calibrate chose for it)."""
    name = resolve_backend(bundle, name)
    precision = precision or chosen_precision(bundle, name)
    if precision not in PRECISION_FILES:
        raise SpecError(f"precision must be one of {', '.join(PRECISION_FILES)}, got {precision!r}")
    if name == "onnxruntime":
        from edge.model.backends.onnxruntime_backend import OnnxRuntimeBackend

        return OnnxRuntimeBackend(_need(bundle / PRECISION_FILES[precision], "calibrate run"), spec,
                                  threads=threads, precision=precision)
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
