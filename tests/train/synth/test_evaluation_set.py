"""Evaluation sets: evaluation seeds, only eegmat subjects 18-23 as real background, never trained on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.cli_support import run_app
from edge.errors import DataError
from train.cli import app
from train.synth.evaluation_set import EVAL_SEED_START, MARKER, check_seed, is_evaluation_set
from train.synth.generate import SynthConfig, _background_sources, generate_dataset
from train.synth.real_background import HELD_OUT_EEGMAT_SUBJECTS, background_files, eegmat_subject, subject_sources


def _subjects(sources) -> set[int]:
    return {eegmat_subject(path) for source in sources for path in source.files}


def test_an_evaluation_set_draws_on_people_no_training_set_has(shared_data):
    eegmat = shared_data / "eegmat"
    common = {"n_eegs": 40, "n_patients": 10, "background_dir": eegmat, "background_share": 1.0}
    train = _background_sources(np.random.default_rng(0), SynthConfig(seed=3, **common))
    held = _background_sources(np.random.default_rng(0), SynthConfig(seed=9203, evaluation=True, **common))
    assert _subjects(held.values()) <= HELD_OUT_EEGMAT_SUBJECTS and len(_subjects(held.values())) >= 3
    assert not _subjects(train.values()) & HELD_OUT_EEGMAT_SUBJECTS
    assert all(source.evaluation for source in held.values()) and not any(s.evaluation for s in train.values())
    usable, left_out = background_files(eegmat, evaluation=True)
    assert len(usable) == 12 and len(left_out) == 36
    with pytest.raises(DataError, match="draws only on eegmat subjects 18-23"):
        subject_sources(left_out[:1], evaluation=True)


def test_an_evaluation_set_needs_held_out_recordings(tmp_path):
    (tmp_path / "Subject03_1.edf").write_bytes(b"not read: the subject number decides")
    with pytest.raises(DataError, match="no recording of eegmat subjects 18-23"):
        background_files(tmp_path, evaluation=True)


def test_seeds_split_training_from_evaluation():
    check_seed(EVAL_SEED_START - 1, evaluation=False)
    check_seed(EVAL_SEED_START, evaluation=True)
    with pytest.raises(DataError, match="reserved for evaluation sets"):
        check_seed(EVAL_SEED_START, evaluation=False)
    with pytest.raises(DataError, match="needs a seed >= 9000"):
        check_seed(12, evaluation=True)


def test_fit_refuses_an_evaluation_set_and_writes_nothing(tmp_path: Path, capsys):
    data = generate_dataset(tmp_path / "eval", SynthConfig(n_eegs=4, seed=EVAL_SEED_START, evaluation=True)).out
    assert is_evaluation_set(data) and (data / MARKER).is_file()
    assert run_app(app, ["check", "--data", str(data)]) == 0  # a valid Kaggle layout all the same
    assert run_app(app, ["fit", "--data", str(data), "--out", str(tmp_path / "fit"), "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "is an evaluation set" in err and err.count("\n") == 1 and not (tmp_path / "fit").exists()
    assert run_app(app, ["synth", "--out", str(tmp_path / "e2"), "--eegs", "4", "--seed", "5", "--evaluation"]) == 2
    assert "needs a seed >= 9000" in capsys.readouterr().err and not (tmp_path / "e2").exists()
