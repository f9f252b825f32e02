"""`calibrate` command line: export, fp16, quantize, verify, run (all of them), build, trtexec; keygen, sign."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from edge.cli_support import run_app

app = typer.Typer(name="calibrate", help="Export a trained bundle to ONNX fp32/fp16/int8 and TensorRT, with parity "
                  "gates; ship the precisions that pass.", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False)

EXIT_GATE_FAILED = 1  # only when fp32 itself fails: a failed fp16/int8 is rejected, not fatal
# QuantizeConfig's defaults, written out so `--help` need not import onnxruntime (a test keeps them equal)
DEFAULT_METHOD = "percentile"
DEFAULT_PERCENTILE = 99.99

Bundle = Annotated[Path, typer.Option("--bundle", help="Bundle directory written by `train fit`.")]
Data = Annotated[Path, typer.Option("--data", help="Kaggle HMS layout with train.csv (real or `train synth`).")]
CacheDir = Annotated[Path | None, typer.Option("--cache-dir", help="Decoded-window cache (default: inside --data).")]
Opset = Annotated[int, typer.Option("--opset", help="ONNX opset (18: see docs/calibrate.md).")]
Method = Annotated[str, typer.Option("--method", help="Calibration method: minmax, entropy or percentile.")]
CalibWindows = Annotated[int, typer.Option("--calib-windows", help="Calibration windows, stratified by class.")]
ScoreWindows = Annotated[int, typer.Option("--sensitivity-windows",
                                           help="Calibration windows each candidate graph is scored on.")]
Percentile = Annotated[float, typer.Option("--percentile", help="Percentile for --method percentile.")]
VerifyWindows = Annotated[int, typer.Option("--verify-windows", help="Held-out windows compared across runners.")]
Real = Annotated[list[Path] | None, typer.Option(
    "--real", help="Folder of real segments with labels.csv (repeatable; default: ../shared/data/sparcnet_iiic "
    "and tests/data where present).")]
Batch = Annotated[int, typer.Option("--batch", help="Windows per inference call.")]
MaxDiff = Annotated[float, typer.Option("--max-fp32-diff", help="Gate: onnxruntime fp32 vs torch, max |probs diff|.")]
MaxKl = Annotated[float, typer.Option("--max-kl", help="Gate: fp16/int8 vs fp32 mean KL.")]
MinAgreement = Annotated[float, typer.Option("--min-agreement", help="Gate: fp16/int8 vs fp32 argmax agreement.")]
MaxDegradation = Annotated[float, typer.Option("--max-kl-degradation",
                                               help="Gate: Kaggle-KL increase against the held-out votes.")]
MinShare = Annotated[float, typer.Option("--min-int8-conv-share", help="Gate: share of conv FLOPs int8 must run.")]
Precision = Annotated[str | None, typer.Option(
    "--precision", help="fp16, int8 or fp32 (default: the one calibrate chose for TensorRT; must be verified).")]
MinBatch = Annotated[int, typer.Option("--min-batch", help="Smallest batch of the optimization profile.")]
OptBatch = Annotated[int, typer.Option("--opt-batch", help="Batch the engine is tuned for.")]
MaxBatch = Annotated[int, typer.Option("--max-batch", help="Largest batch of the optimization profile.")]
Workspace = Annotated[int, typer.Option("--workspace-mib", help="Builder workspace memory pool, MiB.")]
GpuName = Annotated[str | None, typer.Option("--gpu-name", help="Engine file's GPU name (default: the device's).")]


def _quantize_config(method: str, windows: int, scoring: int, batch: int, percentile: float):
    from calibrate.quantize import QuantizeConfig

    return QuantizeConfig(method=method, windows=windows, batch=batch, percentile=percentile,
                          sensitivity_windows=scoring)


def _verify_args(windows: int, batch: int, gates: tuple[float, float, float, float, float]):
    from calibrate.gates import Gates
    from calibrate.verify import VerifyConfig

    max_diff, max_kl, min_agreement, max_degradation, min_share = gates
    return VerifyConfig(windows=windows, batch=batch), Gates(
        fp32_max_abs_diff=max_diff, max_mean_kl=max_kl, min_argmax_agreement=min_agreement,
        max_kaggle_kl_degradation=max_degradation, min_int8_conv_share=min_share)


def _build_config(precision: str | None, batches: tuple[int, int, int], workspace: int):
    from calibrate.tensorrt_build import BuildConfig

    return BuildConfig(precision, *batches, workspace)


def _report(outcome) -> None:
    report = outcome.report
    for r in report.results:
        kaggle = f"Kaggle KL {r.kaggle_kl:.4f}  " if r.kaggle_kl is not None else ""
        versus = (f"  vs {r.reference}: max|diff| {r.max_abs_diff:.2e}  mean KL {r.mean_kl:.2e}  argmax agree "
                  f"{r.argmax_agreement:.1%}") if r.reference else ""
        flips = ("  top class changed on window (fp32 top-2 margin): "
                 + ", ".join(f"{i} ({m:.3f})" for i, m in r.flips)) if r.flips else ""
        typer.echo(f"{r.runner:<18} {r.data:<8} {kaggle}{r.ms_per_window:6.1f} ms/window{versus}{flips}")
    for gate in report.gates:
        typer.echo(gate.line())
    for data in report.sets:
        refused = ", ".join(f"{n} {why}" for why, n in data["excluded_by_bedside_gate"].items()) or "none"
        typer.echo(f"{data['name']}: {data['windows']} windows, {data['note']}; refused by edge's validity gate "
                   f"(not predicted at the bedside, left out): {refused}")
    for line in outcome.plan.lines():
        typer.echo(line)
    if outcome.removed:
        typer.echo(f"removed from the bundle: {', '.join(outcome.removed)}")
    if not report.fp32_passed:
        typer.echo("calibrate: error: the fp32 graph failed its parity gate against torch (see FAIL lines above); "
                   "the bundle ships no verified precision", err=True)
        raise typer.Exit(EXIT_GATE_FAILED)


@app.command()
def export(bundle: Bundle, opset: Opset = 18) -> None:
    """Write model.onnx (fp32, front end inside, dynamic batch)."""
    from calibrate.pipeline import export_step

    result = export_step(bundle, opset)
    typer.echo(f"wrote {result.path}: opset {result.opset}, {result.nodes} nodes ({result.frontend_nodes} front end), "
               f"{result.seconds:.1f} s")


@app.command()
def fp16(bundle: Bundle, data: Data, calib_windows: CalibWindows = 256, *, sensitivity_windows: ScoreWindows = 64,
         cache_dir: CacheDir = None) -> None:
    """Write model.fp16.onnx; the front end stays float32 when fp16 measures worse there."""
    from calibrate.pipeline import fp16_step

    config = _quantize_config(DEFAULT_METHOD, calib_windows, sensitivity_windows, 16, DEFAULT_PERCENTILE)
    result = fp16_step(bundle, data, config, cache_dir=cache_dir)
    figures = "; ".join(f"float32 {c.float32}: KL {c.mean_kl:.2e}, agree {c.argmax_agreement:.1%}, finite on "
                        f"extremes {c.finite_on_extremes}" for c in result.candidates)
    typer.echo(f"wrote {result.path}: float32 kept for {result.float32} ({figures}; {result.windows} windows)")


@app.command()
def quantize(bundle: Bundle, data: Data, method: Method = DEFAULT_METHOD, *, calib_windows: CalibWindows = 256,
             sensitivity_windows: ScoreWindows = 64, batch: Batch = 16, percentile: Percentile = DEFAULT_PERCENTILE,
             cache_dir: CacheDir = None) -> None:
    """Write model.int8.onnx: QDQ int8 calibrated on real windows, the most sensitive nodes kept float."""
    from calibrate.pipeline import quantize_step

    result = quantize_step(bundle, data, _quantize_config(method, calib_windows, sensitivity_windows, batch,
                                                          percentile), cache_dir=cache_dir)
    _echo_quantize(result)


def _echo_quantize(result) -> None:
    s = result.sensitivity
    typer.echo(f"wrote {result.path}: {result.quantized_nodes} int8 compute nodes, {len(s.kept_float)} kept float "
               f"for accuracy ({s.quantized_conv_share:.0%} of conv FLOPs int8; KL vs fp32 {s.plain_mean_kl:.2e} -> "
               f"{s.mean_kl:.2e} on {s.windows} windows), {result.method} on {result.windows} windows, "
               f"{result.seconds:.1f} s")


@app.command()
def build(bundle: Bundle, precision: Precision = None, min_batch: MinBatch = 1, *, opt_batch: OptBatch = 8,
          max_batch: MaxBatch = 16, workspace_mib: Workspace = 1024, gpu_name: GpuName = None) -> None:
    """Build model.<gpu>.engine with TensorRT on this device (needs TensorRT and a CUDA GPU)."""
    from calibrate.pipeline import build_step

    config = _build_config(precision, (min_batch, opt_batch, max_batch), workspace_mib)
    result = build_step(bundle, config, gpu_name)
    typer.echo(f"wrote {result.engine} ({result.precision}, TensorRT {result.tensorrt}, {result.seconds:.0f} s)")


@app.command()
def trtexec(bundle: Bundle, gpu_name: Annotated[str, typer.Option("--gpu-name", help="GPU name for the engine file.")],
            precision: Precision = None, *, min_batch: MinBatch = 1, opt_batch: OptBatch = 8, max_batch: MaxBatch = 16,
            workspace_mib: Workspace = 1024) -> None:
    """Print the trtexec command that builds the same engine (see deploy/build_engine.sh)."""
    from calibrate.tensorrt_build import trtexec_command, trtexec_text
    from edge.model.bundle import load_spec

    spec = load_spec(bundle)  # edge only: this runs on a Jetson without the training stack
    config = _build_config(precision, (min_batch, opt_batch, max_batch), workspace_mib).for_bundle(bundle)
    typer.echo(trtexec_text(trtexec_command(bundle, spec, config, gpu_name=gpu_name)))


@app.command(name="triton-repo")
def triton_repo(bundle: Bundle, out: Annotated[Path, typer.Option("--out", help="Triton model repository directory.")],
                name: Annotated[str, typer.Option("--name", help="Model name in the repository.")] = "eeg_edge",
                precision: Precision = None, *,
                max_batch: Annotated[int, typer.Option("--max-batch", help="Triton max_batch_size.")] = 32) -> None:
    """Write a Triton model repository (onnxruntime platform, dynamic batching) serving the bundle's graph."""
    from calibrate.triton_repo import write_triton_repo

    repo = write_triton_repo(bundle, out, name=name, precision=precision, max_batch=max_batch)
    typer.echo(f"wrote {repo.path} ({repo.precision}; bundle id {repo.parameters['eeg_edge_bundle_id']}): serve it "
               f"with tritonserver --model-repository {out}, run edge with --backend triton --triton-model {name}")


@app.command(name="verify")
def verify_command(bundle: Bundle, data: Data, verify_windows: VerifyWindows = 256, *, batch: Batch = 16,
                   max_fp32_diff: MaxDiff = 1e-4, max_kl: MaxKl = 0.01, min_agreement: MinAgreement = 0.98,
                   max_kl_degradation: MaxDegradation = 0.02, min_int8_conv_share: MinShare = 0.7,
                   real: Real = None, cache_dir: CacheDir = None) -> None:
    """Compare torch and every precision edge can run on held-out windows and real EEG; remove the ones that fail;
    exit 1 only when fp32 fails."""
    from calibrate.pipeline import verify_step

    config, gates = _verify_args(verify_windows, batch, (max_fp32_diff, max_kl, min_agreement, max_kl_degradation,
                                                         min_int8_conv_share))
    _report(verify_step(bundle, data, config, gates=gates, cache_dir=cache_dir, real=real))


@app.command()
def run(bundle: Bundle, data: Data, opset: Opset = 18, *, method: Method = DEFAULT_METHOD,
        calib_windows: CalibWindows = 256, sensitivity_windows: ScoreWindows = 64,
        percentile: Percentile = DEFAULT_PERCENTILE, verify_windows: VerifyWindows = 256, batch: Batch = 16,
        max_fp32_diff: MaxDiff = 1e-4, max_kl: MaxKl = 0.01, min_agreement: MinAgreement = 0.98,
        max_kl_degradation: MaxDegradation = 0.02, min_int8_conv_share: MinShare = 0.7,
        build_engine: Annotated[bool, typer.Option("--build/--no-build",
                                                   help="Also build the TensorRT engine (target device).")] = False,
        precision: Precision = None, opt_batch: OptBatch = 8, max_batch: MaxBatch = 16,
        real: Real = None, cache_dir: CacheDir = None) -> None:
    """export -> fp16 -> quantize -> verify (ship what passes) -> (build); exit 1 only when fp32 fails."""
    from calibrate.pipeline import run_all

    config, gates = _verify_args(verify_windows, batch, (max_fp32_diff, max_kl, min_agreement, max_kl_degradation,
                                                         min_int8_conv_share))
    # a precision of None is resolved after verify: the one verify chooses for TensorRT
    build_config = _build_config(precision, (1, opt_batch, max_batch), 1024) if build_engine else None
    result = run_all(bundle, data, opset=opset, quantize=_quantize_config(method, calib_windows, sensitivity_windows,
                                                                          batch, percentile),
                     build=build_config, verify_config=config, gates=gates, cache_dir=cache_dir, real=real)
    from edge.model.bundle import ONNX_FILE, ONNX_FP16_FILE

    typer.echo(f"{ONNX_FILE}: {result.export.nodes} nodes; {ONNX_FP16_FILE}: float32 kept for {result.fp16.float32}")
    _echo_quantize(result.quantize)
    engine = result.build.engine if result.build else "not built (pass --build on the device with TensorRT)"
    typer.echo(f"engine: {engine}")
    typer.echo("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in result.seconds.items()))
    _report(result.verify)


@app.command()
def keygen(private: Annotated[Path, typer.Argument(help="Private key file to create (never overwritten).")],
           public: Annotated[Path, typer.Argument(help="Public key file for the sites.")]) -> None:
    """Make an ed25519 key pair for signing bundles (once, on the producer side; needs extra `signing`)."""
    from edge.model.signing import generate_keypair

    generate_keypair(private, public)
    typer.echo(f"wrote {private} (keep it private) and {public} (give it to the sites)")


@app.command()
def sign(bundle: Annotated[Path, typer.Argument(help="Bundle directory to sign.")],
         key: Annotated[Path, typer.Option("--key", help="PEM ed25519 private key (`calibrate keygen`).")]) -> None:
    """Sign a bundle's SHA256SUMS so sites can require it (`edge run --require-signature PUBLIC.pem`).

    Verifies SHA256SUMS first, then writes SHA256SUMS.sig. Any later calibrate step rewrites SHA256SUMS and
    removes the signature: sign last.
    """
    from edge.model.bundle import sign_bundle

    typer.echo(f"wrote {sign_bundle(bundle, key)}")


def main() -> None:
    sys.exit(run_app(app))
