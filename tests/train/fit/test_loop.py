"""train/fit/loop.py: the KL loss, vote weights and prior smoothing, the LR schedule, the weight EMA, the epoch
order and loader, BatchNorm recalibration."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from edge.contract import CHANNELS
from train.fit.loop import (
    WeightEma,
    epoch_order,
    get_lr,
    kl_loss,
    recalibrate_batchnorm,
    smooth_toward_prior,
    steps_in_epoch,
    vote_weights,
)
from train.metric import score


def test_loss_is_the_kaggle_kl_and_weights_favour_agreed_rows():
    rng = np.random.default_rng(0)
    logits = torch.tensor(rng.normal(size=(8, 6)), dtype=torch.float32)
    targets = torch.tensor(rng.dirichlet(np.ones(6) * 0.3, size=8), dtype=torch.float32)
    expected = score(targets.double().numpy(), torch.softmax(logits.double(), 1).numpy())
    assert kl_loss(logits, targets).item() == pytest.approx(expected, rel=1e-5)
    assert kl_loss(logits, targets, torch.ones(8)).item() == pytest.approx(expected, rel=1e-5)
    weights = vote_weights(torch.tensor([1, 3, 10, 20]), cap=10)
    assert weights.tolist() == pytest.approx([0.1, 0.3, 1.0, 1.0])
    only_last = kl_loss(logits[:2], targets[:2], torch.tensor([0.0, 1.0]))
    assert only_last.item() == pytest.approx(kl_loss(logits[1:2], targets[1:2]).item(), rel=1e-5)


def test_prior_smoothing_mixes_targets_toward_the_prior_and_caps_the_penalty_of_a_confident_miss():
    targets = torch.tensor([[1.0, 0, 0, 0, 0, 0], [0, 0.5, 0.5, 0, 0, 0]])
    prior = torch.tensor([0.2, 0.1, 0.1, 0.1, 0.1, 0.4])
    smoothed = smooth_toward_prior(targets, prior, 0.1)
    np.testing.assert_allclose(smoothed.numpy(), (0.9 * targets + 0.1 * prior).numpy())
    np.testing.assert_allclose(smoothed.sum(1).numpy(), [1.0, 1.0], rtol=1e-6)
    assert smooth_toward_prior(targets, prior, 0.0) is targets
    # the loss-minimising prediction is the smoothed target: no class is ever driven to probability 0
    logits = torch.log(smoothed).requires_grad_()
    kl_loss(logits, smoothed).backward()
    assert logits.grad.abs().max() < 1e-6 and smoothed.min() > 0


def test_lr_warms_up_then_decays_by_cosine_to_the_floor():
    lrs = [get_lr(s, 100, 1e-3, warmup_steps=10, min_lr_ratio=0.1) for s in range(100)]
    assert lrs[0] < lrs[5] < lrs[9] <= 1e-3
    assert all(a >= b for a, b in itertools.pairwise(lrs[10:]))  # monotone after warmup
    assert lrs[10] == pytest.approx(1e-3)
    assert lrs[55] == pytest.approx(1e-4 + 0.5 * 9e-4 * (1 + math.cos(math.pi * 0.5)))
    assert get_lr(100, 100, 1e-3, warmup_steps=10, min_lr_ratio=0.1) == pytest.approx(1e-4)


def test_weight_ema_follows_early_weights_then_averages_with_the_set_decay():
    model = torch.nn.Linear(2, 1, bias=False)
    torch.nn.init.zeros_(model.weight)
    ema = WeightEma(model, decay=0.99)
    assert ema.decay_at(0) == pytest.approx(0.1) and ema.decay_at(10_000) == 0.99
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model, step=0)  # the first average is 90 % the trained weights, not the random start
    assert ema.module.weight.detach().numpy() == pytest.approx(0.9)
    for step in range(1, 2000):
        ema.update(model, step)
    assert ema.module.weight.detach().numpy() == pytest.approx(1.0, abs=1e-6)
    with torch.no_grad():
        model.weight.fill_(2.0)
    ema.update(model, step=2000)
    assert ema.module.weight.detach().numpy() == pytest.approx(1.01)  # late steps move it by 1 - decay


def test_epoch_order_is_deterministic_and_shards_like_distributed_sampler():
    rows = np.arange(10, 21)
    single = epoch_order(rows, 0, 0, epoch=3, max_shift=100)
    assert single == epoch_order(rows, 0, 0, epoch=3, max_shift=100)
    assert single != epoch_order(rows, 0, 0, epoch=4, max_shift=100)
    assert sorted(r for r, _ in single) == rows.tolist()
    assert all(-100 <= s <= 100 for _, s in single) and len({s for _, s in single}) > 1
    shards = [epoch_order(rows, 0, 0, epoch=3, max_shift=100, rank=rank, world_size=2) for rank in range(2)]
    assert len(shards[0]) == len(shards[1]) == 6  # padded to a multiple of world_size
    assert {r for shard in shards for r, _ in shard} == set(rows.tolist())
    assert steps_in_epoch(11, 4) == 2 and steps_in_epoch(11, 2, world_size=2) == 2 and steps_in_epoch(3, 4) == 1


def test_loader_processes_change_nothing_the_step_sees():
    """run.num_workers only reads ahead: the same batches, in order, and torch's global RNG (dropout) untouched."""
    from train.data.windows import WindowSet
    from train.fit.loop import make_loader

    rng = np.random.default_rng(0)
    n, margin = 12, 50
    length = 10_000 + 2 * margin  # every row its own segment of the time-major sample array
    spans = np.column_stack([np.arange(n) * length, np.full(n, length), np.zeros(n, np.int64)])
    windows = WindowSet(samples=rng.normal(0, 30, (n * length, len(CHANNELS))).astype(np.float32),
                        margin=margin, row_spans=spans, targets=rng.dirichlet(np.ones(6), n).astype(np.float32),
                        total_votes=rng.integers(1, 20, n).astype(np.int32), patient_ids=np.arange(n),
                        eeg_ids=np.arange(n), label_ids=np.arange(n), offsets_s=np.zeros(n),
                        nan_counts=np.zeros(n, np.int64), pad_samples=np.zeros((n, 2), np.int32))
    keys = epoch_order(np.arange(n), seed=1, fold=0, epoch=0, max_shift=margin)
    batches = {}
    for workers in (0, 1):
        torch.manual_seed(5)
        loader = make_loader(windows, keys, 4, num_workers=workers)
        batches[workers] = [[t.clone() for t in batch[:3]] + [batch[3]] for batch in loader]
        batches[workers].append(torch.rand(3))  # the next dropout-like draw after the epoch
    assert len(batches[0]) == len(batches[1]) == 4
    for a, b in zip(batches[0][:-1], batches[1][:-1], strict=True):
        for x, y in zip(a, b, strict=True):
            assert torch.equal(torch.as_tensor(x), torch.as_tensor(y))
    assert torch.equal(batches[0][-1], batches[1][-1])


class _Windows:
    """The WindowSet surface recalibrate_batchnorm uses: window(i) -> [20, T]."""

    def __init__(self, signals: np.ndarray) -> None:
        self.signals = signals

    def window(self, i: int) -> np.ndarray:
        return self.signals[i]


def test_batchnorm_recalibration_replaces_stale_statistics_with_the_exact_clean_average():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv1d(20, 3, 5), torch.nn.BatchNorm1d(3)).eval()
    model[1].running_mean.fill_(50.0)  # stale statistics, as after training on augmented batches
    model[1].running_var.fill_(1e-4)
    signals = np.random.default_rng(0).normal(2.0, 3.0, (10, 20, 64)).astype(np.float32)
    used = recalibrate_batchnorm(model, _Windows(signals), np.arange(10), count=10, batch_size=4,
                                 device=torch.device("cpu"))
    assert used == 8 and not model.training and model[1].momentum == 0.1  # mode and momentum restored
    rows = np.linspace(0, 9, 8).round().astype(int)  # whole batches only: 8 windows spread over the 10
    with torch.no_grad():
        features = model[0](torch.from_numpy(signals[rows]))  # [8, 3, 60]
    expected_mean = features.mean(dim=(0, 2))
    torch.testing.assert_close(model[1].running_mean, expected_mean, atol=1e-4, rtol=1e-4)
    with torch.no_grad():  # eval output is now normalised: ~zero mean, unit variance per channel
        out = model(torch.from_numpy(signals[rows]))
    assert out.mean(dim=(0, 2)).abs().max() < 1e-3
    assert (out.std(dim=(0, 2)) - 1).abs().max() < 0.05
    assert recalibrate_batchnorm(torch.nn.Linear(2, 2), _Windows(signals), np.arange(10), count=10, batch_size=4,
                                 device=torch.device("cpu")) == 0  # nothing to do without BatchNorm


def test_batchnorm_recalibration_mixes_unlabelled_windows_at_their_share():
    """[adapt]: real windows join the estimate as bn_share of it, so the statistics sit between both domains."""
    model = torch.nn.Sequential(torch.nn.Conv1d(20, 3, 1, bias=False), torch.nn.BatchNorm1d(3)).eval()
    with torch.no_grad():
        model[0].weight.fill_(1 / 20)  # each feature is the channel mean: its statistics are the signal's
    rng = np.random.default_rng(0)
    labelled = rng.normal(0.0, 1.0, (12, 20, 64)).astype(np.float32)
    unlabelled = rng.normal(10.0, 1.0, (40, 20, 64)).astype(np.float32)
    used = recalibrate_batchnorm(model, _Windows(labelled), np.arange(12), count=12, batch_size=4,
                                 device=torch.device("cpu"), unlabelled=unlabelled, unlabelled_share=0.25)
    assert used == 16  # 12 labelled + round(12 * 0.25 / 0.75) = 4 unlabelled: whole batches already
    assert torch.allclose(model[1].running_mean, torch.full((3,), 10.0 * 4 / 16), atol=0.1)
    assert (model[1].running_var > 10).all()  # mixed batches: the gap between the domains is variance too
    alone = recalibrate_batchnorm(model, _Windows(labelled), np.arange(12), count=12, batch_size=4,
                                  device=torch.device("cpu"))
    assert alone == 12 and model[1].running_mean.abs().max() < 0.1  # without [adapt]: the labelled ones only
    few = recalibrate_batchnorm(model, _Windows(labelled), np.arange(12), count=12, batch_size=4,
                                device=torch.device("cpu"), unlabelled=unlabelled[:2], unlabelled_share=0.5)
    assert few == 12  # capped at the 2 there are, then whole batches: 10 labelled + 2 unlabelled
    most = recalibrate_batchnorm(model, _Windows(labelled), np.arange(12), count=2, batch_size=4,
                                 device=torch.device("cpu"), unlabelled=unlabelled, unlabelled_share=0.857)
    assert most == 12  # 2 labelled + 12 unlabelled is not whole: the unlabelled give up 2, the labelled stay
    assert torch.allclose(model[1].running_mean, torch.full((3,), 10.0 * 10 / 12), atol=0.1)


def test_batchnorm_recalibration_leaves_the_training_rng_where_it_was():
    """Train mode draws dropout masks; the windows recalibration uses must not move the training run's draws."""
    model = torch.nn.Sequential(torch.nn.Conv1d(20, 3, 1), torch.nn.BatchNorm1d(3), torch.nn.Dropout(0.5))
    signals = np.random.default_rng(0).normal(0.0, 1.0, (8, 20, 16)).astype(np.float32)
    torch.manual_seed(5)
    before = torch.get_rng_state()
    recalibrate_batchnorm(model, _Windows(signals), np.arange(8), count=8, batch_size=4, device=torch.device("cpu"),
                          unlabelled=signals + 3, unlabelled_share=0.5)
    assert torch.equal(torch.get_rng_state(), before)
