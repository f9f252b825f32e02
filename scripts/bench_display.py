"""Does the live display slow `edge run`? Real-time streams with and without `--serve` and 4 connected
browsers -> docs/benchmarks.md (section "display"). Target: still real time, latency p99 within 20 %.

    scripts/in-loopback-netns .venv/bin/python scripts/bench_display.py [--streams 32 --seconds 150]

Runs alternate (without, with, without, with ...) so drift in the shared machine's load hits both alike.
With the display on, four Chromium pages stay connected for the whole run: the ward overview and three
bed pages (EEG traces, charts). Chromium runs at nice 19 on the same cores: at a bedside the browsers
run on other machines, so this is a harder case than a ward has. The model is bench.py's default
(untrained weights); streams are loopback LSL replays at real time, as in bench.py's live runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import stat
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
from bench_common import (  # also sets the loopback LSL config
    REPO,
    build_bundle,
    live_run,
    percentiles,
    replace_section,
    stream_health,
)

from edge.testing import synthetic_eeg, write_parquet

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
PAGES = 4


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_beds(url: str, stop: threading.Event) -> list[str]:
    streams: list[str] = []
    while not stop.is_set() and len(streams) < PAGES - 1:
        with contextlib.suppress(OSError):  # not listening yet
            tiles = json.loads(urllib.request.urlopen(url + "api/ward", timeout=1).read())["tiles"]
            streams = [tile["stream"] for tile in tiles]
        time.sleep(0.5)
    return streams


def chromium_cpu_s() -> float:
    """CPU seconds (user + system) used so far by this process's Chromium descendants, from /proc."""
    procs: dict[int, tuple[int, str, int]] = {}  # pid -> (parent, name, clock ticks)
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError):
            text = stat_file.read_text()
            fields = text[text.rindex(")") + 2:].split()
            procs[int(stat_file.parent.name)] = (int(fields[1]), text[text.index("(") + 1:text.rindex(")")],
                                                        int(fields[11]) + int(fields[12]))
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in procs.items():
        children.setdefault(parent, []).append(pid)
    ticks, todo = 0, [os.getpid()]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        if pid in procs and "chrom" in procs[pid][1]:
            ticks += procs[pid][2]
    return ticks / os.sysconf("SC_CLK_TCK")


def listen(url: str, stop: threading.Event, *, workdir: Path, connected: list[int], cpu: list[float]) -> None:
    """The server's side of 4 browsers without their rendering (which at a bedside runs on other machines):
    the same 4 event streams (ward + 3 beds), read as they arrive and dropped."""
    streams = wait_for_beds(url, stop)

    def read(target: str) -> None:
        with urllib.request.urlopen(target, timeout=10) as response:
            while not stop.is_set() and response.readline():
                pass

    targets = [url + "events", *(f"{url}events?stream={name}" for name in streams[:PAGES - 1])]
    readers = [threading.Thread(target=read, args=(t,), daemon=True) for t in targets]
    for reader in readers:
        reader.start()
    connected.append(len(readers))
    for reader in readers:
        reader.join()


def browse(url: str, stop: threading.Event, *, workdir: Path, connected: list[int], cpu: list[float]) -> None:
    """Wait for the display to list beds, then keep the ward page and three bed pages open until `stop`;
    `cpu` gets the share of one core Chromium used while all pages were open."""
    from playwright.sync_api import sync_playwright

    wrapper = workdir / "chromium-nice"
    wrapper.write_text(f'#!/bin/sh\nexec nice -n 19 {shutil.which("chromium")} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    streams = wait_for_beds(url, stop)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(wrapper), args=CHROMIUM_ARGS)
        pages = []
        for target in [url, *(f"{url}bed?stream={name}" for name in streams[:PAGES - 1])]:
            page = browser.new_context(viewport={"width": 1400, "height": 1200}).new_page()
            page.goto(target)
            pages.append(page)
        connected.append(len(pages))
        start, used = time.monotonic(), chromium_cpu_s()
        while not stop.is_set():
            pages[0].wait_for_timeout(500)  # lets Playwright's event loop run; the pages render on their own
        cpu.append((chromium_cpu_s() - used) / (time.monotonic() - start))
        browser.close()


def pump_cost(streams: int, *, hops: int = 100) -> float:
    """CPU ms per second of stream time that the display's pump (in its child process) spends on `streams`
    streams (records, trends, EEG windows every 2 s hop) with the ward and three bed pages subscribed; no
    browser, no sockets."""
    import asyncio

    from edge.contract import CHANNELS, CLASSES, WINDOW_SAMPLES
    from edge.display.server import Hub, Subscriber
    from edge.display.sink import DisplaySink
    from edge.display.state import DisplayConfig
    from edge.monitoring.trends import trend_channels

    asyncio.set_event_loop(asyncio.new_event_loop())  # subscriber queues belong to a loop
    sink = DisplaySink()
    hub = Hub(sink, DisplayConfig())
    subscribers = [Subscriber(None), *(Subscriber(f"s{i}") for i in range(PAGES - 1))]
    hub.subscribers.update(subscribers)
    eeg = np.random.default_rng(0).normal(0, 50, (len(CHANNELS), WINDOW_SAMPLES)).astype(np.float32)
    probs = dict.fromkeys(CLASSES, 1 / len(CLASSES))
    values = list(np.arange(len(trend_channels()), dtype=float))
    cpu = 0.0
    for hop in range(hops):
        t = 100.0 + 2 * hop
        for i in range(streams):
            sink.write({"type": "prediction", "stream": f"s{i}", "window_end": t, "label_start": t - 30,
                        "label_end": t - 20, "probs": probs, "smoothed": probs, "flagged": False, "quality": {},
                        "model": "m", "latency_ms": 1.0, "burden": {"window_s": 300.0, "coverage": 1.0}})
            sink.write({"type": "trends", "stream": f"s{i}", "t": t, "values": values})
            sink.observe_frame(f"s{i}", eeg, t)
        for _ in range(10):  # ticks of 0.2 s per 2 s hop
            start = time.thread_time()
            hub.tick()
            cpu += time.thread_time() - start
        for subscriber in subscribers:  # the pages read everything
            while not subscriber.queue.empty():
                subscriber.queue.get_nowait()
    return 1e3 * cpu / (2.0 * hops)


def one_run(bundle: Path, recording: Path, *, streams: int, seconds: float, workdir: Path, serve: bool,
            clients: str = "browsers") -> dict:
    extra: tuple[str, ...] = ()
    stop, connected, cpu = threading.Event(), [], []
    thread = None
    if serve:
        port = free_port()
        extra = ("--serve", str(port))
        target = browse if clients == "browsers" else listen
        thread = threading.Thread(target=target, args=(f"http://127.0.0.1:{port}/", stop),
                                  kwargs={"workdir": workdir, "connected": connected, "cpu": cpu}, daemon=True)
        thread.start()
    try:
        run = live_run(bundle, recording, streams, speed=1.0, seconds=seconds, workdir=workdir, extra_args=extra)
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=30)
    if serve and connected != [PAGES]:
        raise RuntimeError(f"{connected or 'no'} {clients} connected, not {PAGES}: see the error above")
    preds = [r for r in run["records"] if r["type"] == "prediction"]
    latency = [r["latency_ms"] for r in preds]
    return {**stream_health(run), "latency_p50": percentiles(latency)[0], "latency_p99": percentiles(latency)[1],
            "pages": connected[0] if connected else 0,  # 0 without the display
            "chromium_cores": cpu[0] if cpu else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=150.0, help="per run; the first 50 s fill the window")
    parser.add_argument("--pairs", type=int, default=2, help="(without, with) pairs of runs")
    parser.add_argument("--clients", choices=("browsers", "readers"), default="browsers",
                        help="Chromium pages, or plain readers of the same event streams (section display-readers)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    pump_ms = pump_cost(args.streams)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        build_bundle(workdir / "bundle")
        recording = write_parquet(workdir / "rec.parquet", synthetic_eeg(120.0, seed=1))
        runs: dict[bool, list[dict]] = {False: [], True: []}
        for _ in range(args.pairs):
            for serve in (False, True):
                result = one_run(workdir / "bundle", recording, streams=args.streams, seconds=args.seconds,
                                 workdir=workdir, serve=serve, clients=args.clients)
                runs[serve].append(result)
                print(f"serve={serve}: {result}", flush=True)
    rows = []
    connected = f"{PAGES} Chromium pages" if args.clients == "browsers" else f"{PAGES} event-stream readers"
    for serve, label in ((False, "without display"), (True, f"`--serve`, {connected}")):
        r = runs[serve]
        per_run = ", ".join(f"{x['latency_p99']:.0f}" for x in r)
        rows.append(f"| {label} | {sum(x['predictions'] for x in r)} | {min(x['min_per_stream'] for x in r)} | "
                    f"{sum(x['dropped'] for x in r)} | {np.median([x['latency_p50'] for x in r]):.1f} | "
                    f"{np.median([x['latency_p99'] for x in r]):.1f} | "
                    f"{per_run} | {np.median([x['lag_p99'] for x in r]):.0f} |")
    base = np.median([x["latency_p99"] for x in runs[False]])
    served = np.median([x["latency_p99"] for x in runs[True]])
    pages = min(x["pages"] for x in runs[True])
    cores = [x["chromium_cores"] for x in runs[True] if x["chromium_cores"] is not None]
    clients = (f"{pages} connected Chromium pages (ward + bed pages; Chromium at nice 19 on the same 2 shared cores, "
               f"using {100 * np.median(cores):.0f} % of one core, median over runs)" if cores else
               f"{pages} clients reading the same event streams as the pages (ward + 3 beds) without rendering them: "
               "the server's side of 4 browsers that run on other machines, as at a bedside")
    body = f"""## Live display overhead ({args.clients})

`scripts/in-loopback-netns .venv/bin/python scripts/bench_display.py --streams {args.streams} \\
--seconds {args.seconds:g} --pairs {args.pairs} --clients {args.clients}`: {args.streams} loopback LSL streams at real
time into one `edge run` (default model, untrained weights) for {args.seconds:g} s per run, runs alternating without
and with `--serve` and {clients}. Latency: chunk arrival to record emission (`latency_ms`); lag: emission
minus the window's last
sample (LSL clock). Medians over {args.pairs} runs each.

| runtime | predictions | min/stream | dropped samples | latency p50 ms | latency p99 ms | p99 per run | lag p99 ms |
|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

Latency p99 with the display: {served / base:.2f}x without (target <= 1.20x).
The display runs in a child process at nice 5 (edge.display.process); the runtime's process only queues records
and EEG frames and sends them over a socket pair every tick. The child's pump (records, trends and EEG frames
of {args.streams} streams to the ward and three bed pages, measured alone as CPU time) is {pump_ms:.1f} ms per
second of stream time.
"""
    replace_section(args.out, "display" if args.clients == "browsers" else "display-readers", body)
    print(body)


if __name__ == "__main__":
    main()
