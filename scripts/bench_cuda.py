"""Write the "cuda" section of docs/benchmarks.md: what only a GPU shows, on the GPU this runs on.

  * forward latency of the signal front end, the Mel-dB front end and both default models (front end
    inside), float32 with TF32 off (the arithmetic the edge serves) and under bf16 autocast (training);
  * calibrate's torch reference runner (the model on the GPU) against onnxruntime on this machine's CPU,
    with the largest difference between their probabilities;
  * the training step (bench_train.step_rate: augment, forward, KL, backward, clip, AdamW; bf16 autocast)
    against one loader process, at the default batch and at a GPU-sized one.

Weights are untrained (latency does not depend on them). Needs CUDA; no test depends on it.

    python -m scripts.bench_cuda [--doc docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from edge.contract import CHANNELS, WINDOW_SAMPLES
from edge.model.model_spec import FrontEndConfig, ModelSpec
from scripts.bench_common import loader_rate, replace_section, step_rate
from train.models import ProbabilityModel, create_model
from train.models.frontend import MelImageFrontEnd, SignalFrontEnd

REPO = Path(__file__).resolve().parents[1]
BATCHES = (1, 8, 32)
TRAIN_BATCHES = (8, 64)


def cuda_ms(fn: Callable[[], object], repeats: int = 100) -> tuple[float, float]:
    """p50 and p99 wall milliseconds of fn() up to the GPU finishing it, after a warm-up."""
    for _ in range(10):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(1e3 * (time.perf_counter() - started))
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def forward_table(device: torch.device) -> list[str]:
    cfg = FrontEndConfig()
    modules = {"signal front end (bipolar, FIR, clip)": SignalFrontEnd(cfg),
               "Mel-dB front end (image)": MelImageFrontEnd(cfg),
               "mel2d, front end inside": ProbabilityModel(create_model("mel2d", cfg)),
               "grouped1d, front end inside": ProbabilityModel(create_model("grouped1d", cfg))}
    lines = ["| module | batch | fp32 p50 ms | fp32 p99 ms | fp32 windows/s | bf16 autocast p50 ms |",
             "|---|---|---|---|---|---|"]
    for label, module in modules.items():
        module = module.eval().to(device)
        for batch in BATCHES:
            eeg = torch.randn(batch, len(CHANNELS), WINDOW_SAMPLES, device=device) * 50.0
            with torch.inference_mode():
                p50, p99 = cuda_ms(lambda m=module, x=eeg: m(x))
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    bf16, _ = cuda_ms(lambda m=module, x=eeg: m(x))
            lines.append(f"| {label} | {batch} | {p50:.2f} | {p99:.2f} | {1e3 * batch / p50:.0f} | {bf16:.2f} |")
            print(lines[-1], flush=True)
    return lines


def backend_table(workdir: Path) -> list[str]:
    from calibrate.export import export_onnx
    from calibrate.reference import TorchReference
    from edge.model.backends.onnxruntime_backend import OnnxRuntimeBackend
    from edge.model.bundle import ONNX_FILE

    torch.manual_seed(0)
    spec = ModelSpec(model="mel2d")
    model = ProbabilityModel(create_model("mel2d", spec.frontend)).eval()
    export_onnx(model, spec, workdir / ONNX_FILE)
    gpu = TorchReference(model, spec.output_name)
    cpu = OnnxRuntimeBackend(workdir / ONNX_FILE, spec)
    input_name = cpu.session.get_inputs()[0].name
    lines = [f"| batch | torch reference on {gpu.device}: p50 ms | p99 ms | onnxruntime CPU: p50 ms | "
             "max abs difference |",
             "|---|---|---|---|---|"]
    for batch in BATCHES:
        rng = np.random.default_rng(batch)
        feed = {input_name: (rng.standard_normal((batch, len(CHANNELS), WINDOW_SAMPLES)) * 50).astype(np.float32)}
        difference = np.abs(gpu.infer(feed)[spec.output_name] - cpu.infer(feed)[spec.output_name]).max()
        gpu_p50, gpu_p99 = cuda_ms(lambda f=feed: gpu.infer(f), repeats=100)
        cpu_p50, _ = cuda_ms(lambda f=feed: cpu.infer(f), repeats=20)
        lines.append(f"| {batch} | {gpu_p50:.2f} | {gpu_p99:.2f} | {cpu_p50:.2f} | {difference:.1e} |")
        print(lines[-1], flush=True)
    return lines


def training_table(workdir: Path, steps: int) -> list[str]:
    from train.data import build_window_set
    from train.synth.generate import SynthConfig, generate_dataset

    data = generate_dataset(workdir / "synth", SynthConfig(n_eegs=80, seed=0, max_seconds=60)).out
    windows = build_window_set(data, split="train", margin=400)
    lines = ["| model | batch | training step, windows/s | one loader process (page cache), windows/s | "
             "loader / step |",
             "|---|---|---|---|---|"]
    for batch in TRAIN_BATCHES:
        _, warm = loader_rate(windows, batch, min(steps, len(windows) // batch))
        for model in ("mel2d", "grouped1d"):
            rate = step_rate(model, windows, batch, steps=steps, device="cuda")
            lines.append(f"| {model} | {batch} | {rate:.0f} | {warm:.0f} | {warm / rate:.1f}x |")
            print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--doc", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument("--steps", type=int, default=50, help="timed optimizer steps per model and batch")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        parser.error("torch sees no CUDA device here; this benchmark needs a GPU")
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False  # fp32 as the edge serves it
    device = torch.device("cuda")
    host = f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}, CUDA {torch.version.cuda}"
    with tempfile.TemporaryDirectory() as tmp:
        body = ["## CUDA (written by `python -m scripts.bench_cuda`)", "",
                f"On {host}. Untrained weights; default mel2d image {FrontEndConfig().image_shape}.", "",
                "### Forward latency", "", *forward_table(device), "",
                "### Torch reference runner (the model on the GPU) against onnxruntime on the CPU", "",
                *backend_table(Path(tmp)), "", "### Training step (bf16 autocast) against one loader process", "",
                *training_table(Path(tmp), args.steps)]
    replace_section(args.doc, "cuda", "\n".join(body))
    print(f"wrote the cuda section of {args.doc}")


if __name__ == "__main__":
    main()
