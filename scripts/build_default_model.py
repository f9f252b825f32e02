"""`make default-model`: build the model shipped in edge/model/default/ with one command.

    .venv/bin/python -m scripts.build_default_model [--work build/default-model] [--eegs 1200] [--seed 0] \\
        [--members 3] [--epochs N] [--background ../shared/data/eegmat] [--calibrate run|export] [--compare] \\
        [--doc F] [--adapted-from BUNDLE]

For each of --members seeds (seed, seed + 1, ...):
1. `train synth --background` (real eegmat background for half the patients, subjects 18-23 left out),
2. `train fit` with the shipped [model] table and `--unlabelled` the same folder (BatchNorm statistics adapted
   to the real recordings at adapt.bn_share, `[adapt]`);
then 3. `train ensemble` of the members (their mean probability, one graph, with its own temperature fitted on
new synthetic patients, `--temperature-data`), 4. `calibrate run` (export, quantize, parity gates), 5. checks:
Kaggle KL on an evaluation set (`train synth --evaluation`: new patients on the backgrounds of eegmat subjects
18-23, whom no member saw) and on the 12 real sparcnet_iiic segments, alarms of `edge run`'s alarm policy over
the eegmat recordings (healthy adults: every alarm is false), and the demo recording, 6. copies spec.json +
model.onnx (fp32, the reference graph) into edge/model/default/ with its figures in spec.json's
training.default_model, and a fresh SHA256SUMS. `--compare` also trains the same budget and seeds without real
background and writes both figures to the "default-model" section of docs/benchmarks.md. Steps whose output
exists are skipped (rerun to resume; a member refitted since the ensemble was written makes it redone).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
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
from train.synth.evaluation_set import EVAL_SEED_START

REPO = Path(__file__).resolve().parents[1]
SPARCNET = shared_data_dir() / "sparcnet_iiic"
EEGMAT = shared_data_dir() / "eegmat"
SHIPPED = (SPEC_FILE, ONNX_FILE)  # fp32 ONNX: the reference graph every backend can run, 10 MB for mel2d
MAX_BYTES = 12_000_000
DEMO_CANDIDATES = 5
SEIZURE = CLASSES.index("seizure")
# Chosen from the lookahead table (docs/benchmarks.md, section "lookahead"; same recipe at L = 0, 10, 20): L = 10
# and L = 20 met the hard set's detection targets (L = 0 did not), and L = 20 (Kaggle's layout, no padded context
# on Kaggle-layout files) detected the most and held best on the 12 real segments;
# docs/experiments/2026-12-causal-model.md.
SHIPPED_LOOKAHEAD_S = 20.0
# The shipped model averages both hemisphere views inside its graph (train.models.layers.hemisphere_average),
# and three seeds of a small backbone: one tinynet_e scores worse than one mixnet_s on the 12 real segments, but
# three average better (1.017 against 1.084, means over seeds) in 10.8 MB, under the limit that one mixnet_s nearly
# fills (docs/experiments/2026-12-small-members.md).
SHIPPED_MODEL_TOML = '[model]\nkwargs = { flip_average = true, backbone = "tinynet_e" }\n'
SHIPPED_MEMBERS = 3
# Every shipped figure's "held-out": an evaluation set (`train synth --evaluation`) of new synthetic patients on
# the backgrounds of eegmat subjects 18-23, people no member trained on (members draw on subjects 00-17).
HELD_OUT_SEED = EVAL_SEED_START + 200  # + --seed; 9000 and 9100 seed the hard and tuning sets (another generator)
CALIBRATION_SEED = 8000  # + --seed: the new patients the ensemble's temperature is fitted on (a training-type set)


def _run(*argv: str) -> None:
    print("default-model:", " ".join(argv), flush=True)
    subprocess.run([sys.executable, "-c", f"from {argv[0]}.cli import main; main()", *argv[1:]], check=True)


def _tag(background: Path | None) -> str:
    """Work-folder names tell runs on real eegmat background from runs on the model background only."""
    return "real" if background is not None else "plain"


def _side_eegs(eegs: int) -> int:
    """EEGs of the sets beside the members' own (held-out, temperature): a quarter of one member's."""
    return max(eegs // 4, 50)


def _synth(data: Path, *, eegs: int, seed: int, background: Path | None, evaluation: bool = False) -> None:
    """`train synth` into ``data`` unless it is complete; background by its path from the checkout."""
    if (data / "train.csv").is_file():
        return
    shutil.rmtree(data, ignore_errors=True)  # a killed synth leaves a partial folder synth refuses
    extra = ("--background", os.path.relpath(background)) if background is not None else ()
    extra += ("--evaluation",) if evaluation else ()
    _run("train", "synth", "--out", str(data), "--eegs", str(eegs), "--seed", str(seed), *extra)


def build(work: Path, *, eegs: int, seed: int, background: Path | None, epochs: int | None, lookahead: float,
          config: Path | None = None, adapted_from: Path | None = None) -> Path:
    """synth -> fit in ``work``; returns the bundle. ``background`` None: model background only, no adaptation.

    ``adapted_from``: instead of fitting, `train adapt` that bundle (trained by this recipe on this synth data).
    """
    tag = _tag(background)
    if background is not None:  # spec.json records it: the path from the checkout, not this machine's layout
        background = Path(os.path.relpath(background))
    data, bundle = work / f"synth-{tag}-s{seed}", work / f"fit-{tag}-L{lookahead:g}-s{seed}"
    if (bundle / SPEC_FILE).is_file():
        return bundle  # a finished member does not need its data again (calibrate run draws its own in main)
    _synth(data, eegs=eegs, seed=seed, background=background)
    if adapted_from is not None:
        if background is None:
            raise DataError("--adapted-from needs --background: the unlabelled real EEG to adapt to")
        _run("train", "adapt", "--bundle", str(adapted_from), "--data", str(data), "--out", str(bundle),
             "--unlabelled", str(background))
        return bundle
    extra = ("--epochs", str(epochs)) if epochs else ()
    extra += ("--unlabelled", str(background)) if background is not None else ()
    toml = work / f"fit-L{lookahead:g}-s{seed}.toml"
    text = config.read_text() if config is not None else ""
    if "[data]" in text or "[model]" in text:
        raise DataError(f"{config}: set the lookahead with --lookahead; the [model] table is the shipped one")
    toml.write_text(f"[data]\nlookahead_s = {lookahead!r}\n\n{SHIPPED_MODEL_TOML}{text}")
    _run("train", "fit", "--data", str(data), "--out", str(bundle), "--seed", str(seed), "--config", str(toml),
         *extra)
    return bundle


def build_members(work: Path, *, members: int, eegs: int, seed: int, background: Path | None, epochs: int | None,
                  lookahead: float, config: Path | None = None, adapted_from: Path | None = None) -> Path:
    """`members` seeds from ``seed`` on, each on its own synthetic data; more than one: their `train ensemble`."""
    if members > 1 and adapted_from is not None:
        raise DataError("--adapted-from adapts one trained bundle; use it with --members 1")
    bundles = [build(work, eegs=eegs, seed=seed + k, background=background, epochs=epochs, lookahead=lookahead,
                     config=config, adapted_from=adapted_from) for k in range(members)]
    if members == 1:
        return bundles[0]
    tag = _tag(background)
    out = work / f"ensemble-{tag}-L{lookahead:g}-s{seed}x{members}"
    # The average's own temperature: fitted on new patients of a training-type set no member saw (the members'
    # mean is underconfident where they disagree; train/fit/combine.py), never on the held-out evaluation set.
    calibration = work / f"synth-calibration-s{CALIBRATION_SEED + seed}-{tag}"
    # redone when missing, older than a refitted member, or written before ensembles had their own temperature
    done = (out / SPEC_FILE).stat().st_mtime_ns if (out / SPEC_FILE).is_file() else None
    if (done is None or any((b / SPEC_FILE).stat().st_mtime_ns > done for b in bundles)
            or "calibration" not in json.loads((out / SPEC_FILE).read_text()).get("training", {})):
        _synth(calibration, eegs=_side_eegs(eegs), seed=CALIBRATION_SEED + seed, background=background)
        shutil.rmtree(out, ignore_errors=True)
        # spec.json lists the members: by their path from the checkout, not this machine's layout
        _run("train", "ensemble", *(a for b in bundles for a in ("--bundle", os.path.relpath(b))), "--out", str(out),
             "--temperature-data", str(calibration))
    return out


def held_out(work: Path, bundle: Path, *, eegs: int, seed: int, background: Path | None) -> tuple[float, float]:
    """(KL, class-prior KL) on an evaluation set (HELD_OUT_SEED + seed, a quarter of the training EEGs, the same
    background share): patients no member saw, on the backgrounds of people no member saw."""
    from train.fit.evaluate import evaluate_bundle

    data = work / f"synth-held-out-s{HELD_OUT_SEED + seed}-{_tag(background)}"
    _synth(data, eegs=_side_eegs(eegs), seed=HELD_OUT_SEED + seed, background=background, evaluation=True)
    report = evaluate_bundle(bundle, data, device="cpu")
    return round(report.kl, 4), round(report.prior_kl, 4)


def false_alarms(bundle: Path, eegmat: Path) -> dict:
    """Alarms of any level about the target (window, brief, burden levels) that `edge run`'s policy raises over
    every eegmat recording (healthy adults), with subjects 18-23 (never used for training) on their own."""
    from edge.offline.evaluate import replay
    from train.synth.real_background import HELD_OUT_EEGMAT_SUBJECTS, eegmat_subject

    files = sorted(p for p in eegmat.glob("Subject*_*.edf") if eegmat_subject(p) is not None)
    if not files:
        raise DataError(f"{eegmat}: no SubjectNN_k.edf recordings for the false-alarm check")
    config = RunConfig()
    levels = set(config.alarm.level_names)
    logs = replay(files, bundle, config, streams=8)
    figures = {}
    for name, held_out in (("all", None), ("subjects_18_23", True)):
        chosen = [p.stem for p in files if held_out is None or eegmat_subject(p) in HELD_OUT_EEGMAT_SUBJECTS]
        alarms = [a for stem in chosen for a in logs[stem].alarms if a["state"] == "on" and a["level"] in levels]
        smoothed = [p["seizure"] for stem in chosen for p in logs[stem].predictions if p["seizure"] is not None]
        figures[name] = {"files": len(chosen), "hours": round(sum(logs[s].seconds for s in chosen) / 3600, 3),
                         "predictions": sum(len(logs[s].predictions) for s in chosen), "alarms": len(alarms),
                         "alarms_by_level": {lv: sum(a["level"] == lv for a in alarms) for lv in sorted(levels)},
                         "max_smoothed_seizure": round(max(smoothed, default=0.0), 4)}
    return figures


def real_segments(bundle: Path) -> dict:
    """KL, top-1 and the confusion (expert majority -> model top class) on the 12 real segments, through the
    ONNX engine (any shipped bundle runs, old or new), each scored for its labelled centre."""
    from train.fit.evaluate import evaluate_bundle_on_segments

    got = evaluate_bundle_on_segments(bundle, SPARCNET, backend="onnx")
    return {"lookahead_s": got["lookahead_s"], "kl": round(float(got["kl_model"]), 4),
            "top1": f"{round(got['argmax_agreement_model'] * got['segments'])}/{got['segments']}",
            "sparcnet_kl": round(float(got["kl_sparcnet"]), 4),
            "p_seizure_where_2of3_votes": got["p_seizure_where_2of3_votes"], "gpd_top_seizure": got["gpd_top_seizure"],
            "confusion": got["confusion"]}


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


def ship(bundle: Path, figures: dict, *, target: Path = DEFAULT_BUNDLE) -> Path:
    """Copy the small files into the package and record how the model was made and what it scored. A bundle over
    MAX_BYTES is refused and the one shipped before stays as it was."""
    staging = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in SHIPPED:
        shutil.copy2(bundle / name, staging / name)
    spec = load_spec(bundle)
    save_spec(staging, dataclasses.replace(spec, training={**spec.training, "default_model": figures}))
    write_checksums(staging)
    size = sum(p.stat().st_size for p in staging.iterdir())
    if size > MAX_BYTES:
        shutil.rmtree(staging)
        raise DataError(f"the default bundle would be {size / 1e6:.1f} MB (> {MAX_BYTES / 1e6:.0f} MB): "
                        "choose a smaller model")
    previous = target.with_name(f".{target.name}.old")  # swapped by renames: a crash never leaves no bundle
    shutil.rmtree(previous, ignore_errors=True)
    if target.exists():
        target.rename(previous)
    staging.rename(target)
    shutil.rmtree(previous, ignore_errors=True)
    return target


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _temperature(fitted: dict | None) -> str:
    if not fitted:
        return ""
    return (f" The average's temperature: {fitted['temperature']:.3f}, fitted on {fitted['rows']} rows of "
            f"{fitted['data']} (KL {fitted['kl_mean_of_members']:.4f} at 1, {fitted['kl_after']:.4f} fitted).")


def _confusion(figures: dict) -> str:
    return "; ".join(f"{truth} -> " + ", ".join(f"{top} {n}" for top, n in row.items())
                     for truth, row in figures["confusion"].items())


def section(args: argparse.Namespace, figures: dict, old: dict, plain: dict | None) -> str:
    new, eegmat = figures["real_12"], figures["eegmat"]
    old_spec = old["spec"]
    lines = [
        "## Default model (`make default-model`: scripts/build_default_model.py)",
        "",
        f"`{figures['made_by']}`; training data: {figures['training_data']}; lookahead L = {args.lookahead:g} s "
        f"(section \"lookahead\").{_temperature(figures.get('ensemble_temperature'))} Held-out = "
        f"{figures['held_out']}; real 12 = the sparcnet_iiic segments "
        "(expert votes), each scored for its labelled centre through the ONNX engine (`edge predict --kaggle`'s "
        "rule); eegmat = every alarm of any level (window, brief, burden levels) that `edge run`'s default policy "
        "raises over the healthy adults' recordings.",
        "",
        "| model | L s | held-out KL (prior) | real 12 KL | real 12 top-1 | p(seizure) where >= 2/3 seizure votes "
        "| real 12 confusion (expert majority -> model top) |",
        "|---|---|---|---|---|---|---|",
        f"| new (shipped) | {new['lookahead_s']:g} | {figures['held_out_kl']:.3f} ({figures['held_out_prior_kl']:.3f}) "
        f"| {new['kl']:.3f} | {new['top1']} | {new['p_seizure_where_2of3_votes']} | {_confusion(new)} |",
        f"| before{' (the same model.onnx, figures of its last build)' if old['same_graph'] else ''} (held-out: "
        f"{old_spec.get('held_out', 'its own fold-0 patients')}) | "
        f"{old['real_12']['lookahead_s']:g} | {old_spec.get('held_out_kl', float('nan')):.3f} "
        f"({old_spec.get('held_out_prior_kl', float('nan')):.3f}) | {old['real_12']['kl']:.3f} | "
        f"{old['real_12']['top1']} | {old['real_12']['p_seizure_where_2of3_votes']} | {_confusion(old['real_12'])} |",
        "",
        f"SPaRCNet on the same segments: KL {new['sparcnet_kl']:.3f}. eegmat with the new model: "
        f"{eegmat['all']['alarms']} alarms over all {eegmat['all']['files']} recordings "
        f"({eegmat['all']['hours']:.2f} h; "
        f"by level {eegmat['all']['alarms_by_level']}; largest smoothed p(seizure) "
        f"{eegmat['all']['max_smoothed_seizure']:.3f}); subjects 18-23 (never trained on): "
        f"{eegmat['subjects_18_23']['alarms']} alarms over {eegmat['subjects_18_23']['files']} recordings "
        f"(largest smoothed p(seizure) {eegmat['subjects_18_23']['max_smoothed_seizure']:.3f}).",
    ]
    if plain is not None:
        lines += ["", f"Same budget without real background (`--compare`): held-out KL {plain['held_out_kl']:.3f}, "
                  f"real 12 KL {plain['real_12']['kl']:.3f}, top-1 {plain['real_12']['top1']}."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=REPO / "build" / "default-model")
    parser.add_argument("--eegs", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--members", type=int, default=SHIPPED_MEMBERS,
                        help="seeds seed, seed + 1, ... averaged in one graph (1: a single model)")
    parser.add_argument("--epochs", type=int, default=None, help="train fit --epochs (default: the config's)")
    parser.add_argument("--lookahead", type=float, default=SHIPPED_LOOKAHEAD_S,
                        help="data.lookahead_s of the model (docs/benchmarks.md, section lookahead)")
    parser.add_argument("--config", type=Path, default=None, help="train fit TOML on top of the defaults")
    parser.add_argument("--background", type=Path, default=EEGMAT)
    parser.add_argument("--before", type=Path, default=None,
                        help="the model to compare with (default: the one shipped now, which this replaces)")
    parser.add_argument("--adapted-from", type=Path, default=None,
                        help="a bundle trained by this recipe on this synth data: `train adapt` it instead of fitting")
    parser.add_argument("--compare", action="store_true", help="also train without real background")
    parser.add_argument("--calibrate", choices=("run", "export"), default="run",
                        help="`calibrate run` (parity gates) or `calibrate export` only: the shipped fp32 model.onnx "
                             "is the same export either way")
    parser.add_argument("--doc", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    if args.members < 1:
        parser.error(f"--members must be >= 1, got {args.members}")
    args.work.mkdir(parents=True, exist_ok=True)
    recipe = {"members": args.members, "eegs": args.eegs, "seed": args.seed, "epochs": args.epochs,
              "lookahead": args.lookahead, "config": args.config}
    bundle = build_members(args.work, background=args.background, adapted_from=args.adapted_from, **recipe)
    if not (bundle / ONNX_FILE).is_file():
        data = ()
        if args.calibrate == "run":  # calibration and parity windows: the first member's training data
            calibration = args.work / f"synth-{_tag(args.background)}-s{args.seed}"
            _synth(calibration, eegs=args.eegs, seed=args.seed, background=args.background)
            data = ("--data", str(calibration))
        _run("calibrate", args.calibrate, "--bundle", str(bundle), *data)
    before = args.before or DEFAULT_BUNDLE
    old = {"spec": load_spec(before).training.get("default_model", {}), "real_12": real_segments(before),
           "same_graph": _digest(before / ONNX_FILE) == _digest(bundle / ONNX_FILE)}
    held_out_kl, held_out_prior_kl = held_out(args.work, bundle, eegs=args.eegs, seed=args.seed,
                                              background=args.background)
    options = f"--eegs {args.eegs} --seed {args.seed} --members {args.members} --lookahead {args.lookahead:g}" + \
        (f" --epochs {args.epochs}" if args.epochs else "") + (f" --config {args.config}" if args.config else "") + \
        (f" --adapted-from {args.adapted_from}" if args.adapted_from else "")
    figures = {
        "made_by": (f"scripts/build_default_model.py {options}" if args.adapted_from else
                    f"make default-model (scripts/build_default_model.py {options})"),
        "training_data": f"{args.members} x (train synth --eegs {args.eegs} --seed S --background eegmat (subjects "
                         "00-17, half the patients; synthetic patterns, artifacts and votes), train fit --seed S), "
                         f"S = {args.seed}..{args.seed + args.members - 1}; BatchNorm statistics adapted to eegmat "
                         "subjects 00-17 at adapt.bn_share (train fit --unlabelled / train adapt)"
                         + ("" if args.members == 1 else
                            f"; the average's temperature fitted on {_side_eegs(args.eegs)} EEGs of new patients "
                            f"(train synth --seed {CALIBRATION_SEED + args.seed}; train ensemble --temperature-data)"),
        "held_out": f"{_side_eegs(args.eegs)} fresh synthetic EEGs (train synth --evaluation --seed "
                    f"{HELD_OUT_SEED + args.seed}): patients no member saw, real backgrounds of eegmat subjects 18-23",
        "held_out_kl": held_out_kl, "held_out_prior_kl": held_out_prior_kl,
        "ensemble_temperature": load_spec(bundle).training.get("calibration"),
        "real_12": real_segments(bundle),
        "eegmat": false_alarms(bundle, args.background),
    }
    figures["demo_recording"] = demo_recording(bundle, DEMO_RECORDING, args.seed)
    shipped = ship(bundle, figures)
    print(json.dumps(figures, indent=2))
    print(f"default-model: shipped {shipped} ({sum(p.stat().st_size for p in shipped.iterdir()) / 1e6:.1f} MB)")
    plain = None
    if args.compare:
        plain_bundle = build_members(args.work, background=None, **recipe)
        if not (plain_bundle / ONNX_FILE).is_file():
            _run("calibrate", "export", "--bundle", str(plain_bundle))
        plain = {"held_out_kl": held_out(args.work, plain_bundle, eegs=args.eegs, seed=args.seed, background=None)[0],
                 "real_12": real_segments(plain_bundle)}
    body = section(args, figures, old, plain)
    replace_section(args.doc, "default-model", body, outputs=(DEFAULT_BUNDLE, DEMO_RECORDING))
    print(body)


if __name__ == "__main__":
    main()
