"""train.fit pieces in isolation: schedule, loss, config, augmentations, sampling, checkpoints."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from edge.contract import CHANNELS, hemisphere_flip_permutation
from edge.errors import SpecError
from train.fit.augment import augment_batch, cutout, flip_hemispheres, step_rng
from train.fit.batchnorm import recalibrate_batchnorm
from train.fit.config import AugmentConfig, FitConfig, load_config
from train.fit.ema import WeightEma
from train.fit.loss import kl_loss, smooth_toward_prior, vote_weights
from train.fit.resume import TrainProgress, load_checkpoint, save_checkpoint
from train.fit.sampling import epoch_order, steps_in_epoch
from train.fit.schedule import get_lr
from train.metric import score


def test_lr_warms_up_then_decays_by_cosine_to_the_floor():
    lrs = [get_lr(s, 100, 1e-3, warmup_steps=10, min_lr_ratio=0.1) for s in range(100)]
    assert lrs[0] < lrs[5] < lrs[9] <= 1e-3
    assert all(a >= b for a, b in itertools.pairwise(lrs[10:]))  # monotone after warmup
    assert lrs[10] == pytest.approx(1e-3)
    assert lrs[55] == pytest.approx(1e-4 + 0.5 * 9e-4 * (1 + math.cos(math.pi * 0.5)))
    assert get_lr(100, 100, 1e-3, warmup_steps=10, min_lr_ratio=0.1) == pytest.approx(1e-4)


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


def test_config_loads_toml_applies_overrides_and_names_bad_fields(tmp_path):
    FitConfig().validate()  # the defaults are valid
    path = tmp_path / "c.toml"
    path.write_text('[model]\nname = "grouped1d"\n[model.kwargs]\nwidth = 8\n[optim]\nepochs = 3\n'
                    "[augment]\namplitude_range = [1, 2]\n")
    cfg = load_config(path, {"run.seed": 7, "optim.epochs": 5})
    assert (cfg.model.name, cfg.model.kwargs, cfg.optim.epochs, cfg.run.seed) == ("grouped1d", {"width": 8}, 5, 7)
    assert cfg.augment.amplitude_range == (1.0, 2.0)
    path.write_text("[optim]\nlearning_rate = 1\n")
    with pytest.raises(SpecError, match=r"config\.optim has unknown field\(s\) learning_rate"):
        load_config(path)
    path.write_text("[augment]\nmixup_p = 1.5\n")
    with pytest.raises(SpecError, match=r"augment\.mixup_p must be a probability"):
        load_config(path)
    path.write_text("[optim]\nepochs = 'ten'\n")
    with pytest.raises(SpecError, match=r"config\.optim\.epochs must be int"):
        load_config(path)
    with pytest.raises(SpecError, match="cv.folds"):
        load_config(None, {"cv.folds": 9})
    with pytest.raises(SpecError, match=r"loss\.prior_smoothing must be in \[0, 1\)"):
        load_config(None, {"loss.prior_smoothing": 1.0})


def test_configs_shipped_in_the_repo_are_valid_and_default_toml_is_the_defaults():
    configs = Path(__file__).resolve().parents[2] / "configs"
    for path in sorted(configs.glob("*.toml")):
        load_config(path)
    assert load_config(configs / "default.toml") == FitConfig()


def _batch(n=6, seed=0):
    rng = np.random.default_rng(seed)
    eeg = torch.tensor(rng.normal(0, 30, size=(n, len(CHANNELS), 10_000)), dtype=torch.float32)
    targets = torch.tensor(rng.dirichlet(np.ones(6), size=n), dtype=torch.float32)
    return eeg, targets, torch.ones(n)


def test_augmentations_are_deterministic_per_step_and_keep_targets_distributions():
    eeg, targets, weights = _batch()
    cfg = AugmentConfig(flip_p=0.5, amplitude_p=0.5, bandpass_jitter_p=0.5, channel_dropout_p=0.5, time_mask_p=0.5,
                        mixup_p=1.0, cutout_p=1.0)
    a = augment_batch(eeg, targets, weights, cfg=cfg, rng=step_rng(1, 0, 5))
    b = augment_batch(eeg, targets, weights, cfg=cfg, rng=step_rng(1, 0, 5))
    c = augment_batch(eeg, targets, weights, cfg=cfg, rng=step_rng(1, 0, 6))
    assert torch.equal(a.eeg, b.eeg) and torch.equal(a.targets, b.targets)
    z = torch.randn(6, 4, 32, 40)
    assert torch.equal(a.encoding_fn(z), b.encoding_fn(z))
    assert not torch.equal(a.eeg, c.eeg)
    assert torch.allclose(a.targets.sum(1), torch.ones(6))
    assert not torch.equal(a.targets, targets)  # mixup mixed the soft targets
    assert torch.equal(eeg, _batch()[0])  # the input batch is never modified in place


def test_switched_off_augmentations_leave_the_batch_alone():
    eeg, targets, weights = _batch()
    off = AugmentConfig(shift_s=0, flip_p=0, amplitude_p=0, bandpass_jitter_p=0, channel_dropout_p=0, time_mask_p=0,
                        mixup_p=0, cutout_p=0)
    out = augment_batch(eeg, targets, weights, cfg=off, rng=step_rng(0, 0, 0))
    z = torch.randn(6, 16, 100)
    assert torch.equal(out.eeg, eeg) and torch.equal(out.targets, targets) and torch.equal(out.encoding_fn(z), z)


def test_flip_swaps_homologous_channels_of_chosen_rows_only():
    eeg, _, _ = _batch(3)
    out = flip_hemispheres(eeg, np.array([1]))
    perm = list(hemisphere_flip_permutation())
    assert torch.equal(out[0], eeg[0]) and torch.equal(out[1], eeg[1][perm])
    assert torch.equal(out[1][CHANNELS.index("Fp1")], eeg[1][CHANNELS.index("Fp2")])
    assert torch.equal(out[1][CHANNELS.index("Cz")], eeg[1][CHANNELS.index("Cz")])


def test_cutout_zeroes_a_time_and_a_frequency_band_on_images():
    z = torch.ones(2, 1, 20, 50)
    out = cutout(z, np.random.default_rng(0), p=1.0, max_fraction=0.2)
    for row in out:
        assert (row == 0).any(dim=-2).any() and (row == 0).any(dim=-1).any()
        assert (row == 1).any()


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
    from train.fit.sampling import make_loader

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


def test_checkpoint_round_trip_restores_model_optimizer_ema_and_rng(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(3):
        optimizer.zero_grad()
        model(torch.randn(5, 4)).sum().backward()
        optimizer.step()
    ema = {k: v * 2 for k, v in model.state_dict().items()}
    progress = TrainProgress(step=3, epoch=1, batch_in_epoch=2, history=({"step": 3, "loss": 0.5},),
                             config_fingerprint="abc")
    np.random.seed(3)
    save_checkpoint(tmp_path, model, optimizer, ema_state=ema, progress=progress)
    expected_draw, expected_np = torch.rand(3), np.random.rand(2)
    assert not any(p.suffix == ".pkl" for p in tmp_path.iterdir())
    assert json.loads((tmp_path / "state.json").read_text())["progress"]["step"] == 3

    fresh = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 2))
    fresh_opt = torch.optim.AdamW(fresh.parameters(), lr=1e-2)
    fresh_ema = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 2))
    restored = load_checkpoint(tmp_path, fresh, fresh_opt, ema_module=fresh_ema)
    assert restored == progress
    for key, value in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value)
        assert torch.equal(fresh_ema.state_dict()[key], ema[key])
    original, loaded = optimizer.state_dict(), fresh_opt.state_dict()
    for index, slots in original["state"].items():
        for key, value in slots.items():
            assert torch.equal(loaded["state"][index][key], value)
    assert torch.equal(torch.rand(3), expected_draw) and np.array_equal(np.random.rand(2), expected_np)


def test_a_2d_trainer_resumed_from_its_checkpoint_takes_the_same_next_step(tmp_path):
    """The trainer keeps 4-D weights channels_last (faster on CPU and CUDA); the checkpoint must still save
    (safetensors wants contiguous tensors) and a resumed trainer must take exactly the uninterrupted step."""
    from train.fit.config import ModelConfig
    from train.fit.distributed import DistContext
    from train.fit.loop import build_trainer
    from train.models import TINY_KWARGS

    config = FitConfig(model=ModelConfig(name="mel2d", kwargs=TINY_KWARGS["mel2d"]))
    ctx, prior = DistContext(0, 1, torch.device("cpu")), torch.full((6,), 1 / 6)
    eeg, targets, votes = _batch(4)

    def trainer():
        torch.manual_seed(0)
        made = build_trainer(config, ctx, prior)
        made.model.train()
        return made

    first = trainer()
    assert any(p.ndim == 4 and p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
               for p in first.model.parameters())
    for step in range(2):
        first.step(eeg, targets, votes, rng=step_rng(0, 0, step), lr=1e-3, step=step)
    save_checkpoint(tmp_path, first.model, first.optimizer, ema_state=first.ema.state_dict(),
                    progress=TrainProgress(step=2))
    uninterrupted = first.step(eeg, targets, votes, rng=step_rng(0, 0, 2), lr=1e-3, step=2)

    resumed = trainer()
    load_checkpoint(tmp_path, resumed.model, resumed.optimizer, ema_module=resumed.ema.module)
    assert torch.equal(resumed.step(eeg, targets, votes, rng=step_rng(0, 0, 2), lr=1e-3, step=2), uninterrupted)
    for (name, a), b in zip(first.model.state_dict().items(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_evaluation_figures_and_confusion_matrix():
    from train.fit.evaluate import evaluate_predictions

    targets = np.array([[1, 0, 0, 0, 0, 0], [0, 0.5, 0.5, 0, 0, 0], [0, 0, 0, 0, 0, 1.0]])
    report = evaluate_predictions(targets, targets.copy())
    assert report.kl == pytest.approx(0) and report.accuracy == 1.0
    assert np.array_equal(np.diag(report.confusion), [1, 1, 0, 0, 0, 1])
    wrong = np.roll(targets, 1, axis=1) * 0.9 + 0.1 / 6
    report = evaluate_predictions(targets, wrong)
    assert report.kl == pytest.approx(score(targets, wrong))
    assert report.prior_kl == pytest.approx(score(targets, np.broadcast_to(targets.mean(0), targets.shape)))
    assert sum(c.kl_share for c in report.classes) == pytest.approx(report.kl)
    assert report.classes[0].recall == 0.0 and report.classes[0].rows == 1


def test_submission_averages_windows_per_eeg_in_first_seen_order():
    from train.fit.predict import mean_by_eeg, submission_csv

    ids, means = mean_by_eeg(np.array([7, 3, 7]), np.array([[1.0, 0, 0, 0, 0, 0], [0, 1.0, 0, 0, 0, 0],
                                                           [0, 0, 1.0, 0, 0, 0]]))
    assert ids.tolist() == [7, 3]
    np.testing.assert_allclose(means[0], [0.5, 0, 0.5, 0, 0, 0])
    lines = submission_csv(ids, means).splitlines()
    assert lines[0] == "eeg_id,seizure_vote,lpd_vote,gpd_vote,lrda_vote,grda_vote,other_vote"
    assert lines[1].startswith("7,0.50000000,")
