"""Which windows a rank sees in an epoch, and in what order: a pure function of (seed, fold, epoch).

The permutation and the random shifts are drawn per epoch from a seeded Generator, so a run killed
mid-epoch resumes by skipping the batches already done. Sharding over ranks follows
torch's DistributedSampler (pad to a multiple of world_size, then take every world_size-th index),
extended with the per-window shift, which DistributedSampler cannot carry.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset


def one_row_per_group(rows: np.ndarray, groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random row of each group (e.g. each EEG): overlapping windows of one recording count once an epoch."""
    shuffled = rows[rng.permutation(len(rows))]
    _, first = np.unique(groups[shuffled], return_index=True)
    return np.sort(shuffled[first])


def epoch_size(rows: np.ndarray, groups: np.ndarray | None) -> int:
    return len(rows) if groups is None else len(np.unique(groups[rows]))


def epoch_order(rows: np.ndarray, seed: int, fold: int, *, epoch: int, max_shift: int,
                rank: int = 0, world_size: int = 1, groups: np.ndarray | None = None) -> list[tuple[int, int]]:
    """(row, shift) pairs for this rank's share of the epoch, in training order (one row per group if given)."""
    rng = np.random.default_rng([seed, fold, epoch, 7919])
    if groups is not None:
        rows = one_row_per_group(rows, groups, rng)
    order = rows[rng.permutation(len(rows))]
    shifts = rng.integers(-max_shift, max_shift + 1, size=len(order)) if max_shift else np.zeros(len(order), int)
    padded = math.ceil(len(order) / world_size) * world_size
    index = np.resize(np.arange(len(order)), padded)[rank::world_size]
    return [(int(order[i]), int(shifts[i])) for i in index]


def steps_in_epoch(n_rows: int, batch_size: int, world_size: int = 1) -> int:
    """Optimizer steps: whole global batches (batch_size per rank); a trailing partial one is dropped
    (a 1-row batch breaks BatchNorm), so 1 and N processes with the same global batch take the same steps."""
    return max(n_rows // (batch_size * world_size), 1)


class WindowDataset(Dataset):
    """Items are keyed by (row, shift): returns (eeg [20, 10000], target [6], total_votes, row)."""

    def __init__(self, windows) -> None:
        self.windows = windows

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, key: tuple[int, int]):
        row, shift = key
        eeg = torch.from_numpy(np.ascontiguousarray(self.windows.window(row, shift), dtype=np.float32))
        target = torch.from_numpy(np.asarray(self.windows.targets[row], dtype=np.float32))
        return eeg, target, int(self.windows.total_votes[row]), row


def make_loader(windows, keys: list[tuple[int, int]], batch_size: int, *, num_workers: int) -> DataLoader:
    # An explicit generator keeps the loader from drawing from torch's global RNG, which the model's
    # dropout uses: otherwise creating an iterator at a resume point would shift dropout draws.
    return DataLoader(WindowDataset(windows), batch_size=batch_size, sampler=keys, num_workers=num_workers,
                      drop_last=len(keys) >= batch_size, generator=torch.Generator().manual_seed(0),
                      persistent_workers=False)
