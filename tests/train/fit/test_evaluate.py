"""train/fit/evaluate.py: evaluation figures; temperature scaling (the fit, the figures, the cross-fit, the
temperature inside the exported graph); Kaggle submissions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from edge.contract import CLASSES
from edge.model.model_spec import FrontEndConfig, ModelSpec
from train.checkpoint import CALIBRATION_KEY, load_bundle_model, save_bundle
from train.fit.evaluate import calibrate, classwise_ece, figures, fit_temperature, patient_halves, scale_probs
from train.fit.run import set_temperature
from train.metric import score
from train.models import TINY_KWARGS, ProbabilityModel, create_model


def test_evaluation_figures_and_confusion_matrix():
    from train.fit.evaluate import evaluate_predictions

    targets = np.array([[1, 0, 0, 0, 0, 0], [0, 0.5, 0.5, 0, 0, 0], [0, 0, 0, 0, 0, 1.0]])
    report = evaluate_predictions(targets, targets.copy())
    assert report.kl == pytest.approx(0) and report.accuracy == 1.0
    assert np.array_equal(np.diag(report.confusion), [1, 1, 0, 0, 0, 1])
    wrong = np.roll(targets, 1, axis=1) * 0.9 + 0.1 / 6
    report = evaluate_predictions(targets, wrong)
    assert report.kl == pytest.approx(score(targets, wrong))
    assert report.prior_kl == pytest.approx(score(targets, np.broadcast_to(targets.mean(0), targets.shape)))
    assert sum(c.kl_share for c in report.classes) == pytest.approx(report.kl)
    assert report.classes[0].recall == 0.0 and report.classes[0].rows == 1


N = len(CLASSES)


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def overconfident(rows: int, true_t: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(targets, probs, patient ids): each target is softmax(z), the model says softmax(true_t * z).

    So softmax(log probs / true_t) recovers the targets exactly: the ideal temperature is true_t.
    """
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.5, size=(rows, N))
    return softmax(logits), softmax(true_t * logits), rng.integers(0, 20, size=rows)


def test_scale_probs_is_softmax_of_scaled_logits() -> None:
    logits = np.random.default_rng(1).normal(0, 3, size=(50, N))
    np.testing.assert_allclose(scale_probs(softmax(logits), 2.5), softmax(logits / 2.5), rtol=1e-10)
    np.testing.assert_allclose(scale_probs(softmax(logits), 1.0), softmax(logits), rtol=1e-10)


@pytest.mark.parametrize("true_t", [0.5, 1.0, 3.0])
def test_fit_recovers_the_temperature_that_generated_the_miscalibration(true_t: float) -> None:
    targets, probs, _ = overconfident(2000, true_t)
    assert fit_temperature(targets, probs) == pytest.approx(true_t, rel=1e-3)


def test_calibration_lowers_ece_kl_and_brier_of_an_overconfident_model() -> None:
    targets, probs, patients = overconfident(3000, 2.5)
    result, after = calibrate(targets, probs, patients, seed=0)
    assert result.temperature == pytest.approx(2.5, rel=1e-3)
    assert result.after.ece < 0.2 * result.before.ece
    assert result.after.kl < result.before.kl and result.after.brier < result.before.brier
    assert result.after == figures(targets, after)
    np.testing.assert_allclose(after.sum(axis=1), 1.0, atol=1e-12)


def test_cross_fit_scores_each_half_with_the_other_halfs_temperature() -> None:
    targets, probs, patients = overconfident(1000, 2.0, seed=2)
    first = patient_halves(patients, seed=0)
    assert first.any() and (~first).any()
    assert not set(patients[first]) & set(patients[~first])  # no patient on both sides
    result, after = calibrate(targets, probs, patients, seed=0)
    t_first, t_second = result.half_temperatures
    np.testing.assert_allclose(after[~first], scale_probs(probs[~first], t_first))
    np.testing.assert_allclose(after[first], scale_probs(probs[first], t_second))


def test_one_patient_cannot_be_cross_fitted() -> None:
    targets, probs, _ = overconfident(50, 2.0)
    assert calibrate(targets, probs, np.zeros(50, dtype=int), seed=0) is None


def test_classwise_ece_is_zero_when_predictions_match_the_bin_means_and_known_otherwise() -> None:
    targets = np.tile(np.eye(N)[0], (10, 1))
    assert classwise_ece(targets, targets) == pytest.approx(np.zeros(N))
    # Class 0 predicted 0.55 (one bin) while the experts always say 1: |0.55 - 1| = 0.45.
    probs = np.tile([0.55, 0.09, 0.09, 0.09, 0.09, 0.09], (10, 1))
    ece = classwise_ece(targets, probs)
    assert ece[0] == pytest.approx(0.45) and ece[1] == pytest.approx(0.09)


def _tiny_prob_model(name: str, temperature: float) -> torch.nn.Module:
    torch.manual_seed(0)
    model = create_model(name, frontend=FrontEndConfig(), **TINY_KWARGS[name]).eval()
    set_temperature(model, temperature)
    return ProbabilityModel(model).eval()


@pytest.mark.parametrize("name", ["mel2d", "grouped1d", "ensemble"])
def test_temperature_divides_the_logits_of_every_model(name: str) -> None:
    eeg = torch.randn(2, 20, 10000) * 30
    with torch.no_grad():
        plain, hot = _tiny_prob_model(name, 1.0)(eeg), _tiny_prob_model(name, 2.0)(eeg)
    np.testing.assert_allclose(hot.numpy(), scale_probs(plain.double().numpy(), 2.0), atol=1e-6)


def test_temperature_travels_in_the_bundle_and_older_bundles_load_with_one(tmp_path: Path) -> None:
    model = _tiny_prob_model("grouped1d", 1.7).model
    spec = ModelSpec(model="grouped1d", model_kwargs=TINY_KWARGS["grouped1d"])
    loaded, _ = load_bundle_model(save_bundle(tmp_path / "new", model, spec))
    assert float(loaded.calibration.temperature) == pytest.approx(1.7)

    from safetensors.torch import load_file, save_file

    old = save_bundle(tmp_path / "old", model, spec)
    state = {k: v for k, v in load_file(str(old / "weights.safetensors")).items() if k != CALIBRATION_KEY}
    save_file(state, str(old / "weights.safetensors"))
    loaded, _ = load_bundle_model(old, verify=False)  # edited weights no longer match SHA256SUMS
    assert float(loaded.calibration.temperature) == 1.0


@pytest.mark.slow
def test_temperature_is_inside_model_onnx(tmp_path: Path) -> None:
    """The exported graph of a T = 2 model emits the T = 1 graph's probabilities scaled by 1/2 in logit space."""
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    from calibrate.export import export_onnx

    spec = ModelSpec(model="grouped1d", model_kwargs=TINY_KWARGS["grouped1d"])
    eeg = (np.random.default_rng(0).normal(0, 30, size=(3, 20, 10000))).astype(np.float32)
    outputs = {}
    for t in (1.0, 2.0):
        path = tmp_path / f"t{t}.onnx"
        export_onnx(_tiny_prob_model("grouped1d", t), spec, path)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        outputs[t] = session.run([spec.output_name], {spec.input_name: eeg})[0].astype(np.float64)
    graph = onnx.load(str(tmp_path / "t2.0.onnx")).graph
    stored = {i.name: float(numpy_helper.to_array(i)) for i in graph.initializer if i.name.endswith(CALIBRATION_KEY)}
    assert list(stored.values()) == [2.0]
    assert np.abs(outputs[2.0] - outputs[1.0]).max() > 1e-3
    np.testing.assert_allclose(outputs[2.0], scale_probs(outputs[1.0], 2.0), atol=1e-5)


def test_submission_averages_windows_per_eeg_in_first_seen_order():
    from train.fit.evaluate import mean_by_eeg, submission_csv

    ids, means = mean_by_eeg(np.array([7, 3, 7]), np.array([[1.0, 0, 0, 0, 0, 0], [0, 1.0, 0, 0, 0, 0],
                                                           [0, 0, 1.0, 0, 0, 0]]))
    assert ids.tolist() == [7, 3]
    np.testing.assert_allclose(means[0], [0.5, 0, 0.5, 0, 0, 0])
    lines = submission_csv(ids, means).splitlines()
    assert lines[0] == "eeg_id,seizure_vote,lpd_vote,gpd_vote,lrda_vote,grda_vote,other_vote"
    assert lines[1].startswith("7,0.50000000,")


@pytest.mark.slow
def test_real_segment_scores_agree_through_torch_and_the_shipped_onnx(tmp_path: Path, shared_data: Path) -> None:
    """evaluate_bundle_on_segments: the weights and the exported graph give the same figures; a bundle shipped
    without weights (edge/model/default's form) is scored through its graph, and a wrong backend is one line."""
    import shutil

    from calibrate.export import export_onnx
    from edge.errors import DataError
    from edge.model.bundle import write_checksums
    from train.fit.evaluate import evaluate_bundle_on_segments

    spec = ModelSpec(model="grouped1d", model_kwargs=TINY_KWARGS["grouped1d"])
    bundle = save_bundle(tmp_path / "bundle", _tiny_prob_model("grouped1d", 1.5).model, spec)
    export_onnx(_tiny_prob_model("grouped1d", 1.5), spec, bundle / "model.onnx")
    write_checksums(bundle)
    data = shared_data / "sparcnet_iiic"
    by_torch = evaluate_bundle_on_segments(bundle, data, backend="torch")
    by_onnx = evaluate_bundle_on_segments(bundle, data, backend="onnx")
    assert by_torch["segments"] == len(by_torch["per_segment"]) == 12
    assert by_onnx["kl_model"] == pytest.approx(by_torch["kl_model"], abs=1e-4)
    assert [s["kl"] for s in by_onnx["per_segment"]] == pytest.approx([s["kl"] for s in by_torch["per_segment"]],
                                                                     abs=1e-3)
    assert np.mean([s["kl"] for s in by_torch["per_segment"]]) == pytest.approx(by_torch["kl_model"], abs=1e-3)
    assert sum(sum(row.values()) for row in by_torch["confusion"].values()) == 12
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    for name in ("spec.json", "model.onnx"):
        shutil.copy(bundle / name, shipped / name)
    write_checksums(shipped)
    assert evaluate_bundle_on_segments(shipped, data)["kl_model"] == pytest.approx(by_onnx["kl_model"], abs=1e-9)
    with pytest.raises(DataError, match="backend must be auto, torch or onnx"):
        evaluate_bundle_on_segments(bundle, data, backend="tensorrt")


def test_train_eval_cuts_each_window_for_the_bundles_lookahead(tmp_path: Path, layout: Path) -> None:
    """A causal (L = 0) bundle is scored on the 50 s ending with each labelled 10 s, as it was trained, not on the
    Kaggle-centred window an L = 20 model sees."""
    from train.data import build_window_set
    from train.fit.evaluate import predict_bundle, predict_probs

    torch.manual_seed(3)
    model = create_model("grouped1d", frontend=FrontEndConfig(), **TINY_KWARGS["grouped1d"]).eval()
    bundle = save_bundle(tmp_path / "causal", model,
                         ModelSpec(model="grouped1d", model_kwargs=TINY_KWARGS["grouped1d"], lookahead_s=0.0))
    windows, probs, spec = predict_bundle(bundle, layout, split="train", device="cpu", batch_size=8)
    assert spec.lookahead_s == 0.0
    rows = np.arange(len(windows))
    for lookahead_s, same in ((0.0, True), (20.0, False)):
        cut = build_window_set(layout, split="train", margin=0, lookahead_s=lookahead_s)
        expected = predict_probs(model, cut, rows, batch_size=8, device=torch.device("cpu"))
        assert np.allclose(probs, expected, atol=1e-6) == same


def test_segment_figures_count_what_issue_29_accepts_on():
    """Votes of four segments (seizure 3/3, seizure 2/3, GPD, LRDA) against probabilities with known answers."""
    from train.fit.evaluate import segment_figures

    sz, gpd, lrda, other = (CLASSES.index(c) for c in ("seizure", "gpd", "lrda", "other"))
    targets = np.zeros((4, N))
    targets[0, sz] = 1.0
    targets[1, [sz, other]] = 2 / 3, 1 / 3
    targets[2, gpd] = 1.0
    targets[3, lrda] = 1.0
    probs = np.full((4, N), 0.02)
    probs[0, sz], probs[1, other], probs[2, sz], probs[3, lrda] = 0.9, 0.8, 0.6, 0.7
    probs /= probs.sum(1, keepdims=True)
    got = segment_figures(targets, probs)
    assert got["kl_model"] == pytest.approx(score(targets, probs))
    assert got["argmax_agreement_model"] == pytest.approx(2 / 4)  # segments 0 and 3
    assert got["p_seizure_where_2of3_votes"] == [round(float(probs[0, sz]), 3), round(float(probs[1, sz]), 3)]
    assert got["gpd_top_seizure"] == 1
    assert got["confusion"] == {"seizure": {"seizure": 1, "other": 1}, "gpd": {"seizure": 1}, "lrda": {"lrda": 1}}
