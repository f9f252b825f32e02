"""Draw one Kaggle spectrogram with a labelled row's 10 min window and its 10 s, as a reviewer looks at it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.contract import MONTAGE_CHAINS
from edge.errors import DataError
from train.data.spectrogram import FREQS, WINDOW_S, read_spectrogram

LABEL_CENTRE_S = WINDOW_S / 2  # the labelled 10 s sits at the centre of the 10 min window


def plot_spectrogram(path: Path, out: Path, *, offset_s: float, title: str = "") -> Path:
    """PNG of the 4 chains (log10 uV^2/Hz; NaN rows blank), the row's window and labelled 10 s marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not Path(path).is_file():
        raise DataError(f"{path}: no such spectrogram; write it with `train synth` or pass a Kaggle file")
    _, times, values = read_spectrogram(path)
    if values.shape[1] != len(MONTAGE_CHAINS) * len(FREQS):
        raise DataError(f"{path}: {values.shape[1]} value columns, expected {len(MONTAGE_CHAINS) * len(FREQS)}; "
                        "run `train check` on its folder")
    fig, axes = plt.subplots(len(MONTAGE_CHAINS), 1, figsize=(12, 9), sharex=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log10(np.clip(values, 1e-2, None))
    finite = logs[np.isfinite(logs)]
    low, high = (np.percentile(finite, [2, 98]) if finite.size else (-2.0, 2.0))
    for c, (ax, chain) in enumerate(zip(axes, MONTAGE_CHAINS, strict=True)):
        block = logs[:, c * len(FREQS):(c + 1) * len(FREQS)].T
        mesh = ax.pcolormesh(times, FREQS, block, shading="nearest", cmap="viridis", vmin=low, vmax=high)
        ax.axvspan(offset_s, offset_s + WINDOW_S, color="white", alpha=0.08)
        for edge in (offset_s, offset_s + WINDOW_S):
            ax.axvline(edge, color="white", lw=0.8, ls="--")
        ax.axvspan(offset_s + LABEL_CENTRE_S - 5, offset_s + LABEL_CENTRE_S + 5, color="red", alpha=0.35)
        ax.set_ylabel(f"{chain}\nHz")
    axes[-1].set_xlabel("spectrogram time, s (dashed: the row's 10 min window; red: its labelled 10 s)")
    fig.colorbar(mesh, ax=list(axes), label="log10 uV^2/Hz")
    fig.suptitle(title or Path(path).name)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out
