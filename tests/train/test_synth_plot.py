"""Review pages render real and synthetic EEG at the same clinical scale."""

from pathlib import Path

import numpy as np
from matplotlib.image import imread

from edge.spec import CLASSES
from train.synth.plot import DPI, MM_PER_S, PAGE_SECONDS, plot_real_segments, render_eeg

FIXTURES = Path(__file__).resolve().parent.parent / "data"


def test_real_fixture_pages_are_titled_with_votes_and_drawn_to_scale(tmp_path):
    paths = plot_real_segments(FIXTURES, tmp_path)
    assert sorted(p.name for p in paths) == ["real_GPD_sample2.png", "real_GRDA_sample2.png", "real_LRDA_sample2.png"]
    image = imread(paths[0])
    width_mm = PAGE_SECONDS * MM_PER_S + 40  # the page plus the label margin
    assert abs(image.shape[1] - width_mm / 25.4 * DPI) <= 1
    assert image[..., :3].std() > 0.05  # traces were drawn, not a blank page


def test_synthetic_page_with_nan_gap_renders(tmp_path):
    signals = np.random.default_rng(0).normal(0, 20, size=(20, 10_000)).astype(np.float32)
    signals[:, 4_500:4_700] = np.nan
    path = render_eeg(signals, tmp_path / "page.png", f"synthetic {CLASSES[0]}")
    assert imread(path).shape[0] > 100
