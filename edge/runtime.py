"""The live loop: poll every source (LSL inlets for `edge run`), run the windows due across streams in
capped engine batches, smooth, raise/clear alarms, and hand records to the sinks.

Faults stay local (docs/reliability.md): a silent stream yields status records only; a stream off its
nominal rate is not predicted; a stream that falls behind sheds its oldest due windows; a failing sink
is disabled with one status record while the loop, the other sinks and the alarms go on.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge.chain.channels import build_channel_map
from edge.chain.signal_chain import SignalChain, Window
from edge.chain.status import Kind, Status
from edge.config import RunConfig, check_option
from edge.config_io import require_field
from edge.errors import BackendUnavailable, DataError
from edge.inputs.lsl_source import LslSource, StreamRequest
from edge.inputs.source import Source, StreamLayout
from edge.inputs.stream_rate import RateMonitor
from edge.model.engine import Engine
from edge.monitoring.smoothing import Smoother
from edge.monitoring.stream_monitor import StreamMonitor
from edge.records import prediction_record, runtime_status_record, status_record
from edge.sinks import Sink, describe_sink
from edge.timing import StageTimer

__all__ = ["RunOptions", "Runtime", "StreamRequest", "run_streams"]


@dataclass(frozen=True)
class RunOptions:
    """What `edge run` is asked to do, built once by the CLI (or the demo, a test) and validated once:
    the model, the streams, the policy (RunConfig: backend and engine settings included) and the outputs."""

    bundle: str
    sources: tuple[Source | StreamRequest, ...]
    config: RunConfig = field(default_factory=RunConfig)
    out: str | None = None  # JSONL records (and the trends file beside it)
    lsl_out: bool = False
    console: bool = True
    seconds: float | None = None  # stop after this long (None: until stopped)
    allow_missing: bool = False
    counter_label: str | None = None
    timing: bool = False

    def validate(self) -> RunOptions:
        names = [source.name for source in self.sources]
        require_field(bool(names) and len(set(names)) == len(names), "--stream",
                      "must name at least one stream, each once", value=names)
        require_field(all(names), "--stream", "names must not be empty", value=names)
        check_option("--for", self.seconds)
        self.config.validate()
        return self


@dataclass
class StreamState:
    """Everything stateful about one stream: the chain (which resets itself on a gap), smoothing, and the
    monitor (burden, alarm policy, trends: edge/monitoring/stream_monitor.py)."""

    source: Source
    layout: StreamLayout
    chain: SignalChain
    rate: RateMonitor
    smoother: Smoother
    monitor: StreamMonitor
    rate_bad: bool = False
    next_silence_status: float = field(default=0.0)
    next_rate_status: float = field(default=0.0)

    def reset_outputs(self) -> None:
        """After a gap or a reconnect, smoothing and the per-window alarm must not carry over older predictions;
        the burden (on stream time) and its alarm levels go on."""
        self.smoother.reset()
        self.monitor.policy.reset_window()


class Runtime:
    def __init__(self, engine: Engine, sources: Sequence[Source | StreamRequest], sinks: list[Sink],
                 config: RunConfig, *, allow_missing: bool = False, counter_label: str | None = None,
                 timing: bool = False) -> None:
        """`sources`: ready Source objects (e.g. a file source offline) or StreamRequests for LSL inlets."""
        self.engine = engine
        self.sinks = list(sinks)
        self.failed_sinks: list[Sink] = []  # disabled after an error; still closed at the end
        self.config = config
        self.allow_missing = allow_missing
        self.counter_label = counter_label
        self.timer = StageTimer(timing)
        self.workers: list[StreamState] = []
        opened = [LslSource.from_request(s, config.watchdog) if isinstance(s, StreamRequest) else s for s in sources]
        try:
            # opened side by side: each LSL source listens ~1 s for duplicate names
            with ThreadPoolExecutor(max_workers=min(16, len(opened)) or 1) as pool:
                layouts = list(pool.map(lambda source: source.open(), opened))
            self.workers = [self._worker(source, layout) for source, layout in zip(opened, layouts, strict=True)]
        except BaseException:
            for source in opened:  # no inlet outlives a failed start
                source.close()
            raise
        self.predictions = 0

    def _worker(self, source: Source, layout: StreamLayout, segment: int = 0, *,
                monitor: StreamMonitor | None = None) -> StreamState:
        counter = self.counter_label if self.counter_label in layout.labels else None
        channel_map = build_channel_map(layout.labels, layout.units, self.engine.spec.frontend.montage,
                                        allow_missing=self.allow_missing, counter_label=counter)
        chain = SignalChain(channel_map, layout.sample_rate_hz, self.config.chain, timer=self.timer, segment=segment)
        rate = RateMonitor(layout.sample_rate_hz, window_s=self.config.watchdog.rate_window_s,
                           gap_s=self.config.chain.gap_reset_s)
        monitor = monitor or StreamMonitor(self.config, self.engine.model_id,
                                           lookahead_s=self.engine.spec.lookahead_s)
        return StreamState(source, layout, chain, rate, Smoother(self.config.smoothing), monitor)

    def emit(self, record: dict[str, Any], worker: StreamState | None = None) -> None:
        """To every working sink; a stream's records carry the source_id and hostname of its producer. A stream's
        status records also go to its monitor (the signal alarm counts time without valid predictions)."""
        if worker is not None:
            record = {**record, **worker.layout.identity}
        with self.timer.stage("sinks"):
            for sink in list(self.sinks):
                try:
                    sink.write(record)
                except Exception as exc:  # one broken output must not silence the others
                    self._disable(sink, exc)
        if worker is not None and record["type"] == "status":
            for event in worker.monitor.on_status(record["kind"], record["t"]):
                self.emit(event.record(worker.source.name), worker)

    def _disable(self, sink: Sink, exc: Exception) -> None:
        self.sinks.remove(sink)
        self.failed_sinks.append(sink)
        target = describe_sink(sink)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else f"{type(exc).__name__}: {exc}"
        message = f"output {target} failed ({reason}); it is disabled, the other outputs and alarms go on"
        print(f"edge: {message}", file=sys.stderr, flush=True)
        self.emit(runtime_status_record(Kind.SINK_FAILED, message, sink=target))

    def _observe(self, worker: StreamState, data: np.ndarray, t_end: float) -> None:
        """Sinks that show the EEG itself (the live display) get each window's samples, predicted or refused: a
        reference, which they must not modify or hold the loop for; one that raises is disabled like a failing
        sink."""
        with self.timer.stage("sinks"):
            for sink in list(self.sinks):
                try:
                    sink.observe_frame(worker.source.name, data, t_end)
                except Exception as exc:
                    self._disable(sink, exc)

    def step(self) -> bool:
        """One poll of every stream; True when any stream delivered samples."""
        due: list[tuple[StreamState, Window]] = []
        got_data = False
        for worker in self.workers:
            with self.timer.stage("pull"):
                pulled = worker.source.pull()
            if pulled is None:
                self._watch(worker)
                continue
            got_data = True
            samples, stamps = pulled
            measured = self._check_rate(worker, stamps)
            if measured is False:
                continue
            windows: list[Window] = []
            for event in worker.chain.push(samples, stamps, arrival=time.perf_counter()):
                if isinstance(event, Status):
                    if event.kind in (Kind.GAP, Kind.CLOCK):
                        worker.reset_outputs()
                    self.emit(status_record(worker.source.name, event), worker)
                    if event.data is not None:  # a refused window: not predicted, but shown
                        self._observe(worker, event.data, event.t)
                else:
                    windows.append(event)
            if windows and measured is None:
                self.emit(status_record(worker.source.name, Status(
                    Kind.RATE, windows[-1].t_end, f"{len(windows)} window(s) not predicted: the arrival rate is not "
                    f"measured yet (needs {self.config.watchdog.rate_window_s:g} s of timestamps)")), worker)
                continue
            due.extend((worker, window) for window in self._shed(worker, windows))
        for start in range(0, len(due), self.config.max_batch):  # capped batches bound the engine's memory
            self._predict(due[start:start + self.config.max_batch])
        return got_data

    def _check_rate(self, worker: StreamState, stamps: np.ndarray) -> bool | None:
        """True when the stream runs at its nominal rate, None while not yet measured, False when off it:
        then its samples are dropped (the chain restarts once the rate is back), with a status every hop.
        Off: the samples' timestamps say another rate, or they run ahead of this machine's clock (a producer
        sending faster than real time under nominal timestamps)."""
        watchdog = self.config.watchdog
        if not watchdog.check_rate:
            return True
        ratio = worker.rate.update(stamps)
        nominal = worker.layout.sample_rate_hz
        ahead = float(stamps[-1]) - worker.source.now()
        problem = None
        if ahead > watchdog.rate_tolerance * watchdog.rate_window_s:
            problem = f"timestamps run {ahead:.1f} s ahead of this machine's clock (samples sent faster than real time)"
        elif ratio is not None and abs(ratio - 1.0) > watchdog.rate_tolerance:
            problem = (f"samples arrive at {ratio:.2f}x the nominal {nominal:g} Hz (their timestamps over "
                       f"{watchdog.rate_window_s:g} s)")
        if problem is None:
            if worker.rate_bad and ratio is not None:
                worker.rate_bad = False
                self.emit(status_record(worker.source.name, Status(
                    Kind.RATE_OK, float(stamps[-1]), f"back at the nominal {nominal:g} Hz; predictions resume "
                    "after a full window")), worker)
            return None if ratio is None else True
        if not worker.rate_bad:
            worker.rate_bad = True
            worker.chain.reset()
            worker.reset_outputs()
        now = time.monotonic()
        if now >= worker.next_rate_status:
            worker.next_rate_status = now + self.config.chain.hop_s
            self.emit(status_record(worker.source.name, Status(
                Kind.RATE, float(stamps[-1]), f"{problem}: no predictions until the rate is back within "
                f"{watchdog.rate_tolerance:.0%}")), worker)
        return False

    def _shed(self, worker: StreamState, windows: list[Window]) -> list[Window]:
        """Keep the newest window and those at most `max_lag_s` behind the stream's clock; shed the rest."""
        if len(windows) <= 1:
            return windows
        now = worker.source.now()
        kept = [w for w in windows[:-1] if now - w.t_end <= self.config.max_lag_s] + [windows[-1]]
        if len(kept) < len(windows):
            self.emit(status_record(worker.source.name, Status(
                Kind.SHED, windows[-1].t_end, f"fell behind: shed {len(windows) - len(kept)} due window(s) more than "
                f"{self.config.max_lag_s:g} s old; predicting the newest ({now - windows[-1].t_end:.1f} s behind)")),
                worker)
        return kept

    def _watch(self, worker: StreamState) -> None:
        """No samples this poll: after `silence_s`, status records every hop and a look for a restarted outlet."""
        silent = worker.source.silent_for()
        if silent < self.config.watchdog.silence_s:
            return
        now = time.monotonic()
        if now >= worker.next_silence_status:
            worker.next_silence_status = now + self.config.chain.hop_s
            self.emit(status_record(worker.source.name, Status(
                Kind.NO_DATA, worker.source.now(), f"no samples for {silent:.1f} s; looking for the stream again")),
                worker)
        try:
            layout = worker.source.find_restarted()
        except DataError as exc:  # a restarted outlet that fails the stream checks: say so, keep looking
            self.emit(status_record(worker.source.name, Status(Kind.REFUSED, worker.source.now(), str(exc))), worker)
            return
        if layout is not None:
            fresh = self._worker(worker.source, layout, worker.chain.segment, monitor=worker.monitor)
            self.workers[self.workers.index(worker)] = fresh
            self.emit(status_record(worker.source.name, Status(
                Kind.RECONNECTED, worker.source.now(), f"stream found again (source_id {layout.source_id!r} on "
                f"{layout.hostname!r}); predictions resume after a full window")), fresh)

    def _predict(self, due: list[tuple[StreamState, Window]]) -> None:
        """Predictions, burden and alarm events of the whole batch go out first; then its qEEG trends (display
        data), so no prediction or alarm of the batch waits for another stream's trends."""
        with self.timer.stage("batch"):
            batch = np.stack([window.data for _, window in due])
        try:
            with self.timer.stage("engine"):
                checked = self.engine.probabilities(batch)
        except BackendUnavailable as exc:  # a remote backend's outage: statuses (and the signal alarm), no crash
            for worker, window in due:
                self.emit(status_record(worker.source.name, Status(
                    Kind.BACKEND_UNAVAILABLE, window.t_end, f"{exc}: window {window.t_start:.2f}-{window.t_end:.2f} "
                    "not predicted; predictions resume when the backend answers")), worker)
            return
        trended: list[tuple[StreamState, Window]] = []
        for (worker, window), p, problem in zip(due, checked.probs, checked.problems, strict=True):
            if problem is not None:  # never a prediction, never into smoothing (docs/reliability.md)
                self.emit(status_record(worker.source.name, Status(
                    Kind.INVALID_OUTPUT, window.t_end, f"model {problem} for the window "
                    f"{window.t_start:.2f}-{window.t_end:.2f}: not predicted, smoothing and alarm skipped")), worker)
                continue
            smoothed = None
            if window.alarm_eligible:  # alarms only from valid, finite, unflagged predictions (bar alarm_ignores)
                with self.timer.stage("smooth"):
                    smoothed = worker.smoother.update(p)
                with self.timer.stage("monitor"):
                    burden, events = worker.monitor.on_prediction(window, p, smoothed)
                trended.append((worker, window))
            else:
                burden, events = worker.monitor.current_burden(), worker.monitor.on_ineligible(window)
            record = prediction_record(worker.source.name, window, p, smoothed=smoothed, model_id=self.engine.model_id,
                                       lookahead_s=self.engine.spec.lookahead_s, emitted=time.perf_counter(),
                                       emitted_clock=worker.source.now())
            record["burden"] = None if burden is None else burden.record()
            self.emit(record, worker)
            self._observe(worker, window.data, window.t_end)
            self.predictions += 1
            for event in events:
                self.emit(event.record(worker.source.name), worker)
        for worker, window in trended:
            with self.timer.stage("trends"):
                trends = worker.monitor.on_window(worker.source.name, window)
            if trends is not None:
                self.emit(trends, worker)

    def run(self, seconds: float | None = None, stop: threading.Event | None = None) -> None:
        deadline = None if seconds is None else time.monotonic() + seconds
        stop = stop or threading.Event()
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            if not self.step():
                time.sleep(self.config.watchdog.poll_interval_s)

    def close(self) -> None:
        for worker in self.workers:
            worker.source.close()
        for sink in [*self.sinks, *self.failed_sinks]:
            try:
                sink.close()
            except Exception as exc:  # closing one output must not stop closing the others
                print(f"edge: closing output {describe_sink(sink)} failed ({exc})", file=sys.stderr, flush=True)


def run_streams(options: RunOptions, *, stop: threading.Event | None = None, extra_sinks: Sequence[Sink] = ()) -> int:
    """`edge run`: open the bundle and the streams, run until `options.seconds` pass or `stop`; returns the
    number of predictions. `extra_sinks` (e.g. the live display's) get the records after the others, and are
    closed with them."""
    from edge.sinks.console import ConsoleSink
    from edge.sinks.jsonl import JsonlSink
    from edge.sinks.lsl_out import LslSink
    from edge.sinks.trends_file import TrendsFileSink, trends_path

    options = options.validate()  # the one validation: the CLI, the demo and tests all come through here
    config = options.config
    engine = Engine(options.bundle, config.backend, config.threads, public_key=config.signature_key,
                    triton=config.triton)
    sinks: list[Sink] = []
    if options.out:
        sinks.append(JsonlSink(options.out, skip=frozenset({"trends"})))
        if config.trends.enabled:
            sinks.append(TrendsFileSink(trends_path(options.out)))
    if options.lsl_out:
        sinks.append(LslSink(engine.model_id, [s.name for s in options.sources], hop_s=config.chain.hop_s))
    if options.console:
        sinks.append(ConsoleSink())
    sinks.extend(extra_sinks)
    runtime = None
    try:
        runtime = Runtime(engine, options.sources, sinks, config, allow_missing=options.allow_missing,
                          counter_label=options.counter_label, timing=options.timing)
        print(f"edge: {engine.describe()}", file=sys.stderr, flush=True)  # once running: a failed start is one line
        runtime.run(options.seconds, stop)
        if options.timing:
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
