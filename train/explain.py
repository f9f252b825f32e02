"""`train explain`: Grad-CAM maps of one window for a bundle's torch model, drawn like `edge explain`.

mel2d: the backbone mixes every pair in its first conv, so no feature map has a pair axis. Grad-CAM on
the backbone's last feature map (Selvaraju et al. 2017) gives where in (frequency x time) the class
evidence is; it is upsampled to the Mel image and multiplied by gradient x input of the image, which has
the pair axis (guided Grad-CAM, with gradient x input in place of guided backpropagation, which fails the
model-randomisation test; Adebayo et al. 2018). Summed over frequency: the (pair x frame) map.

grouped1d: the stem is grouped by pair (channel = pair * width + feature), so Grad-CAM on the stem's
output gives a (pair x time) map directly: per channel, the mean gradient over time times the activation,
summed over each pair's channels. The ReLU of standard Grad-CAM is left out so that counter-evidence
shows (blue), as in the occlusion maps.

Positive = evidence for the explained class (gradients of its logit).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from edge.contract import CLASSES, SAMPLE_RATE_HZ
from edge.errors import SpecError
from edge.model.model_spec import FrontEndConfig
from edge.offline.explain import first_window, require_class
from edge.offline.explain_plot import Explanation
from train.models.grouped1d import Grouped1d
from train.models.mel2d import Mel2d

COLUMN_S = 0.5  # both maps are averaged into columns this long (mel2d frames are 0.2 s, the grouped1d stem 40 Hz)


def _backward_on_target(forward: Callable[[], torch.Tensor], layer: torch.nn.Module,
                        target: int | None) -> tuple[np.ndarray, int, torch.Tensor]:
    """Run `forward` keeping `layer`'s output (gradient retained), backpropagate the target class's logit
    (the most probable one when None): (probs, target, the layer's output with its .grad)."""
    store: dict[str, torch.Tensor] = {}

    def hook(_module, _inputs, output: torch.Tensor) -> None:
        output.retain_grad()
        store["out"] = output

    handle = layer.register_forward_hook(hook)
    try:
        logits = forward()
    finally:
        handle.remove()
    probs = torch.softmax(logits, dim=-1)[0].detach().double().numpy()
    c = int(probs.argmax()) if target is None else target
    logits[0, c].backward()
    return probs, c, store["out"]


def mel_centres_hz(frontend: FrontEndConfig) -> np.ndarray:
    """Centre frequency of each Mel image row (row 0 lowest), as train.models.dsp.mel_filterbank spaces them."""
    from train.models.dsp import hz_to_mel, mel_to_hz

    edges = mel_to_hz(np.linspace(hz_to_mel(frontend.mel_fmin_hz), hz_to_mel(frontend.mel_fmax_hz),
                                  frontend.n_mels + 2))
    return edges[1:-1]


def columns(pair_map: torch.Tensor, samples: int) -> np.ndarray:
    """[pairs, steps] -> [pairs, window / COLUMN_S] by averaging (steps need not divide evenly)."""
    count = round(samples / SAMPLE_RATE_HZ / COLUMN_S)
    return F.adaptive_avg_pool1d(pair_map.detach()[None], count)[0].double().numpy()


def grad_cam_mel2d(model: Mel2d, eeg: torch.Tensor, target: int | None,
                   *, frontend: FrontEndConfig) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    """(probs, target, pair x frame map, Mel row x frame Grad-CAM) for one window eeg [1, 20, T]."""
    image = model.forward_frontend(eeg).detach().requires_grad_(True)
    probs, c, features = _backward_on_target(lambda: model.forward_classifier(image), model.backbone, target)
    grads = features.grad
    cam = F.relu((grads.mean(dim=(2, 3), keepdim=True) * features).sum(dim=1, keepdim=True))  # [1, 1, h, w]
    cam = F.interpolate(cam, size=image.shape[2:], mode="bilinear", align_corners=False)[0, 0]
    guided = (cam * image.grad * image)[0].detach()  # [C, H, W]
    pairs = guided.reshape(frontend.n_pairs, frontend.n_mels, -1)  # every layout flattens [P, M, W] pair-major
    freq_time = cam.detach().reshape(-1, frontend.n_mels, cam.shape[-1]).mean(0)
    return probs, c, columns(pairs.sum(1), eeg.shape[-1]), freq_time.double().numpy()


def grad_cam_grouped1d(model: Grouped1d, eeg: torch.Tensor, target: int | None,
                       *, frontend: FrontEndConfig) -> tuple[np.ndarray, int, np.ndarray]:
    """(probs, target, pair x column map) for one window eeg [1, 20, T]."""
    probs, c, stem = _backward_on_target(lambda: model(eeg), model.stem, target)
    features, grads = stem[0], stem.grad[0]  # [P * width, steps]
    cam = (grads.mean(dim=1, keepdim=True) * features).reshape(frontend.n_pairs, -1, features.shape[-1]).sum(1)
    return probs, c, columns(cam, eeg.shape[-1])


def explain_window(model: torch.nn.Module, window: np.ndarray, frontend: FrontEndConfig, *,
                   target: str | None = None, source: str = "window", offset_s: float = 0.0) -> Explanation:
    """Grad-CAM Explanation of one window [20, T] uV for `target` (default: the predicted class)."""
    require_class(target)
    c = None if target is None else CLASSES.index(target)
    model = model.eval()
    eeg = torch.from_numpy(np.asarray(window, dtype=np.float32))[None]
    common = {"source": source, "offset_s": offset_s, "window": np.asarray(window), "montage": frontend.montage}
    with torch.enable_grad():
        if isinstance(model, Mel2d):
            probs, c, pair_time, freq_time = grad_cam_mel2d(model, eeg, c, frontend=frontend)
            return Explanation(**common, probs=probs, target=c, pair_time=pair_time, freq_time=freq_time,
                               freq_hz=mel_centres_hz(frontend),
                               method=f"guided Grad-CAM (last feature map x image gradient x input), summed over "
                                      f"frequency, {COLUMN_S:g} s columns")
        if isinstance(model, Grouped1d):
            probs, c, pair_time = grad_cam_grouped1d(model, eeg, c, frontend=frontend)
            return Explanation(**common, probs=probs, target=c, pair_time=pair_time,
                               method=f"Grad-CAM per pair on the pair-grouped stem (no ReLU), "
                                      f"{COLUMN_S:g} s columns")
    raise SpecError(f"train explain supports mel2d and grouped1d models, not {type(model).__name__}; "
                    "explain an ensemble's members, or use `edge explain` (occlusion works for any model)")


def explain_file(bundle: str | Path, path: str | Path, *, offset_s: float = 0.0,
                 target: str | None = None, allow_missing: bool = False) -> Explanation:
    """Grad-CAM Explanation of the window at `offset_s` in `path`, read through the edge signal chain."""
    from train.checkpoint import load_bundle_model

    require_class(target)
    model, spec = load_bundle_model(bundle)
    window = first_window(path, offset_s=offset_s, montage=spec.frontend.montage, allow_missing=allow_missing)
    return explain_window(model, window, spec.frontend, target=target, source=Path(path).name, offset_s=offset_s)
