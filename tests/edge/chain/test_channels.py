from __future__ import annotations

import numpy as np
import pytest

from edge.chain.channels import build_channel_map
from edge.contract import CHANNELS, montage_matrix, unit_scale
from edge.errors import DataError

BEDSIDE_LABELS = [f"EEG {c.upper()}-REF" for c in CHANNELS[:-1]]


def test_labels_are_mapped_through_aliases_case_and_suffixes() -> None:
    labels = [label.replace("T3", "T7").replace("T5", "P7") for label in reversed(BEDSIDE_LABELS)]
    channel_map = build_channel_map(labels, ["uV"] * len(labels))
    assert channel_map.missing == ()
    chunk = np.arange(len(labels), dtype=np.float32)[None, :]  # value = source column
    mapped = channel_map.select(chunk)[0]
    for i, name in enumerate(CHANNELS[:-1]):
        assert labels[int(mapped[i])].upper().find(name.upper().replace("T3", "T7").replace("T5", "P7")) >= 0
    assert mapped[CHANNELS.index("EKG")] == 0.0  # optional and absent


@pytest.mark.parametrize(("unit", "factor"), [("V", 1e6), ("mV", 1e3), ("uV", 1.0), ("µV", 1.0), (None, 1.0)])
def test_units_are_converted_to_microvolts(unit: str | None, factor: float) -> None:
    assert unit_scale(unit) == factor
    channel_map = build_channel_map(list(CHANNELS), [unit] * len(CHANNELS))
    assert np.allclose(channel_map.select(np.full((1, 20), 2.0, np.float32)), 2.0 * factor)


def test_unknown_unit_is_a_clear_error() -> None:
    with pytest.raises(DataError, match="unknown channel unit 'furlongs'"):
        build_channel_map(list(CHANNELS), ["furlongs"] * len(CHANNELS))


def test_missing_channels_are_listed_unless_allowed() -> None:
    labels = [c for c in CHANNELS if c not in ("Fp1", "O2")]
    with pytest.raises(DataError, match=r"lacks channel\(s\) Fp1, O2.*--allow-missing"):
        build_channel_map(labels, ["uV"] * len(labels))
    channel_map = build_channel_map(labels, ["uV"] * len(labels), allow_missing=True)
    assert channel_map.missing == ("Fp1", "O2")


def test_allow_missing_fill_zeroes_or_minimises_the_pairs_that_use_the_channel() -> None:
    rng = np.random.default_rng(0)
    montage = montage_matrix()
    pairs = [tuple(CHANNELS[j] for j in np.flatnonzero(row)) for row in montage]
    for missing in ("Fz", "O2", "F7"):
        labels = [c for c in CHANNELS if c != missing]
        channel_map = build_channel_map(labels, ["uV"] * len(labels), allow_missing=True)
        block = channel_map.fill_missing(channel_map.select(rng.normal(0, 50, (100, len(labels))).astype(np.float32)))
        bipolar = block @ montage.T
        using = [i for i, p in enumerate(pairs) if missing in p]
        if missing == "Fz":  # not in the double banana: nothing to fill
            assert not using and np.all(block[:, CHANNELS.index("Fz")] == 0)
            continue
        # two pairs use the electrode: the fill is the mean of its neighbours, each pair carries half
        # their difference (the least a referential fill can leave), instead of the full pairs
        assert len(using) == 2
        a, b = (n for p in (pairs[using[0]], pairs[using[1]]) for n in p if n != missing)
        half = (block[:, CHANNELS.index(a)] - block[:, CHANNELS.index(b)]) / 2
        for i in using:
            np.testing.assert_allclose(np.abs(bipolar[:, i]), np.abs(half), atol=1e-3)
        untouched = [i for i in range(len(pairs)) if i not in using]
        assert np.abs(bipolar[:, untouched]).mean() > 10  # the other pairs still carry signal


def test_counter_column_is_found_by_label() -> None:
    labels = [*CHANNELS, "COUNTER"]
    channel_map = build_channel_map(labels, ["uV"] * len(labels), counter_label="COUNTER")
    chunk = np.zeros((3, len(labels)), np.float32)
    chunk[:, -1] = [5, 6, 7]
    assert channel_map.counter(chunk).tolist() == [5, 6, 7]
