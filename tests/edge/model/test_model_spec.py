"""The signal contract (edge/contract.py) and the model spec (edge/model/model_spec.py): channel mapping, montages,
JSON round trip and field-naming validation."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from edge.contract import (
    CHANNELS,
    CLASSES,
    LABEL_START,
    LABEL_STOP,
    SignalContract,
    canonical_channel,
    hemisphere_flip_permutation,
    montage_matrix,
    montage_names,
    montage_pairs,
)
from edge.errors import SpecError
from edge.model.model_spec import FrontEndConfig, ModelSpec


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Fp1", "Fp1"), ("FP1", "Fp1"), ("fp1", "Fp1"), ("EEG Fp1-REF", "Fp1"), ("EEG FP1-LE", "Fp1"),
        ("T7", "T3"), ("t8", "T4"), ("P7", "T5"), ("EEG P8-REF", "T6"), ("ECG", "EKG"), ("EKG", "EKG"),
        ("EEG Cz-REF", "Cz"), ("Photic", None), ("A1", None), ("", None),
    ],
)  # fmt: skip
def test_canonical_channel_maps_common_spellings(label, expected):
    assert canonical_channel(label) == expected


def test_contract_matches_kaggle_layout():
    assert len(CHANNELS) == 20 and CHANNELS[-1] == "EKG"
    assert CLASSES == ("seizure", "lpd", "gpd", "lrda", "grda", "other")
    contract = SignalContract()
    assert contract.window_seconds == 50.0
    assert contract.label_span_seconds == (20.0, 30.0)
    assert 10 * contract.sample_rate_hz == LABEL_STOP - LABEL_START


def test_double_banana_is_16_longitudinal_pairs_in_kaggle_chain_order():
    names = montage_names()
    assert len(names) == 16
    assert names[:4] == ("Fp1-F7", "F7-T3", "T3-T5", "T5-O1")  # LL first, as in the Kaggle spectrograms
    assert names[4:8] == ("Fp2-F8", "F8-T4", "T4-T6", "T6-O2")  # then RL
    assert montage_names("double_banana_central")[-2:] == ("Fz-Cz", "Cz-Pz")


def test_montage_matrix_computes_bipolar_differences():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 100)).astype(np.float32)
    bipolar = montage_matrix() @ x
    index = {c: i for i, c in enumerate(CHANNELS)}
    for row, (a, b) in enumerate(montage_pairs()):
        np.testing.assert_allclose(bipolar[row], x[index[a]] - x[index[b]], rtol=1e-6, atol=1e-6)
    assert not montage_matrix()[:, index["EKG"]].any()


def test_hemisphere_flip_swaps_homologous_and_is_an_involution():
    perm = np.array(hemisphere_flip_permutation())
    assert sorted(perm) == list(range(20))
    np.testing.assert_array_equal(perm[perm], np.arange(20))
    assert CHANNELS[perm[CHANNELS.index("F7")]] == "F8"
    assert CHANNELS[perm[CHANNELS.index("Cz")]] == "Cz"
    # flipping the channels maps the left-lateral chain onto the right-lateral chain
    flipped = montage_matrix()[:, perm]
    np.testing.assert_array_equal(flipped[0:4], montage_matrix()[4:8])


def test_model_spec_round_trips_through_json():
    spec = ModelSpec(model="mel2d", model_kwargs={"backbone": "resnet18", "drop_rate": 0.2},
                     frontend=FrontEndConfig(n_mels=48, image_layout="stack"), training={"epochs": 3})
    again = ModelSpec.from_json(spec.to_json())
    assert again == spec
    assert isinstance(again.contract.channels, tuple)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("frontend", "n_mels"), -3, "spec.frontend.n_mels must be an integer in [1, 512]"),
        (("frontend", "n_mels"), "32", "spec.frontend.n_mels must be int"),
        (("frontend", "bandpass_taps"), 400, "spec.frontend.bandpass_taps must be an odd integer"),
        (("frontend", "montage"), "laplacian", "spec.frontend.montage must be one of"),
        (("contract", "sample_rate_hz"), 256, "spec.contract.sample_rate_hz must be 200"),
        (("contract", "classes"), ["a", "b"], "spec.contract.classes must be"),
        (("frontend", "mel_decimation"), 3, "spec.frontend.mel_decimation must be >= 1 and divide n_fft"),
        (("frontend", "mel_fmax_hz"), 30.0, "spec.frontend.mel_fmin_hz/fmax_hz must satisfy 0 <= fmin < fmax <= 25"),
        (("frontend", "bandpass_high_hz"), 40.0, "spec.frontend.bandpass_high_hz/mel_fmax_hz must be < 25 Hz"),
        (("frontend", "mel_fmax_hz"), 25.0, "spec.frontend.bandpass_high_hz/mel_fmax_hz must be < 25 Hz"),
        (("format_version",), 99, "spec.format_version must be 2"),
    ],
)
def test_invalid_spec_names_the_bad_field(path, value, message):
    data = ModelSpec(model="mel2d").to_dict()
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(SpecError, match=re.escape(message)):
        ModelSpec.from_dict(data)


def test_a_version_1_spec_keeps_its_full_rate_mel_path():
    """Version 1 had no mel_decimation: its models were trained on a Mel path at 200 Hz."""
    data = ModelSpec(model="mel2d").to_dict()
    data["format_version"] = 1
    del data["frontend"]["mel_decimation"]
    spec = ModelSpec.from_dict(data)
    assert spec.format_version == 2 and spec.frontend.mel_decimation == 1
    assert ModelSpec.from_dict(ModelSpec(model="mel2d").to_dict()).frontend.mel_decimation == 4


def test_unknown_and_missing_fields_are_named():
    data = ModelSpec(model="mel2d").to_dict()
    data["frontend"]["nmels"] = 3
    with pytest.raises(SpecError, match="spec.frontend has unknown field.*nmels"):
        ModelSpec.from_dict(data)
    with pytest.raises(SpecError, match="spec.model is required"):
        ModelSpec.from_dict({})
    with pytest.raises(SpecError, match="not valid JSON"):
        ModelSpec.from_json("{")


def test_frontend_image_shape_follows_layout():
    assert FrontEndConfig().image_shape == (16, 24, 251)
    assert FrontEndConfig(image_layout="chains").image_shape == (4, 4 * 24, 251)
    stack = FrontEndConfig(image_layout="stack", montage="double_banana_central", hop_length=80)
    assert stack.image_shape == (1, 18 * 24, 126)
    assert FrontEndConfig(montage="double_banana_central").image_shape == (18, 24, 251)
    with pytest.raises(SpecError, match="image_layout"):
        FrontEndConfig(image_layout="chains", montage="double_banana_central").validate()
    assert json.loads(ModelSpec(model="x").to_json())["frontend"]["hop_length"] == 40
