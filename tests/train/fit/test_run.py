"""train/fit/run.py: `train fit` end to end on a tiny synthetic layout (bundle, resume after SIGKILL, torchrun
DDP, eval, predict); validation on high-agreement rows (cv.val_min_votes) and the Kaggle recipe (configs/hms.toml)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from edge.cli_support import run_app
from edge.contract import VOTE_COLUMNS
from edge.errors import DataError, SpecError
from edge.model.bundle import verify_checksums
from train.checkpoint import load_bundle_model
from train.data import build_window_set
from train.fit.config import load_config
from train.fit.evaluate import predict_probs, scale_probs
from train.fit.loop import epoch_plan
from train.fit.run import checkpoint_root, fit, fold_splits, set_temperature
from train.models import create_model

CONFIGS = Path(__file__).resolve().parents[3] / "configs"


def test_held_out_rows_are_filtered_by_votes_training_rows_are_not():
    fold_of_row = np.array([0, 0, 0, 1, 1, 1])
    votes = np.array([3, 12, 15, 1, 10, 2])
    everything = fold_splits(fold_of_row, 2, votes, val_min_votes=0)
    agreed = fold_splits(fold_of_row, 2, votes, val_min_votes=9)
    assert [s.val_rows.tolist() for s in everything] == [[0, 1, 2], [3, 4, 5]]
    assert [s.val_rows.tolist() for s in agreed] == [[1, 2], [4]]
    assert [s.train_rows.tolist() for s in agreed] == [[3, 4, 5], [0, 1, 2]]  # all rows of the other patients
    with pytest.raises(DataError, match="fold1 has no held-out row with >= 11 votes"):
        fold_splits(fold_of_row, 2, votes, val_min_votes=11)
    with pytest.raises(SpecError, match="cv.val_min_votes must be >= 0"):
        load_config(None, {"cv.val_min_votes": -1})


def test_hms_recipe_is_two_stage_vote_weighted_and_builds_its_model():
    config = load_config(CONFIGS / "hms.toml")
    assert config.loss.vote_weighting and config.cv.val_min_votes == 9
    votes = np.array([1, 3, 10, 12, 2, 28])
    plan = epoch_plan(config, votes, np.arange(len(votes)))
    assert len(plan) == config.optim.epochs + config.loss.stage2_epochs
    assert plan[0].tolist() == list(range(6)) and plan[-1].tolist() == [2, 3, 5]
    model = create_model(config.model.name, config.model.frontend, **config.model.kwargs)
    assert sum(p.numel() for p in model.parameters()) < 5e6  # the bedside budget (docs/models.md)


REPO = Path(__file__).resolve().parents[3]
TINY = REPO / "configs" / "tiny.toml"
TRAIN_SCRIPT = Path(sys.executable).parent / "train"  # the console script pyproject installs
TRAIN = [sys.executable, str(TRAIN_SCRIPT)]


@pytest.fixture(scope="module")
def tiny_run(layout, tmp_path_factory):
    out = tmp_path_factory.mktemp("fit_tiny") / "bundle"
    # CPU seconds, not wall: the machine is shared, and CPU time bounds the wall time on an idle one.
    started = time.process_time()
    summary = fit(layout, out, load_config(TINY), show_progress=False)
    return summary, time.process_time() - started


def _oof(bundle: Path) -> np.ndarray:
    with (bundle / "oof.csv").open() as fh:
        return np.array([[float(r[k]) for k in r if k.startswith("pred_")] for r in csv.DictReader(fh)])


def test_tiny_config_trains_in_under_a_minute_into_a_verified_bundle(tiny_run, layout):
    summary, seconds = tiny_run
    assert seconds < 60
    bundle = summary.bundle
    for name in ("spec.json", "weights.safetensors", "metrics.json", "oof.csv", "training_curves.png",
                 "confusion_matrix.png", "reliability.png", "SHA256SUMS"):
        assert (bundle / name).is_file(), name
    verify_checksums(bundle)
    assert not checkpoint_root(bundle).exists()  # checkpoints are cleaned up after success
    metrics = json.loads((bundle / "metrics.json").read_text())
    assert metrics["oof_kl"] == pytest.approx(summary.oof_kl) and np.isfinite(metrics["oof_prior_kl"])
    assert len(metrics["curves"]["fold0"]["loss"]) == len(metrics["curves"]["fold0"]["step"]) > 3

    model, spec = load_bundle_model(bundle)
    assert spec.training["config"]["model"]["name"] == "grouped1d"
    assert spec.training["metrics"]["final_model"] == "fold0"
    # The shipped weights are fold 0's model: at temperature 1 they reproduce its out-of-fold predictions,
    # and as shipped they emit those predictions scaled by the fitted temperature.
    temperature = float(model.calibration.temperature)
    assert temperature == pytest.approx(metrics["calibration"]["temperature"]) and temperature != 1.0
    windows = build_window_set(layout, split="train", margin=0)
    with (bundle / "oof.csv").open() as fh:
        order = [int(r["label_id"]) for r in csv.DictReader(fh)]
    rows = np.array([int(np.flatnonzero(windows.label_ids == label)[0]) for label in order])
    shipped = predict_probs(model, windows, rows, batch_size=16, device=torch.device("cpu"))
    set_temperature(model, 1.0)
    preds = predict_probs(model, windows, rows, batch_size=16, device=torch.device("cpu"))
    np.testing.assert_allclose(preds, _oof(bundle), atol=2e-6)
    np.testing.assert_allclose(shipped, scale_probs(preds, temperature), atol=1e-5)


@pytest.mark.slow
def test_sigkill_mid_epoch_then_rerun_resumes_to_the_same_metrics(tiny_run, layout, tmp_path):
    reference, _ = tiny_run
    out = tmp_path / "bundle"
    state = checkpoint_root(out) / "fold0" / "state.json"
    command = [*TRAIN, "fit", "--data", str(layout), "--out", str(out), "--config", str(TINY)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if state.is_file() and json.loads(state.read_text())["progress"]["batch_in_epoch"] > 0:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    assert proc.wait() == -signal.SIGKILL, proc.stdout.read()
    assert not (out / "SHA256SUMS").exists()

    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "starting at 0" not in done.stderr  # it resumed from the checkpoint
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["oof_kl"] == pytest.approx(reference.oof_kl, abs=1e-6)
    np.testing.assert_allclose(_oof(out), _oof(reference.bundle), atol=1e-6)


@pytest.mark.slow
def test_torchrun_two_cpu_processes_train_with_a_loss_curve_like_one_process(tiny_run, layout, tmp_path):
    reference, _ = tiny_run
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(TRAIN_SCRIPT), "fit", "--data", str(layout), "--out", str(out), "--config", str(TINY),
                           "--device", "cpu"], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    _, spec = load_bundle_model(out)
    assert spec.training["world_size"] == 2
    single = json.loads((reference.bundle / "metrics.json").read_text())["curves"]["fold0"]
    ddp = json.loads((out / "metrics.json").read_text())["curves"]["fold0"]
    assert ddp["step"] == single["step"]  # same global batch, so the same number of optimizer steps
    # Same shape: both curves fall from their first epoch to their last, by a similar relative amount.
    single_loss, ddp_loss = np.array(single["loss"]), np.array(ddp["loss"])
    assert ddp_loss[-3:].mean() < ddp_loss[:3].mean() and single_loss[-3:].mean() < single_loss[:3].mean()
    assert abs(np.log(ddp_loss.mean() / single_loss.mean())) < 0.5


def test_eval_and_predict_commands(tiny_run, layout, tmp_path, capsys):
    from train.cli import app

    bundle = tiny_run[0].bundle
    assert run_app(app, ["eval", "--bundle", str(bundle), "--data", str(layout)]) == 0
    shown = capsys.readouterr().out
    assert "KL" in shown and "seizure" in shown and "recall" in shown

    submission = tmp_path / "submission.csv"
    assert run_app(app, ["predict", "--bundle", str(bundle), "--data", str(layout), "--out", str(submission)]) == 0
    with submission.open() as fh:
        rows = list(csv.DictReader(fh))
    with (layout / "test.csv").open() as fh:
        test_ids = [r["eeg_id"] for r in csv.DictReader(fh)]
    assert [r["eeg_id"] for r in rows] == list(dict.fromkeys(test_ids))
    assert list(rows[0]) == ["eeg_id", *VOTE_COLUMNS]
    assert all(abs(sum(float(r[c]) for c in VOTE_COLUMNS) - 1) < 1e-6 for r in rows)


def test_user_errors_are_one_line_exit_2(layout, tmp_path, capsys):
    from train.cli import app

    assert run_app(app, ["eval", "--bundle", str(tmp_path / "missing"), "--data", str(layout)]) == 2
    assert "does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("[optim]\nlr = -1\n")
    assert run_app(app, ["fit", "--data", str(layout), "--out", str(tmp_path / "b"), "--config", str(bad)]) == 2
    assert "optim.lr must be > 0" in capsys.readouterr().err
    (tmp_path / "a-file").write_text("kept")
    assert run_app(app, ["fit", "--data", str(layout), "--out", str(tmp_path / "a-file")]) == 2
    assert "is not an empty directory" in capsys.readouterr().err and (tmp_path / "a-file").read_text() == "kept"


def test_unlabelled_real_eeg_adapts_the_batchnorm_of_the_shipped_weights(tiny_run, layout, tmp_path, capsys):
    """`train fit --unlabelled DIR`: same training, BatchNorm statistics re-estimated with the real windows."""
    from train.cli import app
    from train.data.writer import write_eeg_parquet

    folder = tmp_path / "real"
    folder.mkdir()
    rng = np.random.default_rng(3)
    write_eeg_parquet(folder / "ward.parquet", rng.normal(0, 80, (20, 70 * 200)))  # louder than the tiny layout
    out = tmp_path / "adapted"
    assert run_app(app, ["fit", "--data", str(layout), "--out", str(out), "--config", str(TINY),
                         "--unlabelled", str(folder)]) == 0, capsys.readouterr().err
    spec = load_bundle_model(out)[1]
    assert spec.training["config"]["adapt"]["unlabelled_eeg"] == str(folder)
    assert spec.training["metrics"]["adapt"] == {"windows": 3, "files": 1, "held_out_files": 0}  # 0, 10, 20 s
    reference, _ = tiny_run
    adapted, plain = load_bundle_model(out)[0], load_bundle_model(reference.bundle)[0]
    norms = [(a, b) for a, b in zip(adapted.modules(), plain.modules(), strict=True)
             if isinstance(a, torch.nn.modules.batchnorm._BatchNorm)]
    assert norms and any(not torch.allclose(a.running_var, b.running_var) for a, b in norms)
    for a, b in zip(adapted.state_dict().items(), plain.state_dict().items(), strict=True):
        if "running" not in a[0] and "num_batches" not in a[0] and "temperature" not in a[0]:
            assert torch.equal(a[1], b[1]), a[0]  # no gradient step saw a real window

    # `train adapt` on the plain bundle takes the same step afterwards: the same bundle as fitting with --unlabelled
    later = tmp_path / "adapted-later"
    assert run_app(app, ["adapt", "--bundle", str(reference.bundle), "--data", str(layout), "--out", str(later),
                         "--unlabelled", str(folder)]) == 0, capsys.readouterr().err
    assert "BatchNorm adapted with 3 real windows from 1 files" in capsys.readouterr().out
    for (name, a), b in zip(load_bundle_model(later)[0].state_dict().items(), adapted.state_dict().values(),
                            strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5, msg=name)
    assert json.loads((later / "metrics.json").read_text())["oof_kl"] == pytest.approx(
        json.loads((out / "metrics.json").read_text())["oof_kl"], abs=1e-6)
    assert run_app(app, ["adapt", "--bundle", str(reference.bundle), "--data", str(layout), "--out", str(later),
                         "--unlabelled", str(folder)]) == 2  # nothing written over
    assert "already exists and is not an empty directory" in capsys.readouterr().err
    other = tmp_path / "other-layout"
    shutil.copytree(layout, other)
    rows = (other / "train.csv").read_text().splitlines()
    (other / "train.csv").write_text("\n".join(rows[:-3]) + "\n")  # three labels fewer: another split
    assert run_app(app, ["adapt", "--bundle", str(reference.bundle), "--data", str(other), "--out",
                         str(tmp_path / "x"), "--unlabelled", str(folder)]) == 2
    assert "is not the layout" in capsys.readouterr().err
