"""`edge monitor --lsl NAME`: the bed page's EEG traces, read from the amplifier's own LSL stream.

The runtime publishes records, not samples. A display on another machine subscribes to the EEG stream itself
(an LSL outlet serves any number of inlets), maps its channels to the contract order and microvolts as the
runtime does (missing electrodes filled the same way), resamples to 200 Hz and hands the newest `seconds`
to the display about once a second. Traces only: nothing here judges quality or predicts; the bed's quality
flags and state come from the runtime's records. Samples that are not finite are drawn as 0.
"""

from __future__ import annotations

import time

import numpy as np

from edge.chain.channels import ChannelMap, build_channel_map
from edge.chain.resample import StreamingResampler
from edge.chain.ring import RingBuffer
from edge.config import WatchdogConfig
from edge.contract import CHANNELS, SAMPLE_RATE_HZ
from edge.display.sink import DisplaySink
from edge.inputs.lsl_source import LslSource
from edge.inputs.source import StreamLayout

MIN_SECONDS = 2.0  # show traces once this much has arrived, not only after the whole screen


class EegTap:
    def __init__(self, name: str, sink: DisplaySink, *, seconds: float = 15.0, every_s: float = 1.0,
                 watchdog: WatchdogConfig | None = None) -> None:
        self.name = name
        self.sink = sink
        self.every_s = every_s
        self.source = LslSource(name, watchdog=watchdog)
        self.ring = RingBuffer(len(CHANNELS), round(seconds * SAMPLE_RATE_HZ))
        self.channel_map: ChannelMap | None = None
        self.resampler: StreamingResampler | None = None
        self._last_frame = 0.0

    def open(self) -> None:
        """Subscribe (a one-line DataError when the stream is absent or not EEG the runtime could read)."""
        self._configure(self.source.open())

    def _configure(self, layout: StreamLayout) -> None:
        self.channel_map = build_channel_map(layout.labels, layout.units, allow_missing=True)
        rate = layout.sample_rate_hz
        self.resampler = None if rate == SAMPLE_RATE_HZ else StreamingResampler(rate, SAMPLE_RATE_HZ, len(CHANNELS))
        self.reset()

    def reset(self) -> None:
        """Forget the buffered traces (the stream restarted)."""
        self.ring.reset()
        if self.resampler is not None:
            self.resampler.reset()
        self._last_frame = 0.0

    def poll(self) -> int:
        """Take what arrived; hand the display a frame when one is due. Returns the samples taken."""
        pulled = self.source.pull()
        if pulled is None:
            if (layout := self.source.find_restarted()) is not None:  # the amplifier restarted as a new outlet
                self._configure(layout)
            return 0
        samples, stamps = pulled
        block = self.channel_map.select(samples)
        if self.resampler is not None:
            block = self.resampler.process(block)
        block = np.nan_to_num(self.channel_map.fill_missing(block), nan=0.0, posinf=0.0, neginf=0.0)
        self.ring.write(block[-self.ring.capacity:].T)
        now = time.monotonic()
        shown = min(self.ring.total, self.ring.capacity)
        if shown >= MIN_SECONDS * SAMPLE_RATE_HZ and now - self._last_frame >= self.every_s:
            self._last_frame = now
            self.sink.observe_frame(self.name, self.ring.latest(shown), float(stamps[-1]))
        return len(samples)

    def close(self) -> None:
        self.source.close()
