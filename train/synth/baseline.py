"""A non-deep reference model: log band powers per bipolar channel + multinomial logistic regression.

It measures whether a dataset is learnable at all (synthetic data must beat the class prior on
held-out patients) and how far synthetic training transfers to real segments.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from scipy.signal import welch
from scipy.special import log_softmax

from edge.contract import LABEL_START, LABEL_STOP, SAMPLE_RATE_HZ, montage_matrix
from train.data import build_window_set, patient_kfold
from train.data.windows import WindowSet
from train.metric import class_prior, score

BANDS_HZ: tuple[tuple[float, float], ...] = ((0.5, 2), (2, 4), (4, 8), (8, 13), (13, 20), (20, 40))
CONTEXT = 2 * SAMPLE_RATE_HZ  # 2 s either side of the labelled 10 s: discharges every 3 s still show
L2 = 0.3  # strong: ~150 features, a few hundred correlated rows per patient fold


@dataclass(frozen=True)
class BaselineResult:
    rows: int
    prior_kl: float  # class prior of the training rows, predicted for every evaluation row
    baseline_kl: float


def band_power_features(windows: WindowSet, batch: int = 64) -> np.ndarray:
    """[N, 16 x 6 + 8 x 6] log10 band power per double-banana pair and band over the labelled centre,
    plus |left - right| of homologous pairs: lateralisation to either side (LPD vs GPD, LRDA vs GRDA)
    is not a linear function of the powers themselves."""
    montage = montage_matrix()
    freqs = np.fft.rfftfreq(SAMPLE_RATE_HZ * 2, 1 / SAMPLE_RATE_HZ)
    masks = np.stack([(freqs >= lo) & (freqs < hi) for lo, hi in BANDS_HZ], axis=1).astype(np.float64)
    features = []
    for start in range(0, len(windows), batch):
        rows = [windows.window(i)[:, LABEL_START - CONTEXT:LABEL_STOP + CONTEXT]
                for i in range(start, min(start + batch, len(windows)))]
        bipolar = np.einsum("pc,nct->npt", montage, np.stack(rows))
        _, psd = welch(bipolar, fs=SAMPLE_RATE_HZ, nperseg=SAMPLE_RATE_HZ * 2, axis=-1)
        power = np.log10(psd @ masks + 1e-6)  # [n, 16 pairs in chain order LL RL LP RP, bands]
        chains = power.reshape(len(rows), 4, -1, len(BANDS_HZ))
        asymmetry = np.abs(np.concatenate([chains[:, 0] - chains[:, 1], chains[:, 2] - chains[:, 3]], axis=1))
        features.append(np.hstack([power.reshape(len(rows), -1), asymmetry.reshape(len(rows), -1)]))
    return np.concatenate(features)


@dataclass(frozen=True)
class SoftmaxRegression:
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # [features + 1, classes]

    @classmethod
    def fit(cls, features: np.ndarray, targets: np.ndarray, l2: float = L2) -> SoftmaxRegression:
        """Minimise soft-label cross-entropy (= KL up to a constant) + l2 |W|^2 with L-BFGS."""
        mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-6
        x = np.hstack([(features - mean) / scale, np.ones((len(features), 1))])
        shape = (x.shape[1], targets.shape[1])

        def loss(flat: np.ndarray) -> tuple[float, np.ndarray]:
            w = flat.reshape(shape)
            logp = log_softmax(x @ w, axis=1)
            value = -(targets * logp).sum() / len(x) + l2 * (w[:-1] ** 2).sum()
            grad = x.T @ (np.exp(logp) - targets) / len(x)
            grad[:-1] += 2 * l2 * w[:-1]
            return value, grad.ravel()

        result = minimize(loss, np.zeros(np.prod(shape)), jac=True, method="L-BFGS-B", options={"maxiter": 500})
        return cls(mean=mean, scale=scale, weights=result.x.reshape(shape))

    def predict(self, features: np.ndarray) -> np.ndarray:
        x = np.hstack([(features - self.mean) / self.scale, np.ones((len(features), 1))])
        return np.exp(log_softmax(x @ self.weights, axis=1))


def _features_and_targets(data_dir: Path, cache_dir: Path | None) -> tuple[WindowSet, np.ndarray]:
    windows = build_window_set(data_dir, cache_dir, margin=0)
    return windows, band_power_features(windows)


def cross_validate(data_dir: Path, folds: int = 5, seed: int = 0, *, cache_dir: Path | None = None) -> BaselineResult:
    """Held-out-patient KL of the baseline and of the training-fold prior, over all rows."""
    windows, features = _features_and_targets(data_dir, cache_dir)
    targets = windows.targets.astype(np.float64)
    fold = patient_kfold(windows.patient_ids, folds, seed)
    prior_pred, model_pred = np.zeros_like(targets), np.zeros_like(targets)
    for k in range(folds):
        train, held = fold != k, fold == k
        prior_pred[held] = class_prior(targets[train])
        model_pred[held] = SoftmaxRegression.fit(features[train], targets[train]).predict(features[held])
    return BaselineResult(rows=len(targets), prior_kl=score(targets, prior_pred),
                          baseline_kl=score(targets, model_pred))


def transfer(train_dir: Path, eval_dir: Path, cache_dir: Path | None = None) -> BaselineResult:
    """Fit on every row of ``train_dir``; score on ``eval_dir`` (a train-split layout with votes)."""
    train_windows, train_features = _features_and_targets(train_dir, cache_dir)
    eval_windows, eval_features = _features_and_targets(eval_dir, cache_dir)
    train_targets = train_windows.targets.astype(np.float64)
    eval_targets = eval_windows.targets.astype(np.float64)
    model = SoftmaxRegression.fit(train_features, train_targets)
    prior = np.tile(class_prior(train_targets), (len(eval_targets), 1))
    return BaselineResult(rows=len(eval_targets), prior_kl=score(eval_targets, prior),
                          baseline_kl=score(eval_targets, model.predict(eval_features)))
