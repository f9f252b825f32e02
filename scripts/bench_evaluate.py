"""Event-level figures -> docs/benchmarks.md (section "evaluate"), from the output folders of `edge evaluate
--out DIR` runs (summary.json, scores.csv, run.json): long synthetic recordings with annotated seizures
(`train synth --continuous`) and real EEG without any seizure (eegmat: every alarm there is false).

    train synth --continuous 24 --hard --seed 9000 --out hard24
    nice -n 10 edge evaluate hard24/*.parquet --annotations hard24/events.csv --bundle B --out eval24 \
        --streams 8 --level brief,seizure --level window,brief,seizure,prolonged,status_epilepticus
    nice -n 10 edge evaluate ../shared/data/eegmat/*.edf --bundle B --out evalmat --streams 16 --level ... (same)
    .venv/bin/python scripts/bench_evaluate.py --eval "synthetic, hard"=eval24 --eval "eegmat (no seizures)"=evalmat
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from pathlib import Path

from bench_common import replace_section

from edge.offline.annotations import read_annotations
from edge.offline.intervals import format_interval

REPO = Path(__file__).resolve().parent.parent


def _share(v: list) -> str:
    """A (value, low, high) share as '90.0 % (80, 95)'."""
    return format_interval(v, ".1f", scale=100, unit=" %", brackets="()")


def _number(v: list, spec: str = ".0f") -> str:
    return format_interval(v, spec, brackets="()")


def command(run: dict, out: Path) -> str:
    """The `edge evaluate` command a run.json describes (recordings folded to a glob per folder)."""
    folders = sorted({str(Path(p).parent / f"*{Path(p).suffix}") for p in run["recordings"]})
    parts = ["edge evaluate", *folders]
    if run["annotations"]:
        parts += ["--annotations", run["annotations"]]
    bundle = Path(run["bundle"]).resolve()  # the shipped model's path as a clone of this repository names it
    parts += ["--bundle", str(bundle.relative_to(REPO) if bundle.is_relative_to(REPO) else run["bundle"]),
              "--out", str(out), "--streams", str(run["streams"])]
    parts += [f"--level {','.join(levels)}" for levels in run["level_sets"]]
    return " ".join(parts)


def section(evals: list[tuple[str, Path]], note: str = "") -> str:
    rows, notes, per_recording = [], [], []
    for name, folder in evals:
        run = json.loads((folder / "run.json").read_text())
        notes.append(f"- {name}: `{command(run, folder)}`; {len(run['recordings'])} recordings replayed in "
                     f"{run['replay_s']:.0f} s.")
        for s in json.loads((folder / "summary.json").read_text()):
            event, sample = s["szcore_event"], s["szcore_sample"]
            rows.append(f"| {name} | {' + '.join(s['levels'])} | {s['hours']:.1f} ({s['monitored_hours']:.1f}) | "
                        f"{event['tp']}/{event['ref']}: {_share(event['sensitivity'])} | "
                        f"{_share(event['precision'])} | "
                        f"{_share(event['f1'])} | {event['fp']}: {_number(event['fp_per_24h'], '.1f')} | "
                        f"{_share(sample['sensitivity'])} | {s['detected']}/{s['seizures']} | "
                        f"{s['false_alarms']}: {_number(s['false_alarms_per_24h'], '.1f')} | {s['suppressed']} | "
                        f"{_number(s['latency_median_s'])} | {_number(s['latency_p90_s'])} | "
                        f"{_number(s['burden_mae_pp'], '.2f')} |")
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
        "Recordings replayed through the live Runtime (file sources, default [run] policy). SzCORE columns by "
        "`timescoring` (event-based: 30 s before / 60 s after tolerance, events < 90 s apart merged, split at 5 min; "
        "FP per 24 h of recorded time; sample-based: per second). Clinical columns by edge (docs/monitoring.md): "
        "seizures with an alarm within [onset - 30 s, offset + 60 s], false alarm episodes per 24 h of monitored "
        "time (valid predictions), re-alarms suppressed by throttling, latency = first alarm - annotated onset, "
        "burden MAE over predictions with full 5 min coverage. 95 % intervals in brackets: Wilson (proportions), "
        "exact Poisson (rates), bootstrap (F1, sample-based, latency, burden). "
        f"Load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores when written.",
        "",
        *notes,
        *([f"- {note}"] if note else []),
        "",
        "| data | levels scored | hours (monitored) | SzCORE sensitivity | SzCORE precision | SzCORE F1 "
        "| SzCORE FP: per 24 h | sample sensitivity | seizures detected | false alarm episodes: per 24 h "
        "| suppressed | median latency s | P90 latency s | burden MAE pp |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
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
    parser.add_argument("--note", default="", help="how the recordings were made (their command)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    evals = [(text.split("=", 1)[0], Path(text.split("=", 1)[1])) for text in args.eval]
    body = section(evals, args.note)
    print(body)
    replace_section(args.out, "evaluate", body)


if __name__ == "__main__":
    main()
