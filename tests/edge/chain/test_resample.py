from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import upfirdn

from edge.chain.resample import StreamingResampler, design_lowpass, rate_ratio
from edge.errors import DataError


@pytest.mark.parametrize("rate_in", [250.0, 256.0, 500.0, 100.0, 199.5])
def test_streaming_output_equals_upfirdn_for_any_chunking(rate_in: float) -> None:
    x = np.random.default_rng(1).standard_normal((2500, 3)).astype(np.float32)
    resampler = StreamingResampler(rate_in, 200.0, 3)
    reference = upfirdn(design_lowpass(resampler.up, resampler.down), x.astype(np.float64), resampler.up,
                        resampler.down, axis=0)
    outputs = []
    for chunk in (1, 7, 64, 1000):
        resampler.reset()
        outputs.append(np.concatenate([resampler.process(x[i:i + chunk]) for i in range(0, len(x), chunk)]))
    for y in outputs[1:]:
        np.testing.assert_array_equal(y, outputs[0])
    np.testing.assert_allclose(outputs[0], reference[: len(outputs[0])], atol=1e-5)
    assert len(outputs[0]) == ((len(x) - 1) * resampler.up) // resampler.down + 1


def test_resampled_sine_keeps_amplitude_and_frequency() -> None:
    t = np.arange(5000) / 250.0
    x = np.sin(2 * np.pi * 7.0 * t)[:, None]
    resampler = StreamingResampler(250.0, 200.0, 1)
    y = resampler.process(x)[:, 0]
    positions = resampler.output_positions(0, len(y))
    expected = np.sin(2 * np.pi * 7.0 * positions / 250.0)
    steady = slice(100, len(y) - 100)  # away from the zero history at the start
    np.testing.assert_allclose(y[steady], expected[steady], atol=2e-3)


def test_rate_ratio_and_refusals() -> None:
    assert rate_ratio(250.0, 200.0) == (4, 5)
    assert rate_ratio(256.0, 200.0) == (25, 32)
    with pytest.raises(DataError, match="irregular"):
        rate_ratio(0.0, 200.0)
    with pytest.raises(DataError, match="no resampling"):
        rate_ratio(200.0, 200.0)
