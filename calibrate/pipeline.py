"""The calibrate steps on a bundle: export -> fp16 -> quantize -> verify (and ship) -> (build), each in place.

Every step refuses a bundle whose SHA256SUMS does not match, writes its files atomically, records
what it did in calibration.json and rewrites SHA256SUMS, so the bundle is loadable by edge after
every step. Re-exporting removes what was derived from the previous model.onnx (fp16 and int8 graphs,
engines, reports); a step whose input changed since it was made refuses to run on the stale file.
Verify removes every precision that failed its gates and records which precision each edge backend runs.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from calibrate.calib_data import WindowBatchReader, load_windows, stratified_indices
from calibrate.export import DEFAULT_OPSET, ExportResult, export_onnx
from calibrate.fp16 import Fp16Result, convert_fp16
from calibrate.gates import GateResult, Gates
from calibrate.quantize import QuantizeConfig, QuantizeResult, quantize_int8
from calibrate.real_segments import default_folders, load_real_segments
from calibrate.reference import TorchReference
from calibrate.report_plot import parity_png
from calibrate.shipping import PrecisionPlan, plan_precisions
from calibrate.tensorrt_build import BuildConfig, BuildResult, build_engine
from calibrate.verify import HELD_OUT, EvalSet, ParityReport, VerifyConfig, runner_label, verify
from calibrate.windows_plan import bedside_window_set, calibration_plan, holdout_plan
from edge.errors import BundleError
from edge.model.backends import open_backend
from edge.model.bundle import (
    CALIBRATION_FILE,
    CALIBRATION_PNG_FILE,
    ONNX_FILE,
    ONNX_FP16_FILE,
    ONNX_INT8_FILE,
    PRECISION_FILES,
    atomic_write,
    load_spec,
    sha256_file,
    write_checksums,
)
from edge.model.model_spec import ModelSpec

# Files derived from model.onnx: stale once it is re-exported.
DERIVED_PATTERNS = (ONNX_FP16_FILE, ONNX_INT8_FILE, "model.*.engine", "model.*.timing.cache", CALIBRATION_FILE,
                    CALIBRATION_PNG_FILE)
# The step that writes each derived graph, and records the model.onnx it was made from.
MADE_BY = {ONNX_FP16_FILE: "fp16", ONNX_INT8_FILE: "quantize"}


def open_bundle(bundle: str | Path) -> ModelSpec:
    """The bundle's spec, after checking every file against SHA256SUMS (a tampered bundle is refused)."""
    return load_spec(bundle, verify=True)


def read_record(bundle: Path) -> dict[str, Any]:
    path = bundle / CALIBRATION_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def _record(bundle: Path, step: str, payload: Any) -> None:
    record = read_record(bundle)
    record[step] = dataclasses.asdict(payload) if dataclasses.is_dataclass(payload) else payload
    atomic_write(bundle / CALIBRATION_FILE, json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")


def _need(bundle: Path, name: str, step: str) -> Path:
    path = bundle / name
    if not path.is_file():
        raise BundleError(f"{bundle} has no {name}; run `calibrate {step} --bundle {bundle}` first")
    return path


def _check_current(bundle: Path, name: str) -> Path:
    """A derived graph, provided it was made from the model.onnx now in the bundle."""
    step = MADE_BY[name]
    path = _need(bundle, name, step)
    if read_record(bundle).get(step, {}).get("source_sha256") != sha256_file(bundle / ONNX_FILE):
        raise BundleError(f"{name} in {bundle} was not made from the current {ONNX_FILE}; "
                          f"run `calibrate {step} --bundle {bundle}` again")
    return path


def export_step(bundle: str | Path, opset: int = DEFAULT_OPSET) -> ExportResult:
    from train.checkpoint import load_bundle_model
    from train.models import ProbabilityModel

    bundle = Path(bundle)
    model, spec = load_bundle_model(bundle, verify=True)
    result = export_onnx(ProbabilityModel(model).eval(), spec, bundle / ONNX_FILE, opset=opset)
    for pattern in DERIVED_PATTERNS:  # only once the new graph is in place: a failed export changes nothing
        for stale in bundle.glob(pattern):
            stale.unlink()
    _record(bundle, "export", dataclasses.asdict(result) | {"sha256": sha256_file(bundle / ONNX_FILE)})
    write_checksums(bundle)
    return result


@dataclass(frozen=True)
class CalibrationWindows:
    source: Any  # train.data's WindowSet
    indices: np.ndarray
    patients: tuple[int, ...]
    note: str
    scoring: np.ndarray  # [n, channels, samples]: the subset scored per candidate graph (sensitivity, fp16)
    excluded: dict[str, int]  # windows of the pool the bedside gate refused, by reason


def calibration_windows(spec: ModelSpec, data_dir: Path, config: QuantizeConfig,
                        *, cache_dir: str | Path | None) -> CalibrationWindows:
    windows = bedside_window_set(data_dir, cache_dir)
    plan = calibration_plan(spec, data_dir, windows, count=config.windows, seed=config.seed)
    scoring = stratified_indices(np.asarray(windows.targets), min(config.sensitivity_windows, len(plan.indices)),
                                 config.seed, candidates=plan.indices)
    return CalibrationWindows(windows, plan.indices, plan.patients, plan.note, load_windows(windows, scoring),
                              plan.excluded)


def _derive_inputs(bundle: Path, data_dir: Path, config: QuantizeConfig,
                   cache_dir: str | Path | None) -> tuple[ModelSpec, Path, CalibrationWindows]:
    """What fp16 and quantize both start from: the verified spec, model.onnx and the calibration windows."""
    spec = open_bundle(bundle)
    config.validate()
    fp32 = _need(bundle, ONNX_FILE, "export")
    return spec, fp32, calibration_windows(spec, data_dir, config, cache_dir=cache_dir)


def fp16_step(bundle: str | Path, data_dir: str | Path, config: QuantizeConfig | None = None,
              *, cache_dir: str | Path | None = None) -> Fp16Result:
    bundle, data_dir, config = Path(bundle), Path(data_dir), config or QuantizeConfig()
    _, fp32, windows = _derive_inputs(bundle, data_dir, config, cache_dir)
    result = convert_fp16(fp32, bundle / ONNX_FP16_FILE, windows.scoring, target=config.target)
    _record(bundle, "fp16", dataclasses.asdict(result) | {"source_sha256": sha256_file(fp32), "data": data_dir.name})
    write_checksums(bundle)
    return result


def quantize_step(bundle: str | Path, data_dir: str | Path, config: QuantizeConfig | None = None,
                  *, cache_dir: str | Path | None = None) -> QuantizeResult:
    bundle, data_dir, config = Path(bundle), Path(data_dir), config or QuantizeConfig()
    spec, fp32, windows = _derive_inputs(bundle, data_dir, config, cache_dir)
    reader = WindowBatchReader(windows.source, windows.indices, spec.input_name, config.batch)
    result = quantize_int8(fp32, bundle / ONNX_INT8_FILE, reader, sensitivity_eeg=windows.scoring, config=config)
    _record(bundle, "quantize", dataclasses.asdict(result) | {
        "config": dataclasses.asdict(config), "source_sha256": sha256_file(fp32), "data": data_dir.name,
        "calibration_patients": list(windows.patients), "calibration_pool": windows.note,
        "calibration_excluded_by_bedside_gate": windows.excluded})
    write_checksums(bundle)
    return result


def build_step(bundle: str | Path, config: BuildConfig | None = None, gpu_name: str | None = None) -> BuildResult:
    """Build the engine of ``config.precision`` (default: the one calibrate chose for TensorRT), if it was verified."""
    bundle = Path(bundle)
    spec = open_bundle(bundle)
    config = (config or BuildConfig()).for_bundle(bundle)
    if PRECISION_FILES[config.precision] in MADE_BY:
        _check_current(bundle, PRECISION_FILES[config.precision])
    result = build_engine(bundle, spec, config, gpu_name=gpu_name)
    record = read_record(bundle)
    _record(bundle, "build", record.get("build", {}) | {result.gpu: dataclasses.asdict(result)})
    precision = read_record(bundle).get("precision", {})
    _record(bundle, "precision", precision | {"chosen": precision.get("chosen", {}) | {"tensorrt": config.precision}})
    write_checksums(bundle)
    return result


def _runners(bundle: Path, spec: ModelSpec) -> dict:
    """The torch reference and every runner edge could use on this bundle, each behind the Backend protocol."""
    backends = [TorchReference.from_bundle(bundle, verify=False)]  # open_bundle has just verified it
    for precision, name in PRECISION_FILES.items():
        if name in MADE_BY and not (bundle / name).is_file():
            continue  # not made, or rejected by an earlier verify
        if name in MADE_BY:
            _check_current(bundle, name)
        backends.append(open_backend(bundle, spec, "onnxruntime", precision=precision))
    if importlib.util.find_spec("tensorrt") is not None:
        from edge.model.backends import _tensorrt_engine

        if _tensorrt_engine(bundle) is not None:
            backends.append(open_backend(bundle, spec, "tensorrt"))
    return {runner_label(b): b for b in backends}


def _graph_gates(bundle: Path, gates: Gates) -> tuple[GateResult, ...]:
    """int8 must keep most of the classifier's conv FLOPs in int8 (figure from the quantize step's record)."""
    if not (bundle / ONNX_INT8_FILE).is_file():
        return ()
    share = read_record(bundle).get("quantize", {}).get("sensitivity", {}).get("quantized_conv_share", 0.0)
    return (GateResult("int8_conv_flops_share", "onnxruntime:int8", "graph", share, gates.min_int8_conv_share,
                       at_least=True),)


@dataclass(frozen=True)
class VerifyOutcome:
    report: ParityReport
    plan: PrecisionPlan
    removed: tuple[str, ...]


def verify_step(bundle: str | Path, data_dir: str | Path, config: VerifyConfig | None = None,
                *, gates: Gates | None = None, cache_dir: str | Path | None = None,
                real: list[Path] | None = None) -> VerifyOutcome:
    """Verify every precision on held-out windows and real segments; remove the rejected ones; record the choice."""
    bundle, data_dir = Path(bundle), Path(data_dir)
    config, gates = config or VerifyConfig(), gates or Gates()
    spec = open_bundle(bundle)
    config.validate()
    gates.validate()
    runners = _runners(bundle, spec)
    record = read_record(bundle)
    calibration_patients = tuple(record.get("quantize", {}).get("calibration_patients", ()))
    windows = bedside_window_set(data_dir, cache_dir)
    plan = holdout_plan(spec, data_dir, windows, count=config.windows, seed=config.seed,
                        calibration_patients=calibration_patients)
    sets = [EvalSet(HELD_OUT, load_windows(windows, plan.indices), np.asarray(windows.targets)[plan.indices],
                    f"{len(plan.patients)} patients: {plan.note}", plan.excluded)]
    real_set = load_real_segments(default_folders() if real is None else real, spec)
    if real_set is not None:
        sets.append(real_set)
    try:
        report = verify(runners, sets, input_name=spec.input_name, output_name=spec.output_name, config=config,
                        gates=gates, graph_gates=_graph_gates(bundle, gates))
    finally:
        for runner in runners.values():
            runner.close()
    built = [b["precision"] for b in record.get("build", {}).values()]
    choice = plan_precisions(report, tensorrt_built=built[-1] if built else None)
    removed = tuple(PRECISION_FILES[p] for p in choice.rejected if PRECISION_FILES[p] in MADE_BY)  # never fp32
    for name in removed:
        (bundle / name).unlink(missing_ok=True)
    _record(bundle, "verify", report.to_dict() | {"config": dataclasses.asdict(config), "data": data_dir.name,
                                                  "thresholds": dataclasses.asdict(gates)})
    _record(bundle, "precision", choice.to_dict() | {"removed": list(removed)})
    atomic_write(bundle / CALIBRATION_PNG_FILE, parity_png(report, read_record(bundle).get("quantize")))
    write_checksums(bundle)
    return VerifyOutcome(report, choice, removed)


@dataclass(frozen=True)
class RunResult:
    export: ExportResult
    fp16: Fp16Result
    quantize: QuantizeResult
    verify: VerifyOutcome
    build: BuildResult | None
    seconds: dict[str, float]


def run_all(bundle: str | Path, data_dir: str | Path, *, opset: int = DEFAULT_OPSET,
            quantize: QuantizeConfig | None = None, build: BuildConfig | None = None,
            verify_config: VerifyConfig | None = None, gates: Gates | None = None,
            cache_dir: str | Path | None = None, real: list[Path] | None = None) -> RunResult:
    """Every step in order; ``build`` None leaves the engine to be built on the target device. With a build, the
    engine is verified like the graphs (a second verify)."""
    seconds: dict[str, float] = {}

    def timed(name: str, fn, *args, **kwargs):
        began = time.perf_counter()
        out = fn(*args, **kwargs)
        seconds[name] = time.perf_counter() - began
        return out

    exported = timed("export", export_step, bundle, opset)
    fp16 = timed("fp16", fp16_step, bundle, data_dir, quantize, cache_dir=cache_dir)
    quantized = timed("quantize", quantize_step, bundle, data_dir, quantize, cache_dir=cache_dir)
    outcome = timed("verify", verify_step, bundle, data_dir, verify_config, gates=gates, cache_dir=cache_dir, real=real)
    built = None
    if build is not None and outcome.report.fp32_passed:
        built = timed("build", build_step, bundle, build)
        outcome = timed("verify_engine", verify_step, bundle, data_dir, verify_config, gates=gates, cache_dir=cache_dir,
                        real=real)
    return RunResult(exported, fp16, quantized, outcome, built, seconds)
