"""edge explain: the occlusion operators and masks, the map through the engine, the picture and the CLI (no torch)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edge.cli import app
from edge.cli_support import run_app
from edge.contract import CHANNELS, CLASSES, SAMPLE_RATE_HZ, WINDOW_SAMPLES, montage_matrix, montage_pairs
from edge.model.engine import Engine
from edge.offline.explain import (
    BLOCK_S,
    block_masks,
    explain_file,
    montage_chains,
    occluded_batches,
    occlusion_map,
    occlusion_operators,
)
from edge.offline.explain_plot import render
from edge.testing import shared_data_dir

SPARCNET = shared_data_dir() / "sparcnet_iiic"


def _chain_of_pair(montage: str) -> list[int]:
    return [c for c, chain in enumerate(montage_chains(montage)) for _ in range(len(chain) - 1)]


@pytest.mark.parametrize("montage", ["double_banana", "double_banana_central"])
def test_occluding_a_pair_changes_only_pairs_of_its_own_chain(montage: str) -> None:
    x = np.random.default_rng(0).normal(0, 50, size=(len(CHANNELS), 400))
    bipolar = montage_matrix(montage).astype(np.float64)
    chain_of = np.array(_chain_of_pair(montage))
    for k, op in enumerate(occlusion_operators(montage)):
        changed = np.abs(bipolar @ (x + op @ x) - bipolar @ x).max(axis=1) > 1e-9
        assert changed[k], montage_pairs(montage)[k]  # the pair itself is occluded
        assert set(np.flatnonzero(changed)) <= set(np.flatnonzero(chain_of == chain_of[k]))
        assert changed.sum() <= 3  # itself and at most its two neighbours in the chain


def test_a_linear_gradient_along_a_chain_survives_occlusion() -> None:
    """Interpolation removes only what deviates from the chain's kept electrodes: a smooth gradient stays."""
    x = np.zeros((len(CHANNELS), 10))
    for chain in montage_chains("double_banana"):
        for position, electrode in enumerate(chain):
            x[CHANNELS.index(electrode)] = 10.0 * position  # every pair of every chain reads -10 uV
    for op in occlusion_operators("double_banana"):
        np.testing.assert_allclose(op @ x, 0.0, atol=1e-12)


def test_block_masks_cover_each_block_and_sum_to_one() -> None:
    masks = block_masks(WINDOW_SAMPLES)
    block = round(BLOCK_S * SAMPLE_RATE_HZ)
    assert masks.shape == (WINDOW_SAMPLES // block, WINDOW_SAMPLES)
    np.testing.assert_allclose(masks.sum(axis=0), 1.0)
    for b, mask in enumerate(masks):
        centre = b * block + block // 2
        assert mask[centre] == 1.0 and mask[b * block + 30:(b + 1) * block - 30].min() == 1.0
        outside = np.r_[0:max(b * block - 30, 0), min((b + 1) * block + 30, WINDOW_SAMPLES):WINDOW_SAMPLES]
        assert mask[outside].max(initial=0.0) == 0.0


def test_occlusion_map_is_the_drop_in_probability_per_pair_and_block(test_bundle: Path) -> None:
    window = np.random.default_rng(1).normal(0, 40, size=(len(CHANNELS), WINDOW_SAMPLES)).astype(np.float32)
    with Engine(test_bundle, "onnxruntime", threads=1) as engine:
        probs, drops = occlusion_map(engine, window)
        deltas = occlusion_operators("double_banana") @ window.astype(np.float64)
        masks = block_masks(WINDOW_SAMPLES)
        k, b = 5, 12
        by_hand = engine.predict((window + masks[b] * deltas[k])[None].astype(np.float32))[0]
    assert drops.shape == (len(deltas), len(masks), len(probs))
    np.testing.assert_allclose(drops[k, b], probs - by_hand, atol=1e-6)
    assert np.abs(drops).max() > 0
    first = next(occluded_batches(window.astype(np.float64), deltas, masks))
    np.testing.assert_allclose(first[1], window + masks[1] * deltas[0], rtol=1e-5, atol=1e-3)


def test_explain_file_draws_a_png_and_names_the_class(test_bundle: Path, recording_70s: Path) -> None:
    with Engine(test_bundle, "onnxruntime", threads=1) as engine:
        explanation = explain_file(recording_70s, engine, offset_s=10.0, target="lrda")
    assert explanation.target == CLASSES.index("lrda") and explanation.pair_time.shape == (16, 25)
    assert explanation.block_s == pytest.approx(BLOCK_S)
    assert render(explanation)[:8] == b"\x89PNG\r\n\x1a\n"
    numbers = explanation.to_json()
    assert numbers["explained"] == "lrda" and len(numbers["attribution"]) == len(numbers["pairs"]) == 16
    assert numbers["label_span_s"] == [20.0, 30.0]


def test_cli_writes_the_map_and_json(test_bundle: Path, recording_70s: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "map.png"
    assert run_app(app, ["explain", str(recording_70s), "--bundle", str(test_bundle), "--out", str(out),
                         "--offset", "5", "--json", "--backend", "onnxruntime"]) == 0
    captured = capsys.readouterr()
    numbers = json.loads(captured.out)
    assert out.read_bytes()[:4] == b"\x89PNG" and numbers["offset"] == 5.0
    assert numbers["predicted"] in numbers["probs"] and "wrote" in captured.err


@pytest.mark.parametrize(("args", "message"), [
    (["--class", "spike"], "--class must be one of"),
    (["--offset", "30"], "shorter than one 50 s window"),
])
def test_cli_bad_input_is_one_line_exit_2(test_bundle, recording_70s, tmp_path, capsys, args, message) -> None:
    out = tmp_path / "map.png"
    assert run_app(app, ["explain", str(recording_70s), "--bundle", str(test_bundle), "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and not out.exists()


@pytest.mark.skipif(not SPARCNET.is_dir(), reason="needs /work/shared/data/sparcnet_iiic")
def test_real_segment_explains(test_bundle: Path) -> None:
    with Engine(test_bundle, "onnxruntime", threads=1) as engine:
        explanation = explain_file(SPARCNET / "LPD_sample1.parquet", engine)
    assert np.isfinite(explanation.pair_time).all() and np.abs(explanation.pair_time).max() > 0
