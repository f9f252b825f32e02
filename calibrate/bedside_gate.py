"""Windows as the bedside sees them: edge's own signal chain decides which windows are predicted and what they hold.

At the bedside a window whose labelled span is not valid EEG (edge/chain/quality.py: out-of-range samples,
missing data, too few usable bipolar pairs) is refused with a "missing" or "artifact" status and never
reaches the model, and out-of-range or missing samples of an accepted window are masked (the channel's
last good value). Calibration and parity must therefore use the same windows in the same state: each
offline window goes through a fresh `edge.chain.signal_chain.SignalChain` (the code the bedside runs, no second copy
of its rules), which gives either the masked window or the reason it was refused.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from edge.chain.channels import build_channel_map
from edge.chain.signal_chain import SignalChain, Window
from edge.config import ChainConfig
from edge.contract import CHANNELS, SAMPLE_RATE_HZ, WINDOW_SAMPLES


class BedsideGate:
    """Runs windows [channels, WINDOW_SAMPLES] (contract order, microvolts) through edge's signal chain and
    counts the refusals by reason."""

    def __init__(self, config: ChainConfig | None = None) -> None:
        self.config = config or ChainConfig()
        self.config.validate()
        self._map = build_channel_map(list(CHANNELS), ["uV"] * len(CHANNELS))
        self.refused: Counter[str] = Counter()

    def reset(self) -> None:
        self.refused.clear()

    def view(self, window: np.ndarray) -> tuple[np.ndarray | None, str | None]:
        """(the window as the model would receive it, None) or (None, why edge refuses it) — not counted."""
        if window.shape != (len(CHANNELS), WINDOW_SAMPLES):
            raise ValueError(f"window must be [{len(CHANNELS)}, {WINDOW_SAMPLES}], got {list(window.shape)}")
        chain = SignalChain(self._map, SAMPLE_RATE_HZ, self.config)
        events = chain.push(np.ascontiguousarray(np.asarray(window, dtype=np.float32).T))
        last = events[-1]  # sample WINDOW_SAMPLES is always a hop boundary: the whole window is judged
        if isinstance(last, Window):
            return last.data, None
        return None, last.kind

    def judge(self, window: np.ndarray) -> np.ndarray | None:
        """The masked window, or None when edge refuses it (the reason is counted in ``refused``)."""
        data, reason = self.view(window)
        if reason is not None:
            self.refused[reason] += 1
        return data


class BedsideSource:
    """A WindowSource (calibrate.calib_data) limited to what the bedside predicts on: ``accepts(i)`` runs the
    gate (memoised), ``window(i)`` returns the masked window edge would feed the model."""

    def __init__(self, source, gate: BedsideGate | None = None) -> None:
        self.source = source
        self.gate = gate or BedsideGate()
        self.targets = source.targets
        self.patient_ids = source.patient_ids
        self._verdicts: dict[int, str | None] = {}

    def accepts(self, index: int) -> bool:
        if index not in self._verdicts:
            _, self._verdicts[index] = self.gate.view(np.asarray(self.source.window(index), dtype=np.float32))
        return self._verdicts[index] is None

    def window(self, index: int) -> np.ndarray:
        data, reason = self.gate.view(np.asarray(self.source.window(index), dtype=np.float32))
        if data is None:
            raise ValueError(f"window {index} is refused by the bedside gate ({reason}); choose it through accepts()")
        return data

    def excluded(self, indices=None) -> dict[str, int]:
        """Refusals by reason among the windows judged so far (or among ``indices`` of them)."""
        keys = self._verdicts if indices is None else [int(i) for i in indices if int(i) in self._verdicts]
        return dict(Counter(self._verdicts[i] for i in keys if self._verdicts[i] is not None))
