"""The calibrate steps on a bundle: export -> quantize -> (build) -> verify, each extending the bundle in place.

Every step refuses a bundle whose SHA256SUMS does not match, writes its files atomically, records
what it did in calibration.json and rewrites SHA256SUMS, so the bundle is loadable by edge after
every step. Re-exporting removes what was derived from the previous model.onnx (int8 graph, engines,
reports); a step whose input changed since it was made refuses to run on the stale file.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from calibrate.calib_data import WindowBatchReader
from calibrate.export import DEFAULT_OPSET, ExportResult, export_onnx, export_pt2
from calibrate.gates import Gates
from calibrate.quantize import QuantizeConfig, QuantizeResult, quantize_int8
from calibrate.report_plot import parity_png
from calibrate.tensorrt_build import BuildConfig, BuildResult, build_engine
from calibrate.verify import (
    ORT_FP32,
    ORT_INT8,
    TENSORRT,
    TORCH,
    ParityReport,
    VerifyConfig,
    onnxruntime_runner,
    torch_runner,
    verify,
)
from calibrate.windows_plan import calibration_plan, holdout_plan, load_window_set
from edge.bundle import ONNX_FILE, ONNX_INT8_FILE, atomic_write, load_spec, sha256_file, write_checksums
from edge.errors import BundleError
from edge.spec import ModelSpec

CALIBRATION_JSON = "calibration.json"
CALIBRATION_PNG = "calibration.png"
TORCH_PROGRAM_FILE = "model.pt2"  # the name edge's torch backend loads
# Files derived from model.onnx: stale once it is re-exported.
DERIVED_PATTERNS = (ONNX_INT8_FILE, "model.*.engine", "model.*.timing.cache", CALIBRATION_JSON, CALIBRATION_PNG)


def open_bundle(bundle: str | Path) -> ModelSpec:
    """The bundle's spec, after checking every file against SHA256SUMS (a tampered bundle is refused)."""
    return load_spec(bundle, verify=True)


def read_record(bundle: Path) -> dict[str, Any]:
    path = bundle / CALIBRATION_JSON
    return json.loads(path.read_text()) if path.is_file() else {}


def _record(bundle: Path, step: str, payload: Any) -> None:
    record = read_record(bundle)
    record[step] = dataclasses.asdict(payload) if dataclasses.is_dataclass(payload) else payload
    atomic_write(bundle / CALIBRATION_JSON, json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")


def _need(bundle: Path, name: str, step: str) -> Path:
    path = bundle / name
    if not path.is_file():
        raise BundleError(f"{bundle} has no {name}; run `calibrate {step} --bundle {bundle}` first")
    return path


def _check_int8_current(bundle: Path) -> Path:
    """model.int8.onnx, provided it was quantized from the model.onnx now in the bundle."""
    int8 = _need(bundle, ONNX_INT8_FILE, "quantize")
    made_from = read_record(bundle).get("quantize", {}).get("source_sha256")
    if made_from != sha256_file(bundle / ONNX_FILE):
        raise BundleError(f"{ONNX_INT8_FILE} in {bundle} was not quantized from the current {ONNX_FILE}; "
                          f"run `calibrate quantize --bundle {bundle}` again")
    return int8


def export_step(bundle: str | Path, opset: int = DEFAULT_OPSET, pt2: bool = False) -> ExportResult:
    from train.checkpoint import load_bundle_model
    from train.models import ProbabilityModel

    bundle = Path(bundle)
    model, spec = load_bundle_model(bundle, verify=True)
    prob_model = ProbabilityModel(model).eval()
    result = export_onnx(prob_model, spec, bundle / ONNX_FILE, opset)
    if pt2:
        export_pt2(prob_model, spec, bundle / TORCH_PROGRAM_FILE)
    for pattern in DERIVED_PATTERNS:  # only once the new graph is in place: a failed export changes nothing
        for stale in bundle.glob(pattern):
            stale.unlink()
    _record(bundle, "export", dataclasses.asdict(result) | {"sha256": sha256_file(bundle / ONNX_FILE), "pt2": pt2})
    write_checksums(bundle)
    return result


def quantize_step(bundle: str | Path, data_dir: str | Path, config: QuantizeConfig | None = None,
                  cache_dir: str | Path | None = None) -> QuantizeResult:
    bundle, data_dir = Path(bundle), Path(data_dir)
    config = config or QuantizeConfig()
    spec = open_bundle(bundle)
    config.validate()
    fp32 = _need(bundle, ONNX_FILE, "export")
    windows = load_window_set(data_dir, cache_dir)
    plan = calibration_plan(spec, data_dir, windows, config.windows, config.seed)
    reader = WindowBatchReader(windows, plan.indices, spec.input_name, config.batch)
    result = quantize_int8(fp32, bundle / ONNX_INT8_FILE, reader, config)
    _record(bundle, "quantize", dataclasses.asdict(result) | {
        "config": dataclasses.asdict(config), "source_sha256": sha256_file(fp32), "data": data_dir.name,
        "calibration_patients": list(plan.patients), "calibration_pool": plan.note})
    write_checksums(bundle)
    return result


def build_step(bundle: str | Path, config: BuildConfig | None = None, gpu_name: str | None = None) -> BuildResult:
    bundle = Path(bundle)
    config = config or BuildConfig()
    spec = open_bundle(bundle)
    if config.precision == "int8":
        _check_int8_current(bundle)
    result = build_engine(bundle, spec, config, gpu_name)
    record = read_record(bundle).get("build", {})
    _record(bundle, "build", record | {result.gpu: dataclasses.asdict(result)})
    write_checksums(bundle)
    return result


def _runners(bundle: Path, spec: ModelSpec) -> dict:
    from train.checkpoint import load_bundle_model
    from train.models import ProbabilityModel

    model, _ = load_bundle_model(bundle, verify=False)  # open_bundle has just verified it
    runners = {TORCH: torch_runner(ProbabilityModel(model).eval()),
               ORT_FP32: onnxruntime_runner(_need(bundle, ONNX_FILE, "export")),
               ORT_INT8: onnxruntime_runner(_check_int8_current(bundle))}
    if importlib.util.find_spec("tensorrt") is not None:
        from edge.backends.tensorrt_backend import gpu_name
        from edge.bundle import engine_file

        name = gpu_name()
        if name is not None and (bundle / engine_file(name)).is_file():
            from edge.engine import Engine

            runners[TENSORRT] = Engine(bundle, backend="tensorrt").predict
    return runners


def verify_step(bundle: str | Path, data_dir: str | Path, config: VerifyConfig | None = None,
                gates: Gates | None = None, cache_dir: str | Path | None = None) -> ParityReport:
    bundle, data_dir = Path(bundle), Path(data_dir)
    config, gates = config or VerifyConfig(), gates or Gates()
    spec = open_bundle(bundle)
    config.validate()
    gates.validate()
    runners = _runners(bundle, spec)
    calibration_patients = tuple(read_record(bundle).get("quantize", {}).get("calibration_patients", ()))
    windows = load_window_set(data_dir, cache_dir)
    plan = holdout_plan(spec, data_dir, windows, config.windows, config.seed, calibration_patients)
    report = verify(runners, windows, plan.indices, plan.note, config, gates)
    _record(bundle, "verify", report.to_dict() | {"config": dataclasses.asdict(config), "data": data_dir.name,
                                                  "thresholds": dataclasses.asdict(gates)})
    atomic_write(bundle / CALIBRATION_PNG, parity_png(report))
    write_checksums(bundle)
    return report


@dataclass(frozen=True)
class RunResult:
    export: ExportResult
    quantize: QuantizeResult
    build: BuildResult | None
    verify: ParityReport
    seconds: dict[str, float]


def run_all(bundle: str | Path, data_dir: str | Path, opset: int = DEFAULT_OPSET, pt2: bool = False,
            quantize: QuantizeConfig | None = None, build: BuildConfig | None = None,
            verify_config: VerifyConfig | None = None, gates: Gates | None = None,
            cache_dir: str | Path | None = None) -> RunResult:
    """Every step in order; ``build`` None leaves the engine to be built on the target device."""
    seconds: dict[str, float] = {}

    def timed(name: str, fn, *args, **kwargs):
        began = time.perf_counter()
        out = fn(*args, **kwargs)
        seconds[name] = time.perf_counter() - began
        return out

    exported = timed("export", export_step, bundle, opset, pt2)
    quantized = timed("quantize", quantize_step, bundle, data_dir, quantize, cache_dir)
    built = timed("build", build_step, bundle, build) if build is not None else None
    report = timed("verify", verify_step, bundle, data_dir, verify_config, gates, cache_dir)
    return RunResult(exported, quantized, built, report, seconds)
