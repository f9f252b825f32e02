"""A model's output must be probabilities: probed when a bundle loads, checked on every batch
(edge/model/output_check.py, docs/reliability.md). Each bad head used to be read as probabilities or crash
the loop later (issue 28 item 2)."""

from __future__ import annotations

import numpy as np
import pytest

from edge.cli import app
from edge.cli_support import run_app
from edge.contract import CHANNELS, WINDOW_SAMPLES
from edge.errors import BundleError
from edge.model.engine import Engine
from edge.model.output_check import PROB_TOLERANCE, check_output
from edge.testing import BAD_HEADS, MISBEHAVIOURS, build_test_bundle, misbehaving


def windows(count: int) -> np.ndarray:
    return np.random.default_rng(count).normal(0, 30, (count, len(CHANNELS), WINDOW_SAMPLES)).astype(np.float32)


GOOD = np.array([[0.1, 0.2, 0.3, 0.2, 0.1, 0.1], [1.0, 0, 0, 0, 0, 0]], np.float32)


@pytest.mark.parametrize(("output", "expected"), [
    (GOOD, [None, None]),
    (GOOD + np.float32(PROB_TOLERANCE / 10), [None, None]),  # within the stated tolerance
    (np.array([[5.0, -3, 0, 0, 0, 0], GOOD[0]], np.float32), ["outside [0, 1]", None]),  # logits, one row
    (GOOD * 0.5, ["sums to 0.5", "sums to 0.5"]),  # in [0, 1], not normalised
    (np.array([[np.nan] * 6, GOOD[1]], np.float32), ["non-finite", None]),
    (np.array([[-0.5, 0.5, 0.5, 0.5, 0, 0], GOOD[0]], np.float32), ["outside [0, 1]", None]),  # sums to 1
    (GOOD.astype(np.int64), ["dtype int64"] * 2),
    (GOOD.astype(np.float64), ["dtype float64"] * 2),
    (GOOD[:, :3].copy(), ["shape [2, 3]"] * 2),
    (GOOD[:, :, None].copy(), ["shape [2, 6, 1]"] * 2),
    (GOOD[:1].copy(), ["shape [1, 6] for a batch of 2"] * 2),  # a batch fixed at 1
    (None, ["missing"] * 2),
    ([[0.5, 0.5, 0, 0, 0, 0]] * 2, ["list, not an array"] * 2),
])
def test_check_output_names_each_bad_row_and_never_passes_its_numbers(output, expected) -> None:
    checked = check_output(output, rows=2, classes=6, name="output 'probs'")
    for problem, want in zip(checked.problems, expected, strict=True):
        assert (problem is None) == (want is None) and (want is None or want in problem), (problem, want)
    bad = [p is not None for p in checked.problems]
    assert np.isnan(checked.probs[bad]).all() and np.isfinite(checked.probs[[not b for b in bad]]).all()
    assert checked.probs.dtype == np.float32 and checked.probs.shape == (2, 6)


@pytest.mark.parametrize(("head", "named"), [
    ("logits", "outside [0, 1]: logits"), ("int64", "dtype int64"), ("three_classes", "shape [1, 3]"),
    ("extra_axis", "shape [1, 6, 1]"), ("batch_one", "batch of 2"),
])
def test_a_bundle_whose_output_is_not_probabilities_is_refused_at_load(tmp_path, capsys, head, named,
                                                                        recording_70s) -> None:
    bundle = build_test_bundle(tmp_path / head, head=head)
    with pytest.raises(BundleError, match="refused: on a reference input") as refused:
        Engine(bundle, "onnxruntime")
    assert named in str(refused.value) and "\n" not in str(refused.value)
    assert run_app(app, ["predict", str(recording_70s), "--bundle", str(bundle)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and named in err and "Traceback" not in err


def test_every_bad_head_is_covered() -> None:
    assert set(BAD_HEADS) == {"logits", "int64", "three_classes", "extra_axis", "batch_one"}


def test_the_probe_passes_a_good_bundle_and_uses_the_spec_output_shape(test_bundle) -> None:
    with Engine(test_bundle, "onnxruntime") as engine:
        checked = engine.probabilities(windows(3))
    assert engine.spec.output_shape == ("batch", 6) and checked.problems == (None,) * 3
    np.testing.assert_allclose(checked.probs.sum(axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize("bad", MISBEHAVIOURS)
def test_a_bad_window_at_run_time_is_a_problem_of_its_own_never_a_crash(test_bundle, bad) -> None:
    """A bundle that passed its probe misbehaves on one window of a batch (marked by a large offset): that
    window fails with a problem; a batch failing as a whole is rerun window by window, so its neighbour is
    still predicted."""
    with Engine(test_bundle, "onnxruntime") as engine:
        engine.outputs = misbehaving(engine.outputs, bad)
        batch = windows(2)
        batch[0] += 5000.0
        checked = engine.probabilities(batch)
    assert checked.problems[0] is not None and checked.problems[1] is None
    assert np.isnan(checked.probs[0]).all() and abs(float(checked.probs[1].sum()) - 1) < 1e-5
    if bad == "raises":
        assert checked.problems[0] == "backend failed on a batch of 1 (CUDA error: an illegal memory access)"
