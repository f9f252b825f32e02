"""`make default-model`: build the model shipped in edge/model/default/ with one command.

    .venv/bin/python -m scripts.build_default_model [--work build/default-model] [--eegs 1200] [--seed 0] \\
        [--epochs N] [--background ../shared/data/eegmat] [--calibrate run|export] [--compare] [--doc F]

1. `train synth --background` (real eegmat background for half the patients, subjects 18-23 left out),
2. `train fit` with the default config, 3. `calibrate run` (export, quantize, parity gates),
4. checks: Kaggle KL on the 12 real sparcnet_iiic segments, seizure alarms of `edge run`'s alarm policy
   over eegmat subjects 18-23 (healthy adults: every alarm is false), and the demo recording,
5. copies spec.json + model.onnx (fp32, the reference graph) into edge/model/default/ with its figures in
   spec.json's training.default_model, and a fresh SHA256SUMS.
`--compare` also trains the same budget and seed without real background and writes both figures to the
"default-model" section of docs/benchmarks.md. Steps whose output exists are skipped (rerun to resume).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

if not __package__:  # run as a file: make the `scripts` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.config import RunConfig
from edge.contract import CLASSES
from edge.errors import DataError
from edge.model.bundle import ONNX_FILE, SPEC_FILE, load_spec, save_spec, write_checksums
from edge.model.shipped import DEFAULT_BUNDLE, DEMO_RECORDING
from edge.testing import shared_data_dir
from scripts.bench_common import replace_section
from train.fit.evaluate import evaluate_bundle_on_segments as sparcnet_kl

REPO = Path(__file__).resolve().parents[1]
SPARCNET = shared_data_dir() / "sparcnet_iiic"
EEGMAT = shared_data_dir() / "eegmat"
SHIPPED = (SPEC_FILE, ONNX_FILE)  # fp32 ONNX: the reference graph every backend can run, 10 MB for mel2d
MAX_BYTES = 12_000_000
DEMO_CANDIDATES = 5
SEIZURE = CLASSES.index("seizure")


def _run(*argv: str) -> None:
    print("default-model:", " ".join(argv), flush=True)
    subprocess.run([sys.executable, "-c", f"from {argv[0]}.cli import main; main()", *argv[1:]], check=True)


def build(work: Path, *, eegs: int, seed: int, background: Path | None, epochs: int | None) -> Path:
    """synth -> fit -> calibrate run in ``work``; returns the bundle. ``background`` None: model background only."""
    tag = "real" if background is not None else "plain"
    data, bundle = work / f"synth-{tag}", work / f"fit-{tag}"
    if not (data / "train.csv").is_file():
        shutil.rmtree(data, ignore_errors=True)  # a killed synth leaves a partial folder synth refuses
        extra = ("--background", str(background)) if background is not None else ()
        _run("train", "synth", "--out", str(data), "--eegs", str(eegs), "--seed", str(seed), *extra)
    if not (bundle / SPEC_FILE).is_file():
        extra = ("--epochs", str(epochs)) if epochs else ()
        _run("train", "fit", "--data", str(data), "--out", str(bundle), "--seed", str(seed), *extra)
    return bundle


def false_alarms(bundle: Path, eegmat: Path) -> dict:
    """Seizure alarms (any level) that `edge run`'s policy raises over eegmat subjects 18-23."""
    from edge.offline.evaluate import replay
    from train.synth.real_background import HELD_OUT_EEGMAT_SUBJECTS, eegmat_subject

    files = sorted(p for p in eegmat.glob("Subject*_*.edf") if eegmat_subject(p) in HELD_OUT_EEGMAT_SUBJECTS)
    if not files:
        raise DataError(f"{eegmat}: no SubjectNN_k.edf of subjects 18-23 for the false-alarm check")
    logs = replay(files, bundle, RunConfig(), streams=4)
    alarms = [a for log in logs.values() for a in log.alarms if a["state"] == "on" and a["class"] == "seizure"]
    smoothed = [p["seizure"] for log in logs.values() for p in log.predictions if p["seizure"] is not None]
    return {"files": len(files), "hours": sum(log.seconds for log in logs.values()) / 3600,
            "predictions": sum(len(log.predictions) for log in logs.values()), "seizure_alarms": len(alarms),
            "smoothed_predictions": len(smoothed), "max_smoothed_seizure": round(max(smoothed, default=0.0), 4)}


def demo_recording(bundle: Path, out: Path, seed: int) -> dict:
    """The clearest of a few synthetic 90 s seizures (model background, a patient the model never saw): the
    one whose windows the model gives the highest mean seizure probability, kept only if it calls it seizure."""
    from edge.model.engine import Engine
    from edge.offline.predict import predict_files
    from train.data.writer import write_eeg_parquet
    from train.synth.background import draw_patient
    from train.synth.generate import synth_recording

    best: tuple[float, float, np.ndarray] | None = None
    with Engine(bundle, "onnxruntime") as engine:
        for k in range(DEMO_CANDIDATES):
            rng = np.random.default_rng([seed, 99, k])
            signals = synth_recording(rng, draw_patient(rng, 1), SEIZURE, seconds=90,
                                      offsets_s=np.arange(0.0, 41.0, 2.0), strength=1.0)
            candidate = out.with_suffix(f".{k}.tmp.parquet")
            write_eeg_parquet(candidate, signals)
            probs = np.array([[r["probs"][c] for c in CLASSES] for r in predict_files([candidate], engine)
                              if r["type"] == "prediction"])
            candidate.unlink()
            called = float((probs.argmax(1) == SEIZURE).mean())
            if best is None or probs[:, SEIZURE].mean() > best[0]:
                best = (float(probs[:, SEIZURE].mean()), called, signals)
    assert best is not None
    if best[1] < 0.5:
        raise DataError(f"the model calls none of {DEMO_CANDIDATES} synthetic seizures seizure in most windows "
                        f"(best: {best[1]:.0%}); the demo would show a miss, so nothing was shipped")
    write_eeg_parquet(out, best[2])
    return {"mean_p_seizure": round(best[0], 3), "windows_called_seizure": round(best[1], 3)}


def ship(bundle: Path, figures: dict) -> Path:
    """Copy the small files into the package and record how the model was made and what it scored."""
    staging = DEFAULT_BUNDLE.with_name(".default.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in SHIPPED:
        shutil.copy2(bundle / name, staging / name)
    spec = load_spec(bundle)
    save_spec(staging, dataclasses.replace(spec, training={**spec.training, "default_model": figures}))
    write_checksums(staging)
    size = sum(p.stat().st_size for p in staging.iterdir())
    if size > MAX_BYTES:
        raise DataError(f"the default bundle would be {size / 1e6:.1f} MB (> {MAX_BYTES / 1e6:.0f} MB): "
                        "choose a smaller model")
    shutil.rmtree(DEFAULT_BUNDLE, ignore_errors=True)
    staging.rename(DEFAULT_BUNDLE)
    return DEFAULT_BUNDLE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=REPO / "build" / "default-model")
    parser.add_argument("--eegs", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None, help="train fit --epochs (default: the config's)")
    parser.add_argument("--background", type=Path, default=EEGMAT)
    parser.add_argument("--compare", action="store_true", help="also train without real background")
    parser.add_argument("--calibrate", choices=("run", "export"), default="run",
                        help="`calibrate run` (parity gates) or `calibrate export` only: the shipped fp32 model.onnx "
                             "is the same export either way")
    parser.add_argument("--doc", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    bundle = build(args.work, eegs=args.eegs, seed=args.seed, background=args.background, epochs=args.epochs)
    if not (bundle / ONNX_FILE).is_file():
        data = ("--data", str(args.work / "synth-real")) if args.calibrate == "run" else ()
        _run("calibrate", args.calibrate, "--bundle", str(bundle), *data)
    metrics = json.loads((bundle / "metrics.json").read_text())
    real12 = sparcnet_kl(bundle, SPARCNET)
    figures = {
        "made_by": f"make default-model (scripts/build_default_model.py --eegs {args.eegs} --seed {args.seed}"
                   + (f" --epochs {args.epochs})" if args.epochs else ")"),
        "training_data": f"train synth --eegs {args.eegs} --seed {args.seed} --background eegmat (subjects 00-17, "
                         "half the patients; synthetic patterns, artifacts and votes)",
        "held_out_kl": round(metrics["oof_kl"], 4), "held_out_prior_kl": round(metrics["oof_prior_kl"], 4),
        "sparcnet_iiic_kl": round(real12["kl_model"], 4), "sparcnet_iiic_prior_kl": round(real12["kl_class_prior"], 4),
        "sparcnet_iiic_sparcnet_kl": round(real12["kl_sparcnet"], 4),
        "eegmat_18_23": false_alarms(bundle, args.background),
    }
    figures["demo_recording"] = demo_recording(bundle, DEMO_RECORDING, args.seed)
    shipped = ship(bundle, figures)
    print(json.dumps(figures, indent=2))
    print(f"default-model: shipped {shipped} ({sum(p.stat().st_size for p in shipped.iterdir()) / 1e6:.1f} MB)")
    if args.compare:
        plain = build(args.work, eegs=args.eegs, seed=args.seed, background=None, epochs=args.epochs)
        p12 = sparcnet_kl(plain, SPARCNET)
        plain_metrics = json.loads((plain / "metrics.json").read_text())
        lines = [
            "## Default model: real against model background (`scripts/build_default_model.py --compare`)",
            "",
            f"Same budget and seeds: `train synth --eegs {args.eegs} --seed {args.seed}` with and without "
            "`--background ../shared/data/eegmat` (half the patients on real background), then `train fit` "
            f"with the default config (seed {args.seed}{f', --epochs {args.epochs}' if args.epochs else ''}). "
            "Held-out = synthetic patients of fold 0; real 12 = the "
            "sparcnet_iiic segments (expert votes).",
            "",
            "| background | held-out KL (prior) | real 12: KL | real 12: class prior | real 12: SPaRCNet |",
            "|---|---|---|---|---|",
            f"| model only | {plain_metrics['oof_kl']:.3f} ({plain_metrics['oof_prior_kl']:.3f}) | "
            f"{p12['kl_model']:.3f} | {p12['kl_class_prior']:.3f} | {p12['kl_sparcnet']:.3f} |",
            f"| real (eegmat) for half the patients | {metrics['oof_kl']:.3f} ({metrics['oof_prior_kl']:.3f}) | "
            f"{real12['kl_model']:.3f} | {real12['kl_class_prior']:.3f} | {real12['kl_sparcnet']:.3f} |",
            "",
            f"Shipped (real background): over eegmat subjects 18-23 ({figures['eegmat_18_23']['files']} recordings, "
            f"{figures['eegmat_18_23']['hours']:.2f} h, healthy adults, replayed through `edge run`'s alarm policy) it "
            f"raised {figures['eegmat_18_23']['seizure_alarms']} seizure alarms (largest smoothed seizure "
            f"probability {figures['eegmat_18_23']['max_smoothed_seizure']:.3f}).",
        ]
        replace_section(args.doc, "default-model", "\n".join(lines))
        print("\n".join(lines))


if __name__ == "__main__":
    main()
