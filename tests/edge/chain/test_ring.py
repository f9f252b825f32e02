"""edge/chain/ring.py: the newest samples come back in order across every wrap, and bad reads are refused."""

from __future__ import annotations

import numpy as np
import pytest

from edge.chain.ring import RingBuffer


def test_latest_matches_a_plain_concatenation_across_every_wrap() -> None:
    rng = np.random.default_rng(0)
    ring = RingBuffer(3, 17)
    written = np.zeros((3, 0), dtype=np.float32)
    for size in [1, 5, 17, 3, 16, 2, 9, 17, 1, 11]:  # blocks that end on, before and across the wrap
        block = rng.standard_normal((3, size)).astype(np.float32)
        ring.write(block)
        written = np.concatenate([written, block], axis=1)
        for n in range(1, min(ring.total, ring.capacity) + 1):
            np.testing.assert_array_equal(ring.latest(n), written[:, -n:])
    assert ring.total == written.shape[1]


def test_latest_is_a_copy_the_ring_does_not_overwrite() -> None:
    ring = RingBuffer(1, 4)
    ring.write(np.array([[1.0, 2.0, 3.0]], dtype=np.float32))
    view = ring.latest(3)
    ring.write(np.array([[9.0, 9.0, 9.0]], dtype=np.float32))
    np.testing.assert_array_equal(view, [[1.0, 2.0, 3.0]])


def test_keeps_its_dtype_for_masks() -> None:
    ring = RingBuffer(2, 5, dtype=np.uint8)
    ring.write(np.array([[1, 2], [3, 4]], dtype=np.uint8))
    assert ring.latest(2).dtype == np.uint8


def test_bad_reads_and_oversized_writes_are_refused() -> None:
    ring = RingBuffer(2, 4)
    with pytest.raises(ValueError, match="cannot read 1 samples: 0 written"):
        ring.latest(1)
    with pytest.raises(ValueError, match="block of 5 samples exceeds the ring capacity 4"):
        ring.write(np.zeros((2, 5), dtype=np.float32))
    ring.write(np.ones((2, 3), dtype=np.float32))
    for n in (0, 4, -1):
        with pytest.raises(ValueError, match=f"cannot read {n} samples"):
            ring.latest(n)


def test_reset_forgets_everything() -> None:
    ring = RingBuffer(1, 3)
    ring.write(np.array([[5.0, 6.0]], dtype=np.float32))
    ring.reset()
    assert ring.total == 0
    with pytest.raises(ValueError):
        ring.latest(1)
    ring.write(np.array([[7.0]], dtype=np.float32))
    np.testing.assert_array_equal(ring.latest(1), [[7.0]])
