"""Junk and missing data through the live runtime over loopback LSL (docs/reliability.md): no prediction
and no alarm from invalid, missing, flagged or non-finite windows, and every record is strict JSON.

Alarm thresholds are set so low (on at 0.15) that any window entering smoothing would raise the alarm.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.config import QualityConfig, RunConfig
from edge.contract import CHANNELS, LABEL_START, LABEL_STOP, SAMPLE_RATE_HZ
from edge.errors import DataError
from edge.inputs.input_files import Recording
from edge.inputs.replay import Player, ReplayConfig
from edge.records import to_json
from edge.runtime import StreamRequest
from edge.testing import synthetic_eeg

pytestmark = pytest.mark.lsl

EAGER_ALARM = RunConfig().replace(watchdog={"check_rate": False}, alarm={"on": 0.15, "off": 0.1},
                                  smoothing={"k": 1})


def replay(data: np.ndarray, name: str, labels=CHANNELS) -> Player:
    recording = Recording(data.astype(np.float32), tuple(labels), ("uV",) * len(labels), float(SAMPLE_RATE_HZ),
                          Path("case.parquet"))
    return Player(recording, ReplayConfig(name=name, chunk=64, speed=20.0))


def strict(records: list[dict]) -> None:
    import json

    def refuse(token: str):
        raise ValueError(token)

    for record in records:
        json.loads(to_json(record), parse_constant=refuse)


def junk(case: str) -> np.ndarray:
    data = synthetic_eeg(60.0)
    if case == "all NaN":
        data[:] = np.nan
    elif case == "one NaN channel":
        data[:, CHANNELS.index("P4")] = np.nan
    elif case == "scaled 1e6":
        data *= 1e6
    else:  # +-5 mV square wave in every window's labelled span (the span moves 2 s per hop)
        t = np.arange(len(data)) / SAMPLE_RATE_HZ
        data[LABEL_START:LABEL_STOP + 5 * 400, :19] = 5000 * np.sign(np.sin(2 * np.pi * 3 * t))[
            LABEL_START:LABEL_STOP + 5 * 400, None]
    return data


@pytest.mark.parametrize("case", ["all NaN", "one NaN channel", "scaled 1e6", "square wave"])
def test_junk_streams_give_status_records_never_predictions_or_alarms(case, stream_name, test_bundle,
                                                                      live_session) -> None:
    source = replay(junk(case), stream_name)
    records = live_session(test_bundle, [StreamRequest(stream_name)], source.run, config=EAGER_ALARM)
    refused = [r for r in records if r["type"] == "status" and r["kind"] in ("missing", "artifact")]
    assert len(refused) == 6  # 60 s at a 2 s hop: six windows, none predicted
    assert not [r for r in records if r["type"] == "prediction"]
    # no alarm on the signal (a "signal" alarm, after long enough without valid predictions, is the right one)
    assert not [r for r in records if r["type"] == "alarm" and r.get("level") != "signal"]
    assert all("not predicted" in r["message"] and r["unusable"] and r["bad_seconds"] for r in refused)
    strict(records)


@pytest.mark.parametrize("case", ["flat channel", "hum, strict config"])
def test_flagged_windows_skip_smoothing_and_the_alarm(case, stream_name, test_bundle, live_session) -> None:
    data = synthetic_eeg(60.0)
    config = EAGER_ALARM
    if case == "flat channel":  # one lost electrode: 14 of 16 pairs, predicted but flagged
        data[:, CHANNELS.index("C3")] = 3.0
    else:  # hum on one channel is let through by default (alarm_ignores); a site can make it block
        t = np.arange(len(data)) / SAMPLE_RATE_HZ
        data[:, CHANNELS.index("T3")] += 100.0 * np.sin(2 * np.pi * 50.0 * t)
        config = EAGER_ALARM.replace(chain={"quality": QualityConfig(alarm_ignores=())})
    records = live_session(test_bundle, [StreamRequest(stream_name)], replay(data, stream_name).run, config=config)
    preds = [r for r in records if r["type"] == "prediction"]
    assert len(preds) == 6 and all(r["flagged"] and not r["alarm_eligible"] for r in preds)
    assert all(r["smoothed"] is None and "skipped" in r for r in preds)
    assert not [r for r in records if r["type"] == "alarm" and r.get("level") != "signal"]


def test_hum_alone_still_alarms_by_default(stream_name, test_bundle, live_session) -> None:
    data = synthetic_eeg(60.0)
    t = np.arange(len(data)) / SAMPLE_RATE_HZ
    data[:, CHANNELS.index("T3")] += 100.0 * np.sin(2 * np.pi * 50.0 * t)
    records = live_session(test_bundle, [StreamRequest(stream_name)], replay(data, stream_name).run,
                           config=EAGER_ALARM)
    preds = [r for r in records if r["type"] == "prediction"]
    assert len(preds) == 6 and all(r["quality"]["line_noise"] == ["T3"] and r["alarm_eligible"] for r in preds)
    assert all(r["smoothed"] is not None for r in preds)
    assert [r["state"] for r in records if r["type"] == "alarm"][:1] == ["on"]


def test_nan_model_output_never_enters_ema_smoothing(stream_name, test_bundle, live_session, recording_70s) -> None:
    """Every other window the model returns NaN: a status record each time, the EMA and alarm go on."""
    from edge.inputs.input_files import read_recording

    def poison(engine) -> None:
        outputs = engine.outputs
        calls = {"n": 0}

        def every_other_nan(batch: np.ndarray) -> np.ndarray:
            probs = outputs(batch)
            for row in probs:
                calls["n"] += 1
                if calls["n"] % 2 == 0:
                    row[:] = np.nan
            return probs

        engine.outputs = every_other_nan

    config = EAGER_ALARM.replace(smoothing={"kind": "ema", "alpha": 0.5})
    source = Player(read_recording(recording_70s), ReplayConfig(name=stream_name, chunk=64, speed=20.0))
    records = live_session(test_bundle, [StreamRequest(stream_name)], source.run, config=config,
                           wrap_engine=poison)
    preds = [r for r in records if r["type"] == "prediction"]
    invalid = [r for r in records if r["type"] == "status" and r["kind"] == "invalid_output"]
    assert len(preds) + len(invalid) == 11 and len(invalid) == 5
    assert all(np.isfinite(list(r["smoothed"].values())).all() for r in preds)
    alarms = [r["state"] for r in records if r["type"] == "alarm"]
    assert alarms and alarms[0] == "on"  # the alarm still works on the valid windows
    strict(records)


def test_one_channel_stream_with_allow_missing_is_refused(stream_name, test_bundle, live_session) -> None:
    source = replay(synthetic_eeg(60.0)[:, :1], stream_name, labels=("Fp1",))
    with pytest.raises(DataError, match="only 0 of 16 bipolar pairs"):
        live_session(test_bundle, [StreamRequest(stream_name)], source.run, allow_missing=True)
