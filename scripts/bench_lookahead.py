"""The lookahead (L) table -> docs/benchmarks.md (section "lookahead"): for bundles that differ only in
`data.lookahead_s`, held-out synthetic KL (train fit's out-of-fold), KL and top-1 on the 12 real
sparcnet_iiic segments (each scored for its labelled centre: edge predict --kaggle's rule), and detection
from an `edge evaluate --out` folder of each.

    for L in 0 10 20; do printf '[data]\\nlookahead_s = %s.0\\n' $L > L$L.toml
      train fit --data syn600 --out fit-L$L --config L$L.toml --epochs 3 --seed 0
      calibrate export --bundle fit-L$L
      edge evaluate hard24/rec_000.parquet hard24/rec_001.parquet --annotations hard24/events.csv \\
          --bundle fit-L$L --out eval-L$L --streams 2 --level brief,seizure --level ...; done
    .venv/bin/python scripts/bench_lookahead.py --row fit-L0=eval-L0 --row fit-L10=eval-L10 --row fit-L20=eval-L20
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

if not __package__:  # run as a file: make the `scripts` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.offline.intervals import format_interval
from edge.testing import shared_data_dir
from scripts.bench_common import replace_section
from train.fit.evaluate import evaluate_bundle_on_segments

REPO = Path(__file__).resolve().parent.parent


def _value(v: list, spec: str) -> str:
    return format_interval(v, spec, brackets="()")


def row(bundle: Path, folder: Path) -> list[str]:
    spec = json.loads((bundle / "spec.json").read_text())
    metrics = json.loads((bundle / "metrics.json").read_text())
    real = evaluate_bundle_on_segments(bundle, shared_data_dir() / "sparcnet_iiic")
    lines = []
    for s in json.loads((folder / "summary.json").read_text()):
        event = s["szcore_event"]
        lines.append(f"| {spec.get('lookahead_s', 20.0):g} | {metrics['oof_kl']:.3f} ({metrics['oof_prior_kl']:.3f}) | "
                     f"{real['kl_model']:.3f} | {round(real['argmax_agreement_model'] * real['segments'])}/"
                     f"{real['segments']} | {' + '.join(s['levels'])} | {event['tp']}/{event['ref']} | "
                     f"{event['fp']}: {_value(event['fp_per_24h'], '.1f')} | {s['detected']}/{s['seizures']} | "
                     f"{_value(s['latency_median_s'], '.0f')} | {_value(s['latency_p90_s'], '.0f')} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--row", action="append", required=True, metavar="BUNDLE=EVAL_DIR")
    parser.add_argument("--note", default="", help="how the bundles and the evaluated recordings were made")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    rows = [line for text in args.row for line in row(Path(text.split("=", 1)[0]), Path(text.split("=", 1)[1]))]
    run = json.loads((Path(args.row[0].split("=", 1)[1]) / "run.json").read_text())
    body = "\n".join([
        "## Lookahead L: where the labelled span sits in the model's window (`scripts/bench_lookahead.py`)",
        "",
        "L = seconds of the window after the labelled 10 s (20: Kaggle's centre; 0: causal). Bundles differ only "
        "in `data.lookahead_s`. Held-out = synthetic patients of fold 0 (class-prior KL in brackets); real 12 = the "
        "sparcnet_iiic segments scored for their labelled centre (a model with L < 20 sees its missing earlier "
        "context filled with channel means, as `edge predict --kaggle`); detection = `edge evaluate` on "
        f"{', '.join(Path(p).name for p in run['recordings'])} of the hard set ({run['annotations']}), SzCORE "
        "event counts by timescoring, latency from onset (95 % intervals in brackets).",
        *([f"\n{args.note}"] if args.note else []),
        "",
        "| L s | held-out KL (prior) | real 12 KL | real 12 top-1 | levels | SzCORE TP/ref | SzCORE FP: per 24 h "
        "| seizures detected | median latency s | P90 latency s |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *rows,
    ])
    print(body)
    replace_section(args.out, "lookahead", body)


if __name__ == "__main__":
    main()
