"""StreamMonitor: what counts as a valid prediction, and which status records advance the signal alarm."""

from __future__ import annotations

import numpy as np
import pytest

from edge.chain.signal_chain import Window
from edge.config import RunConfig
from edge.contract import CHANNELS, CLASSES, WINDOW_SAMPLES
from edge.monitoring.stream_monitor import StreamMonitor
from edge.testing import synthetic_eeg

DATA = np.ascontiguousarray(synthetic_eeg(50.0).T)


def _window(t_end: float, start_sample: int = 0, eligible: bool = True) -> Window:
    return Window(DATA, t_end - 50.0, t_end, start_sample, 1, 0.0, {}, alarm_eligible=eligible)


def test_flagged_predictions_and_invalid_statuses_raise_only_the_signal_alarm() -> None:
    monitor = StreamMonitor(RunConfig().replace(alarm={"signal_after_s": 30.0}), "m")
    seizure = np.eye(len(CLASSES))[0]
    burden, events = monitor.on_prediction(_window(100.0), seizure, seizure)
    assert burden.known_s == 0  # no cell is final after one prediction
    assert [(e.level, e.state, e.p) for e in events] == [("window", "on", 1.0)]
    assert monitor.on_status("reconnected", 110.0) == []  # not a sign of missing predictions
    assert monitor.on_ineligible(_window(120.0)) == []
    events = monitor.on_status("artifact", 131.0)
    assert [(e.level, e.state) for e in events] == [("signal", "on")] and events[0].span == (100.0, 131.0)
    _, events = monitor.on_prediction(_window(133.0), seizure, seizure)
    assert ("signal", "off") in [(e.level, e.state) for e in events]
    assert monitor.current_burden() is not None
    monitor.reset()
    assert monitor.current_burden() is None


def test_trends_record_per_window_and_off_switch() -> None:
    monitor = StreamMonitor(RunConfig(), "m")
    record = monitor.on_window("EEG", _window(50.0))
    assert record["type"] == "trends" and len(record["values"]) == 96 and record["t"] == 50.0
    assert len(CHANNELS) == DATA.shape[0] and DATA.shape[1] == WINDOW_SAMPLES
    assert StreamMonitor(RunConfig().replace(trends={"enabled": False}), "m").on_window("EEG", _window(50.0)) is None


@pytest.mark.lsl
def test_edge_run_publishes_burden_and_trends_and_writes_the_trends_file(stream_name, test_bundle, recording_70s,
                                                                        tmp_path, sample_flow) -> None:
    import threading

    import pylsl

    from edge.inputs.input_files import read_recording
    from edge.inputs.replay import Player, ReplayConfig
    from edge.monitoring.trends import trend_channels
    from edge.runtime import RunOptions, StreamRequest, run_streams
    from edge.sinks.jsonl import read_jsonl

    player = Player(read_recording(recording_70s), ReplayConfig(name=stream_name, chunk=50, speed=20.0))
    done = threading.Event()
    thread = sample_flow.replay(player, done)  # once edge run is subscribed; done once it pulled every sample
    found: dict[str, pylsl.StreamInfo] = {}

    def listen() -> None:
        for kind in ("burden", "trends"):
            streams = pylsl.resolve_bypred(f"name='{stream_name}-{kind}'", 1, 20.0)
            found[kind] = pylsl.StreamInlet(streams[0]).info(5.0)

    listener = threading.Thread(target=listen)
    listener.start()
    out = tmp_path / "run.jsonl"
    config = RunConfig().replace(watchdog={"check_rate": False})
    options = RunOptions(str(test_bundle), (StreamRequest(stream_name),), config, out=str(out), lsl_out=True,
                         console=False)
    count = run_streams(options, stop=done)
    thread.join()
    listener.join()
    trends = found["trends"]
    assert trends.channel_count() == len(trend_channels()) and trends.nominal_srate() == 0.5
    first = trends.desc().child("channels").child("channel")
    assert (first.child_value("label"), first.child_value("unit")) == trend_channels()[0]
    assert found["burden"].channel_count() == 7
    records = read_jsonl(out)
    assert count > 0 and not [r for r in records if r["type"] == "trends"]
    assert all("burden" in r for r in records if r["type"] == "prediction")
    rows = (tmp_path / "run.trends.csv").read_text().splitlines()
    assert rows[0].startswith("stream,t,LL_cdsa_1Hz [dB(uV^2)]") and len(rows) - 1 == count
    assert len(rows[1].split(",")) == 2 + len(trend_channels())


@pytest.mark.parametrize("lookahead", [0.0, 10.0, 20.0])
def test_record_burden_and_alarm_share_one_label_span_in_a_fast_replay(lookahead: float) -> None:
    """Replayed 10x faster than real time (50 s of samples over 5 s of stream time): the prediction record, the
    burden and the window alarm all place the labelled span with signal_chain.label_span."""
    from edge.chain.signal_chain import label_span
    from edge.records import prediction_record

    monitor = StreamMonitor(RunConfig(), "m", lookahead_s=lookahead)
    seizure = np.eye(len(CLASSES))[0]
    for k in range(12):
        window = Window(DATA, 0.2 * k, 0.2 * k + 5.0 * (WINDOW_SAMPLES - 1) / WINDOW_SAMPLES, 400 * k, 1, 0.0, {})
        _, events = monitor.on_prediction(window, seizure, seizure)
        record = prediction_record("EEG", window, seizure, smoothed=seizure, model_id="m", lookahead_s=lookahead,
                                   emitted=0.0, emitted_clock=0.0)
        span = (record["label_start"], record["label_end"])
        assert span == label_span(window, lookahead)
        assert span[1] - span[0] == pytest.approx(1.0, abs=1e-3)  # 10 s of samples, replayed 10x
        assert span[1] == pytest.approx(window.t_end - lookahead / 10, abs=1e-3)
        if k == 0:
            assert [(e.level, e.span) for e in events] == [("window", span)]
    # burden cells (1 s of stream time) are anchored at the first labelled span's start
    assert monitor.burden._anchor == label_span(Window(DATA, 0.0, 4.9995, 0, 1, 0.0, {}), lookahead)[0]
