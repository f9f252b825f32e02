"""The labelled span's place in a model's window (spec.lookahead_s) and a Kaggle window seen by any model."""

from __future__ import annotations

import numpy as np
import pytest

from edge.contract import KAGGLE_LOOKAHEAD_S, label_span_samples, window_for_kaggle_label, window_shift_samples
from edge.errors import SpecError
from edge.model.model_spec import ModelSpec


def test_span_and_shift_for_each_lookahead() -> None:
    assert KAGGLE_LOOKAHEAD_S == 20.0 and label_span_samples(20.0) == (4000, 6000)
    assert label_span_samples(0.0) == (8000, 10000) and window_shift_samples(0.0) == -4000
    assert label_span_samples(10.0) == (6000, 8000) and window_shift_samples(10.0) == -2000
    assert ModelSpec(model="m", lookahead_s=0.0).validate().label_span_seconds == (40.0, 50.0)
    assert ModelSpec.from_dict({"model": "m"}).lookahead_s == 20.0  # bundles made before the field: Kaggle layout


@pytest.mark.parametrize("bad", [-1.0, 40.5, 0.0001])
def test_a_lookahead_that_does_not_fit_is_refused_naming_the_field(bad: float) -> None:
    with pytest.raises(SpecError, match="spec.lookahead_s"):
        ModelSpec(model="m", lookahead_s=bad).validate()


def test_kaggle_window_for_a_causal_model_keeps_the_labelled_centre_last() -> None:
    rng = np.random.default_rng(0)
    window = (rng.normal(0, 20, (20, 10_000)) + np.arange(20)[:, None]).astype(np.float32)
    assert window_for_kaggle_label(window, 20.0) is window
    causal = window_for_kaggle_label(window, 0.0)
    np.testing.assert_array_equal(causal[:, 8000:], window[:, 4000:6000])  # the labelled centre, now the newest
    np.testing.assert_array_equal(causal[:, 4000:], window[:, :6000])  # nothing after the label is seen
    np.testing.assert_allclose(causal[:, :4000], np.broadcast_to(window.mean(1, keepdims=True), (20, 4000)))
