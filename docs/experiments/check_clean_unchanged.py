"""Clean recordings are unaffected by the validity checks (issue 16): compare `predict` before and after.

The `edge` package of a base commit (before the checks) runs in a subprocess on the same files and the
same bundle as the working tree. For every window it reports whether it was predicted, a hash of the
exact model input, and the probabilities. A window predicted before and refused now is listed with
the reason; the figures say how many windows kept identical input and how far probabilities moved.

A record of issue 16, kept with its figures (docs/reliability.md): run it from a checkout of f7595c1, where
scripts/check_clean_unchanged.py lived and c27e85b's module paths still matched:

    .venv/bin/python scripts/check_clean_unchanged.py --base c27e85b \\
        --synthetic /work/scratch/t1/syn [--eegmat]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"

# Runs in the subprocess with the base commit's `edge` first on sys.path; prints one JSON line per window.
BASE_RUN = """
import hashlib, json, sys
import numpy as np
import edge
from edge.config import ChainConfig
from edge.model.engine import Engine
from edge.offline.predict import file_windows
from edge.testing import build_test_bundle
from pathlib import Path
assert edge.__file__.startswith(sys.argv[1]), edge.__file__
bundle = Path(sys.argv[2])
if not bundle.exists():
    build_test_bundle(bundle)
with Engine(bundle, "onnxruntime") as engine:
    for path in sys.argv[3:]:
        windows = list(file_windows(path, ChainConfig()))
        probs = engine.predict(np.stack([w.data for w in windows])) if windows else []
        for w, p in zip(windows, probs):
            print(json.dumps({"file": path, "start": w.start_sample, "flagged": w.flagged,
                              "input": hashlib.sha1(w.data.tobytes()).hexdigest(), "probs": p.tolist()}))
"""


def extract(base: str, tree: Path) -> Path:
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", base, "edge"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


def base_windows(tree: Path, bundle: Path, files: list[Path]) -> dict[tuple[str, int], dict]:
    out = subprocess.run([sys.executable, "-c", BASE_RUN, str(tree), str(bundle), *map(str, files)], check=True,
                         capture_output=True, text=True, env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
                         cwd=tree)
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    return {(r["file"], r["start"]): r for r in rows}


def new_windows(bundle: Path, files: list[Path]) -> dict[tuple[str, int], dict]:
    from edge.chain.signal_chain import Window
    from edge.config import ChainConfig
    from edge.model.engine import Engine
    from edge.offline.predict import file_windows

    found = {}
    with Engine(bundle, "onnxruntime") as engine:
        for path in files:
            for event in file_windows(path, ChainConfig()):
                key = (str(path), event.start_sample if isinstance(event, Window) else event.detail["start_sample"])
                if isinstance(event, Window):
                    probs = engine.predict(event.data[None])[0]
                    found[key] = {"flagged": event.flagged, "eligible": event.alarm_eligible,
                                  "input": hashlib.sha1(event.data.tobytes()).hexdigest(),
                                  "probs": probs.tolist(),
                                  "flags": sorted(k for k, v in event.quality.items() if v)}
                else:
                    found[key] = {"refused": event.kind, "message": event.message}
    return found


def compare(name: str, files: list[Path], tree: Path, *, bundle: Path) -> None:
    before = base_windows(tree, bundle, files)
    after = new_windows(bundle, files)
    assert set(before) == set(after), "the two versions cut different windows"
    refused = {k: after[k] for k in before if "refused" in after[k]}
    kept = [k for k in before if "refused" not in after[k]]
    same_input = sum(before[k]["input"] == after[k]["input"] for k in kept)
    worst = max((abs(a - b) for k in kept for a, b in zip(before[k]["probs"], after[k]["probs"], strict=True)),
                default=0.0)
    flagged_before = sum(r["flagged"] for r in before.values())
    flagged_after = Counter(f for k in kept for f in after[k]["flags"])
    print(f"{name}: {len(files)} files, {len(before)} windows predicted before; refused now {len(refused)}; "
          f"model input identical {same_input}/{len(kept)}; max |delta p| {worst:.3g}; flagged before "
          f"{flagged_before}, now {sum(after[k]['flagged'] for k in kept)} ({dict(flagged_after)}); "
          f"alarm-eligible now {sum(after[k]['eligible'] for k in kept)}/{len(kept)}")
    for (path, start), record in sorted(refused.items()):
        print(f"  refused {Path(path).name} @ {start / 200:.0f} s: {record['refused']}: {record['message']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="commit before the validity checks (e.g. c27e85b)")
    parser.add_argument("--synthetic", type=Path, help="a `train synth` output directory (Kaggle layout)")
    parser.add_argument("--eegmat", action="store_true", help="also the 48 eegmat EDF recordings (healthy)")
    args = parser.parse_args()
    sets = {"sparcnet_iiic": sorted((SHARED / "sparcnet_iiic").glob("*.parquet")),
            "tests/data": sorted((REPO / "tests" / "data").glob("*.parquet")),
            "hms": sorted((SHARED / "hms").glob("*_eeg_*.parquet"))}
    if args.synthetic:
        sets["synthetic"] = sorted(args.synthetic.glob("*_eegs/*.parquet"))
    if args.eegmat:
        sets["eegmat"] = sorted((SHARED / "eegmat").glob("*.edf"))
    with tempfile.TemporaryDirectory() as tmp:
        tree = extract(args.base, Path(tmp) / "base")
        bundle = Path(tmp) / "test-onnx"  # built by the base version, so both versions load the same files
        for name, files in sets.items():
            compare(name, files, tree, bundle=bundle)


if __name__ == "__main__":
    main()
