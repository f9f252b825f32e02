"""Stream checks at connect over loopback LSL: channel formats and their scale, duplicate names,
the stated vs the measured rate, and the producer's identity on every record."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from edge.config import RunConfig, WatchdogConfig
from edge.contract import CHANNELS, SAMPLE_RATE_HZ
from edge.errors import DataError
from edge.inputs.input_files import Recording
from edge.inputs.lsl_source import LslSource
from edge.inputs.replay import Player, ReplayConfig
from edge.runtime import StreamRequest
from edge.testing import synthetic_eeg

pytestmark = pytest.mark.lsl

QUICK = WatchdogConfig(resolve_timeout_s=5.0)


def outlet(name: str, channel_format: str, *, unit: str | None = "uV", scaling: float | None = None,
           source_id: str = "amp-1", kind: str = "EEG"):
    import pylsl

    info = pylsl.StreamInfo(name, "EEG", len(CHANNELS), SAMPLE_RATE_HZ, channel_format, source_id)
    channels = info.desc().append_child("channels")
    for label in CHANNELS:
        channel = channels.append_child("channel")
        channel.append_child_value("label", label)
        channel.append_child_value("type", kind)
        if unit is not None:
            channel.append_child_value("unit", unit)
        if scaling is not None:
            channel.append_child_value("scaling", repr(scaling))
    return pylsl.StreamOutlet(info)


def pull_all(source: LslSource, n: int) -> tuple[np.ndarray, np.ndarray]:
    chunks, stamps = [], []
    deadline = time.monotonic() + 10.0
    while sum(len(c) for c in chunks) < n and time.monotonic() < deadline:
        pulled = source.pull()
        if pulled is None:
            time.sleep(0.01)
            continue
        chunks.append(pulled[0])
        stamps.append(pulled[1])
    return np.concatenate(chunks), np.concatenate(stamps)


@pytest.mark.parametrize(("channel_format", "unit", "scaling", "dtype"), [
    ("float32", "uV", None, np.float32),
    ("double64", "mV", None, np.float64),  # the crash case: "Buffer size too small"
    ("int16", "uV", 0.1, np.int16),  # 0.1 uV per count
    ("int32", "mV", 1e-4, np.int32),  # 0.1 uV per count, stated in mV
    ("int32", "uV", None, np.int32),  # counts of 1 uV
])
def test_numeric_formats_arrive_in_their_units(channel_format, unit, scaling, dtype, stream_name) -> None:
    uv = synthetic_eeg(1.0).astype(np.float64)
    unit_factor = 1e-3 if unit == "mV" else 1.0
    sent = uv * unit_factor / (scaling or 1.0)
    if np.issubdtype(dtype, np.integer):
        sent = np.round(sent)
    out = outlet(stream_name, channel_format, unit=unit, scaling=scaling)
    source = LslSource(stream_name, watchdog=QUICK)
    layout = source.open()
    try:
        assert layout.units == (unit,) * len(CHANNELS)
        out.push_chunk(np.ascontiguousarray(sent, dtype=dtype))
        samples, stamps = pull_all(source, len(sent))
    finally:
        source.close()
    assert samples.dtype == np.float32 and samples.shape == sent.shape and len(stamps) == len(sent)
    expected = sent * (scaling or 1.0)  # in the channels' stated unit; the channel map takes it to uV
    np.testing.assert_allclose(samples, expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max())
    if np.issubdtype(dtype, np.integer):
        # integer counts carry the signal to within one count
        assert np.abs(samples / unit_factor - uv).max() <= (scaling or 1.0) / unit_factor / 2 + 1e-3


@pytest.mark.parametrize("channel_format", ["string", "int8"])
def test_string_and_int8_streams_are_refused_in_one_line(channel_format, stream_name) -> None:
    _keep = outlet(stream_name, channel_format)
    with pytest.raises(DataError, match=rf"channel format {channel_format}; EEG needs float32, double64, int16"):
        LslSource(stream_name, watchdog=QUICK).open()


def test_integer_counts_without_a_scale_are_refused(stream_name) -> None:
    _keep = outlet(stream_name, "int16", unit="mV")
    with pytest.raises(DataError, match=r"sends int16 raw counts, but channel\(s\) Fp1, .* give no <scaling>"):
        LslSource(stream_name, watchdog=QUICK).open()


def test_a_scaling_that_is_not_a_positive_number_is_refused(stream_name) -> None:
    _keep = outlet(stream_name, "int16", scaling=-0.1)
    with pytest.raises(DataError, match=r"channel 'Fp1' has scaling '-0.1'; it must be a positive number"):
        LslSource(stream_name, watchdog=QUICK).open()


def test_integer_counts_on_non_eeg_channels_need_no_scale(stream_name) -> None:
    _keep = outlet(stream_name, "int16", unit="samples", kind="MISC")
    source = LslSource(stream_name, watchdog=QUICK)
    assert source.open().labels == CHANNELS
    source.close()


def test_two_outlets_with_one_name_are_refused_unless_picked_by_source_id(stream_name) -> None:
    _real = outlet(stream_name, "float32", source_id="amp-real")
    _impostor = outlet(stream_name, "float32", source_id="amp-impostor")
    with pytest.raises(DataError, match=r"2 LSL streams match .*source_id 'amp-impostor' on '.+', source_id "
                                        r"'amp-real' on '.+'\); refusing to guess: choose one with --source-id"):
        LslSource(stream_name, watchdog=QUICK).open()
    source = LslSource(stream_name, source_id="amp-real", watchdog=QUICK)
    layout = source.open()
    source.close()
    assert layout.source_id == "amp-real" and layout.hostname


def test_a_replay_at_4x_is_refused_with_status_records_and_no_predictions(stream_name, test_bundle,
                                                                         live_session) -> None:
    recording = Recording(synthetic_eeg(60.0), CHANNELS, ("uV",) * len(CHANNELS), float(SAMPLE_RATE_HZ),
                          Path("fast.parquet"))
    player = Player(recording, ReplayConfig(name=stream_name, speed=4.0))
    records = live_session(test_bundle, [StreamRequest(stream_name)], player.run, config=RunConfig())
    assert not [r for r in records if r["type"] == "prediction"]
    rate = [r for r in records if r.get("kind") == "rate"]
    assert rate and "4.00x the nominal 200 Hz" in rate[0]["message"]
    assert all(r["source_id"].startswith("eeg-edge-replay-") for r in records)


def test_a_producer_sending_4x_under_nominal_timestamps_is_refused(stream_name, test_bundle, live_session) -> None:
    import pylsl

    sender = outlet(stream_name, "float32")
    data = synthetic_eeg(60.0)

    def push_at_4x() -> None:
        start = pylsl.local_clock()
        for i in range(0, len(data), 50):  # 50 samples (0.25 s of stamps) every 1/16 s
            sender.push_chunk(data[i:i + 50], (start + np.arange(i, i + 50) / SAMPLE_RATE_HZ).tolist())
            time.sleep(50 / SAMPLE_RATE_HZ / 4)

    records = live_session(test_bundle, [StreamRequest(stream_name)], push_at_4x, config=RunConfig())
    assert not [r for r in records if r["type"] == "prediction"]
    assert any("ahead of this machine's clock" in r["message"] for r in records if r.get("kind") == "rate")


def test_live_records_carry_source_id_and_hostname(stream_name, test_bundle, live_session) -> None:
    import socket

    recording = Recording(synthetic_eeg(56.0), CHANNELS, ("uV",) * len(CHANNELS), float(SAMPLE_RATE_HZ),
                          Path("ids.parquet"))
    player = Player(recording, ReplayConfig(name=stream_name, speed=20.0, source_id="bed-12-amp"))
    records = live_session(test_bundle, [StreamRequest(stream_name, source_id="bed-12-amp")], player.run)
    assert [r for r in records if r["type"] == "prediction"]
    assert {(r["source_id"], r["hostname"]) for r in records} == {("bed-12-amp", socket.gethostname())}


def test_a_silent_stream_never_switches_to_one_of_several_new_outlets(stream_name) -> None:
    first = outlet(stream_name, "float32", source_id="amp-old")
    source = LslSource(stream_name, watchdog=WatchdogConfig(silence_s=0.2))
    source.open()
    del first  # the producer dies; a restarted one and an impostor appear under the same name
    restarted = outlet(stream_name, "float32", source_id="amp-new")
    impostor = outlet(stream_name, "float32", source_id="amp-impostor")

    def poll(seconds: float):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            layout = source.find_restarted()
            if layout is not None:
                return layout
            time.sleep(0.1)
        return None

    try:
        time.sleep(0.3)
        assert poll(3.0) is None  # two candidates: no guess
        del impostor
        layout = poll(10.0)  # the resolver forgets the vanished impostor; one candidate is left
        assert layout is not None and layout.source_id == "amp-new"
    finally:
        source.close()
        del restarted


def test_a_restarted_outlet_that_fails_the_checks_is_refused_once_and_passed_over(stream_name) -> None:
    first = outlet(stream_name, "float32", source_id="amp-old")
    source = LslSource(stream_name, watchdog=WatchdogConfig(silence_s=0.2))
    source.open()
    del first
    bad = outlet(stream_name, "string", source_id="amp-strings")
    refusals = []
    deadline = time.monotonic() + 10.0
    while not refusals and time.monotonic() < deadline:
        try:
            source.find_restarted()
        except DataError as exc:
            refusals.append(str(exc))
        time.sleep(0.1)
    try:
        assert refusals and "channel format string" in refusals[0]
        assert source.inlet is not None  # the old inlet is kept: pull() still works (and finds nothing)
        assert source.pull() is None and source.find_restarted() is None  # refused once, then passed over
        _good = outlet(stream_name, "float32", source_id="amp-new")
        layout = None
        deadline = time.monotonic() + 10.0
        while layout is None and time.monotonic() < deadline:
            layout = source.find_restarted()
            time.sleep(0.1)
        assert layout is not None and layout.source_id == "amp-new"
    finally:
        source.close()
        del bad


def test_xpath_literals_quote_every_name_exactly() -> None:
    from edge.inputs.lsl_source import predicate, xpath_literal

    assert xpath_literal("BED-2") == "'BED-2'"
    assert xpath_literal("O'Brien") == '"O\'Brien"'
    assert xpath_literal("a'b\"c") == "concat('a', \"'\", 'b\"c')"
    assert predicate("x' or name='y", "EEG", None) == "name=\"x' or name='y\" and type='EEG'"
    with pytest.raises(Exception, match="cannot hold a NUL"):
        predicate("a\0b", None, None)


@pytest.mark.parametrize("suffix", ["O'Brien", 'say "hi"', "both ' and \" quotes", "br]acket [x] //info"])
def test_names_with_quotes_are_matched_exactly(stream_name, suffix) -> None:
    """A real stream named O'Brien could not be monitored at all (the predicate was malformed XPath)."""
    name = f"{stream_name}-{suffix}"
    keep = outlet(name, "float32")
    source = LslSource(name, watchdog=QUICK)
    try:
        layout = source.open()
        assert layout.source_id == "amp-1" and source.inlet.info().name() == name
    finally:
        source.close()
        del keep


def test_an_injected_name_matches_nothing(stream_name) -> None:
    """`--stream "nomatch' or name='BED-2"` attached to BED-2 and recorded its EEG under the requested name."""
    bed = f"{stream_name}-BED-2"
    keep = outlet(bed, "float32")
    wait = WatchdogConfig(resolve_timeout_s=2.0)
    try:
        assert LslSource(bed, watchdog=QUICK).open().source_id == "amp-1"  # BED-2 itself is there
        for hostile in (f"nomatch' or name='{bed}", f'nomatch" or name="{bed}', f"x') or (name='{bed}"):
            with pytest.raises(DataError, match="no LSL stream matching"):
                LslSource(hostile, watchdog=wait).open()
    finally:
        del keep


def test_a_stream_of_another_name_is_never_taken_even_if_the_resolver_offers_it(stream_name, monkeypatch) -> None:
    """Defence in depth: whatever a query returns, only an outlet of the requested name is connected."""
    import pylsl

    other = f"{stream_name}-other"
    keep = outlet(other, "float32")
    real = pylsl.resolve_bypred
    monkeypatch.setattr(pylsl, "resolve_bypred", lambda pred, minimum, timeout: real(f"name='{other}'", minimum,
                                                                                      min(timeout, 2.0)))
    try:
        with pytest.raises(DataError, match="no LSL stream matching"):
            LslSource(f"{stream_name}-wanted", watchdog=QUICK).open()
    finally:
        del keep
