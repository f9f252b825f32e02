"""Event-level figures -> docs/benchmarks.md (section "evaluate"), from the output folders of `edge evaluate
--out DIR` runs (summary.json, scores.csv, run.json): long synthetic recordings with annotated seizures
(`train synth --continuous`) and real EEG without any seizure (eegmat: every alarm there is false).

    train synth --continuous 24 --out cont24 --seed 0
    nice -n 10 edge evaluate cont24/*.parquet --annotations cont24/events.csv --bundle B --out eval24 \
        --streams 24 --level seizure --level window,seizure --level window,seizure,prolonged,status_epilepticus
    nice -n 10 edge evaluate ../shared/data/eegmat/*.edf --bundle B --out evalmat --streams 16 --level ... (same)
    .venv/bin/python scripts/bench_evaluate.py --eval synthetic=eval24 --eval "eegmat (no seizures)"=evalmat
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from pathlib import Path

from bench_common import replace_section

from edge.offline.annotations import read_annotations

REPO = Path(__file__).resolve().parent.parent


def _share(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f} %"


def _number(v: float | None, spec: str = ".0f") -> str:
    return "-" if v is None else format(v, spec)


def command(run: dict, out: Path) -> str:
    """The `edge evaluate` command a run.json describes (recordings folded to a glob per folder)."""
    folders = sorted({str(Path(p).parent / f"*{Path(p).suffix}") for p in run["recordings"]})
    parts = ["edge evaluate", *folders]
    if run["annotations"]:
        parts += ["--annotations", run["annotations"]]
    parts += ["--bundle", run["bundle"], "--out", str(out), "--streams", str(run["streams"])]
    parts += [f"--level {','.join(levels)}" for levels in run["level_sets"]]
    return " ".join(parts)


def section(evals: list[tuple[str, Path]]) -> str:
    rows, notes, per_recording = [], [], []
    for name, folder in evals:
        run = json.loads((folder / "run.json").read_text())
        notes.append(f"- {name}: `{command(run, folder)}`; {len(run['recordings'])} recordings replayed in "
                     f"{run['replay_s']:.0f} s.")
        for s in json.loads((folder / "summary.json").read_text()):
            rows.append(f"| {name} | {' + '.join(s['levels'])} | {s['hours']:.1f} | {s['detected']}/{s['seizures']} "
                        f"({_share(s['sensitivity'])}) | {_share(s['precision'])} | {s['false_alarms']} | "
                        f"{s['false_alarms_per_24h']:.2f} | {_number(s['latency_median_s'])} | "
                        f"{_number(s['latency_p90_s'])} | {_number(s['burden_mae_pp'], '.2f')} |")
        with (folder / "scores.csv").open() as f:
            scored = [r for r in csv.DictReader(f) if int(r["seizures"]) or int(r["false_alarms"])]
        levels = " + ".join(json.loads((folder / "summary.json").read_text())[0]["levels"])
        annotations = read_annotations(run["annotations"]) if run["annotations"] else []
        seizures = [a for a in annotations if a.label == "seizure"]
        for r in scored:
            lengths = " ".join(f"{a.offset_s - a.onset_s:.0f}" for a in seizures if a.file == r["file"]) or "-"
            mae = f"{float(r['burden_mae_pp']):.2f}" if r["burden_mae_pp"] else "-"
            per_recording.append(f"| {name} | {r['file']} | {lengths} | {r['detected']}/{r['seizures']} | "
                                 f"{r['false_alarms']} | {r['latencies_s'] or '-'} | {mae} |")
    return "\n".join([
        "## Event-level evaluation (`edge evaluate`; written by `scripts/bench_evaluate.py`)",
        "",
        "Recordings replayed through the live Runtime (file sources, default [run] policy), scored SzCORE "
        "any-overlap (docs/monitoring.md); latency = alarm time - annotated onset; burden MAE over predictions "
        f"with full 5 min coverage. Load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores when written.",
        "",
        *notes,
        "",
        "| data | levels scored | hours | seizures detected | precision | false alarms | per 24 h | median latency s "
        "| P90 latency s | burden MAE pp |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Recordings with a seizure or a false alarm (first level set, {levels}):",
        "",
        "| data | recording | seizure lengths s | detected | false alarms | latencies s | burden MAE pp |",
        "|---|---|---|---|---|---|---|",
        *per_recording,
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval", action="append", required=True, metavar="NAME=DIR",
                        help="a name for the data and an `edge evaluate --out` folder (repeat)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    evals = [(text.split("=", 1)[0], Path(text.split("=", 1)[1])) for text in args.eval]
    body = section(evals)
    print(body)
    replace_section(args.out, "evaluate", body)


if __name__ == "__main__":
    main()
