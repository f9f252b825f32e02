"""`train synth --continuous`: long recordings whose annotated events are where the signal says they are."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np
import pytest

from edge.cli_support import run_app
from edge.contract import CHANNELS, SAMPLE_RATE_HZ
from edge.inputs.input_files import read_recording
from edge.testing import shared_data_dir
from train.cli import app
from train.synth.continuous import MIN_SPACING_S, ContinuousConfig, generate_continuous, plan_events

SHARED_EEGMAT = shared_data_dir() / "eegmat"


def _events(out: Path) -> list[dict]:
    with (out / "events.csv").open() as f:
        return list(csv.DictReader(f))


def test_event_plan_keeps_events_apart_and_inside() -> None:
    config = ContinuousConfig(hours=1, seizures_per_hour=3, iiic_per_hour=3, artifacts_per_hour=3,
                              electrode_off_per_hour=3)
    for seed in range(20):
        events = plan_events(np.random.default_rng(seed), config, 3600, file="r")
        assert len(events) == 12
        ends = [0.0] + [t for e in events for t in (e.onset_s, e.offset_s)] + [3600.0]
        assert all(np.diff(ends)[::2] >= MIN_SPACING_S - 0.02) and all(np.diff(ends) > 0)
        seizures = [e.offset_s - e.onset_s for e in events if e.label == "seizure"]
        assert all(9.9 <= s <= 600.1 for s in seizures)


def test_edf_parquet_and_events_that_match_the_signal(tmp_path: Path) -> None:
    out = tmp_path / "cont"
    config = ContinuousConfig(hours=1 / 3, recording_s=1200, seed=3, seizures_per_hour=6, iiic_per_hour=3,
                              artifacts_per_hour=3, electrode_off_per_hour=3)
    summary = generate_continuous(out, config)
    assert summary.counts["seizure"] == 2 and sum(summary.counts.values()) == 5
    events = _events(out)
    assert {e["file"] for e in events} == {"rec_000"} and set(events[0]) == {"file", "onset_s", "offset_s", "label"}
    edf, parquet = read_recording(out / "rec_000.edf"), read_recording(out / "rec_000.parquet")
    assert edf.sample_rate_hz == parquet.sample_rate_hz == SAMPLE_RATE_HZ and len(edf.labels) == len(CHANNELS)
    assert edf.data.shape == parquet.data.shape == (1200 * SAMPLE_RATE_HZ, len(CHANNELS))
    # EDF stores 16-bit integers over +-(max |x| + 1): one step is about max / 2**15
    np.testing.assert_allclose(edf.data, parquet.data, atol=(np.abs(parquet.data).max() + 1) / 2**15)
    data = parquet.data.T[:19]
    quiet = np.ones(data.shape[1], dtype=bool)
    for e in events:
        quiet[int(float(e["onset_s"]) * SAMPLE_RATE_HZ) - 1000:int(float(e["offset_s"]) * SAMPLE_RATE_HZ) + 1000] = 0
    for e in events:
        span = data[:, int(float(e["onset_s"]) * SAMPLE_RATE_HZ):int(float(e["offset_s"]) * SAMPLE_RATE_HZ)]
        if e["label"] == "electrode_off":
            assert (np.ptp(span, axis=1) < 0.5).any()  # flat by the runtime's quality check
        elif e["label"] in ("seizure", "artifact"):
            assert span.std() > 1.3 * data[:, quiet].std(), e


def test_cli_writes_recordings_refuses_overwriting_and_needs_out(tmp_path: Path, capsys) -> None:
    out = tmp_path / "cli"
    assert run_app(app, ["synth", "--continuous", str(1 / 6), "--out", str(out), "--seed", "1"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["events.csv", "rec_000.edf", "rec_000.parquet"]
    assert run_app(app, ["synth", "--continuous", "0.2", "--out", str(out)]) == 2
    assert "already holds continuous recordings" in capsys.readouterr().err
    assert run_app(app, ["synth", "--continuous", "1"]) == 2
    assert "--continuous needs --out" in capsys.readouterr().err


@pytest.mark.skipif(not SHARED_EEGMAT.is_dir(), reason="needs /work/shared/data/eegmat")
def test_real_background_is_only_people_no_model_trained_on(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "bg"
    folder.mkdir()
    (folder / "Subject00_1.edf").symlink_to(SHARED_EEGMAT / "Subject00_1.edf")  # a training subject
    args = ["synth", "--continuous", str(1 / 6), "--background", str(folder)]
    assert run_app(app, [*args, "--out", str(tmp_path / "none")]) == 2  # recordings to score: no training people
    assert "no recording of eegmat subjects 18-23" in capsys.readouterr().err and not (tmp_path / "none").exists()
    (folder / "Subject20_1.edf").symlink_to(SHARED_EEGMAT / "Subject20_1.edf")  # held out for the false-alarm check
    out = tmp_path / "real"
    assert run_app(app, [*args, "--out", str(out)]) == 0
    assert read_recording(out / "rec_000.parquet").data.shape[0] == 600 * SAMPLE_RATE_HZ


def test_hard_set_has_brief_long_clustered_and_post_ictal_events_from_eval_seeds_only() -> None:
    from edge.errors import SpecError
    from train.synth.continuous import CLUSTER_GAP_S
    from train.synth.evaluation_set import EVAL_SEED_START

    with pytest.raises(SpecError, match="--seed"):
        ContinuousConfig.hard(24, 0)
    config = ContinuousConfig.hard(24, EVAL_SEED_START)
    events = [e for seed in range(8) for e in plan_events(np.random.default_rng(seed), config, config.recording_s,
                                                          file=f"r{seed}")]
    seizures = [e for e in events if e.label == "seizure"]
    lengths = np.array([e.offset_s - e.onset_s for e in seizures])
    assert (lengths < 30).sum() >= 8 and (lengths > 300).sum() >= 4
    pairs = [(a, b, b.onset_s - a.offset_s) for a, b in itertools.pairwise(events) if a.file == b.file]
    clustered = [g for a, b, g in pairs if a.label == b.label == "seizure" and g < MIN_SPACING_S]
    assert clustered and all(CLUSTER_GAP_S[0] - 0.02 <= g <= CLUSTER_GAP_S[1] + 0.02 for g in clustered)
    assert any(a.label == "seizure" and b.label in ("lpd", "lrda") and g < 20.1 for a, b, g in pairs)
    assert all(g > 0 for _, _, g in pairs)


def test_training_sets_refuse_the_evaluation_seeds(tmp_path: Path, capsys) -> None:
    assert run_app(app, ["synth", "--out", str(tmp_path / "d"), "--eegs", "4", "--seed", "9001"]) == 2
    assert "reserved for evaluation" in capsys.readouterr().err and not (tmp_path / "d").exists()
