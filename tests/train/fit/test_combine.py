"""`train ensemble`: trained bundles averaged in one graph equal the mean of their probabilities; members that
answer different questions, too few members and an occupied --out are one-line errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from edge.cli_support import run_app
from edge.errors import DataError
from edge.model.model_spec import FrontEndConfig, ModelSpec
from train.checkpoint import load_bundle_model, save_bundle
from train.cli import app
from train.fit.combine import combine_bundles
from train.fit.run import set_temperature
from train.models import TINY_KWARGS, create_model


def _bundle(path: Path, *, seed: int, temperature: float, lookahead_s: float = 20.0, prior=None,
            source: str = "synth") -> Path:
    torch.manual_seed(seed)
    model = create_model("grouped1d", frontend=FrontEndConfig(), **TINY_KWARGS["grouped1d"]).eval()
    set_temperature(model, temperature)
    training = {"config": {"run": {"seed": seed}}, "data": {"class_prior": prior or [1 / 6] * 6, "source": source}}
    spec = ModelSpec(model="grouped1d", model_kwargs=TINY_KWARGS["grouped1d"], lookahead_s=lookahead_s,
                     training=training)
    return save_bundle(path, model, spec, extra_files={"metrics.json": json.dumps({"oof_kl": 0.5 + seed})})


def _probs(bundle: Path, eeg: np.ndarray) -> np.ndarray:
    model, _ = load_bundle_model(bundle)
    with torch.no_grad():
        return torch.softmax(model(torch.from_numpy(eeg)).double(), dim=1).numpy()


def test_an_ensemble_bundle_outputs_the_mean_of_its_members_probabilities(tmp_path):
    members = [_bundle(tmp_path / f"m{k}", seed=k, temperature=t, prior=[0.5, 0.1, 0.1, 0.1, 0.1, 0.1])
               for k, t in ((0, 0.8), (1, 1.3), (2, 1.0))]
    out = combine_bundles(members, tmp_path / "ens")
    eeg = np.random.default_rng(0).normal(0, 30, (3, 20, 10000)).astype(np.float32)
    expected = np.mean([_probs(m, eeg) for m in members], axis=0)
    np.testing.assert_allclose(_probs(out, eeg), expected, atol=1e-6)
    _, spec = load_bundle_model(out)
    assert spec.model == "ensemble" and spec.lookahead_s == 20.0
    assert [m["seed"] for m in spec.training["ensemble_of"]] == [0, 1, 2]
    assert [m["held_out_kl"] for m in spec.training["ensemble_of"]] == [0.5, 1.5, 2.5]
    assert spec.training["data"]["class_prior"] == pytest.approx([0.5, 0.1, 0.1, 0.1, 0.1, 0.1])
    umask = os.umask(0)
    os.umask(umask)
    modes = {p.name: p.stat().st_mode & 0o777 for p in out.iterdir()}
    assert modes == dict.fromkeys(modes, 0o666 & ~umask), modes  # weights too: the service account reads them


def test_ensemble_refuses_members_that_answer_another_question(tmp_path, capsys):
    first = _bundle(tmp_path / "a", seed=0, temperature=1.0)
    causal = _bundle(tmp_path / "b", seed=1, temperature=1.0, lookahead_s=0.0)
    with pytest.raises(DataError, match="its lookahead_s differs"):
        combine_bundles([first, causal], tmp_path / "x")
    with pytest.raises(DataError, match="at least 2 --bundle"):
        combine_bundles([first], tmp_path / "x")
    ensemble = combine_bundles([first, _bundle(tmp_path / "c", seed=2, temperature=1.0)], tmp_path / "ens")
    with pytest.raises(DataError, match="is itself an ensemble"):
        combine_bundles([first, ensemble], tmp_path / "y")
    assert run_app(app, ["ensemble", "--bundle", str(first), "--bundle", str(first), "--out", str(ensemble)]) == 2
    err = capsys.readouterr().err
    assert "already exists and is not an empty directory" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "file").write_text("kept")
    with pytest.raises(DataError, match="is not an empty directory"):
        combine_bundles([first, first], tmp_path / "file")
    assert (tmp_path / "file").read_text() == "kept"
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_a_temperature_fitted_on_unseen_patients_scales_the_average(tmp_path, capsys):
    from train.fit.evaluate import scale_probs
    from train.synth.evaluation_set import EVAL_SEED_START
    from train.synth.generate import SynthConfig, generate_dataset

    members = [_bundle(tmp_path / f"m{k}", seed=k, temperature=1.0) for k in range(2)]
    data = generate_dataset(tmp_path / "calib", SynthConfig(n_eegs=6, seed=3)).out
    out = tmp_path / "ens"
    assert run_app(app, ["ensemble", "--bundle", str(members[0]), "--bundle", str(members[1]), "--out", str(out),
                         "--temperature-data", str(data)]) == 0
    assert "at temperature" in capsys.readouterr().out
    _, spec = load_bundle_model(out)
    fitted = spec.training["calibration"]
    assert fitted["data"] == "calib" and fitted["rows"] > 6 and fitted["temperature"] != 1.0
    assert fitted["kl_after"] <= fitted["kl_mean_of_members"]  # the fitted temperature is the best one here
    eeg = np.random.default_rng(1).normal(0, 30, (2, 20, 10000)).astype(np.float32)
    mean = np.mean([_probs(m, eeg) for m in members], axis=0)
    np.testing.assert_allclose(_probs(out, eeg), scale_probs(mean, spec.training["calibration"]["temperature"]),
                               atol=1e-4)
    held = generate_dataset(tmp_path / "held", SynthConfig(n_eegs=4, seed=EVAL_SEED_START, evaluation=True)).out
    with pytest.raises(DataError, match="--temperature-data .* is an evaluation set"):
        combine_bundles(members, tmp_path / "e2", temperature_data=held)
    own = _bundle(tmp_path / "m2", seed=2, temperature=1.0, source="calib")  # trained on the calibration layout
    with pytest.raises(DataError, match="a member trained on a layout of this name"):
        combine_bundles([members[0], own], tmp_path / "e3", temperature_data=data)
    assert not (tmp_path / "e2").exists() and not (tmp_path / "e3").exists()
