"""scripts/build_default_model.py's training steps, as the commands they run: seeds, data, resume, held-out set."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from scripts import build_default_model
from train.synth.evaluation_set import EVAL_SEED_START


class _Recorder:
    """Stands in for `_run`: records each command and writes the file the real one would finish with."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, *argv: str) -> None:
        self.calls.append(argv)
        out = Path(argv[argv.index("--out") + 1])
        out.mkdir(parents=True, exist_ok=True)
        if argv[1] == "synth":
            (out / "train.csv").write_text("done")
        else:  # an ensemble's spec records its fitted temperature
            (out / "spec.json").write_text(json.dumps({"training": {"calibration": {"temperature": 0.9}}}))

    def of(self, command: str) -> list[dict[str, str]]:
        """The calls of one `train` subcommand, as {option: value} (flags map to "")."""
        parsed = []
        for argv in (c for c in self.calls if c[1] == command):
            options, i = {}, 2
            while i < len(argv):
                has_value = i + 1 < len(argv) and not argv[i + 1].startswith("--")
                options[argv[i]] = argv[i + 1] if has_value else ""
                i += 2 if has_value else 1
            parsed.append(options)
        return parsed


@pytest.fixture
def recorder(monkeypatch) -> _Recorder:
    recorder = _Recorder()
    monkeypatch.setattr(build_default_model, "_run", recorder)
    return recorder


def test_members_train_on_their_own_seed_and_resume_without_rerunning(tmp_path, recorder, shared_data):
    eegmat = shared_data / "eegmat"
    bundle = build_default_model.build_members(tmp_path, members=3, eegs=40, seed=5, background=eegmat, epochs=2,
                                               lookahead=20.0)
    synths, fits, ensembles = recorder.of("synth"), recorder.of("fit"), recorder.of("ensemble")
    synths, (calibration,) = synths[:3], synths[3:]
    assert [s["--seed"] for s in synths] == [f["--seed"] for f in fits] == ["5", "6", "7"]
    assert int(calibration["--seed"]) not in (5, 6, 7) and "--evaluation" not in calibration  # new patients
    assert ensembles[0]["--temperature-data"] == calibration["--out"]
    assert all(s["--background"] == os.path.relpath(eegmat) and "--evaluation" not in s for s in synths)
    assert [f["--data"] for f in fits] == [s["--out"] for s in synths]  # each member on its own data
    for fit in fits:
        toml = Path(fit["--config"]).read_text()
        assert "lookahead_s = 20.0" in toml and build_default_model.SHIPPED_MODEL_TOML in toml
        assert fit["--epochs"] == "2" and fit["--unlabelled"] == os.path.relpath(eegmat)
    assert len(ensembles) == 1 and bundle == Path(ensembles[0]["--out"])
    before = len(recorder.calls)
    for synth in (*synths, calibration):  # finished members and their average need their data no more
        (Path(synth["--out"]) / "train.csv").unlink()
    build_default_model.build_members(tmp_path, members=3, eegs=40, seed=5, background=eegmat, epochs=2,
                                      lookahead=20.0)
    assert len(recorder.calls) == before  # every bundle exists: nothing reruns
    (Path(fits[1]["--out"]) / "spec.json").unlink()  # a member killed mid-fit: its data again, then its fit
    build_default_model.build_members(tmp_path, members=3, eegs=40, seed=5, background=eegmat, epochs=2,
                                      lookahead=20.0)
    # its data again, its fit, then the average of the new one on its temperature set, drawn again as well
    assert [c[1] for c in recorder.calls[before:]] == ["synth", "fit", "synth", "ensemble"]
    assert recorder.of("synth")[-1] == calibration
    (Path(ensembles[0]["--out"]) / "spec.json").write_text("{}")  # an ensemble written without a temperature
    build_default_model.build_members(tmp_path, members=3, eegs=40, seed=5, background=eegmat, epochs=2,
                                      lookahead=20.0)
    assert recorder.calls[-1][1] == "ensemble"
    assert recorder.of("fit")[-1] == fits[1] and recorder.of("ensemble")[-1] == ensembles[0]


def test_held_out_is_an_evaluation_set_of_new_people(tmp_path, recorder, monkeypatch, shared_data):
    from train.fit import evaluate

    scored = []

    def fake_evaluate(bundle: Path, data: Path, *, device: str) -> SimpleNamespace:
        scored.append(data)
        return SimpleNamespace(kl=0.5, prior_kl=1.1)

    monkeypatch.setattr(evaluate, "evaluate_bundle", fake_evaluate)
    assert build_default_model.held_out(tmp_path, tmp_path / "b", eegs=1200, seed=5,
                                        background=shared_data / "eegmat") == (0.5, 1.1)
    (synth,) = recorder.of("synth")
    assert "--evaluation" in synth and int(synth["--seed"]) >= EVAL_SEED_START and synth["--eegs"] == "300"
    assert scored == [Path(synth["--out"])]
