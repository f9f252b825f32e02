"""`make demo TRAIN=1` (`python -m train.demo`): build a small model from synthetic data, then run `edge demo` on it.

The default `make demo` needs none of this: it runs the model shipped in the package. This path shows
the whole pipeline (synth -> fit -> export -> live replay) in a few minutes; its tiny model is worse
than the shipped one. The steps run as `train` / `calibrate` subprocesses, as a user would type them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

from edge.contract import VOTE_COLUMNS
from edge.errors import EegEdgeError
from edge.model.bundle import ONNX_FILE

DEMO_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "demo.toml"


def _command(package: str, *args: str) -> None:
    """Run `train ...` / `calibrate ...` in a child process with this interpreter."""
    argv = [sys.executable, "-c", f"from {package}.cli import main; main()", *args]
    print(f"demo: {package} {' '.join(args)}", flush=True)
    result = subprocess.run(argv, check=False)
    if result.returncode != 0:
        raise EegEdgeError(f"`{package} {' '.join(args)}` failed (exit {result.returncode}); see its output above")


def build_demo_bundle(out: Path) -> Path:
    bundle, data = out / "bundle", out / "synth"
    if (bundle / ONNX_FILE).is_file():
        return bundle
    if not any(data.rglob("*.parquet")):
        _command("train", "synth", "--out", str(data), "--eegs", "60", "--patients", "12", "--seed", "0")
    _command("train", "fit", "--data", str(data), "--out", str(bundle), "--config", str(DEMO_CONFIG))
    _command("calibrate", "export", "--bundle", str(bundle))
    return bundle


def pick_recording(data: Path) -> Path:
    """The EEG of ``data`` (a Kaggle layout) with the largest share of seizure votes."""
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(data / "train.csv").to_pydict()
    totals = np.array([sum(table[c][i] for c in VOTE_COLUMNS) for i in range(len(table["eeg_id"]))])
    share = np.array(table[VOTE_COLUMNS[0]]) / np.maximum(totals, 1)
    return data / "train_eegs" / f"{table['eeg_id'][int(np.argmax(share))]}.parquet"


def main() -> None:
    from edge.demo import run_demo

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("demo-out"))
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--speed", type=float, default=5.0)
    args = parser.parse_args()
    try:
        bundle = build_demo_bundle(args.out)
        run_demo(args.out, bundle, pick_recording(args.out / "synth"), seconds=args.seconds, speed=args.speed)
    except EegEdgeError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
