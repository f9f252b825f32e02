"""Alarm policy on synthetic prediction sequences: burden levels, throttling, the signal alarm and invalid data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.config import AlarmConfig, AlarmLevel, RunConfig
from edge.contract import CLASSES
from edge.errors import SpecError
from edge.monitoring.alarm_policy import AlarmPolicy
from edge.monitoring.burden import BurdenState

HOP, SPAN, LAG = 2.0, 10.0, 20.0  # a window ends 20 s after its labelled span


def _probs(seizure: bool) -> np.ndarray:
    p = np.full(len(CLASSES), 0.02)
    p[CLASSES.index("seizure" if seizure else "other")] = 0.9
    return p / p.sum()


def _drive(policy: AlarmPolicy, seizure, seconds: float, *, valid=lambda start: True):
    """Labelled spans every hop over [0, seconds); `seizure(start)` says whether a span is seizure."""
    burden = BurdenState()
    events = []
    for start in np.arange(0.0, seconds, HOP):
        t = start + SPAN + LAG
        if not valid(start):
            events += policy.on_invalid(t, "artifact")
            continue
        probs = _probs(seizure(start))
        events += policy.on_prediction(probs, probs, burden.update(probs, start, start + SPAN), t=t,
                                              label_span=(start, start + SPAN))
    return events


def _levels(events, state="on"):
    """Burden-level (and signal) decisions; window and brief have their own tests."""
    return [(e.level, round(e.t)) for e in events if e.state == state and e.level not in ("window", "brief")]


def test_levels_fire_at_their_burden_thresholds_with_evidence() -> None:
    policy = AlarmPolicy(AlarmConfig(), "model-x")
    onset = 400.0
    events = _drive(policy, lambda s: onset <= s < onset + 290, 1400)
    on = _levels(events)
    assert [name for name, _ in on] == ["seizure", "prolonged", "status_epilepticus"]
    # a level fires once its share of the 300 s window is in (30 s, 150 s, 270 s), the window ends at the
    # newest span start, and the decision is taken when that prediction's window ends (+30 s)
    for (_, t), seconds in zip(on, (30, 150, 270), strict=True):
        assert onset + seconds + SPAN + LAG <= t <= onset + seconds + SPAN + LAG + 2 * HOP + SPAN
    first = next(e for e in events if e.level == "seizure")
    assert first.model == "model-x" and first.target == "seizure" and first.burden["coverage"] == 1.0
    assert first.span[1] - first.span[0] == 300 and first.burden["seizure"] >= 0.1
    assert first.record("EEG")["burden"]["seizure"] == first.burden["seizure"]
    assert sorted(name for name, _ in _levels(events, "off")) == ["prolonged", "seizure", "status_epilepticus"]


@pytest.mark.parametrize(("interval", "announced"), [(600.0, 1), (0.0, 2)])
def test_realarm_throttling_per_level(interval: float, announced: int) -> None:
    config = AlarmConfig(levels=(AlarmLevel("seizure", 0.10, 0.05, min_interval_s=interval),))
    # two 40 s seizures 320 s apart: the burden falls below 5 % in between
    events = _drive(AlarmPolicy(config, "m"), lambda s: 100 <= s < 140 or 460 <= s < 500, 900)
    assert len(_levels(events, "on")) == announced
    assert len(_levels(events, "off")) == announced  # a throttled "on" has no "off" either
    assert len(_levels(events, "suppressed")) == 2 - announced  # ...but is logged


def test_burden_level_span_ends_with_the_seizure_not_the_window() -> None:
    """A 60 s seizure: the burden stays >= 5 % for minutes after it, but the level goes off once the newest
    20 s hold no seizure, so the alarm span is about the seizure's length."""
    policy = AlarmPolicy(AlarmConfig(brief_windows=0), "m")
    events = _drive(policy, lambda s: 300 <= s < 360, 1200)
    (on, t_on), = _levels(events)
    (off, t_off), = _levels(events, "off")
    assert on == off == "seizure" and 360 + LAG <= t_off <= 360 + SPAN + LAG + 20 + 2 * HOP
    assert t_off - t_on <= 60
    legacy = _drive(AlarmPolicy(AlarmConfig(brief_windows=0, levels=(AlarmLevel("seizure", 0.1, 0.05, recent=0.0),)),
                                "m"), lambda s: 300 <= s < 360, 1200)
    assert _levels(legacy, "off")[0][1] - t_off >= 200  # without the rule: until 5 % of 5 min is left


@pytest.mark.parametrize(("length", "fires"), [(4.0, False), (16.0, True)])
def test_brief_level_needs_consecutive_windows(length: float, fires: bool) -> None:
    """Labelled spans are called seizure when they start inside [300, 300 + length): 2 or 8 windows in a row."""
    config = AlarmConfig(brief_windows=3, brief_on=0.6)
    events = [e for e in _drive(AlarmPolicy(config, "m"), lambda s: 300 <= s < 300 + length, 600)
              if e.level == "brief"]
    assert [e.state for e in events] == (["on", "off"] if fires else [])
    if fires:
        assert events[0].t == 304 + SPAN + LAG and events[0].span == (300.0, 304 + SPAN)
    assert not [e for e in _drive(AlarmPolicy(AlarmConfig(brief_windows=0), "m"), lambda s: 300 <= s < 316, 600)
                if e.level == "brief"]


def test_signal_alarm_after_a_stretch_without_valid_predictions() -> None:
    config = AlarmConfig(signal_after_s=60.0)
    events = _drive(AlarmPolicy(config, "m"), lambda s: False, 400, valid=lambda s: not 100 <= s < 200)
    signal = [(e.state, e.t) for e in events if e.level == "signal"]
    last_valid = 98 + SPAN + LAG
    assert signal[0][0] == "on" and last_valid + 60 <= signal[0][1] <= last_valid + 62
    assert signal[1] == ("off", 200 + SPAN + LAG) and len(signal) == 2
    assert not [e for e in events if e.level != "signal"]


def test_no_burden_alarm_from_invalid_data() -> None:
    """100 % seizure among 60 known seconds, the rest invalid: the known share alone would say "status
    epilepticus"; levels count unknown seconds as not seizure, so only "seizure" (60 s >= 30 s) fires,
    between signal alarms before and after the valid stretch."""
    events = _drive(AlarmPolicy(AlarmConfig(), "m"), lambda s: True, 600, valid=lambda s: 300 <= s < 352)
    assert [name for name, _ in _levels(events)] == ["signal", "seizure", "signal"]


def test_alarm_levels_from_toml(tmp_path) -> None:
    from edge.config import load_run_config

    path = tmp_path / "edge.toml"
    path.write_text("[run.alarm]\nsignal_after_s = 30\n[[run.alarm.levels]]\nname = 'seizure'\non = 0.2\noff = 0.1\n"
                    "min_interval_s = 60\n")
    config = load_run_config(path)
    assert config.alarm.levels == (AlarmLevel("seizure", 0.2, 0.1, 60.0),) and config.alarm.signal_after_s == 30
    with pytest.raises(SpecError, match="levels names must be unique"):
        RunConfig().replace(alarm={"levels": (AlarmLevel("signal", 0.2, 0.1),)})


@pytest.mark.lsl
@pytest.mark.slow  # 700 s of EEG at 20x: about 40 s
def test_alarm_policy_through_edge_run_over_lsl(stream_name, test_bundle, tmp_path, monkeypatch, sample_flow) -> None:
    """The `edge run` command (options, TOML config, JSONL and LSL outputs) over loopback LSL, replayed at 20x
    (stream time runs 20x faster, so the 10 s burden window spans 200 s of the file). A marker on the EKG
    channel stands for seizure; the engine's model outputs answer from it. Expected: "seizure" and "prolonged" on the
    first seizure, the second seizure's "seizure" throttled (logged as "suppressed"),
    and over the electrode-off stretch (marker says
    seizure, EEG flat) only the signal alarm; the LSL marker stream carries the same alarm events."""
    import json
    import os
    import signal
    import threading

    import pylsl

    from edge.cli import app
    from edge.cli_support import run_app
    from edge.contract import CHANNELS, SAMPLE_RATE_HZ
    from edge.inputs.input_files import Recording
    from edge.inputs.replay import COUNTER_LABEL, Player, ReplayConfig
    from edge.model.engine import Engine
    from edge.sinks.jsonl import read_jsonl
    from edge.testing import synthetic_eeg

    speed, seconds = 20.0, 700
    data = synthetic_eeg(seconds, seed=4)
    rng = np.random.default_rng(0)
    ekg = CHANNELS.index("EKG")
    data[:, ekg] = rng.normal(0, 10, len(data))

    def span(a: float, b: float) -> slice:
        return slice(int(a * SAMPLE_RATE_HZ), int(b * SAMPLE_RATE_HZ))

    for a, b in ((60, 160), (400, 460), (560, 640)):
        data[span(a, b), ekg] += 300.0
    data[span(560, 640), :ekg] = rng.normal(0, 0.1, (80 * SAMPLE_RATE_HZ, ekg))  # every EEG electrode off

    def predict(self, batch: np.ndarray) -> np.ndarray:
        share = (batch[:, ekg, 4000:6000] > 150).mean(axis=1)  # the labelled span's seizure marker
        probs = np.zeros((len(batch), len(CLASSES)), dtype=np.float32)
        probs[:, CLASSES.index("seizure")] = 0.05 + 0.9 * share
        probs[:, CLASSES.index("other")] = 0.95 - 0.9 * share
        return probs

    monkeypatch.setattr(Engine, "outputs", predict)
    config = tmp_path / "alarms.toml"
    config.write_text("[run.watchdog]\ncheck_rate = false\n[run.burden]\nwindow_s = 10\nrecent_s = 2\n"
                      "[run.alarm]\nsignal_after_s = 3\n"
                      "[[run.alarm.levels]]\nname = 'seizure'\non = 0.2\noff = 0.1\nmin_interval_s = 1000\n"
                      "[[run.alarm.levels]]\nname = 'prolonged'\non = 0.4\noff = 0.3\n")
    recording = Recording(data, CHANNELS, ("uV",) * len(CHANNELS), float(SAMPLE_RATE_HZ), Path("alarms.parquet"))
    player = Player(recording, ReplayConfig(name=stream_name, chunk=100, speed=speed, counter=True))
    markers: list[dict] = []
    done = threading.Event()

    def read_markers() -> None:
        found = pylsl.resolve_byprop("name", f"{stream_name}-alarms", 1, 20.0)
        assert found, "no alarm marker outlet"
        inlet = pylsl.StreamInlet(found[0])
        inlet.open_stream(5.0)
        while not done.is_set():
            samples, _ = inlet.pull_chunk(timeout=0.2)
            markers.extend(json.loads(sample[0]) for sample in samples)

    def replay_then_stop() -> None:  # then stop `edge run` as systemd does (SIGTERM: finish and close cleanly)
        if not player.outlet.wait_for_consumers(30.0):  # `edge run` is subscribed: no sample is lost
            return
        player.run(done)
        sample_flow.wait_consumed([stream_name])  # `edge run` pulled every sample (the bound matters on failure)
        if not done.is_set():  # never at pytest itself: only while `edge run` (and its handler) is running
            os.kill(os.getpid(), signal.SIGTERM)

    reader = threading.Thread(target=read_markers, daemon=True)
    reader.start()
    stopper = threading.Thread(target=replay_then_stop, daemon=True)
    stopper.start()
    out = tmp_path / "alarms.jsonl"
    pytest_sigterm = signal.getsignal(signal.SIGTERM)  # `edge run` installs its own handler
    try:
        code = run_app(app, ["run", "--stream", stream_name, "--bundle", str(test_bundle), "--backend", "onnxruntime",
                             "--config", str(config), "--out", str(out), "--lsl-out", "--counter", COUNTER_LABEL,
                             "--for", "90"])
    finally:
        done.set()
        stopper.join(timeout=10)  # before pytest's handler is back
        signal.signal(signal.SIGTERM, pytest_sigterm)
    reader.join(timeout=5)
    assert code == 0
    records = read_jsonl(out)
    alarms = [r for r in records if r["type"] == "alarm" and r["level"] not in ("window", "brief")]
    anchor = next(r for r in records if r["type"] == "prediction")  # stream time -> file time via the counter
    seen = [(r["level"], r["state"], (r["t"] - anchor["window_end"]) * speed + anchor["counter"][1] / SAMPLE_RATE_HZ)
            for r in alarms]
    steps = [(level, state) for level, state, _ in seen]
    assert steps[:2] == [("seizure", "on"), ("prolonged", "on")] and set(steps[2:4]) == {
        ("seizure", "off"), ("prolonged", "off")}, seen
    assert steps[4:] == [("seizure", "suppressed"), ("signal", "on"), ("signal", "off")], seen
    at = {(level, state): t for level, state, t in seen}
    # 20 % / 40 % of the 200 s window = 40 s / 80 s into the seizure at 60 s, decided 30 s later (the label lag),
    # give or take one burden cell: 1 s of stream time is 20 s of the file at 20x
    assert 110 <= at["seizure", "on"] <= 151 and 150 <= at["prolonged", "on"] <= 191
    # the last valid window ends at 560 s (flat from 560 s on), the signal alarm follows 60 s (3 s x 20) later;
    # off with the first valid window after the flat stretch (when the quality checks let windows through again)
    assert 618 <= at["signal", "on"] <= 624 and 650 <= at["signal", "off"] <= 700
    first = alarms[0]
    assert first["model"] and first["burden"]["seizure"] >= 0.2 and first["span"][1] - first["span"][0] == 10.0
    valid = [r for r in records if r["type"] == "prediction" and r["smoothed"] is not None]
    assert all(r["burden"] is not None and 0 <= r["burden"]["coverage"] <= 1 for r in valid)
    assert len((tmp_path / "alarms.trends.csv").read_text().splitlines()) > 10  # trends were on
    # the marker stream: every alarm event of the JSONL, with the same evidence
    everything = [r for r in records if r["type"] == "alarm"]
    assert [(m["level"], m["state"], m["t"]) for m in markers] == [(r["level"], r["state"], r["t"]) for r in everything]
    assert markers[[m["level"] for m in markers].index("seizure")]["burden"] == first["burden"]
