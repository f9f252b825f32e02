"""`calibrate` command line: export, quantize, build, verify, run (all of them), trtexec."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from edge.cli_support import run_app

app = typer.Typer(name="calibrate", help="Export a trained bundle to ONNX, INT8 and TensorRT, with parity gates.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

EXIT_GATE_FAILED = 1
# QuantizeConfig's defaults, written out so `--help` need not import onnxruntime (a test keeps them equal)
DEFAULT_METHOD = "percentile"
DEFAULT_PERCENTILE = 99.99

Bundle = Annotated[Path, typer.Option("--bundle", help="Bundle directory written by `train fit`.")]
Data = Annotated[Path, typer.Option("--data", help="Kaggle HMS layout with train.csv (real or `train synth`).")]
CacheDir = Annotated[Path | None, typer.Option("--cache-dir", help="Decoded-window cache (default: inside --data).")]
Opset = Annotated[int, typer.Option("--opset", help="ONNX opset (18: see docs/calibrate.md).")]
Pt2 = Annotated[bool, typer.Option("--pt2/--no-pt2", help="Also write model.pt2 (torch.export) for a torch backend.")]
Method = Annotated[str, typer.Option("--method", help="Calibration method: minmax, entropy or percentile.")]
CalibWindows = Annotated[int, typer.Option("--calib-windows", help="Calibration windows, stratified by class.")]
Percentile = Annotated[float, typer.Option("--percentile", help="Percentile for --method percentile.")]
VerifyWindows = Annotated[int, typer.Option("--verify-windows", help="Held-out windows compared across backends.")]
Batch = Annotated[int, typer.Option("--batch", help="Windows per inference call.")]
MaxDiff = Annotated[float, typer.Option("--max-fp32-diff", help="Gate: onnxruntime fp32 vs torch, max |probs diff|.")]
MaxKl = Annotated[float, typer.Option("--max-int8-kl", help="Gate: int8 vs fp32 mean KL.")]
MaxDegradation = Annotated[float, typer.Option("--max-kl-degradation",
                                               help="Gate: int8 Kaggle-KL increase against the targets.")]
Precision = Annotated[str, typer.Option("--precision", help="int8 (model.int8.onnx, INT8+FP16) or fp16 (model.onnx).")]
MinBatch = Annotated[int, typer.Option("--min-batch", help="Smallest batch of the optimization profile.")]
OptBatch = Annotated[int, typer.Option("--opt-batch", help="Batch the engine is tuned for.")]
MaxBatch = Annotated[int, typer.Option("--max-batch", help="Largest batch of the optimization profile.")]
Workspace = Annotated[int, typer.Option("--workspace-mib", help="Builder workspace memory pool, MiB.")]
GpuName = Annotated[str | None, typer.Option("--gpu-name", help="Engine file's GPU name (default: the device's).")]


def _quantize_config(method: str, windows: int, batch: int, percentile: float):
    from calibrate.quantize import QuantizeConfig

    return QuantizeConfig(method=method, windows=windows, batch=batch, percentile=percentile)


def _verify_args(windows: int, batch: int, max_diff: float, max_kl: float, max_degradation: float):
    from calibrate.gates import Gates
    from calibrate.verify import VerifyConfig

    return VerifyConfig(windows=windows, batch=batch), Gates(max_diff, max_kl, max_degradation)


def _build_config(precision: str, min_batch: int, opt_batch: int, max_batch: int, workspace: int):
    from calibrate.tensorrt_build import BuildConfig

    return BuildConfig(precision, min_batch, opt_batch, max_batch, workspace)


def _report(report) -> None:
    for b in report.backends:
        versus = f"  vs {b.reference}: max|diff| {b.max_abs_diff:.2e}  mean KL {b.mean_kl:.2e}  argmax agree " \
                 f"{b.argmax_agreement:.1%}" if b.reference else ""
        typer.echo(f"{b.name:<9} Kaggle KL {b.kaggle_kl:.4f}  {b.ms_per_window:6.1f} ms/window{versus}")
    for gate in report.gates:
        typer.echo(gate.line())
    typer.echo(f"{report.windows} held-out windows from {report.patients} patients: {report.holdout}")
    if not report.passed:
        typer.echo("calibrate: error: a parity gate failed (see FAIL lines above)", err=True)
        raise typer.Exit(EXIT_GATE_FAILED)


@app.command()
def export(bundle: Bundle, opset: Opset = 18, pt2: Pt2 = False) -> None:
    """Write model.onnx (fp32, front end inside, dynamic batch) and optionally model.pt2."""
    from calibrate.pipeline import export_step

    result = export_step(bundle, opset, pt2)
    typer.echo(f"wrote {result.path}: opset {result.opset}, {result.nodes} nodes ({result.frontend_nodes} front end), "
               f"{result.seconds:.1f} s")


@app.command()
def quantize(bundle: Bundle, data: Data, method: Method = DEFAULT_METHOD, calib_windows: CalibWindows = 256,
             batch: Batch = 16, percentile: Percentile = DEFAULT_PERCENTILE, cache_dir: CacheDir = None) -> None:
    """Write model.int8.onnx: QDQ int8, calibrated on real windows, front end and softmax in float."""
    from calibrate.pipeline import quantize_step

    result = quantize_step(bundle, data, _quantize_config(method, calib_windows, batch, percentile), cache_dir)
    typer.echo(f"wrote {result.path}: {result.quantized_nodes} int8 compute nodes, {result.excluded_nodes} kept "
               f"float, {result.method} on {result.windows} windows, {result.seconds:.1f} s")


@app.command()
def build(bundle: Bundle, precision: Precision = "int8", min_batch: MinBatch = 1, opt_batch: OptBatch = 8,
          max_batch: MaxBatch = 16, workspace_mib: Workspace = 1024, gpu_name: GpuName = None) -> None:
    """Build model.<gpu>.engine with TensorRT on this device (needs TensorRT and a CUDA GPU)."""
    from calibrate.pipeline import build_step

    result = build_step(bundle, _build_config(precision, min_batch, opt_batch, max_batch, workspace_mib), gpu_name)
    typer.echo(f"wrote {result.engine} ({result.precision}, TensorRT {result.tensorrt}, {result.seconds:.0f} s)")


@app.command()
def trtexec(bundle: Bundle, gpu_name: Annotated[str, typer.Option("--gpu-name", help="GPU name for the engine file.")],
            precision: Precision = "int8", min_batch: MinBatch = 1, opt_batch: OptBatch = 8, max_batch: MaxBatch = 16,
            workspace_mib: Workspace = 1024) -> None:
    """Print the trtexec command that builds the same engine (see deploy/build_engine.sh)."""
    from calibrate.tensorrt_build import trtexec_command, trtexec_text
    from edge.bundle import load_spec

    spec = load_spec(bundle)  # edge only: this runs on a Jetson without the training stack
    config = _build_config(precision, min_batch, opt_batch, max_batch, workspace_mib)
    typer.echo(trtexec_text(trtexec_command(bundle, spec, config, gpu_name)))


@app.command(name="verify")
def verify_command(bundle: Bundle, data: Data, verify_windows: VerifyWindows = 256, batch: Batch = 16,
                   max_fp32_diff: MaxDiff = 1e-4, max_int8_kl: MaxKl = 0.01, max_kl_degradation: MaxDegradation = 0.02,
                   cache_dir: CacheDir = None) -> None:
    """Compare torch, onnxruntime fp32/int8 (and TensorRT) on held-out windows; exit 1 when a gate fails."""
    from calibrate.pipeline import verify_step

    config, gates = _verify_args(verify_windows, batch, max_fp32_diff, max_int8_kl, max_kl_degradation)
    _report(verify_step(bundle, data, config, gates, cache_dir))


@app.command()
def run(bundle: Bundle, data: Data, opset: Opset = 18, pt2: Pt2 = False, method: Method = DEFAULT_METHOD,
        calib_windows: CalibWindows = 256, percentile: Percentile = DEFAULT_PERCENTILE,
        verify_windows: VerifyWindows = 256,
        batch: Batch = 16, max_fp32_diff: MaxDiff = 1e-4, max_int8_kl: MaxKl = 0.01,
        max_kl_degradation: MaxDegradation = 0.02,
        build_engine: Annotated[bool, typer.Option("--build/--no-build",
                                                   help="Also build the TensorRT engine (target device).")] = False,
        precision: Precision = "int8", opt_batch: OptBatch = 8, max_batch: MaxBatch = 16,
        cache_dir: CacheDir = None) -> None:
    """export -> quantize -> (build) -> verify; exit 1 when a parity gate fails."""
    from calibrate.pipeline import run_all

    config, gates = _verify_args(verify_windows, batch, max_fp32_diff, max_int8_kl, max_kl_degradation)
    build_config = _build_config(precision, 1, opt_batch, max_batch, 1024) if build_engine else None
    result = run_all(bundle, data, opset, pt2, _quantize_config(method, calib_windows, batch, percentile),
                     build_config, config, gates, cache_dir)
    engine = result.build.engine if result.build else "not built (pass --build on the device with TensorRT)"
    typer.echo(f"model.onnx: {result.export.nodes} nodes; model.int8.onnx: {result.quantize.quantized_nodes} int8 "
               f"compute nodes ({result.quantize.method}, {result.quantize.windows} windows); engine: {engine}")
    typer.echo("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in result.seconds.items()))
    _report(result.verify)


def main() -> None:
    sys.exit(run_app(app))
