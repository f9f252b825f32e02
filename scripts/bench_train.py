"""Write the "train" section of docs/benchmarks.md from measurements and trained bundles.

Measures, on this machine: training throughput (windows/s through the full training step: augment,
forward, KL, backward, clip, AdamW) for each default model, and the loader alone (memmap windows with
random shifts through the DataLoader). Then tabulates trained bundles (their metrics.json: held-out KL
vs the class prior, time), scores them on the 12 real sparcnet_iiic segments
(train.fit.evaluate.evaluate_bundle_on_segments),
compares bundles' KL on training-fold and held-out rows (overfitting or not), and plots a 2-process
torchrun loss curve against a 1-process one.

    .venv/bin/python -m scripts.bench_train [--data DIR] [--steps 20] [--bundle B]... \\
        [--fit-gap BUNDLE DATA]... [--ddp SINGLE_BUNDLE DDP_BUNDLE] [--command "how the bundles were made"]... \\
        [--doc docs/benchmarks.md]

The CUDA figures (step_rate on the GPU) are written by scripts/bench_cuda.py.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

if not __package__:  # run as a file (python scripts/bench_train.py): make the `scripts` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.testing import shared_data_dir
from scripts.bench_common import loader_rate, replace_section, step_rate
from train.data import build_window_set
from train.fit.config import FitConfig
from train.fit.evaluate import evaluate_bundle_on_segments

REPO = Path(__file__).resolve().parents[1]
FIGURE = "figures/train_ddp_vs_single.png"  # relative to the benchmarks document


def throughput_table(data: Path, steps: int) -> list[str]:
    windows = build_window_set(data, split="train", margin=400)
    batch = FitConfig().optim.batch_size
    cold, warm = loader_rate(windows, batch, min(steps * 4, len(windows) // batch))
    lines = ["| model | training step, windows/s | loader, first read, windows/s | loader, page cache, windows/s | "
             "loader (page cache) / step |", "|---|---|---|---|---|"]
    for model in ("mel2d", "grouped1d"):
        rate = step_rate(model, windows, batch, steps=steps)
        lines.append(f"| {model} (defaults) | {rate:.1f} | {cold:.0f} | {warm:.0f} | {warm / rate:.0f}x |")
        print(lines[-1], flush=True)
    return lines


def bundle_rows(bundles: list[Path], sparcnet: Path) -> list[str]:
    lines = ["| bundle | model | EEGs (patients) | held-out rows | held-out KL | class-prior KL | ratio | fit wall s | "
             "fit CPU s | real 12: KL | real 12: prior KL | real 12: SPaRCNet KL |", "|" + "---|" * 12]
    for bundle in bundles:
        metrics = json.loads((bundle / "metrics.json").read_text())
        spec = json.loads((bundle / "spec.json").read_text())
        data = spec["training"]["data"]
        real = evaluate_bundle_on_segments(bundle, sparcnet) if sparcnet.is_dir() else None
        cells = [bundle.name, spec["model"], f"{data['eegs']} ({data['patients']})", str(metrics["oof_rows"]),
                 f"{metrics['oof_kl']:.3f}", f"{metrics['oof_prior_kl']:.3f}",
                 f"{metrics['oof_kl'] / metrics['oof_prior_kl']:.2f}", f"{metrics['wall_seconds']:.0f}",
                 f"{metrics['cpu_seconds']:.0f}"]
        cells += ([f"{real['kl_model']:.3f}", f"{real['kl_class_prior']:.3f}", f"{real['kl_sparcnet']:.3f}"]
                  if real else ["n/a"] * 3)
        lines.append("| " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    return lines


def fit_gap_rows(pairs: list[tuple[Path, Path]], rows: int = 800) -> list[str]:
    """KL of each bundle on `rows` sampled training rows against as many rows of its shipped fold's held-out
    patients: a model that overfits its training patients scores much better on the first."""
    from calibrate.windows_plan import load_window_set, validation_rows
    from train.checkpoint import load_bundle_model
    from train.fit.evaluate import evaluate_predictions, predict_probs

    lines = ["| bundle | training-fold rows: KL | held-out rows: KL | class-prior KL (training / held-out) |",
             "|---|---|---|---|"]
    window_sets = {}
    for bundle, data in pairs:
        model, spec = load_bundle_model(bundle)
        if data not in window_sets:  # bundles fitted on the same data share one window set
            window_sets[data] = load_window_set(data)
        windows = window_sets[data]
        held = validation_rows(spec, data, np.asarray(windows.patient_ids))
        if held is None:
            raise SystemExit(f"--fit-gap: {bundle} ships no fold's model fitted on {data}; give the data it was "
                             "fitted on and a bundle written with cv.final = \"fold\"")
        targets = np.asarray(windows.targets, dtype=np.float64)
        prior = np.asarray(spec.training["data"]["class_prior"])
        rng = np.random.default_rng(0)
        reports = []
        for part in (np.setdiff1d(np.arange(len(windows)), held), held):
            sample = np.sort(rng.choice(part, min(rows, len(part)), replace=False))
            probs = predict_probs(model, windows, sample, batch_size=32, device=torch.device("cpu"))
            reports.append(evaluate_predictions(targets[sample], probs, prior))
        train, test = reports
        lines.append(f"| {bundle.name} | {train.kl:.3f} | {test.kl:.3f} | {train.prior_kl:.3f} / {test.prior_kl:.3f} |")
        print(lines[-1], flush=True)
    return lines


def ddp_figure(single: Path, ddp: Path, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = {}
    for label, bundle in (("1 process", single), ("torchrun, 2 processes (gloo)", ddp)):
        curve = json.loads((bundle / "metrics.json").read_text())["curves"]["fold0"]
        curves[label] = (np.asarray(curve["step"]), np.asarray(curve["loss"]))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, (steps, loss) in curves.items():
        ax.plot(steps, loss, marker=".", label=label)
    ax.set(xlabel="optimizer step (same global batch)", ylabel="training loss", title="DDP vs single process")
    ax.grid(alpha=0.3)
    ax.legend()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    (s_steps, s_loss), (d_steps, d_loss) = curves.values()
    corr = float(np.corrcoef(s_loss, d_loss)[0, 1]) if np.array_equal(s_steps, d_steps) else float("nan")
    return [f"![DDP vs single-process loss]({FIGURE})", "",
            f"{len(s_steps)} steps each; Pearson correlation of the two loss curves: {corr:.2f}; mean loss "
            f"{s_loss.mean():.3f} (1 process) vs {d_loss.mean():.3f} (2 processes)."]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="Kaggle layout to time on (default: 80 synthetic EEGs)")
    parser.add_argument("--steps", type=int, default=20, help="timed optimizer steps per model")
    parser.add_argument("--bundle", type=Path, action="append", default=[], help="trained bundle to tabulate")
    parser.add_argument("--fit-gap", type=Path, nargs=2, action="append", default=[], metavar=("BUNDLE", "DATA"),
                        help="score a bundle on its shipped fold's training and held-out rows of the data it was "
                        "fitted on")
    parser.add_argument("--ddp", type=Path, nargs=2, metavar=("SINGLE", "DDP"), help="bundles for the DDP figure")
    parser.add_argument("--command", action="append", default=[], help="command line that made the bundles")
    parser.add_argument("--sparcnet", type=Path, default=shared_data_dir() / "sparcnet_iiic")
    parser.add_argument("--doc", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            from train.synth.generate import SynthConfig, generate_dataset

            data = generate_dataset(Path(tmp) / "synth", SynthConfig(n_eegs=80, seed=0, max_seconds=60)).out
        host = f"{platform.machine()}, {os.cpu_count()} CPU(s), torch {torch.__version__}, " \
               f"{torch.get_num_threads()} threads, batch {FitConfig().optim.batch_size}"
        load_before = os.getloadavg()[0]
        rates = throughput_table(data, args.steps)
        body = ["## Training (`train fit`)", "", f"Written by `python -m scripts.bench_train` ({host}); 1-minute load "
                f"average {load_before:.1f} before and {os.getloadavg()[0]:.1f} after the throughput runs (a load "
                "above the timed run's own threads means shared cores, and rates that are lower bounds).", "",
                "### Throughput", "", *rates]
    if args.bundle:
        body += ["", "### Trained bundles (held-out patients; real 12 = sparcnet_iiic segments)", "",
                 "Held-out KL: fold 0 of 5 patient-grouped folds, every labelled window of the held-out patients; "
                 "the class-prior baseline predicts the training rows' mean target. The bundle ships fold 0's "
                 "model (`cv.final = \"fold\"`): no extra training, and the held-out KL is measured on exactly "
                 "the shipped weights.", "", *(f"    {c}" for c in args.command), "",
                 *bundle_rows(args.bundle, args.sparcnet)]
    if args.fit_gap:
        body += ["", "### Training-fold against held-out rows", "",
                 "800 rows sampled from the training folds and 800 from the shipped fold's held-out patients, "
                 "unshifted windows, the shipped weights (`--fit-gap BUNDLE DATA`). Equal figures mean the model "
                 "does not overfit its training patients: what it lacks is signal, not regularisation.", "",
                 *fit_gap_rows(args.fit_gap)]
    if args.ddp:
        body += ["", "### torchrun DDP on CPU", "", *ddp_figure(*args.ddp, args.doc.parent / FIGURE)]
    replace_section(args.doc, "train", "\n".join(body))
    print(f"wrote the train section of {args.doc}")


if __name__ == "__main__":
    main()
