"""Background noise shaping: unit std where the gain passes fluctuation, zero where it passes only DC."""

import numpy as np

from train.synth.background import frequencies, shaped_noise


def test_shaped_noise_has_unit_std():
    n = 2_000
    noise = shaped_noise(np.random.default_rng(0), 3, n, gain=(frequencies(n) > 1.0).astype(float))
    np.testing.assert_allclose(noise.std(axis=1), 1.0, rtol=1e-5)


def test_a_gain_passing_only_dc_gives_zeros_not_huge_values():
    n = 100  # a 0.5 s muscle burst: the rfft grid is 0, 2, 4 ... Hz, so "< 2 Hz" keeps DC alone
    gain = frequencies(n) < 2.0
    assert gain.sum() == 1
    noise = shaped_noise(np.random.default_rng(1), 4, n, gain=gain)
    assert noise.dtype == np.float32
    assert np.all(noise == 0)
