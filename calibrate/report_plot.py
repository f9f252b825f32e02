"""calibration.png: quantized vs fp32 probabilities per class, and the Kaggle KL of every backend."""

from __future__ import annotations

import io

from calibrate.verify import ORT_FP32, QUANTIZED, ParityReport
from edge.spec import CLASSES


def parity_png(report: ParityReport) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, (scatter, bars) = plt.subplots(1, 2, figsize=(11, 4.8))
    reference = report.probs[ORT_FP32]
    for backend in (b for b in QUANTIZED if b in report.probs):
        for k, name in enumerate(CLASSES):
            scatter.scatter(reference[:, k], report.probs[backend][:, k], s=6, alpha=0.6,
                            label=f"{backend} {name}", marker="o" if backend == QUANTIZED[0] else "x")
    scatter.plot([0, 1], [0, 1], color="black", linewidth=0.8)
    scatter.set(xlabel="onnxruntime fp32 probability", ylabel="quantized probability", xlim=(0, 1), ylim=(0, 1),
                title=f"{report.windows} held-out windows, {report.patients} patients")
    scatter.legend(fontsize=7, markerscale=2, ncol=2)
    names = [b.name for b in report.backends]
    bars.bar(names, [b.kaggle_kl for b in report.backends], color="tab:blue")
    for i, b in enumerate(report.backends):
        note = f"{b.kaggle_kl:.4f}" + (f"\nKL vs {b.reference} {b.mean_kl:.2e}" if b.mean_kl is not None else "")
        bars.annotate(note, (i, b.kaggle_kl / 2), ha="center", va="center", fontsize=7, color="white")
    bars.set(ylabel="Kaggle KL to expert votes (lower is better)", title="per backend")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()
