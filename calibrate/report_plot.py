"""calibration.png: each precision's probabilities against fp32, the Kaggle KL of every runner, and the per-node
int8 sensitivity (which nodes stayed float)."""

from __future__ import annotations

import io
import math

import numpy as np

from calibrate.verify import HELD_OUT, ORT_FP32, TORCH_REFERENCE, ParityReport
from edge.contract import CLASSES

TOP_NODES = 24


def _sensitivity_panel(axis, quantize: dict | None) -> None:
    sensitivity = (quantize or {}).get("sensitivity")
    if not sensitivity:
        axis.set_axis_off()
        return
    nodes = sensitivity["nodes"][:TOP_NODES]
    kept = set(sensitivity["kept_float"])
    colours = ["tab:red" if n["node"] in kept else "tab:blue" for n in nodes]
    axis.barh(range(len(nodes)), [max(n["mean_kl"], 1e-9) for n in nodes], color=colours)
    axis.set_yticks(range(len(nodes)), [n["node"][-28:] for n in nodes], fontsize=6)
    axis.invert_yaxis()
    axis.set_xscale("log")
    axis.set(xlabel="KL vs fp32 with this node alone in int8", title=(
        f"int8 sensitivity ({sensitivity['windows']} calibration windows); red: kept float\n"
        f"{len(kept)} float, {sensitivity['quantized_conv_share']:.0%} of conv FLOPs in int8, "
        f"mix KL {sensitivity['mean_kl']:.2e}"))
    axis.title.set_fontsize(8)


def parity_png(report: ParityReport, quantize: dict | None = None) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, (scatter, bars, nodes) = plt.subplots(1, 3, figsize=(17, 5.2))
    reference = report.probs[ORT_FP32, HELD_OUT]
    others = [r for (r, d) in report.probs if d == HELD_OUT and r not in (ORT_FP32, TORCH_REFERENCE)]
    for i, runner in enumerate(others):
        if not np.all(np.isfinite(report.probs[runner, HELD_OUT])):
            continue  # an overflowed graph (rejected): nothing to place on the axes
        for k, name in enumerate(CLASSES):
            scatter.scatter(reference[:, k], report.probs[runner, HELD_OUT][:, k], s=6, alpha=0.6,
                            label=f"{runner} {name}", marker="ox+^"[i % 4])
    scatter.plot([0, 1], [0, 1], color="black", linewidth=0.8)
    held = next(s for s in report.sets if s["name"] == HELD_OUT)
    scatter.set(xlabel="onnxruntime fp32 probability", ylabel="other precision's probability", xlim=(0, 1),
                ylim=(0, 1), title=f"{held['windows']} held-out windows")
    scatter.legend(fontsize=6, markerscale=2, ncol=2)
    results = [r for r in report.results if r.data == HELD_OUT and math.isfinite(r.kaggle_kl)]  # no overflowed runner
    bars.bar([r.runner for r in results], [r.kaggle_kl for r in results], color="tab:blue")
    for i, r in enumerate(results):
        note = f"{r.kaggle_kl:.4f}" + (f"\nKL vs ref {r.mean_kl:.1e}" if r.mean_kl is not None else "")
        bars.annotate(note, (i, r.kaggle_kl / 2), ha="center", va="center", fontsize=7, color="white")
    bars.tick_params(axis="x", labelsize=7, rotation=20)
    bars.set(ylabel="Kaggle KL to expert votes (lower is better)", title="per runner, held-out windows")
    _sensitivity_panel(nodes, quantize)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()
