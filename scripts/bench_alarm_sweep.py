"""Choose [run.alarm] defaults from measurements -> docs/benchmarks.md (section "alarm-sweep").

Re-runs the alarm policy (edge/monitoring/alarm_policy.py, the burden of edge/monitoring/burden.py) over the
valid predictions an `edge evaluate --out DIR` run kept in scored.jsonl, for a grid of brief-level
(brief_windows, brief_on), seizure-level "still going" (recent) and burden `min_p` settings, and scores each with SzCORE
(timescoring) and edge's clinical figures, levels brief + seizure. The replay is exact: each valid
prediction's probability vector and smoothed p(seizure) go through the same policy and burden as live.

    .venv/bin/python scripts/bench_alarm_sweep.py --eval eval-L0
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
from pathlib import Path

import numpy as np
from bench_common import replace_section

from edge.config import DEFAULT_ALARM_LEVELS, AlarmConfig, BurdenConfig
from edge.contract import CLASSES
from edge.monitoring.alarm_policy import AlarmPolicy
from edge.monitoring.burden import BurdenState
from edge.offline.evaluate import Annotation, StreamLog, score_recording, summarize

REPO = Path(__file__).resolve().parent.parent
SEIZURE = CLASSES.index("seizure")
LEVELS = ("brief", "seizure")
SEIZURE_LEVEL = next(level for level in DEFAULT_ALARM_LEVELS if level.name == "seizure")


def load(folder: Path) -> tuple[dict[str, StreamLog], list[Annotation], float]:
    logs: dict[str, StreamLog] = {}
    annotations = []
    for line in (folder / "scored.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["type"] == "annotation":
            annotations.append(Annotation(record["file"], record["onset_s"], record["offset_s"], record["label"]))
        elif record["type"] == "recording":
            logs[record["file"]] = StreamLog(record["seconds"])
        elif record["type"] == "prediction":
            logs[record["file"]].predictions.append(record)
    hop = float(np.median(np.diff([p["t"] for p in next(iter(logs.values())).predictions])))
    return logs, annotations, hop


def replay(log: StreamLog, config: AlarmConfig, burden_config: BurdenConfig) -> StreamLog:
    """The recording's alarms under `config` and `burden_config`, from its valid predictions."""
    policy, burden = AlarmPolicy(config, "sweep"), BurdenState(burden_config)
    alarms = []
    for p in log.predictions:
        if p["seizure"] is None:  # not valid: it never reached the monitor
            continue
        probs = np.array([p["probs"][c] for c in CLASSES])
        smoothed = np.zeros(len(CLASSES))
        smoothed[SEIZURE] = p["seizure"]
        state = burden.update(probs, p["label_start"], p["label_end"])
        events = policy.on_prediction(probs, smoothed, state, t=p["t"], label_span=(p["label_start"], p["label_end"]))
        alarms += [{"level": e.level, "state": e.state, "t": e.t} for e in events]
    return StreamLog(log.seconds, predictions=log.predictions, alarms=alarms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval", type=Path, required=True, help="an `edge evaluate --out` folder")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument("--note", default="", help="how the recordings were made (their command)")
    args = parser.parse_args()
    logs, annotations, hop = load(args.eval)
    rows = []
    for windows, on, recent, min_p in itertools.product((2, 3, 4), (0.4, 0.5, 0.6), (0.25, 0.5), (0.0, 0.5)):
        level = dataclasses.replace(SEIZURE_LEVEL, recent=recent)  # the shipped seizure level, but for `recent`
        config = AlarmConfig(levels=(level,), brief_windows=windows, brief_on=on)
        burden = dataclasses.replace(BurdenConfig(), min_p=min_p)
        scores = [score_recording(name, replay(log, config, burden), annotations, levels=LEVELS,
                                  window_s=BurdenConfig().window_s, hop_s=hop) for name, log in logs.items()]
        s = summarize(scores, LEVELS)
        event = s.szcore_event
        rows.append(f"| {windows} | {on:g} | {min_p:g} | {recent:g} | {event['tp']}/{event['ref']} | "
                    f"{event['fp']} | {event['fp_per_24h'][0]:.1f} | {s.detected}/{s.seizures} | {s.false_alarms} | "
                    f"{'-' if s.latency_median_s[0] is None else f'{s.latency_median_s[0]:.0f}'} | "
                    f"{'-' if s.latency_p90_s[0] is None else f'{s.latency_p90_s[0]:.0f}'} |")
    run = json.loads((args.eval / "run.json").read_text())
    body = "\n".join([
        "## Alarm settings swept on logged predictions (`scripts/bench_alarm_sweep.py`)",
        "",
        f"`scripts/bench_alarm_sweep.py --eval {args.eval}`: the valid predictions of `edge evaluate` with "
        f"{run['bundle']} over {', '.join(sorted({str(Path(p).parent) for p in run['recordings']}))} "
        f"({len(run['recordings'])} recordings), alarms re-run for each setting, levels brief + seizure. "
        f"{args.note}",
        "",
        "| brief_windows | brief_on | burden min_p | seizure level recent | SzCORE TP/ref | SzCORE FP | per 24 h "
        "| detected | false alarm episodes | median latency s | P90 latency s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
    ])
    print(body)
    replace_section(args.out, "alarm-sweep", body)


if __name__ == "__main__":
    main()
