"""End to end over loopback LSL: replay -> edge runtime, compared with offline `predict` on the same file.

Replays run at 20-25x real time so a 70 s recording takes about 3 s; assertions never depend on
timing, only on which samples arrived (a sample-counter channel) and on what the model returned.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from edge.config import RunConfig
from edge.contract import CHANNELS, CLASSES, SAMPLE_RATE_HZ, WINDOW_SAMPLES
from edge.errors import DataError
from edge.inputs.input_files import Recording, read_recording
from edge.inputs.replay import COUNTER_LABEL, Player, ReplayConfig
from edge.model.engine import Engine
from edge.offline.predict import predict_files
from edge.runtime import StreamRequest
from edge.testing import synthetic_eeg, write_parquet

pytestmark = pytest.mark.lsl

SPEED = 20.0
HOP = 400
# replays run faster than real time: the stream-rate check is off here (tests/edge/test_stream_checks.py covers it)
FAST_WATCHDOG = RunConfig().replace(watchdog={"silence_s": 0.5, "check_rate": False}, chain={"gap_reset_s": 0.3})


def predictions(records: list[dict], stream: str | None = None) -> list[dict]:
    return [r for r in records if r["type"] == "prediction" and (stream is None or r["stream"] == stream)]


def assert_matches_offline(preds: list[dict], path, bundle, tolerance: float = 1e-5) -> None:
    """Every live window is a contiguous slice of the file and has the offline probabilities."""
    assert preds
    first = preds[0]["counter"][0]
    for k, record in enumerate(preds):
        assert record["counter_contiguous"] is True
        assert record["counter"] == [first + k * HOP, first + k * HOP + WINDOW_SAMPLES - 1]
    with Engine(bundle, "onnxruntime") as engine:
        offline = list(predict_files([path], engine, hop_s=HOP / SAMPLE_RATE_HZ, offset_s=first / SAMPLE_RATE_HZ))
    assert len(offline) == len(preds)
    worst = max(abs(live["probs"][c] - off["probs"][c]) for live, off in zip(preds, offline, strict=True)
                for c in CLASSES)
    assert worst <= tolerance


def player(source: Path | Recording, name: str, chunk: int = 20, source_id: str | None = None,
           speed: float = SPEED) -> Player:
    recording = source if isinstance(source, Recording) else read_recording(source)
    return Player(recording, ReplayConfig(name=name, chunk=chunk, speed=speed, counter=True, source_id=source_id))


@pytest.mark.parametrize("chunk", [1, 7, 64, 1000])
def test_live_windows_equal_offline_predict_for_any_replay_chunk(chunk, stream_name, test_bundle, recording_70s,
                                                                 live_session) -> None:
    source = player(recording_70s, stream_name, chunk)
    records = live_session(test_bundle, [StreamRequest(stream_name)], source.run, counter_label=COUNTER_LABEL)
    preds = predictions(records)
    assert source.sent == 70 * SAMPLE_RATE_HZ
    assert preds[-1]["counter"][1] == source.sent - 1  # nothing lost at the end either
    assert_matches_offline(preds, recording_70s, test_bundle)
    for record in preds:  # the Kaggle-layout test bundle's span, on the window's own (20x replay) timestamps
        per_sample = (record["window_end"] - record["window_start"]) / (WINDOW_SAMPLES - 1)
        assert record["label_start"] == pytest.approx(record["window_start"] + 4000 * per_sample)
        assert record["label_end"] == pytest.approx(record["window_start"] + 6000 * per_sample)
        assert record["latency_ms"] >= 0 and record["model"]


def test_several_streams_share_one_batched_engine_call(tmp_path, stream_name, test_bundle, recording_70s,
                                                       live_session) -> None:
    other = write_parquet(tmp_path / "other.parquet", synthetic_eeg(70.0, seed=5))
    names = [stream_name, stream_name + "-b"]
    players = [player(recording_70s, names[0], 64), player(other, names[1], 64)]
    batches: list[int] = []

    def record_batches(engine: Engine) -> None:
        outputs = engine.outputs
        engine.outputs = lambda windows: batches.append(len(windows)) or outputs(windows)

    def play_both_before_polling() -> None:
        threads = [threading.Thread(target=p.run) for p in players]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    # the runtime starts polling only once both streams are fully buffered in their inlets
    started = threading.Event()
    records = live_session(test_bundle, [StreamRequest(n) for n in names],
                           lambda: (play_both_before_polling(), started.set()), wrap_engine=record_batches,
                           counter_label=COUNTER_LABEL,
                           config=RunConfig().replace(watchdog={"poll_interval_s": 0.5, "check_rate": False}))
    assert max(batches) >= 2  # windows of both streams went through one call
    assert_matches_offline(predictions(records, names[0]), recording_70s, test_bundle)
    assert_matches_offline(predictions(records, names[1]), other, test_bundle)


@pytest.mark.parametrize("same_source_id", [True, False])
def test_outlet_killed_and_restarted(same_source_id, stream_name, test_bundle, recording_70s, live_session) -> None:
    first = player(recording_70s, stream_name, 50, source_id="src-" + stream_name)
    restarted: list[Player] = []

    def script() -> None:
        first.run()
        assert live_session.flow.wait_consumed([stream_name])
        first.close()  # the outlet dies, once the runtime has all it sent
        assert live_session.wait_records(lambda r: r.get("kind") == "no_data")  # the runtime saw the silence
        source_id = "src-" + stream_name if same_source_id else "new-" + uuid.uuid4().hex[:8]
        restarted.append(player(recording_70s, stream_name, 50, source_id=source_id))
        assert restarted[0].outlet.wait_for_consumers(30.0)  # the runtime is back on the stream: nothing is lost
        restarted[0].run()

    records = live_session(test_bundle, [StreamRequest(stream_name)], script, config=FAST_WATCHDOG,
                           counter_label=COUNTER_LABEL)
    kinds = [r.get("kind") for r in records if r["type"] == "status"]
    assert "no_data" in kinds
    # A new source_id: liblsl's recovery never finds it, the source switches to the new outlet, once, and says
    # so. The same source_id: liblsl may recover the old inlet first (the data just resumes) or the source's
    # own resolver may switch first ("reconnected"): at most one reconnection, naming the same producer.
    reconnections = [r for r in records if r.get("kind") == "reconnected"]
    assert len(reconnections) == 1 if not same_source_id else len(reconnections) <= 1
    for reconnected in reconnections:
        assert restarted[0].config.source_id in reconnected["message"]
        assert reconnected["source_id"] == restarted[0].config.source_id
    preds = predictions(records)
    segments = sorted({r["segment"] for r in preds})
    before = [r for r in preds if r["segment"] == segments[0]]
    after = [r for r in preds if r["segment"] == segments[-1]]
    assert len(segments) == 2 and before and after
    # every record names the producer it came from: the old one before, the restarted one after
    assert {r["source_id"] for r in before} == {"src-" + stream_name}
    assert {r["source_id"] for r in after} == {restarted[0].config.source_id}
    silence = next(i for i, r in enumerate(records) if r.get("kind") == "no_data")
    resumed = records.index(after[0])
    assert all(r["type"] == "status" for r in records[silence:resumed])  # status only while data is missing
    assert_matches_offline(after, recording_70s, test_bundle)
    for record in preds:  # no window spans the outage
        assert record["window_end"] - record["window_start"] < (WINDOW_SAMPLES / SAMPLE_RATE_HZ) / SPEED + 0.05


def test_pause_in_the_stream_resets_and_resumes(stream_name, test_bundle, live_session) -> None:
    recording = read_recording(write_parquet_tmp(synthetic_eeg(130.0, seed=2), stream_name))
    source = player(recording, stream_name, 20, speed=25.0)
    stop = threading.Event()

    def script() -> None:
        pause = threading.Timer(60.0 / 25.0, stop.set)  # pause after ~60 s of EEG
        pause.start()
        source.run(stop)
        # not a wait for an event: the pause makes the data (its timestamps jump by at least this much, 25 s
        # of EEG at this speed, far beyond the 0.3 s gap policy), so a slow machine only makes it longer
        time.sleep(1.0)
        stop.clear()
        source.run(stop)

    records = live_session(test_bundle, [StreamRequest(stream_name)], script, config=FAST_WATCHDOG,
                           counter_label=COUNTER_LABEL)
    gaps = [r for r in records if r.get("kind") == "gap"]
    assert len(gaps) == 1
    after = records[records.index(gaps[0]) + 1:]
    first_pred = next(i for i, r in enumerate(after) if r["type"] == "prediction")
    assert first_pred >= WINDOW_SAMPLES // HOP - 1  # warming status records until a full window is back
    assert all(r["type"] == "status" for r in after[:first_pred])
    for record in predictions(records):
        assert record["counter_contiguous"]


def write_parquet_tmp(data: np.ndarray, name: str) -> Path:
    import tempfile

    return write_parquet(Path(tempfile.mkdtemp()) / f"{name}.parquet", data)


def test_250_hz_edf_stream_is_resampled_like_offline_predict(tmp_path, stream_name, test_bundle,
                                                             live_session) -> None:
    from edfio import Edf, EdfSignal
    from scipy.signal import resample_poly

    at_250 = resample_poly(synthetic_eeg(70.0).astype(np.float64), 5, 4, axis=0) * 1e-3  # millivolts
    path = tmp_path / "rec250.edf"
    Edf([EdfSignal(at_250[:, i], 250, label=c.upper(), physical_dimension="mV")
         for i, c in enumerate(CHANNELS)]).write(path)
    source = player(path, stream_name, 25)
    records = live_session(test_bundle, [StreamRequest(stream_name)], source.run)
    preds = predictions(records)
    # no counter through a resampler: align on the 200 Hz sample index of the window start instead
    first = preds[0]["start_sample"]
    assert [r["start_sample"] for r in preds] == [first + k * HOP for k in range(len(preds))]
    with Engine(test_bundle, "onnxruntime") as engine:
        offline = {round(r["offset"] * SAMPLE_RATE_HZ): r for r in predict_files([path], engine)}
    # the live stream started at the first sample (the inlet subscribed before the replay began)
    matched = [(r, offline[r["start_sample"]]) for r in preds if r["start_sample"] in offline]
    assert len(matched) == len(preds)
    worst = max(abs(a["probs"][c] - b["probs"][c]) for a, b in matched for c in CLASSES)
    assert worst <= 1e-5


def test_missing_channel_is_an_error_or_flagged(tmp_path, stream_name, test_bundle, live_session) -> None:
    labels = [c for c in CHANNELS if c != "C4"]
    data = synthetic_eeg(56.0)[:, [CHANNELS.index(c) for c in labels]]
    path = write_parquet(tmp_path / "noc4.parquet", data, tuple(labels))
    source = player(path, stream_name, 64)
    with pytest.raises(DataError, match=r"lacks channel\(s\) C4"):
        live_session(test_bundle, [StreamRequest(stream_name)], source.run)
    records = live_session(test_bundle, [StreamRequest(stream_name)], source.run, allow_missing=True)
    preds = predictions(records)
    assert preds and all(r["flagged"] and r["quality"]["missing"] == ["C4"] for r in preds)


@pytest.mark.parametrize("disk_full", [False, True])
def test_lsl_outputs_carry_probabilities_and_alarm_markers(disk_full, stream_name, test_bundle, recording_70s,
                                                           tmp_path, sample_flow) -> None:
    """With `--out` on a full disk too: the JSONL sink is disabled, the LSL probabilities and alarms go on."""
    import pylsl

    from edge.runtime import RunOptions, run_streams

    out = None
    if disk_full:
        if not Path("/dev/full").exists():
            pytest.skip("/dev/full is not available here")
        out = tmp_path / "full.jsonl"
        out.symlink_to("/dev/full")

    source = player(recording_70s, stream_name, 50)
    config = RunConfig().replace(alarm={"on": 0.15, "off": 0.1}, smoothing={"k": 1}, watchdog={"check_rate": False})
    done, subscribed = threading.Event(), threading.Event()

    thread = sample_flow.replay(source, done, ready=subscribed)  # done once edge run pulled every sample
    inlets: dict[str, pylsl.StreamInlet] = {}
    received: dict[str, list] = {"probs": [], "alarms": []}

    def listen() -> None:
        for kind in ("probs", "alarms"):
            found = pylsl.resolve_bypred(f"name='{stream_name}-{kind}'", 1, 20.0)
            inlets[kind] = pylsl.StreamInlet(found[0])
            inlets[kind].open_stream(5.0)
        subscribed.set()
        while not done.is_set() or any(i.samples_available() for i in inlets.values()):
            for kind, inlet in inlets.items():
                samples, _ = inlet.pull_chunk(timeout=0.0)
                received[kind] += samples
            time.sleep(0.02)

    listener = threading.Thread(target=listen)
    listener.start()
    options = RunOptions(str(test_bundle), (StreamRequest(stream_name),), config, lsl_out=True, console=False,
                         out=str(out) if out else None)
    count = run_streams(options, stop=done)
    thread.join()
    listener.join()
    assert count > 0
    assert 0 < len(received["probs"]) <= count and all(abs(sum(p) - 1) < 1e-4 for p in received["probs"])
    states = [json.loads(marker[0])["state"] for marker in received["alarms"]]
    assert states[0] == "on" and all(a != b for a, b in itertools.pairwise(states))  # hysteresis alternates


def test_edge_run_with_onnxruntime_loads_no_torch(stream_name, tmp_path, edge_run_child) -> None:
    out = tmp_path / "preds.jsonl"
    heavy = ("heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'train', 'calibrate', "
             "'tensorrt'))\nassert not heavy, heavy\n")
    result = edge_run_child(stream_name, ["--out", str(out), "--timing"], after=heavy)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "timing engine:" in result.stderr and "timing resample" not in result.stderr  # 200 Hz: no resampler
    from edge.sinks.jsonl import read_jsonl

    assert predictions(read_jsonl(out))


def test_replay_is_paced_by_absolute_schedule_without_drift(stream_name) -> None:
    import pylsl

    from edge.inputs.input_files import Recording

    seconds = 3.0
    data = synthetic_eeg(seconds)
    recording = Recording(data, CHANNELS, ("uV",) * len(CHANNELS), float(SAMPLE_RATE_HZ), Path("pacing.parquet"))
    source = Player(recording, ReplayConfig(name=stream_name, chunk=7))
    inlet = pylsl.StreamInlet(pylsl.resolve_bypred(f"name='{stream_name}'", 1, 10.0)[0])
    inlet.open_stream(5.0)
    start = time.monotonic()
    source.run()
    elapsed = time.monotonic() - start
    stamps: list[float] = []
    while len(stamps) < len(data):
        _, got = inlet.pull_chunk(timeout=1.0, max_samples=len(data))
        assert got, "samples went missing"
        stamps += got
    # sample i is stamped start + i / rate exactly: sleep overshoot never accumulates into the schedule
    np.testing.assert_allclose(np.diff(stamps), 1.0 / SAMPLE_RATE_HZ, atol=1e-6)
    assert seconds - 0.1 < elapsed < seconds + 0.5


def test_run_without_the_stream_is_a_one_line_error(stream_name, test_bundle, tmp_path, capsys) -> None:
    from edge.cli import app
    from edge.cli_support import run_app

    config = tmp_path / "edge.toml"
    config.write_text("[run.watchdog]\nresolve_timeout_s = 0.5\n")
    code = run_app(app, ["run", "--stream", stream_name, "--bundle", str(test_bundle), "--config", str(config)])
    err = capsys.readouterr().err
    assert code == 2 and f"no LSL stream matching name='{stream_name}'" in err and len(err.strip().splitlines()) == 1


def test_real_eeg_replay_matches_offline_predict(shared_data, stream_name, test_bundle, live_session) -> None:
    path = shared_data / "hms" / "train_eeg_1628180742.parquet"  # 90 s of real EEG (local test use only)
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    source = player(path, stream_name, 64, speed=25.0)
    records = live_session(test_bundle, [StreamRequest(stream_name)], source.run, counter_label=COUNTER_LABEL)
    assert_matches_offline(predictions(records), path, test_bundle)
