"""What an explanation is, and how it is drawn: shared by `edge explain` (occlusion) and `train explain` (Grad-CAM).

An Explanation holds the window the model saw, its probabilities, the class explained and an
attribution map over (bipolar pair x time block), optionally with a (frequency x time) map for the
spectrogram. Positive attribution means evidence for the explained class.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge.contract import CLASSES, LABEL_START, LABEL_STOP, SAMPLE_RATE_HZ, montage_matrix, montage_names

TRACE_BAND_HZ = (0.5, 20.0)  # what the model's front end keeps (FrontEndConfig bandpass)
SPECTROGRAM_MAX_HZ = 20.0
TRACE_SCALE = 4.0  # one trace row spans TRACE_SCALE x the median trace's standard deviation
TRACE_CLIP = 0.9  # rows
COLOUR_PERCENTILE = 99.0


@dataclass(frozen=True)
class Explanation:
    source: str  # file name
    offset_s: float  # window start in the recording
    window: np.ndarray  # [20, WINDOW_SAMPLES] uV, contract order: what the model saw
    montage: str
    probs: np.ndarray  # [classes] the model's probabilities for the window
    target: int  # index of the class explained (the predicted one unless asked otherwise)
    method: str  # one line: what the numbers are
    pair_time: np.ndarray  # [pairs, blocks] attribution; blocks split the window evenly
    freq_time: np.ndarray | None = None  # [freqs, frames] attribution over the spectrogram, if the method has one
    freq_hz: np.ndarray | None = None  # [freqs] centre frequency of each freq_time row

    @property
    def block_s(self) -> float:
        return self.window.shape[1] / SAMPLE_RATE_HZ / self.pair_time.shape[1]

    def title(self) -> str:
        return (f"{self.source} @ {self.offset_s:g} s: predicted {CLASSES[int(np.argmax(self.probs))]} "
                f"{float(np.max(self.probs)):.2f}; map for {CLASSES[self.target]} ({self.probs[self.target]:.2f})")

    def to_json(self) -> dict[str, Any]:
        return {"file": self.source, "offset": self.offset_s, "method": self.method,
                "probs": {c: float(p) for c, p in zip(CLASSES, self.probs, strict=True)},
                "predicted": CLASSES[int(np.argmax(self.probs))], "explained": CLASSES[self.target],
                "label_span_s": [LABEL_START / SAMPLE_RATE_HZ, LABEL_STOP / SAMPLE_RATE_HZ],
                "block_s": self.block_s, "pairs": list(montage_names(self.montage)),
                "attribution": np.round(self.pair_time, 6).tolist()}


def bipolar_traces(window: np.ndarray, montage: str) -> np.ndarray:
    """[pairs, samples] bipolar signals band-passed to what the model looks at (zero-phase, display only)."""
    from scipy.signal import butter, sosfiltfilt

    bipolar = montage_matrix(montage).astype(np.float64) @ np.asarray(window, dtype=np.float64)
    sos = butter(2, TRACE_BAND_HZ, btype="bandpass", fs=SAMPLE_RATE_HZ, output="sos")
    return sosfiltfilt(sos, bipolar, axis=1)


def render(explanation: Explanation) -> bytes:
    """PNG: bipolar traces over the (pair x block) map, and the mean bipolar spectrogram with the time profile."""
    from matplotlib.figure import Figure  # no pyplot: no global backend or GUI state
    from scipy.signal import spectrogram

    e = explanation
    traces = bipolar_traces(e.window, e.montage)
    names = montage_names(e.montage)
    seconds = traces.shape[1] / SAMPLE_RATE_HZ
    t = np.arange(traces.shape[1]) / SAMPLE_RATE_HZ
    fig = Figure(figsize=(14, 10))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.2]})

    # The colour scale ends at the 99th percentile: a few extreme cells would otherwise wash out the rest.
    limit = float(np.percentile(np.abs(e.pair_time), COLOUR_PERCENTILE)) or float(np.abs(e.pair_time).max()) or 1.0
    heat = top.imshow(e.pair_time, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit, alpha=0.75,
                      extent=(0, seconds, len(names) - 0.5, -0.5), interpolation="nearest")
    # One scale for every trace (amplitudes compare across pairs), clipped so a seizure does not cover its neighbours.
    scale = TRACE_SCALE * float(np.median(np.std(traces, axis=1))) or 1.0
    for i, trace in enumerate(traces):
        top.plot(t, i - np.clip((trace - np.median(trace)) / scale, -TRACE_CLIP, TRACE_CLIP), color="black",
                 linewidth=0.4)
    top.set(yticks=range(len(names)), yticklabels=names, ylim=(len(names) - 0.5, -0.5),
            title=f"{e.title()}\n{e.method}")
    # An inset colour bar takes no width from the traces, so both panels keep the same time axis.
    fig.colorbar(heat, cax=top.inset_axes((1.01, 0.0, 0.015, 1.0)), label=f"evidence for {CLASSES[e.target]}")

    freqs, times, power = spectrogram(traces, fs=SAMPLE_RATE_HZ, nperseg=256, noverlap=216)
    power = power.mean(axis=0)  # the pairs' power, averaged
    keep = freqs <= SPECTROGRAM_MAX_HZ
    bottom.pcolormesh(times, freqs[keep], 10 * np.log10(power[keep] + 1e-12), shading="auto", cmap="viridis")
    # Contours only where the map varies over frequency (a coarse last feature map may have one row).
    if e.freq_time is not None and e.freq_hz is not None and np.ptp(e.freq_time, axis=0).max() > 0:
        frame_s = np.linspace(0, seconds, e.freq_time.shape[1])
        bottom.contour(frame_s, e.freq_hz, e.freq_time, levels=4, colors="white", linewidths=0.7)
    profile = e.pair_time.clip(min=0).sum(axis=0)
    twin = bottom.twinx()
    edges = np.linspace(0, seconds, len(profile) + 1)
    twin.stairs(profile, edges, color="tab:red", linewidth=1.5)
    twin.set_ylabel("positive evidence\n(sum over pairs)", color="tab:red")
    bottom.set(ylabel="Hz (mean over pairs)", xlabel="seconds in the 50 s window")
    bottom.set_xlim(0, seconds)
    for ax in (top, bottom):
        for edge in (LABEL_START / SAMPLE_RATE_HZ, LABEL_STOP / SAMPLE_RATE_HZ):
            ax.axvline(edge, color="magenta", linestyle="--", linewidth=1.2)
    top.text((LABEL_START + LABEL_STOP) / 2 / SAMPLE_RATE_HZ, len(names) - 0.5, "labelled 10 s", color="magenta",
             ha="center", va="top")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()


def write_explanation(explanation: Explanation, path: str | Path) -> Path:
    from edge.model.bundle import atomic_write

    return atomic_write(path, render(explanation))
