"""The live loop: poll every LSL stream, run the windows due across streams in one batched engine call,
smooth, raise/clear alarms, and hand records to the sinks. A silent stream yields status records only."""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge.chain import SignalChain, Status, Window
from edge.channels import build_channel_map
from edge.config import RunConfig
from edge.engine import Engine
from edge.lsl_source import LslSource, StreamLayout
from edge.records import alarm_record, prediction_record, status_record
from edge.sinks import Sink
from edge.smoothing import Alarm, Smoother
from edge.timing import StageTimer


@dataclass(frozen=True)
class StreamRequest:
    name: str
    stream_type: str | None = "EEG"
    source_id: str | None = None


@dataclass
class StreamWorker:
    """Everything stateful about one stream: the chain (which resets itself on a gap), smoothing, alarm."""

    source: LslSource
    chain: SignalChain
    smoother: Smoother
    alarm: Alarm
    next_silence_status: float = field(default=0.0)

    def reset_outputs(self) -> None:
        """After a gap or a reconnect, smoothing and the alarm must not carry over older predictions."""
        self.smoother.reset()
        self.alarm.reset()


class Runtime:
    def __init__(self, engine: Engine, requests: list[StreamRequest], sinks: list[Sink], config: RunConfig,
                 allow_missing: bool = False, counter_label: str | None = None, timing: bool = False) -> None:
        self.engine = engine
        self.sinks = sinks
        self.config = config
        self.allow_missing = allow_missing
        self.counter_label = counter_label
        self.timer = StageTimer(timing)
        self.workers: list[StreamWorker] = []
        sources = [LslSource(r.name, r.stream_type, r.source_id, config.watchdog) for r in requests]
        try:
            for source in sources:
                chain = self._chain(source.open())
                self.workers.append(StreamWorker(source, chain, Smoother(config.smoothing), Alarm(config.alarm)))
        except BaseException:
            for source in sources:  # no inlet outlives a failed start
                source.close()
            raise
        self.predictions = 0

    def _chain(self, layout: StreamLayout, segment: int = 0) -> SignalChain:
        counter = self.counter_label if self.counter_label in layout.labels else None
        channel_map = build_channel_map(layout.labels, layout.units, self.engine.spec.frontend.montage,
                                        self.allow_missing, counter)
        return SignalChain(channel_map, layout.sample_rate_hz, self.config.chain, timer=self.timer, segment=segment)

    def emit(self, record: dict[str, Any]) -> None:
        with self.timer.stage("sinks"):
            for sink in self.sinks:
                sink.write(record)

    def step(self) -> bool:
        """One poll of every stream; True when any stream delivered samples."""
        due: list[tuple[StreamWorker, Window]] = []
        got_data = False
        for worker in self.workers:
            with self.timer.stage("pull"):
                pulled = worker.source.pull()
            if pulled is None:
                self._watch(worker)
                continue
            got_data = True
            samples, stamps = pulled
            for event in worker.chain.push(samples, stamps, arrival=time.perf_counter()):
                if isinstance(event, Status):
                    if event.kind == "gap":
                        worker.reset_outputs()
                    self.emit(status_record(worker.source.name, event))
                else:
                    due.append((worker, event))
        if due:
            self._predict(due)
        return got_data

    def _watch(self, worker: StreamWorker) -> None:
        """No samples this poll: after `silence_s`, status records every hop and a look for a restarted outlet."""
        silent = worker.source.silent_for()
        if silent < self.config.watchdog.silence_s:
            return
        now = time.monotonic()
        if now >= worker.next_silence_status:
            worker.next_silence_status = now + self.config.chain.hop_s
            self.emit(status_record(worker.source.name, Status(
                "no_data", _lsl_clock(), f"no samples for {silent:.1f} s; looking for the stream again")))
        layout = worker.source.find_restarted()
        if layout is not None:
            worker.chain = self._chain(layout, worker.chain.segment)
            worker.reset_outputs()
            self.emit(status_record(worker.source.name, Status(
                "reconnected", _lsl_clock(), f"stream found again (source_id {layout.source_id!r}); "
                "predictions resume after a full window")))

    def _predict(self, due: list[tuple[StreamWorker, Window]]) -> None:
        with self.timer.stage("batch"):
            batch = np.stack([window.data for _, window in due])
        with self.timer.stage("engine"):
            probs = self.engine.predict(batch)
        for (worker, window), p in zip(due, probs, strict=True):
            with self.timer.stage("smooth"):
                smoothed = worker.smoother.update(p)
                change = worker.alarm.update(smoothed)
            record = prediction_record(worker.source.name, window, p, smoothed, self.engine.model_id,
                                       time.perf_counter(), _lsl_clock())
            self.emit(record)
            self.predictions += 1
            if change is not None:
                target = self.config.alarm.target
                self.emit(alarm_record(worker.source.name, change, target, float(smoothed[worker.alarm.index]),
                                       window.t_end))

    def run(self, seconds: float | None = None, stop: threading.Event | None = None) -> None:
        deadline = None if seconds is None else time.monotonic() + seconds
        stop = stop or threading.Event()
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            if not self.step():
                time.sleep(self.config.watchdog.poll_interval_s)

    def close(self) -> None:
        for worker in self.workers:
            worker.source.close()
        for sink in self.sinks:
            sink.close()


def _lsl_clock() -> float:
    import pylsl

    return pylsl.local_clock()


def run_streams(bundle: str, requests: list[StreamRequest], config: RunConfig, out: str | None = None,
                lsl_out: bool = False, console: bool = True, seconds: float | None = None,
                allow_missing: bool = False, counter_label: str | None = None,
                stop: threading.Event | None = None, timing: bool = False) -> int:
    """`edge run`: open the bundle and the streams, run until `seconds` pass or `stop`; returns predictions."""
    from edge.sinks.console import ConsoleSink
    from edge.sinks.jsonl import JsonlSink
    from edge.sinks.lsl_out import LslSink

    engine = Engine(bundle, config.backend, config.threads)
    sinks: list[Sink] = []
    if out:
        sinks.append(JsonlSink(out))
    if lsl_out:
        sinks.append(LslSink(engine.model_id, [r.name for r in requests]))
    if console:
        sinks.append(ConsoleSink())
    runtime = None
    try:
        runtime = Runtime(engine, requests, sinks, config, allow_missing, counter_label, timing)
        runtime.run(seconds, stop)
        if timing:
            for stage, stats in sorted(runtime.timer.summary().items(), key=lambda kv: -kv[1]["total_ms"]):
                print(f"timing {stage}: {stats['mean_ms']:.3f} ms mean over {stats['calls']} calls, "
                      f"{stats['total_ms']:.0f} ms total", file=sys.stderr)
        return runtime.predictions
    finally:
        if runtime is not None:
            runtime.close()
        else:
            for sink in sinks:
                sink.close()
        engine.close()
