"""Review pages render real and synthetic EEG at the same clinical scale."""

from pathlib import Path

import numpy as np
from matplotlib.image import imread

from edge.contract import CLASSES
from train.synth.plot import DPI, MM_PER_S, PAGE_SECONDS, plot_real_segments, render_eeg

FIXTURES = Path(__file__).resolve().parents[2] / "data"


def test_real_fixture_pages_are_titled_with_votes_and_drawn_to_scale(tmp_path):
    paths = plot_real_segments(FIXTURES, tmp_path)
    assert sorted(p.name for p in paths) == ["real_GPD_sample2.png", "real_GRDA_sample2.png", "real_LRDA_sample2.png"]
    image = imread(paths[0])
    width_mm = PAGE_SECONDS * MM_PER_S + 40  # the page plus the label margin
    assert abs(image.shape[1] - width_mm / 25.4 * DPI) <= 1
    assert image[..., :3].std() > 0.05  # traces were drawn, not a blank page


def test_nan_gap_changes_the_page_only_around_the_gap(tmp_path):
    """A NaN stretch is bridged, not dropped: the page keeps its size and only the traces near the gap change."""
    signals = np.random.default_rng(0).normal(0, 20, size=(20, 10_000)).astype(np.float32)
    gapped = signals.copy()
    gapped[:, 4_500:4_700] = np.nan  # 22.5-23.5 s into the window; the page shows 17.5-32.5 s
    clean = imread(render_eeg(signals, tmp_path / "clean.png", f"synthetic {CLASSES[0]}"))[..., :3]
    page = imread(render_eeg(gapped, tmp_path / "gap.png", f"synthetic {CLASSES[0]}"))[..., :3]
    assert page.shape == clean.shape
    changed_columns = np.flatnonzero(np.abs(page - clean).max(axis=(0, 2)) > 0.1)
    assert changed_columns.size > 0  # the gap was drawn differently, not ignored
    px_per_s = MM_PER_S / 25.4 * DPI
    gap_centre_px = (30 + (23.0 - 17.5) * MM_PER_S) / 25.4 * DPI  # 30 mm left margin
    # display filters spread the bridged stretch by a few seconds at most; the rest of the page is untouched
    assert np.all(np.abs(changed_columns - gap_centre_px) < 4 * px_per_s)
