"""One stream's signal chain: channel map -> mask -> resample -> fill -> ring buffer -> windows on a hop.

`push()` accepts chunks of any size and returns, in order, the windows and status records that fell
due. Windows are cut exactly at hop boundaries of the sample count (a chunk is split at each
boundary), so the output depends only on the samples, never on how they were chunked. A timestamp
discontinuity larger than the gap policy resets every stage; predictions resume once a full window
of new data is in, with "warming" status records in between; timestamps running backwards reset it too,
with "clock" status records. A window whose labelled span is not valid EEG (edge/chain/quality.py) comes
out as a Status of a refused kind (edge.chain.status.REFUSED_WINDOW) instead of a Window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.chain.channels import ChannelMap
from edge.chain.quality import MISSING, OK, OUT_OF_RANGE, Sanitizer, WindowJudge
from edge.chain.resample import StreamingResampler
from edge.chain.ring import RingBuffer
from edge.chain.status import Kind, Status
from edge.config import ChainConfig
from edge.contract import CHANNELS, OPTIONAL_CHANNELS, SAMPLE_RATE_HZ, WINDOW_SAMPLES, label_span_samples
from edge.errors import DataError
from edge.timing import StageTimer

OPTIONAL_RANGE = 100.0  # optional channels' mask bound, in units of range_uv (1 V by default)


@dataclass(frozen=True)
class Window:
    data: np.ndarray  # [channels, WINDOW_SAMPLES] float32 microvolts, contract order
    t_start: float  # timestamp of the first and last sample (LSL clock, or file seconds offline)
    t_end: float
    start_sample: int  # index of the first sample in the 200 Hz stream of this segment
    segment: int  # incremented by every reset: a window never spans two segments
    arrival: float  # when the chunk holding the last sample arrived
    quality: dict[str, list[str]]  # problem -> channels (edge.chain.quality.Verdict.flags)
    counter: tuple[float, float] | None = None  # sample counter at the first and last sample
    counter_contiguous: bool | None = None  # the counter rises by exactly 1 across the window
    bad_seconds: dict[str, list[int]] | None = None  # channel -> seconds (from t_start) with a problem
    alarm_eligible: bool = True  # only flags the config lets through: may enter smoothing and the alarm

    @property
    def flagged(self) -> bool:
        return any(self.quality.values())


class SignalChain:
    def __init__(self, channel_map: ChannelMap, rate_in: float, config: ChainConfig | None = None, *,
                 offset_samples: int = 0, timer: StageTimer | None = None, segment: int = 0) -> None:
        self.map = channel_map
        self.rate_in = float(rate_in)
        self.config = config or ChainConfig()
        self.timer = timer or StageTimer()
        self.hop = max(1, round(self.config.hop_s * SAMPLE_RATE_HZ))
        self.first_due = offset_samples + WINDOW_SAMPLES
        n = len(CHANNELS)
        quality = self.config.quality
        if channel_map.usable_pairs() < quality.min_pairs:
            raise DataError(f"only {channel_map.usable_pairs()} of {len(channel_map.pairs)} bipolar pairs can be "
                            f"computed without {', '.join(channel_map.missing)}; at least {quality.min_pairs} are "
                            "needed (chain.quality.min_pairs): connect the missing electrodes")
        resampled = self.rate_in != SAMPLE_RATE_HZ
        self.resampler = StreamingResampler(self.rate_in, SAMPLE_RATE_HZ, n) if resampled else None
        # the sample codes are resampled as two 0/1 masks: an output any masked input touches is masked
        self.code_resampler = StreamingResampler(self.rate_in, SAMPLE_RATE_HZ, 2 * n) if resampled else None
        # EKG is not EEG (24 mV measured on sparcnet Other_sample1): only absurd values are masked there
        self.sanitizer = Sanitizer(n, np.array([OPTIONAL_RANGE * quality.range_uv if c in OPTIONAL_CHANNELS
                                                else quality.range_uv for c in CHANNELS]))
        self.judge = WindowJudge(channel_map, quality)
        capacity = WINDOW_SAMPLES + self.hop
        self.signal = RingBuffer(n, capacity, np.float32)
        self.codes = RingBuffer(n, capacity, np.uint8)
        self.stamps = RingBuffer(1, capacity, np.float64)
        self.counts = RingBuffer(1, capacity, np.float64)
        self.segment = segment  # a chain rebuilt for a restarted stream goes on counting
        self._since_clock_status = np.inf  # input samples since the last "clock" status (not reset)
        self.reset()

    def reset(self) -> None:
        for stage in (self.sanitizer, self.judge, self.signal, self.codes, self.stamps, self.counts):
            stage.reset()
        if self.resampler is not None:
            self.resampler.reset()
            self.code_resampler.reset()
        self._seen_in = 0
        self._last_ts: float | None = None
        self._max_ts = -np.inf  # the newest timestamp since the reset
        # hop boundaries fall at sample counts congruent to first_due modulo hop
        self._next_boundary = self.first_due % self.hop or self.hop
        self.segment += 1

    def push(self, chunk: np.ndarray, timestamps: np.ndarray | None = None, arrival: float = 0.0
             ) -> list[Window | Status]:
        """Feed [n, source channels] samples; timestamps [n] (None offline: sample index / rate)."""
        if chunk.shape[0] == 0:
            return []
        if timestamps is None:
            timestamps = (self._seen_in + np.arange(chunk.shape[0])) / self.rate_in
        events: list[Window | Status] = []
        stamps = np.asarray(timestamps, dtype=np.float64)
        while len(stamps):
            if self._last_ts is not None and self._discontinuity(stamps[:1], self._last_ts, self._max_ts)[0]:
                events.extend(self._restart(float(stamps[0]), float(stamps[0] - self._last_ts)))
            n = self._continuous_run(stamps)
            events.extend(self._process(chunk[:n], stamps[:n], arrival))
            self._max_ts = max(self._max_ts, float(stamps[:n].max()))
            self._since_clock_status += n
            chunk, stamps = chunk[n:], stamps[n:]
        return events

    def _restart(self, t: float, dt: float) -> list[Status]:
        """A discontinuity: every stage resets. Forward: a gap. Backward: the producer's clock is broken; said at
        most once per hop of samples, so a stream whose timestamps keep running backwards gives a status per hop."""
        self.reset()
        resume = f"predictions resume after {WINDOW_SAMPLES / SAMPLE_RATE_HZ:.0f} s of data"
        if dt > 0:
            return [Status(Kind.GAP, t, f"{dt - 1.0 / self.rate_in:.2f} s gap in timestamps: state reset, {resume}")]
        if self._since_clock_status < self.config.hop_s * self.rate_in:
            return []
        self._since_clock_status = 0
        return [Status(Kind.CLOCK, t, "timestamps run backwards while samples arrive: the producer's clock is "
                       f"broken; state reset, {resume} with increasing timestamps")]

    def _discontinuity(self, stamps: np.ndarray, previous: np.ndarray | float, newest: np.ndarray | float
                       ) -> np.ndarray:
        """Per sample: a forward jump beyond `gap_reset_s` from the previous sample, or a fall more than `gap_reset_s`
        behind the newest timestamp so far (jitter below the policy is tolerated; a clock running backwards is not)."""
        return (stamps - previous - 1.0 / self.rate_in > self.config.gap_reset_s) | \
            (stamps < newest - self.config.gap_reset_s)

    def _continuous_run(self, stamps: np.ndarray) -> int:
        """How many leading samples hold no discontinuity between them (at least 1)."""
        newest = np.maximum.accumulate(np.concatenate([[self._max_ts], stamps[:-1]]))[1:]
        breaks = np.flatnonzero(self._discontinuity(stamps[1:], stamps[:-1], newest))
        return int(breaks[0]) + 1 if len(breaks) else len(stamps)

    def _process(self, chunk: np.ndarray, stamps: np.ndarray, arrival: float) -> list[Window | Status]:
        with self.timer.stage("map"):
            counter = self.map.counter(chunk)
            block = self.map.select(chunk)
        with self.timer.stage("sanitize"):
            block, codes = self.sanitizer.process(block)
        self._seen_in += len(block)
        self._last_ts = float(stamps[-1])
        if self.resampler is not None:
            with self.timer.stage("resample"):
                first = self.resampler.produced
                block = self.resampler.process(block)
                positions = self.resampler.output_positions(first, len(block))
                # outputs are stamped from the newest input timestamp at the nominal input rate
                stamps = self._last_ts - (self._seen_in - 1 - positions) / self.rate_in
                codes = self._resample_codes(codes)
                counter = None  # a sample counter is only meaningful at the native rate
        with self.timer.stage("fill"):
            block = self.map.fill_missing(block)
        return self._write(block, codes, stamps, counter, arrival)

    def _resample_codes(self, codes: np.ndarray) -> np.ndarray:
        masks = np.concatenate([codes == MISSING, codes == OUT_OF_RANGE], axis=1).astype(np.float32)
        touched = np.abs(self.code_resampler.process(masks)) > 1e-3
        n = codes.shape[1]
        return np.where(touched[:, :n], MISSING, np.where(touched[:, n:], OUT_OF_RANGE, OK)).astype(np.uint8)

    def _write(self, block: np.ndarray, codes: np.ndarray, stamps: np.ndarray, counter: np.ndarray | None,
               arrival: float) -> list[Window | Status]:
        events: list[Window | Status] = []
        pos = 0
        while pos < len(block):
            take = min(len(block) - pos, self._next_boundary - self.signal.total)
            with self.timer.stage("ring"):
                part = slice(pos, pos + take)
                self.signal.write(block[part].T)
                self.codes.write(codes[part].T)
                self.stamps.write(stamps[None, part])
                if counter is not None:
                    self.counts.write(counter[None, part])
            pos += take
            if self.signal.total == self._next_boundary:
                events.append(self._at_boundary(arrival, counter is not None))
                self._next_boundary += self.hop
        return events

    def _at_boundary(self, arrival: float, has_counter: bool) -> Window | Status:
        t_now = float(self.stamps.latest(1)[0, 0])
        if self.signal.total < self.first_due:
            available = min(self.signal.total, WINDOW_SAMPLES) / SAMPLE_RATE_HZ
            return Status(Kind.WARMING, t_now, f"{available:.0f} s of {WINDOW_SAMPLES / SAMPLE_RATE_HZ:.0f} s "
                          "window buffered", available)
        with self.timer.stage("window"):
            data = self.signal.latest(WINDOW_SAMPLES)
            codes = self.codes.latest(WINDOW_SAMPLES)
            stamps = self.stamps.latest(WINDOW_SAMPLES)[0]
        start_sample = self.signal.total - WINDOW_SAMPLES
        with self.timer.stage("quality"):
            verdict = self.judge.judge(data, codes, start_sample)
        if verdict.refused is not None:
            return Status(verdict.refused, float(stamps[-1]), verdict.message, detail={
                "window_start": float(stamps[0]), "window_end": float(stamps[-1]), "start_sample": start_sample,
                "segment": self.segment, "unusable": verdict.unusable, "bad_seconds": verdict.bad_seconds,
                "quality": verdict.flags}, data=data)
        counter, contiguous = None, None
        if has_counter:
            counts = self.counts.latest(WINDOW_SAMPLES)[0]
            counter, contiguous = (float(counts[0]), float(counts[-1])), bool(np.all(np.diff(counts) == 1))
        return Window(data, float(stamps[0]), float(stamps[-1]), start_sample, self.segment, arrival, verdict.flags,
                      counter, contiguous, verdict.bad_seconds, verdict.alarm_eligible)


def label_span(window: Window, lookahead_s: float) -> tuple[float, float]:
    """The stretch of stream time a prediction of `window` is about: the model's labelled 10 s (followed by
    `lookahead_s` of its window), on the window's own timestamps. Live these are t_start + 40 - L ... + 50 - L;
    in a replay faster than real time the timestamps are stretched alike. The one place records, burden and
    alarms take their span from."""
    start, stop = label_span_samples(lookahead_s)
    per_sample = (window.t_end - window.t_start) / (WINDOW_SAMPLES - 1)
    return window.t_start + start * per_sample, window.t_start + stop * per_sample
