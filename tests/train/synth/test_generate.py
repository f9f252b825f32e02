"""`train synth` writes exactly the Kaggle layout; `train check` reports broken copies one line each."""

import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from edge.cli_support import run_app
from edge.contract import CHANNELS, SAMPLE_RATE_HZ
from train.cli import app
from train.data import build_window_set, load_table, validate_layout
from train.data.columns import TEST_COLUMNS, TRAIN_COLUMNS
from train.synth.generate import SynthConfig, generate_dataset, pattern_span


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    assert run_app(app, ["synth", "--out", str(out), "--eegs", "24", "--patients", "6", "--seed", "3"]) == 0
    return out


def test_layout_is_kaggle_exact_and_valid(synth_dir):
    assert validate_layout(synth_dir) == [] and validate_layout(synth_dir, "test") == []
    assert (synth_dir / "train.csv").read_text().splitlines()[0] == ",".join(TRAIN_COLUMNS)
    assert (synth_dir / "test.csv").read_text().splitlines()[0] == ",".join(TEST_COLUMNS)
    table = load_table(synth_dir)
    assert len(np.unique(table.eeg_ids)) == 24 and len(np.unique(table.patient_ids)) <= 6
    assert len(table) > 24  # several labelled sub-windows per recording
    assert np.all(table.offsets_s % 2 == 0)
    seconds = table.eeg_samples / SAMPLE_RATE_HZ
    assert seconds.min() >= 50 and seconds.max() <= 90
    schema = pq.read_schema(table.eeg_path(table.eeg_ids[0]))
    assert schema.names == list(CHANNELS) and all(str(t) == "float" for t in schema.types)
    assert set(table.total_votes) <= set(range(1, 8)) | set(range(10, 29))
    test = load_table(synth_dir, "test")
    assert set(test.eeg_samples) == {10_000} and not set(test.patient_ids) & set(table.patient_ids)


def test_same_seed_same_data_whatever_the_worker_count(tmp_path):
    a = generate_dataset(tmp_path / "a", SynthConfig(n_eegs=3, seed=11), workers=1)
    b = generate_dataset(tmp_path / "b", SynthConfig(n_eegs=3, seed=11), workers=2)
    assert (a.out / "train.csv").read_bytes() == (b.out / "train.csv").read_bytes()
    for first in sorted((a.out / "train_eegs").iterdir()):
        assert first.read_bytes() == (b.out / "train_eegs" / first.name).read_bytes()


def test_windows_from_synthetic_data_are_microvolt_eeg(synth_dir, tmp_path):
    windows = build_window_set(synth_dir, tmp_path / "cache", margin=200)
    eeg = np.stack([windows.window(i) for i in range(len(windows))])
    assert np.isfinite(eeg).all()
    spread = np.median(np.abs(eeg[:, :19] - np.median(eeg[:, :19], axis=2, keepdims=True)))
    assert 3 < spread < 100  # tens of microvolts, like clinical scalp EEG
    assert np.median(np.abs(eeg[:, 19]).max(axis=1)) > 100  # the EKG channel carries R waves


def test_nan_stretches_are_written_and_counted(tmp_path):
    out = generate_dataset(tmp_path / "nan", SynthConfig(n_eegs=60, seed=5)).out
    windows = build_window_set(out, tmp_path / "cache", margin=0)
    assert windows.nan_counts.sum() > 0
    assert all(np.isfinite(windows.row(i)).all() for i in np.flatnonzero(windows.nan_counts))


def test_check_cli_clean_and_broken(synth_dir, tmp_path, capsys):
    assert run_app(app, ["check", "--data", str(synth_dir)]) == 0
    assert "train layout OK" in capsys.readouterr().out

    broken = tmp_path / "broken"
    shutil.copytree(synth_dir, broken, ignore=shutil.ignore_patterns(".eeg-edge-cache"))
    lines = (broken / "train.csv").read_text().splitlines()
    header = lines[0].split(",")
    drop = header.index("lpd_vote")
    rows = [[c for j, c in enumerate(line.split(",")) if j != drop] for line in lines]
    offset = header.index("eeg_label_offset_seconds")
    rows[1][offset] = "500.0"  # past the end of any 50-90 s file
    (broken / "train.csv").write_text("\n".join(",".join(r) for r in rows) + "\n")
    missing_id = rows[-1][header.index("eeg_id")]
    (broken / "train_eegs" / f"{missing_id}.parquet").unlink()

    assert run_app(app, ["check", "--data", str(broken)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3, err
    assert err[0].endswith("missing column lpd_vote")
    assert "line 2: eeg_id" in err[1] and "offset 500 s needs 110000 samples" in err[1]
    assert f"{missing_id}.parquet: missing" in err[2]


def test_synth_cli_refuses_nothing_to_do_and_overwriting(synth_dir, capsys):
    assert run_app(app, ["synth"]) == 2
    assert "nothing to do" in capsys.readouterr().err
    assert run_app(app, ["synth", "--out", str(synth_dir), "--eegs", "2"]) == 2
    assert "already holds a dataset" in capsys.readouterr().err


def test_test_split_windows_are_whole_50s_files(synth_dir, tmp_path):
    windows = build_window_set(synth_dir, tmp_path / "cache", split="test", margin=100)
    assert len(windows) == 2 and windows.targets is None and windows.total_votes is None
    assert windows.window(0, shift=-100).shape == (20, 10_000)
    np.testing.assert_array_equal(windows.offsets_s, [0.0, 0.0])
    np.testing.assert_array_equal(windows.pad_samples, [[100, 100]] * 2)
    np.testing.assert_array_equal(windows.label_ids, [-1, -1])


def test_patterns_cover_their_labelled_spans_and_often_the_whole_recording():
    rng = np.random.default_rng(0)
    offsets, seconds = np.array([0.0, 10.0]), 90  # labelled spans [20, 30] and [30, 40]
    onsets, ends = np.array([pattern_span(rng, offsets, seconds=seconds) for _ in range(2000)]).T
    assert (onsets <= 18).all() and (ends >= 42).all()  # at least 2 s of pattern either side of the labels
    # about half the edges lie outside the recording: those windows show the pattern from start to end
    assert 0.45 < (onsets <= 0).mean() < 0.55 and 0.45 < (ends >= seconds).mean() < 0.55
