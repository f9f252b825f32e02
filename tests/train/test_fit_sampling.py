"""train/fit/sampling.py: epoch order and the loader."""


from __future__ import annotations

import numpy as np
import torch

from edge.contract import CHANNELS
from train.fit.sampling import epoch_order, steps_in_epoch


def test_epoch_order_is_deterministic_and_shards_like_distributed_sampler():
    rows = np.arange(10, 21)
    single = epoch_order(rows, 0, 0, epoch=3, max_shift=100)
    assert single == epoch_order(rows, 0, 0, epoch=3, max_shift=100)
    assert single != epoch_order(rows, 0, 0, epoch=4, max_shift=100)
    assert sorted(r for r, _ in single) == rows.tolist()
    assert all(-100 <= s <= 100 for _, s in single) and len({s for _, s in single}) > 1
    shards = [epoch_order(rows, 0, 0, epoch=3, max_shift=100, rank=rank, world_size=2) for rank in range(2)]
    assert len(shards[0]) == len(shards[1]) == 6  # padded to a multiple of world_size
    assert {r for shard in shards for r, _ in shard} == set(rows.tolist())
    assert steps_in_epoch(11, 4) == 2 and steps_in_epoch(11, 2, world_size=2) == 2 and steps_in_epoch(3, 4) == 1


def test_loader_processes_change_nothing_the_step_sees():
    """run.num_workers only reads ahead: the same batches, in order, and torch's global RNG (dropout) untouched."""
    from train.data.windows import WindowSet
    from train.fit.sampling import make_loader

    rng = np.random.default_rng(0)
    n, margin = 12, 50
    length = 10_000 + 2 * margin  # every row its own segment of the time-major sample array
    spans = np.column_stack([np.arange(n) * length, np.full(n, length), np.zeros(n, np.int64)])
    windows = WindowSet(samples=rng.normal(0, 30, (n * length, len(CHANNELS))).astype(np.float32),
                        margin=margin, row_spans=spans, targets=rng.dirichlet(np.ones(6), n).astype(np.float32),
                        total_votes=rng.integers(1, 20, n).astype(np.int32), patient_ids=np.arange(n),
                        eeg_ids=np.arange(n), label_ids=np.arange(n), offsets_s=np.zeros(n),
                        nan_counts=np.zeros(n, np.int64), pad_samples=np.zeros((n, 2), np.int32))
    keys = epoch_order(np.arange(n), seed=1, fold=0, epoch=0, max_shift=margin)
    batches = {}
    for workers in (0, 1):
        torch.manual_seed(5)
        loader = make_loader(windows, keys, 4, num_workers=workers)
        batches[workers] = [[t.clone() for t in batch[:3]] + [batch[3]] for batch in loader]
        batches[workers].append(torch.rand(3))  # the next dropout-like draw after the epoch
    assert len(batches[0]) == len(batches[1]) == 4
    for a, b in zip(batches[0][:-1], batches[1][:-1], strict=True):
        for x, y in zip(a, b, strict=True):
            assert torch.equal(torch.as_tensor(x), torch.as_tensor(y))
    assert torch.equal(batches[0][-1], batches[1][-1])
