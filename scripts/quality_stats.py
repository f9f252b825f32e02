"""What real EEG looks like to the validity checks: the distribution of each per-second statistic, and
of the window-level amplitude scale (edge.chain.quality.channel_scale_uv, 50 s windows every 10 s) that
the plausibility check compares with QualityConfig.min_scale_uv.

The defaults of edge.config.QualityConfig are set from these figures (docs/reliability.md). Every
recording goes through the same channel map and resampler as `edge predict`; the 19 EEG channels are
cut into 1 s blocks (EKG is not judged).

    .venv/bin/python scripts/quality_stats.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.chain.channels import build_channel_map
from edge.chain.quality import BLOCK, block_stats, channel_scale_uv
from edge.chain.signal_chain import SignalChain, Window
from edge.config import ChainConfig, QualityConfig
from edge.contract import CHANNELS, OPTIONAL_CHANNELS, WINDOW_SAMPLES
from edge.inputs.input_files import read_recording
from edge.testing import shared_data_dir

REPO = Path(__file__).resolve().parent.parent
SHARED = shared_data_dir()
SETS = {
    "sparcnet_iiic": sorted((SHARED / "sparcnet_iiic").glob("*.parquet")),
    "tests/data": sorted((REPO / "tests" / "data").glob("*.parquet")),
    "hms": sorted((SHARED / "hms").glob("*_eeg_*.parquet")),
    "eegmat": sorted((SHARED / "eegmat").glob("*.edf")),
}
EEG = [i for i, c in enumerate(CHANNELS) if c not in OPTIONAL_CHANNELS]


def eeg_blocks(path: Path) -> np.ndarray:
    """[19, whole seconds] of the recording at 200 Hz, microvolts, via non-overlapping windows of the chain."""
    recording = read_recording(path)
    channel_map = build_channel_map(recording.labels, recording.units, allow_missing=True)
    config = ChainConfig(hop_s=WINDOW_SAMPLES / 200, quality=QualityConfig(min_pairs=1, range_uv=1e30))
    chain = SignalChain(channel_map, recording.sample_rate_hz, config)
    windows = [e for e in chain.push(recording.data) if isinstance(e, Window)]
    return np.concatenate([w.data[EEG] for w in windows], axis=1) if windows else np.zeros((len(EEG), 0))


def main() -> None:
    rail_uv = QualityConfig().rail_uv
    for name, paths in SETS.items():
        if not paths:
            print(f"{name}: not present")
            continue
        stats: dict[str, list[np.ndarray]] = {}
        for path in paths:
            signal = eeg_blocks(path)
            whole = signal[:, : signal.shape[1] // BLOCK * BLOCK]
            if whole.shape[1]:
                for key, value in block_stats(whole, rail_uv).items():
                    stats.setdefault(key, []).append(value.ravel())
                # an integer stream with 1 uV steps repeats small steps far more often than float EEG
                rounded = block_stats(np.round(whole), rail_uv)["repeated_step"]
                stats.setdefault("repeated_step_1uv", []).append(rounded.ravel())
            scales = [channel_scale_uv(signal[:, lo:lo + WINDOW_SAMPLES])
                      for lo in range(0, signal.shape[1] - WINDOW_SAMPLES + 1, 10 * BLOCK)]
            stats.setdefault("window_scale_uv", []).append(np.array(scales))
        print(f"{name}: {len(paths)} recordings, {sum(len(v) for v in stats['ptp_uv'])} channel-seconds")
        for key, values in stats.items():
            v = np.concatenate(values)
            q = np.percentile(v, [0, 0.1, 50, 99.9, 100])
            print(f"  {key:14s} min {q[0]:10.4g}  p0.1 {q[1]:10.4g}  median {q[2]:10.4g}  p99.9 {q[3]:10.4g}  "
                  f"max {q[4]:10.4g}")


if __name__ == "__main__":
    main()
