"""The recording-level plausibility check (edge/chain/quality.py implausible_scale, QualityConfig.min_scale_uv):
EEG that cannot be microvolts is refused, naming the likely cause; real EEG never is (issue 28 item 8: eleven
z-scored Kaggle segments were all called LPD with p 0.47-0.63)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.chain.signal_chain import Window
from edge.chain.status import REFUSED_WINDOW, Kind, Status
from edge.config import ChainConfig, QualityConfig, RunConfig
from edge.errors import SpecError
from edge.inputs.file_source import FileSource
from edge.inputs.input_files import Recording, read_recording
from edge.model.engine import Engine
from edge.offline.predict import file_windows, predict_files
from edge.runtime import Runtime
from edge.testing import ListSink, write_parquet

TEST_DATA = Path(__file__).resolve().parents[2] / "data"
REAL = sorted(TEST_DATA.glob("*.parquet"))


def rescaled(path: Path, tmp_path: Path, how: str) -> Path:
    recording = read_recording(path)
    data = recording.data.astype(np.float64)
    if how == "z-scored":  # per channel, over the recording: what a normalised export looks like
        data = (data - np.nanmean(data, axis=0)) / np.nanstd(data, axis=0)
    else:
        data = data * {"volts": 1e-6, "millivolts": 1e-3}[how]
    return write_parquet(tmp_path / f"{how}-{path.name}", data.astype(np.float32), recording.labels)


def refusals(path: Path, config: ChainConfig | None = None) -> list[Status]:
    events = list(file_windows(path, config or ChainConfig()))
    assert events, path
    return [e for e in events if isinstance(e, Status)]


@pytest.mark.parametrize(("how", "cause"), [
    ("z-scored", "z-scored per channel"), ("volts", "volts read as microvolts"),
    ("millivolts", "millivolts read as microvolts"),
])
@pytest.mark.parametrize("path", REAL, ids=[p.stem for p in REAL])
def test_real_eeg_rescaled_out_of_microvolts_is_refused_naming_the_cause(path, tmp_path, how, cause) -> None:
    bad = rescaled(path, tmp_path, how)
    events = list(file_windows(bad, ChainConfig()))
    assert events and all(isinstance(e, Status) and e.kind == Kind.IMPLAUSIBLE for e in events)
    assert all("units" in e.message and cause in e.message and "not predicted" in e.message for e in events)


def test_a_shared_segment_divided_by_its_channel_std_gives_refusals_naming_units(shared_data, tmp_path,
                                                                                 test_bundle) -> None:
    """The acceptance case: a real shared sparcnet segment divided by its per-channel std; `edge predict` gives
    status records naming units, not predictions."""
    segment = sorted((shared_data / "sparcnet_iiic").glob("*.parquet"))[0]
    recording = read_recording(segment)
    data = recording.data / np.nanstd(recording.data, axis=0)
    path = write_parquet(tmp_path / "divided.parquet", data.astype(np.float32), recording.labels)
    with Engine(test_bundle, "onnxruntime") as engine:
        records = list(predict_files([path], engine))
    assert records and all(r["type"] == "status" and r["kind"] == "implausible" and "units" in r["message"]
                           for r in records)


def test_real_shared_eeg_is_never_refused_with_the_default_config(shared_data) -> None:
    """12 sparcnet segments, the hms EEG files, 48 eegmat recordings: no window refused for any reason (the
    smallest window scale on them is 6.03 uV against min_scale_uv 2.5: scripts/quality_stats.py)."""
    paths = [*sorted((shared_data / "sparcnet_iiic").glob("*.parquet")),
             *sorted((shared_data / "hms").glob("*eeg*.parquet")), *sorted((shared_data / "eegmat").glob("*.edf"))]
    assert len(paths) >= 12 + 48
    refused = {path.name: [e.kind for e in refusals(path)] for path in paths}
    assert {name: kinds for name, kinds in refused.items() if kinds} == {}


def test_exactly_flat_channels_are_flat_not_implausible_units(tmp_path) -> None:
    """Zeros are a disconnection (artifact: flat), never blamed on units."""
    path = write_parquet(tmp_path / "zeros.parquet", np.zeros((60 * 200, 20), np.float32))
    kinds = {e.kind for e in refusals(path)}
    assert kinds == {Kind.ARTIFACT}


def test_a_few_low_channels_do_not_make_a_recording_implausible(tmp_path) -> None:
    """The median over channels: 5 of 19 channels scaled down to ~0.01 uV leave a real recording plausible."""
    recording = read_recording(REAL[0])
    data = recording.data.copy()
    data[:, :5] *= 1e-3
    path = write_parquet(tmp_path / "five-low.parquet", data, recording.labels)
    assert Kind.IMPLAUSIBLE not in {e.kind for e in refusals(path)}


@pytest.mark.parametrize("value", [0.0, -1.0, float("nan"), float("inf"), 11.0])
def test_min_scale_uv_has_a_finite_stated_range(value) -> None:
    with pytest.raises(SpecError, match=r"min_scale_uv.*\(0, 10\]"):
        QualityConfig(min_scale_uv=value).validate()


def test_the_threshold_is_configurable(tmp_path) -> None:
    """A site whose amplifier really is that quiet can lower it (here: z-scored EEG accepted at 0.5 uV)."""
    bad = rescaled(REAL[0], tmp_path, "z-scored")
    lenient = ChainConfig(quality=QualityConfig(min_scale_uv=0.5, flat_uv=0.01))
    assert Kind.IMPLAUSIBLE not in {e.kind for e in refusals(bad, lenient)}


def test_a_live_z_scored_stream_gives_implausible_statuses_and_no_prediction(test_bundle, tmp_path) -> None:
    recording = read_recording(rescaled(REAL[0], tmp_path, "z-scored"))
    long = Recording(np.tile(recording.data, (2, 1)), recording.labels, recording.units, recording.sample_rate_hz,
                     recording.path)
    sink = ListSink()
    with Engine(test_bundle, "onnxruntime", threads=1) as engine:
        runtime = Runtime(engine, [FileSource(long, name="bed")], [sink],
                          RunConfig().replace(watchdog={"check_rate": False}))
        while runtime.step():
            pass
        runtime.close()
    statuses = [r for r in sink.records if r["type"] == "status" and r["kind"] in REFUSED_WINDOW]
    assert statuses and all(r["kind"] == "implausible" for r in statuses)
    assert not [r for r in sink.records if r["type"] == "prediction"]


def test_clean_real_segments_stay_predicted() -> None:
    for path in REAL:
        events = list(file_windows(path, ChainConfig()))
        assert events and all(isinstance(e, Window) for e in events), path.name
