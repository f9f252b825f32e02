"""Training configuration: frozen dataclasses loaded from TOML, validated once, saved into the bundle.

Every field has a default that trains a good model (`train fit` with no config). A TOML file may set
any subset of the sections below; CLI flags override single fields on top of it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.config_io import from_dict, read_toml, require_field
from edge.contract import KAGGLE_LOOKAHEAD_S, check_lookahead
from edge.model.model_spec import FrontEndConfig

MIXUP_TARGETS = ("signal", "encoding")
FINAL_MODELS = ("fold", "refit")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class ModelConfig:
    name: str = "mel2d"
    kwargs: dict[str, Any] = field(default_factory=dict)
    frontend: FrontEndConfig = field(default_factory=FrontEndConfig)


@dataclass(frozen=True)
class OptimConfig:
    epochs: int = 12
    batch_size: int = 8
    lr: float = 2e-3
    min_lr_ratio: float = 0.05  # cosine decays to lr * min_lr_ratio
    warmup_steps: int = 100
    weight_decay: float = 1e-2
    grad_clip: float = 1.0  # max global L2 norm; 0 disables clipping
    ema_decay: float = 0.995  # 0 disables the weight EMA; typical 0.99-0.999
    bn_recalibration_windows: int = 400  # clean windows that re-estimate BN statistics of scored/shipped weights


@dataclass(frozen=True)
class LossConfig:
    vote_weighting: bool = False  # weight rows by expert agreement: w = min(total_votes, cap) / cap
    vote_weight_cap: int = 10
    stage2_epochs: int = 0  # > 0: after `optim.epochs`, train this many epochs on rows with >= stage2_min_votes
    stage2_min_votes: int = 10
    # Train on (1 - a) * target + a * prior (the training rows' mean target): label smoothing toward the
    # class prior, so a window unlike any seen in training is not predicted with false certainty. Off by
    # default: with thousands of EEGs it left mel2d under-confident on held-out patients (docs/benchmarks.md).
    prior_smoothing: float = 0.0


@dataclass(frozen=True)
class AugmentConfig:
    """Train-only augmentations, applied in the training step; a probability of 0 switches one off."""

    shift_s: float = 2.0  # random shift of the window around the label, at most WindowSet.margin
    flip_p: float = 0.5  # swap left/right hemispheres
    # Domain randomisation for the gaps measured in docs/domain-gap.md. Off by default: at 1200 EEGs x 4 epochs
    # every mix tried (docs/experiments/2026-12-real-gap.md, runs B, D, G) scored worse on held-out synthetic
    # patients AND on the 12 real segments than none; untested at the default model's full budget.
    amplitude_p: float = 0.0  # scale the whole window, log-uniform in amplitude_range
    amplitude_range: tuple[float, ...] = (0.7, 1.4)
    channel_gain_p: float = 0.0  # per-electrode log-normal gain (impedance, amplifier gain)
    channel_gain_sigma: float = 0.15
    line_noise_p: float = 0.0  # 50/60 Hz mains, uneven per electrode, level log-uniform in line_noise_uv
    line_noise_uv: tuple[float, ...] = (1.0, 40.0)
    electrode_noise_p: float = 0.0  # broadband noise on 1-4 high-impedance electrodes
    electrode_noise_uv: float = 10.0  # rms upper bound
    bandpass_jitter_p: float = 0.0  # random extra low-pass / high-pass edge (filter settings)
    channel_dropout_p: float = 0.0  # zero 1-2 random raw channels
    time_mask_p: float = 0.1  # zero a random block of the raw window (outside the labelled centre too)
    time_mask_max_s: float = 5.0
    mixup_p: float = 0.2
    mixup_alpha: float = 0.4
    mixup_on: str = "signal"  # "signal" mixes raw windows, "encoding" mixes forward_frontend() outputs
    cutout_p: float = 0.2  # time/frequency cutout on a 2D encoding (mel2d); time-only on 1D encodings
    cutout_max_fraction: float = 0.15


@dataclass(frozen=True)
class CvConfig:
    k: int = 5  # patient-grouped splits
    folds: int = 1  # how many of the k splits to train (each trains one model on the other k-1)
    final: str = "fold"  # "fold": ship fold 0's model; "refit": retrain on all rows and ship that
    # > 0: score held-out patients only on their rows with at least this many votes (Kaggle's test rows are
    # high-agreement ones; the 3rd place validated on > 8 votes). 0 scores every held-out row.
    val_min_votes: int = 0


@dataclass(frozen=True)
class DataConfig:
    margin: int = 400  # samples of context either side of the window, for the random shift
    # Kaggle labels several heavily overlapping windows per EEG; one random one per EEG each epoch
    # keeps long recordings from dominating (and makes an epoch cheap), as the top HMS solutions did.
    one_window_per_eeg: bool = True
    # seconds of signal after the labelled 10 s in the model's window: 20 is the Kaggle layout (label on the
    # centre), 0 a causal model whose answer is about the newest 10 s. Each row's window is cut relative to
    # its label offset; context before the file start is filled like any gap (train/data/windows.py).
    lookahead_s: float = KAGGLE_LOOKAHEAD_S


@dataclass(frozen=True)
class AdaptConfig:
    """[adapt]: unsupervised adaptation to real EEG (train/data/unlabelled.py). Off while unlabelled_eeg is empty.

    Windows of the unlabelled real recordings in ``unlabelled_eeg`` join the clean synthetic windows that
    re-estimate the BatchNorm statistics of scored and shipped weights, as ``bn_share`` of them (capped by how
    many there are). No gradient step sees them. 0.1: on the shipped weights it left healthy EEG's largest
    seizure probability where the unadapted model had it, while 0.2 and 0.3 raised it (0.3 to 2 false alarms
    over the eegmat recordings); docs/experiments/2026-12-adabn.md, "How much real".
    """

    unlabelled_eeg: str = ""  # folder of .edf/.bdf/.parquet recordings; eegmat subjects 18-23 are left out
    bn_share: float = 0.1
    stride_s: float = 10.0  # one 50 s window every stride_s seconds of each recording


@dataclass(frozen=True)
class DistillConfig:
    """[distill]: learn from a teacher bundle's probabilities as well as the votes. Off while teacher is empty.

    Every training row's target becomes (1 - weight) * votes + weight * the teacher's probability for its
    unshifted window (computed once, before training); validation and out-of-fold scores keep the votes.
    The teacher is typically a `train ensemble` of several seeds: one network learns their average.
    """

    teacher: str = ""  # a bundle with weights (a `train fit` or `train ensemble` output)
    weight: float = 0.5


@dataclass(frozen=True)
class ExecutionConfig:
    """[run]: how a fit executes (seed, device, loader processes, checkpoints), not what it learns."""

    seed: int = 0
    device: str = "auto"
    # DataLoader processes reading windows ahead of the step: the window cache is read from disk every
    # epoch, and on a busy disk reads took 40 % of a mel2d step when done inline. Results do not depend on it.
    num_workers: int = 1
    eval_batch_size: int = 32
    checkpoint_every: int = 50  # steps; a checkpoint is also written at every epoch end
    amp: bool = True  # autocast (bf16) on CUDA only; CPU always runs fp32


@dataclass(frozen=True)
class FitConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    cv: CvConfig = field(default_factory=CvConfig)
    adapt: AdaptConfig = field(default_factory=AdaptConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    run: ExecutionConfig = field(default_factory=ExecutionConfig)

    def validate(self) -> FitConfig:
        o, a, loss, cv, run = self.optim, self.augment, self.loss, self.cv, self.run
        require_field(bool(self.model.name), "model.name", "must name a registered model", value=self.model.name)
        self.model.frontend.validate("model.frontend")
        for name in ("epochs", "batch_size"):
            require_field(getattr(o, name) >= 1, f"optim.{name}", "must be >= 1", value=getattr(o, name))
        require_field(o.lr > 0, "optim.lr", "must be > 0", value=o.lr)
        require_field(0 <= o.min_lr_ratio <= 1, "optim.min_lr_ratio", "must be in [0, 1]", value=o.min_lr_ratio)
        for name in ("warmup_steps", "weight_decay", "grad_clip", "bn_recalibration_windows"):
            require_field(getattr(o, name) >= 0, f"optim.{name}", "must be >= 0", value=getattr(o, name))
        require_field(0 <= o.ema_decay < 1, "optim.ema_decay", "must be in [0, 1)", value=o.ema_decay)
        require_field(loss.vote_weight_cap >= 1, "loss.vote_weight_cap", "must be >= 1", value=loss.vote_weight_cap)
        require_field(loss.stage2_epochs >= 0, "loss.stage2_epochs", "must be >= 0", value=loss.stage2_epochs)
        require_field(loss.stage2_min_votes >= 1, "loss.stage2_min_votes", "must be >= 1", value=loss.stage2_min_votes)
        require_field(0 <= loss.prior_smoothing < 1, "loss.prior_smoothing", "must be in [0, 1)",
                      value=loss.prior_smoothing)
        for name in ("flip_p", "amplitude_p", "channel_gain_p", "line_noise_p", "electrode_noise_p",
                     "bandpass_jitter_p", "channel_dropout_p", "time_mask_p", "mixup_p", "cutout_p"):
            require_field(0 <= getattr(a, name) <= 1, f"augment.{name}", "must be a probability in [0, 1]",
                          value=getattr(a, name))
        require_field(a.shift_s >= 0, "augment.shift_s", "must be >= 0", value=a.shift_s)
        require_field(len(a.amplitude_range) == 2 and 0 < a.amplitude_range[0] <= a.amplitude_range[1],
                      "augment.amplitude_range", "must be [low, high] with 0 < low <= high", value=a.amplitude_range)
        require_field(a.channel_gain_sigma >= 0, "augment.channel_gain_sigma", "must be >= 0",
                      value=a.channel_gain_sigma)
        require_field(len(a.line_noise_uv) == 2 and 0 < a.line_noise_uv[0] <= a.line_noise_uv[1],
                      "augment.line_noise_uv", "must be [low, high] with 0 < low <= high", value=a.line_noise_uv)
        require_field(a.electrode_noise_uv > 0.5, "augment.electrode_noise_uv", "must be > 0.5 (uV rms)",
                      value=a.electrode_noise_uv)
        require_field(a.time_mask_max_s >= 0, "augment.time_mask_max_s", "must be >= 0", value=a.time_mask_max_s)
        require_field(a.mixup_alpha > 0, "augment.mixup_alpha", "must be > 0", value=a.mixup_alpha)
        require_field(a.mixup_on in MIXUP_TARGETS, "augment.mixup_on", f"must be one of {MIXUP_TARGETS}",
                      value=a.mixup_on)
        require_field(0 <= a.cutout_max_fraction < 1, "augment.cutout_max_fraction", "must be in [0, 1)",
                      value=a.cutout_max_fraction)
        require_field(cv.k >= 2, "cv.k", "must be >= 2 (patient-grouped splits)", value=cv.k)
        require_field(1 <= cv.folds <= cv.k, "cv.folds", f"must be in [1, cv.k={cv.k}]", value=cv.folds)
        require_field(cv.final in FINAL_MODELS, "cv.final", f"must be one of {FINAL_MODELS}", value=cv.final)
        require_field(cv.val_min_votes >= 0, "cv.val_min_votes", "must be >= 0", value=cv.val_min_votes)
        require_field(0 < self.adapt.bn_share < 1, "adapt.bn_share", "must be in (0, 1)", value=self.adapt.bn_share)
        require_field(self.adapt.stride_s > 0, "adapt.stride_s", "must be > 0 (seconds)", value=self.adapt.stride_s)
        require_field(0 < self.distill.weight <= 1, "distill.weight", "must be in (0, 1]", value=self.distill.weight)
        require_field(run.device in DEVICES, "run.device", f"must be one of {DEVICES}", value=run.device)
        require_field(self.data.margin >= 0, "data.margin", "must be >= 0", value=self.data.margin)
        check_lookahead(self.data.lookahead_s, "data.lookahead_s")
        require_field(run.num_workers >= 0, "run.num_workers", "must be >= 0", value=run.num_workers)
        require_field(run.eval_batch_size >= 1, "run.eval_batch_size", "must be >= 1", value=run.eval_batch_size)
        require_field(run.checkpoint_every >= 1, "run.checkpoint_every", "must be >= 1", value=run.checkpoint_every)
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)



def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> FitConfig:
    """Defaults, then the TOML file, then `overrides` ({"section.field": value}); validated once."""
    data: dict[str, Any] = {}
    if path is not None:
        data = read_toml(path)
    for dotted, value in (overrides or {}).items():
        section, _, name = dotted.partition(".")
        data.setdefault(section, {})[name] = value
    config = from_dict(FitConfig, data, "config")
    config.validate()
    return config

