"""`edge monitor --lsl`: the EEG traces come from the amplifier's own stream, mapped and resampled as the
runtime does; here a held-out eegmat subject (real EEG, 19 electrodes, 500 Hz) replayed over loopback LSL."""

from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np
import pytest

from edge.chain.channels import build_channel_map
from edge.chain.resample import StreamingResampler
from edge.contract import CHANNELS, SAMPLE_RATE_HZ
from edge.display.eeg_tap import EegTap
from edge.display.sink import DisplaySink
from edge.inputs.input_files import read_recording
from edge.inputs.replay import Player, ReplayConfig
from edge.testing import shared_data_dir

EEGMAT = shared_data_dir() / "eegmat" / "Subject18_1.edf"


@pytest.mark.lsl
@pytest.mark.skipif(not EEGMAT.exists(), reason=f"{EEGMAT} is not here (../shared/data/eegmat)")
def test_tap_shows_the_streams_newest_seconds_as_the_runtime_maps_them(stream_name) -> None:
    full = read_recording(EEGMAT)
    recording = dataclasses.replace(full, data=full.data[: round(20 * full.sample_rate_hz)])  # 20 s
    assert recording.sample_rate_hz != SAMPLE_RATE_HZ  # the tap resamples
    player = Player(recording, ReplayConfig(name=stream_name, speed=10.0))
    sink = DisplaySink(eeg_s=15.0)
    tap = EegTap(stream_name, sink, seconds=15.0, every_s=0.0)
    tap.open()  # subscribed before the first sample is sent: the tap sees all of them
    sender = threading.Thread(target=player.run, daemon=True)
    sender.start()
    taken, deadline = 0, time.monotonic() + 30
    while taken < len(recording.data) and time.monotonic() < deadline:
        taken += tap.poll()
        time.sleep(0.02)
    sender.join(timeout=10)
    tap.close()
    player.close()
    assert taken == len(recording.data)

    _, frames = sink.drain(limit=1)
    data, _ = frames[stream_name]
    # the same samples through the runtime's mapping and resampler, offline
    channel_map = build_channel_map(recording.labels, recording.units, allow_missing=True)
    resampled = StreamingResampler(recording.sample_rate_hz, SAMPLE_RATE_HZ, len(CHANNELS)).process(
        channel_map.select(recording.data))
    expected = channel_map.fill_missing(resampled)[-15 * SAMPLE_RATE_HZ:].T
    assert data.shape == (len(CHANNELS), 15 * SAMPLE_RATE_HZ)
    np.testing.assert_allclose(data, expected, atol=1e-3)
    assert 1.0 < float(np.std(data)) < 500.0  # microvolts, not volts or counts
