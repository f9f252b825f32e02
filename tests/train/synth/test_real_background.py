"""Real EEG as synthetic background: channel mapping, 200 Hz, held-out eegmat subjects never used."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from edge.contract import CHANNELS, SAMPLE_RATE_HZ
from edge.errors import DataError
from train.data import load_table
from train.data.writer import write_eeg_parquet
from train.synth.generate import SynthConfig, generate_dataset
from train.synth.real_background import (
    HELD_OUT_EEGMAT_SUBJECTS,
    BackgroundSource,
    background_files,
    eegmat_subject,
    load_background,
    subject_sources,
)


def test_eegmat_subject_numbers_and_the_held_out_ones():
    assert eegmat_subject(Path("x/Subject07_2.edf")) == 7 and eegmat_subject(Path("Subject23_1.EDF")) == 23
    assert eegmat_subject(Path("Subject07.parquet")) is None and eegmat_subject(Path("record.edf")) is None
    assert {18, 19, 20, 21, 22, 23} == HELD_OUT_EEGMAT_SUBJECTS


def test_held_out_subjects_never_reach_a_training_set(tmp_path):
    folder = tmp_path / "bg"
    folder.mkdir()
    for name in ("Subject17_1.edf", "Subject18_1.edf", "Subject23_2.edf", "Subject19_1.parquet"):
        (folder / name).write_bytes(b"not read: the subject number decides")
    usable, held = background_files(folder)
    assert [p.name for p in held] == ["Subject18_1.edf", "Subject23_2.edf"]
    assert [p.name for p in usable] == ["Subject17_1.edf", "Subject19_1.parquet"]  # eegmat's files are .edf
    assert all(eegmat_subject(p) not in HELD_OUT_EEGMAT_SUBJECTS for p in usable)
    with pytest.raises(DataError, match="kept out of every training set"):
        load_background(folder / "Subject18_1.edf")
    with pytest.raises(DataError, match="kept out of every training set"):
        subject_sources([folder / "Subject23_2.edf"])
    only_held = tmp_path / "held"
    only_held.mkdir()
    shutil.copy(folder / "Subject18_1.edf", only_held / "Subject18_1.edf")
    with pytest.raises(DataError, match="held out"):
        background_files(only_held)


def test_parquet_background_is_mapped_and_excerpts_join_without_a_step(tmp_path):
    rng = np.random.default_rng(1)
    signals = rng.normal(0, 10, (len(CHANNELS), 25 * SAMPLE_RATE_HZ)) + 500  # a DC offset to remove
    write_eeg_parquet(tmp_path / "a.parquet", signals)
    loaded = load_background(tmp_path / "a.parquet")
    assert loaded.shape == signals.shape and abs(np.median(loaded)) < 1
    drawn = BackgroundSource((tmp_path / "a.parquet",)).draw(np.random.default_rng(2), 70 * SAMPLE_RATE_HZ)
    assert drawn.shape == (len(CHANNELS), 70 * SAMPLE_RATE_HZ) and np.isfinite(drawn).all()
    steps = np.abs(np.diff(drawn[:19], axis=1)).max()
    assert steps < 10 * np.abs(np.diff(loaded[:19], axis=1)).max()  # crossfaded joints, no jump
    assert (drawn.std(axis=1)[:19] > 5).all()  # never a stretch of zeros


def test_eegmat_edf_is_resampled_to_200_hz_in_contract_order(shared_data):
    path = shared_data / "eegmat" / "Subject00_1.edf"
    eeg = load_background(path)
    assert eeg.shape[0] == len(CHANNELS)
    assert abs(eeg.shape[1] / SAMPLE_RATE_HZ - 182) < 1.5  # 182 s at 500 Hz -> 200 Hz
    spread = eeg[:19].std(axis=1)
    assert ((spread > 3) & (spread < 60)).all()  # microvolts of healthy scalp EEG
    assert eeg[CHANNELS.index("EKG")].std() > 50  # ECG in mV became uV
    usable, held = background_files(shared_data / "eegmat")
    assert len(usable) == 36 and {eegmat_subject(p) for p in held} == HELD_OUT_EEGMAT_SUBJECTS
    assert len(subject_sources(usable)) == 18


def test_synth_with_real_background_keeps_labels_and_votes(shared_data, tmp_path):
    common = {"n_eegs": 6, "n_patients": 3, "seed": 4, "max_seconds": 60}
    plain = generate_dataset(tmp_path / "plain", SynthConfig(**common)).out
    real = generate_dataset(tmp_path / "real", SynthConfig(**common, background_dir=shared_data / "eegmat",
                                                             background_share=1.0)).out
    assert (plain / "train.csv").read_bytes() == (real / "train.csv").read_bytes()  # same seed: same rows
    table = load_table(real)
    first = table.eeg_path(table.eeg_ids[0]).name
    assert (plain / "train_eegs" / first).read_bytes() != (real / "train_eegs" / first).read_bytes()
