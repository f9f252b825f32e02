"""What the monitoring costs `edge run` in lag: real-time LSL outlets into one `edge run`, runs alternating
the qEEG trends off and on -> docs/benchmarks.md (section "monitor-lag"). Target: lag p99 with the
monitoring on within 20 % of without.

    scripts/in-loopback-netns .venv/bin/python scripts/bench_monitor_lag.py [--streams 32 --minutes 3 --pairs 2]

Burden and the alarm policy run in both (a few dict updates per hop; scripts/bench_monitor.py times every
part); the trends are the monitoring's cost. Runs alternate off / on so drift in the machine's load hits
both alike; the figure is the ratio of the median lag p99. Lag: a record's emission minus its window's last
sample, both on the LSL clock. Outlets, model and bundle as in scripts/bench_load.py.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from bench_common import REPO, Fleet, health, prepare, replace_section, run_child  # also sets the loopback LSL config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=32)
    parser.add_argument("--minutes", type=float, default=3.0, help="per run; the first 50 s fill the window")
    parser.add_argument("--pairs", type=int, default=2, help="(off, on) pairs of runs")
    parser.add_argument("--out", default=str(REPO / "docs" / "benchmarks.md"))
    parser.add_argument("--bundle", help="reuse this mel2d bundle instead of building one")
    args = parser.parse_args()

    load_before = os.getloadavg()
    work, bundle, recording = prepare(args.bundle, "monitor_lag")
    no_trends = work / "no-trends.toml"
    no_trends.write_text("[run.trends]\nenabled = false\n")
    runs: dict[bool, list[dict]] = {False: [], True: []}
    for pair in range(args.pairs):
        for trends_on in (False, True):
            print(f"bench_monitor_lag: pair {pair + 1}, trends {'on' if trends_on else 'off'}", flush=True)
            fleet = Fleet(recording, args.streams, f"lag{pair}{int(trends_on)}")
            run = run_child(bundle, fleet.names, args.minutes * 60.0, out=work / "run.jsonl",
                            config=None if trends_on else no_trends)
            fleet.stop()
            runs[trends_on].append(health(run["records"], run["names"]))
    load_after = os.getloadavg()

    def median_ms(key: str, trends_on: bool) -> float:
        return 1e3 * float(np.median([h[key] for h in runs[trends_on]]))

    rows = "\n".join(
        f"| {'on' if on else 'off'} | {sum(h['predictions'] for h in runs[on])} | {sum(h['broken'] for h in runs[on])} "
        f"| {median_ms('lag_p50', on):.0f} | {median_ms('lag_p99', on):.0f} | "
        + ", ".join(f"{1e3 * h['lag_p99']:.0f}" for h in runs[on]) + " |" for on in (False, True))
    ratio = median_ms("lag_p99", True) / median_ms("lag_p99", False)
    loads = [" / ".join(f"{x:.1f}" for x in load) for load in (load_before, load_after)]
    body = f"""## Monitoring's cost in lag (`scripts/bench_monitor_lag.py`)

`scripts/in-loopback-netns .venv/bin/python scripts/bench_monitor_lag.py --streams {args.streams} --minutes \\
{args.minutes:g} --pairs {args.pairs}`, run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()}
CPU cores; load average (1 / 5 / 15 min) {loads[0]} at the start, {loads[1]} at the end (the outlets and
`edge run` themselves). {args.streams} real-time LSL outlets into one `edge run` (default mel2d, untrained
weights, onnxruntime), {2 * args.pairs} runs of {args.minutes:g} min alternating `[run.trends] enabled = false`
and the defaults; burden and the alarm policy run in both.

| qEEG trends | predictions | broken windows | lag p50 ms (median) | lag p99 ms (median) | lag p99 per run ms |
|---|---|---|---|---|---|
{rows}

Lag p99 with the trends on: **{ratio:.2f}x** without (target <= 1.20x).
"""
    replace_section(args.out, "monitor-lag", body)
    print(body, flush=True)


if __name__ == "__main__":
    main()
