"""Memory and lag of one `edge run` under many real-time LSL streams -> docs/benchmarks.md (section "load").

    nice -n 10 .venv/bin/python scripts/bench_load.py [--streams 32 --minutes 30 --overload 64 --stall 30]

Steady: `--streams` real outlets (loopback, real time, the stream-rate check on) into one `edge run`
child for `--minutes`; its resident memory sampled every second. "Keeps up": no dropped, duplicated or
reordered sample in any window (counter channel) and lag p99 < 1 s; "flat": the RSS trend after warm-up.
Monitoring's cost in lag is scripts/bench_monitor_lag.py.
Overload: `--overload` real outlets; once predictions flow, the child is frozen (SIGSTOP) for `--stall`
seconds, as a starved machine would leave it, then let go: its inlets hold a backlog of every stream, it
must shed the stale windows (status "shed") and catch up with bounded memory. Then the load drops to
`--streams` outlets; recovery is the time from the release until every stream's prediction lag is < 2 s.
The default mel2d model (untrained weights) is exported to ONNX (bench_common.build_bundle).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import time

import numpy as np
from bench_common import REPO, Fleet, health, prepare, replace_section, run_child  # also: loopback LSL

from edge.contract import WINDOW_SAMPLES

RECOVERED_LAG_S = 2.0


def rss_trend(trace: list[tuple[float, int]], after_s: float) -> tuple[float, float, float]:
    """Peak MB, MB at the end, and the slope in MB per 10 min after `after_s` (least squares)."""
    t = np.array([s for s, _ in trace])
    mb = np.array([r for _, r in trace]) / 2**20
    late = t >= after_s
    slope = float(np.polyfit(t[late], mb[late], 1)[0]) * 600 if late.sum() >= 10 else float("nan")
    return float(mb.max()), float(mb[-1]), slope


def recovery_s(records: list[dict], names: list[str], released_clock: float) -> float:
    """From the release until every stream has had a prediction with lag < RECOVERED_LAG_S."""
    worst = 0.0
    for name in names:
        late = [r for r in records if r["type"] == "prediction" and r["stream"] == name
                and r["emitted_at"] >= released_clock and r["emitted_at"] - r["window_end"] < RECOVERED_LAG_S]
        if not late:
            return float("nan")
        worst = max(worst, late[0]["emitted_at"] - released_clock)
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=32)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--overload", type=int, default=64)
    parser.add_argument("--stall", type=float, default=30.0, help="seconds the child is frozen in the overload")
    parser.add_argument("--phase", type=float, default=60.0, help="seconds of running before the freeze, "
                        "between the release and the load drop, and half the time after the drop")
    parser.add_argument("--out", default=str(REPO / "docs" / "benchmarks.md"))
    parser.add_argument("--bundle", help="reuse this mel2d bundle instead of building one")
    args = parser.parse_args()
    import pylsl

    load_before = os.getloadavg()
    work, bundle, recording = prepare(args.bundle, "load")
    window_s = WINDOW_SAMPLES / 200.0

    print(f"bench_load: steady, {args.streams} real-time outlets for {args.minutes:g} min", flush=True)
    fleet = Fleet(recording, args.streams, "steady")
    steady = run_child(bundle, fleet.names, args.minutes * 60.0, out=work / "steady.jsonl")
    fleet.stop()
    steady_health = health(steady["records"], steady["names"])
    steady_peak, steady_end, steady_slope = rss_trend(steady["trace"], after_s=window_s + 120.0)
    load_mid = os.getloadavg()

    print(f"bench_load: overload, {args.overload} outlets, child frozen for {args.stall:g} s", flush=True)
    fleet = Fleet(recording, args.overload, "overload")
    # startup (~0.5 s per stream to rule out duplicate names), the first windows, then normal running
    freeze_at = 0.5 * args.overload + window_s + args.phase
    drop_at = freeze_at + args.stall + args.phase
    total = drop_at + 2 * args.phase

    def stall(child: subprocess.Popen, t0: float, events: dict) -> None:
        time.sleep(max(0.0, freeze_at - (time.monotonic() - t0)))
        child.send_signal(signal.SIGSTOP)
        time.sleep(args.stall)
        child.send_signal(signal.SIGCONT)
        events["released"] = pylsl.local_clock()
        time.sleep(max(0.0, drop_at - (time.monotonic() - t0)))
        fleet.stop(keep=args.streams)  # the load drops
        events["dropped"] = pylsl.local_clock()

    # 64 new outlets at once: one was not resolved within the default 10 s at start on a loaded machine
    patient = work / "patient-resolve.toml"
    patient.write_text("[run.watchdog]\nresolve_timeout_s = 30.0\n")
    overload = run_child(bundle, fleet.names, total, out=work / "overload.jsonl", script=stall, config=patient)
    fleet.stop()
    kept = overload["names"][: args.streams]
    after_drop = [r for r in overload["records"] if r.get("emitted_at", 0.0) >= overload["events"]["dropped"] + 10.0]
    over_health = health(overload["records"], overload["names"])
    final_health = health(after_drop, kept)
    over_peak, over_end, _ = rss_trend(overload["trace"], after_s=0.0)
    rss_before_freeze = max(r for t, r in overload["trace"] if t < freeze_at) / 2**20
    recovered = recovery_s(overload["records"], overload["names"], overload["events"]["released"])
    load_after = os.getloadavg()

    command = (f"nice -n 10 .venv/bin/python scripts/bench_load.py --streams {args.streams} --minutes {args.minutes:g} "
               f"--overload {args.overload} --stall {args.stall:g} "
               f"--phase {args.phase:g}")
    loads = [" / ".join(f"{x:.1f}" for x in load) for load in (load_before, load_mid, load_after)]
    steady_lag = f"p50 {1e3 * steady_health['lag_p50']:.0f} ms, p99 {1e3 * steady_health['lag_p99']:.0f} ms"
    final_lag = f"p50 {1e3 * final_health['lag_p50']:.0f} ms, p99 {1e3 * final_health['lag_p99']:.0f} ms"
    body = f"""## load (written by `{command}`)

Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} CPU cores shared with other work.
Load average (1 / 5 / 15 min): {loads[0]} at the start, {loads[1]} after the steady run, {loads[2]} at the end
(a load of L on C cores leaves a process roughly C/L of the CPU). The outlets and the `edge run` child
(onnxruntime, default mel2d, untrained weights, hop 2 s) share the machine; every outlet is a real-time
200 Hz replay with a counter channel, and the stream-rate check is on.

### Steady: {args.streams} real LSL outlets into one `edge run`, {args.minutes:g} min

| figure | value |
|---|---|
| predictions | {steady_health['predictions']} (at least {steady_health['min_per_stream']} per stream) |
| windows with a dropped, duplicated or reordered sample | {steady_health['broken']} |
| "shed" / "rate" status records | {steady_health['shed']} / {steady_health['rate']} |
| lag, window's last sample -> record (LSL clock) | {steady_lag} |
| peak resident memory of `edge run` (target <= 1024 MB) | **{steady_peak:.0f} MB** |
| resident memory at the end; trend after warm-up | {steady_end:.0f} MB; {steady_slope:+.1f} MB per 10 min |

### Overload: {args.overload} outlets, `edge run` frozen {args.stall:g} s, then down to {args.streams} outlets

| figure | value |
|---|---|
| peak resident memory | **{over_peak:.0f} MB** ({rss_before_freeze:.0f} MB before the freeze; end {over_end:.0f}) |
| "shed" status records | {over_health['shed']} |
| every stream back under {RECOVERED_LAG_S:g} s of lag after the release | **{recovered:.1f} s** |
| after the drop to {args.streams} outlets (from 10 s on): lag | {final_lag} |
| after the drop: predictions, broken windows | {final_health['predictions']}, {final_health['broken']} |
"""
    replace_section(args.out, "load", body)
    print(body, flush=True)


if __name__ == "__main__":
    main()
