"""Map a source's channels (labels, units) onto the contract order, in microvolts.

Missing contract channels are an error unless allowed; then each missing electrode is filled, per
sample, with the value that brings the montage pairs using it closest to zero (least squares over
its present neighbours). The model takes referential input and builds the bipolar montage inside
the graph, so a pair can be zeroed exactly only when the missing electrode has one neighbour; with
two different neighbours (e.g. Fp1 on F7 and F3) the pairs carry half their difference. Every
prediction over filled channels is flagged and names the reconstructed pairs; the signal chain refuses
a map with fewer than `quality.min_pairs` pairs computable from present electrodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edge.contract import CHANNELS, OPTIONAL_CHANNELS, canonical_channel, montage_pairs, unit_scale
from edge.errors import DataError


@dataclass(frozen=True)
class ChannelMap:
    source_index: tuple[int, ...]  # per contract channel: source column, or -1 when absent
    scale: np.ndarray  # [channels] float32 factor to microvolts
    missing: tuple[str, ...]  # required channels absent from the source (filled)
    fill: np.ndarray | None  # [channels, channels] per-sample fill of missing channels, or None
    counter_index: int  # source column of a sample counter, or -1
    pairs: tuple[tuple[str, str], ...]  # the montage's bipolar pairs (anode, cathode)

    @property
    def n_channels(self) -> int:
        return len(self.source_index)

    @property
    def reconstructed(self) -> tuple[str, ...]:
        """Names of the pairs that use a missing electrode (their values come from the fill)."""
        return tuple(f"{a}-{c}" for a, c in self.pairs if a in self.missing or c in self.missing)

    def usable_pairs(self, lost: Sequence[str] = ()) -> int:
        """Pairs computable from present electrodes when `lost` ones are unusable too."""
        gone = set(self.missing) | set(lost)
        return sum(a not in gone and c not in gone for a, c in self.pairs)

    def select(self, chunk: np.ndarray) -> np.ndarray:
        """[n, source channels] -> [n, contract channels] float32 microvolts; absent channels are 0."""
        present = np.asarray(self.source_index) >= 0
        out = np.zeros((chunk.shape[0], self.n_channels), dtype=np.float32)
        out[:, present] = chunk[:, np.asarray(self.source_index)[present]]
        out *= self.scale
        return out

    def fill_missing(self, block: np.ndarray) -> np.ndarray:
        """Apply the least-squares fill to [n, channels] (after resampling: the fill is per sample)."""
        return block if self.fill is None else block @ self.fill.T

    def counter(self, chunk: np.ndarray) -> np.ndarray | None:
        return None if self.counter_index < 0 else np.asarray(chunk[:, self.counter_index], dtype=np.float64)


def build_channel_map(labels: Sequence[str], units: Sequence[str | None], montage: str = "double_banana", *,
                      allow_missing: bool = False, counter_label: str | None = None) -> ChannelMap:
    if len(units) != len(labels):
        raise DataError(f"{len(labels)} channel labels but {len(units)} units")
    found: dict[str, int] = {}
    for i, label in enumerate(labels):
        name = canonical_channel(label)
        if name is not None and name not in found:
            found[name] = i
    required = [c for c in CHANNELS if c not in OPTIONAL_CHANNELS]
    missing = tuple(c for c in required if c not in found)
    if missing and not allow_missing:
        raise DataError(f"stream lacks channel(s) {', '.join(missing)} (labels seen: {', '.join(labels)}); "
                        "relabel the source or run with --allow-missing to zero the montage pairs that use them")
    if len(missing) == len(required):
        raise DataError(f"no contract channel found among labels {', '.join(labels)}")
    index = tuple(found.get(c, -1) for c in CHANNELS)
    scale = np.array([unit_scale(units[i]) if i >= 0 else 0.0 for i in index], dtype=np.float32)
    counter_index = -1
    if counter_label is not None:
        if counter_label not in labels:
            raise DataError(f"counter channel {counter_label!r} not among labels {', '.join(labels)}")
        counter_index = list(labels).index(counter_label)
    fill = _fill_matrix(missing, montage) if missing else None
    return ChannelMap(index, scale, missing, fill, counter_index, montage_pairs(montage))


def _fill_matrix(missing: Sequence[str], montage: str) -> np.ndarray:
    """F with filled = F @ referential: missing values minimise the squared montage pairs that use them."""
    pos = {c: i for i, c in enumerate(CHANNELS)}
    n = len(CHANNELS)
    pairs = [p for p in montage_pairs(montage) if p[0] in missing or p[1] in missing]
    fill = np.eye(n)
    if pairs:
        # pair value = A @ x_missing + B @ x_present; choose x_missing = -pinv(A) @ B @ x_present
        cols = [pos[c] for c in missing]
        a = np.zeros((len(pairs), len(cols)))
        b = np.zeros((len(pairs), n))
        for row, (anode, cathode) in enumerate(pairs):
            for name, sign in ((anode, 1.0), (cathode, -1.0)):
                if name in missing:
                    a[row, list(missing).index(name)] = sign
                else:
                    b[row, pos[name]] = sign
        fill[cols, :] = -np.linalg.pinv(a) @ b
    else:
        fill[[pos[c] for c in missing], :] = 0.0
    return fill.astype(np.float32)
