"""Signal validity and missing data (issue 16, docs/reliability.md): junk and gaps are never predicted on.

Driven through the real chain (SignalChain) and offline `predict_files`; the live runtime's handling of
the same cases is in test_quality_live.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.signal import resample_poly

from edge.chain.channels import build_channel_map
from edge.chain.quality import MISSING, OK, OUT_OF_RANGE, Sanitizer
from edge.chain.signal_chain import SignalChain, Status, Window
from edge.cli import app
from edge.cli_support import run_app
from edge.config import ChainConfig, QualityConfig, RunConfig
from edge.contract import CHANNELS, LABEL_START, LABEL_STOP, SAMPLE_RATE_HZ, WINDOW_SAMPLES
from edge.errors import DataError, SpecError
from edge.inputs.input_files import read_recording
from edge.model.engine import Engine
from edge.offline.predict import predict_files
from edge.testing import synthetic_eeg, write_parquet

EEG = [c for c in CHANNELS if c != "EKG"]
LABEL_SECONDS = list(range(LABEL_START // SAMPLE_RATE_HZ, LABEL_STOP // SAMPLE_RATE_HZ))


def events(data: np.ndarray, labels=CHANNELS, rate: float = SAMPLE_RATE_HZ, allow_missing: bool = False,
           **quality) -> list[Window | Status]:
    channel_map = build_channel_map(list(labels), ["uV"] * len(labels), allow_missing=allow_missing)
    chain = SignalChain(channel_map, rate, ChainConfig(quality=QualityConfig(**quality)))
    return [e for e in chain.push(data) if isinstance(e, Window) or e.kind != "warming"]


def only(found: list, kind: type) -> list:
    assert found and all(isinstance(e, kind) for e in found), [getattr(e, "kind", "window") for e in found]
    return found


def test_square_wave_only_inside_the_labelled_span_is_not_predicted() -> None:
    data = synthetic_eeg(50.0)
    t = np.arange(LABEL_START, LABEL_STOP) / SAMPLE_RATE_HZ
    data[LABEL_START:LABEL_STOP, :19] = 5000.0 * np.sign(np.sin(2 * np.pi * 3.0 * t))[:, None]  # +-5 mV
    (status,) = only(events(data), Status)
    assert status.kind == "artifact" and "not predicted" in status.message
    assert set(status.detail["unusable"]) == set(EEG)
    assert all(status.detail["bad_seconds"][c] == LABEL_SECONDS for c in EEG)
    assert "20-30 s" in status.message


def test_recording_scaled_by_a_million_is_masked_and_not_predicted() -> None:
    found = only(events(synthetic_eeg(54.0) * 1e6), Status)
    assert {s.kind for s in found} == {"artifact"}
    assert all(s.detail["unusable"]["Fp1"] == ["range"] for s in found)


def test_ten_samples_at_3e38_never_reach_the_model_and_flag_the_window() -> None:
    data = synthetic_eeg(50.0)
    data[5000:5010, :] = 3e38 * np.where(np.arange(10) % 2, 1.0, -1.0)[:, None]
    (window,) = only(events(data), Window)
    assert np.abs(window.data).max() < 1000  # masked: the last good value stands in
    assert window.flagged and window.quality["range"] == EEG
    assert window.bad_seconds["Fp1"] == [25]


@pytest.mark.parametrize("where", ["all", "one channel", "leading"])
def test_nan_is_missing_never_zero(where: str) -> None:
    data = synthetic_eeg(80.0)
    if where == "all":
        data[:] = np.nan
    elif where == "one channel":
        data[:, CHANNELS.index("C3")] = np.nan
    else:  # NaN before any real sample: formerly filled with 0 and predicted
        data[: 40 * SAMPLE_RATE_HZ] = np.nan
    found = events(data)
    refused = [e for e in found if isinstance(e, Status)]
    assert refused and all(s.kind == "missing" for s in refused)
    if where == "one channel":
        assert len(refused) == len(found) and all(s.detail["unusable"] == {"C3": ["missing"]} for s in refused)
        assert "C3 missing (0-50 s)" in refused[0].message
    if where == "leading":  # predictions start once the labelled span holds real samples
        first = next(e for e in found if isinstance(e, Window))
        assert first.start_sample + LABEL_START == 40 * SAMPLE_RATE_HZ  # the previous one had 2 s missing there
        assert first.quality["missing_samples"] == EEG and first.bad_seconds["Fp1"] == list(range(20))


def test_missing_share_in_the_labelled_span_per_channel_and_overall() -> None:
    data = synthetic_eeg(50.0)
    short = data.copy()
    short[5000:5100, CHANNELS.index("O2")] = np.nan  # 0.5 s: 5 % of the channel's span
    (window,) = only(events(short), Window)
    assert window.quality["missing_samples"] == ["O2"] and window.bad_seconds == {"O2": [25]}
    long = data.copy()
    long[5000:5300, CHANNELS.index("O2")] = np.nan  # 1.5 s: 15 % > channel_missing_share
    (status,) = only(events(long), Status)
    assert status.kind == "missing" and status.detail["unusable"] == {"O2": ["missing"]}
    spread = data.copy()
    for k, c in enumerate(EEG):  # 0.15 s on every channel: 1.5 % each, but 7.5 % of the span overall
        spread[4000 + 100 * k:4000 + 100 * k + 30, CHANNELS.index(c)] = np.nan
        spread[5000 + 50 * k:5000 + 50 * k + 120, CHANNELS.index(c)] = np.nan
    (status,) = only(events(spread, missing_share=0.05), Status)
    assert status.kind == "missing" and status.detail["unusable"] == {}
    (window,) = only(events(spread, missing_share=0.2), Window)


def test_one_bad_electrode_is_tolerated_two_are_not() -> None:
    data = synthetic_eeg(50.0)
    data[:, CHANNELS.index("C3")] = 3.0  # flat: the C3 pairs are lost, 14 of 16 left
    (window,) = only(events(data), Window)
    assert window.quality["flat"] == ["C3"]
    ramp = np.arange(LABEL_START, LABEL_STOP, dtype=np.float32) * 0.5  # a test ramp: constant step
    data[LABEL_START:LABEL_STOP, CHANNELS.index("T6")] = ramp
    (status,) = only(events(data), Status)
    assert status.kind == "artifact" and status.detail["unusable"] == {"C3": ["flat"], "T6": ["constant_step"]}
    assert "12 of 16 bipolar pairs usable (need 14)" in status.message


def test_line_noise_alone_is_a_minor_flag() -> None:
    data = synthetic_eeg(50.0)
    t = np.arange(len(data)) / SAMPLE_RATE_HZ
    data[:, CHANNELS.index("T3")] += 100.0 * np.sin(2 * np.pi * 50.0 * t)
    (window,) = only(events(data), Window)
    assert window.quality["line_noise"] == ["T3"] and window.flagged and window.bad_seconds == {}
    assert window.alarm_eligible  # the model's band-pass removes hum: by default it does not block alarms
    (strict,) = only(events(data, alarm_ignores=()), Window)
    assert not strict.alarm_eligible


def test_allow_missing_has_a_floor_and_names_the_reconstructed_pairs() -> None:
    data = synthetic_eeg(50.0)
    labels = [c for c in CHANNELS if c != "Fp1"]
    (window,) = only(events(data[:, [CHANNELS.index(c) for c in labels]], labels, allow_missing=True), Window)
    assert window.quality["missing"] == ["Fp1"] and window.quality["reconstructed"] == ["Fp1-F7", "Fp1-F3"]
    two = [c for c in CHANNELS if c not in ("Fp1", "O2")]
    with pytest.raises(DataError, match="only 12 of 16 bipolar pairs can be computed without Fp1, O2"):
        events(data[:, [CHANNELS.index(c) for c in two]], two, allow_missing=True)
    events(data[:, [CHANNELS.index(c) for c in two]], two, allow_missing=True, min_pairs=12)  # configurable


def test_one_channel_recording_with_allow_missing_is_refused(tmp_path: Path, test_bundle: Path) -> None:
    path = write_parquet(tmp_path / "one.parquet", synthetic_eeg(60.0)[:, :1], ("Fp1",))
    with Engine(test_bundle, "onnxruntime") as engine, pytest.raises(DataError, match="only 0 of 16 bipolar"):
        list(predict_files([path], engine, allow_missing=True))


def test_masks_survive_resampling() -> None:
    source = synthetic_eeg(54.0)
    at_250 = resample_poly(source.astype(np.float64), 5, 4, axis=0).astype(np.float32)
    at_250[6000:6100, CHANNELS.index("P3")] = np.nan  # 0.4 s at 24.0-24.4 s of the 250 Hz stream
    found = only(events(at_250, rate=250.0), Window)
    assert found[0].quality["missing_samples"] == ["P3"] and found[0].bad_seconds == {"P3": [24]}
    at_250[6000:7000, CHANNELS.index("P3")] = np.nan  # 4 s inside the labelled span: refused
    assert events(at_250, rate=250.0)[0].kind == "missing"


def test_sanitizer_codes_and_holds_the_last_good_value() -> None:
    sanitizer = Sanitizer(2, range_uv=100.0)
    clean, codes = sanitizer.process(np.array([[np.nan, 1.0], [5.0, np.inf], [500.0, -2.0]], dtype=np.float32))
    assert codes.tolist() == [[MISSING, OK], [OK, MISSING], [OUT_OF_RANGE, OK]]
    assert clean.tolist() == [[0.0, 1.0], [5.0, 1.0], [5.0, -2.0]]


def test_quality_config_is_validated() -> None:
    with pytest.raises(SpecError, match=r"run.chain.quality.label_bad_share must be a finite number in \[0, 1\)"):
        RunConfig().replace(chain={"quality": QualityConfig(label_bad_share=1.5)})
    with pytest.raises(SpecError, match=r"run.chain.quality.min_pairs must be an integer in \[1, 64\]"):
        RunConfig().replace(chain={"quality": QualityConfig(min_pairs=0)})
    with pytest.raises(SpecError, match="alarm_ignores must name flags among missing, reconstructed"):
        RunConfig().replace(chain={"quality": QualityConfig(alarm_ignores=("hum",))})


def test_all_nan_file_gives_status_records_and_no_prediction(tmp_path: Path, test_bundle: Path, capsys) -> None:
    path = write_parquet(tmp_path / "nan.parquet", np.full((60 * SAMPLE_RATE_HZ, len(CHANNELS)), np.nan, np.float32))
    with Engine(test_bundle, "onnxruntime") as engine:
        records = list(predict_files([path], engine))
    assert len(records) == (60 * SAMPLE_RATE_HZ - WINDOW_SAMPLES) // 400 + 1
    assert all(r["type"] == "status" and r["kind"] == "missing" and "probs" not in r for r in records)
    assert run_app(app, ["predict", str(path), "--bundle", str(test_bundle)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(records) and all("@" in line and "not predicted (missing)" in line for line in lines)


def real_segments(shared: Path) -> list[Path]:
    tests_data = Path(__file__).resolve().parents[2] / "data"
    return sorted((shared / "sparcnet_iiic").glob("*.parquet")) + sorted(tests_data.glob("*.parquet"))


def test_clean_real_segments_are_predicted_on_unchanged_samples(shared_data: Path) -> None:
    """Each real segment is one window: never refused, never masked, the model sees the file's samples."""
    paths = real_segments(shared_data)
    assert len(paths) == 15
    for path in paths:
        recording = read_recording(path)
        (window,) = only(events(recording.data, recording.labels), Window)
        np.testing.assert_array_equal(window.data, recording.data[:WINDOW_SAMPLES].T)
        assert window.bad_seconds == {}, path.name
        assert set(window.quality) - {"line_noise"} <= {k for k, v in window.quality.items() if not v}, path.name


def test_offline_nan_model_output_is_a_status_not_a_prediction(test_bundle: Path, recording_70s: Path) -> None:
    with Engine(test_bundle, "onnxruntime") as engine:
        engine.outputs = lambda batch: np.full((len(batch), 6), np.nan, np.float32)
        records = list(predict_files([recording_70s], engine))
    assert len(records) == 11 and all(r["type"] == "status" and r["kind"] == "invalid_output" for r in records)


@pytest.mark.parametrize("hop_s", [2.0, 1.5])
def test_checks_reused_across_overlapping_windows_equal_a_fresh_judgement(hop_s: float) -> None:
    """Windows on whole seconds reuse earlier seconds' checks; the verdicts equal judging each window anew."""
    from edge.chain.quality import WindowJudge

    data = synthetic_eeg(90.0)
    data[3000:3300, CHANNELS.index("C3")] = 3.0  # flat for 1.5 s
    data[9000:9400, CHANNELS.index("T4")] = np.arange(400) * 2.0  # a ramp
    data[12000:12050, CHANNELS.index("O1")] = np.nan
    channel_map = build_channel_map(list(CHANNELS), ["uV"] * len(CHANNELS))
    chain = SignalChain(channel_map, SAMPLE_RATE_HZ, ChainConfig(hop_s=hop_s))
    found = [e for e in chain.push(data) if isinstance(e, Window)]
    assert len(found) == int((90.0 - 50.0) // hop_s) + 1
    for window in found:
        codes = np.isnan(data[window.start_sample:window.start_sample + WINDOW_SAMPLES].T).astype(np.uint8)
        fresh = WindowJudge(channel_map, QualityConfig()).judge(window.data, codes, window.start_sample)
        assert (window.quality, window.bad_seconds) == (fresh.flags, fresh.bad_seconds)
    assert any(w.quality["flat"] == ["C3"] for w in found) and any(w.quality["constant_step"] for w in found)
