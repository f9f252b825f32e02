"""train/fit/resume.py: checkpoints and resume."""


from __future__ import annotations

import json

import numpy as np
import torch

from train.fit.augment import step_rng
from train.fit.config import FitConfig
from train.fit.resume import TrainProgress, load_checkpoint, save_checkpoint


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


def test_a_2d_trainer_resumed_from_its_checkpoint_takes_the_same_next_step(tmp_path, make_batch):
    """The trainer keeps 4-D weights channels_last (faster on CPU and CUDA); the checkpoint must still save
    (safetensors wants contiguous tensors) and a resumed trainer must take exactly the uninterrupted step."""
    from train.fit.config import ModelConfig
    from train.fit.distributed import DistContext
    from train.fit.loop import build_trainer
    from train.models import TINY_KWARGS

    config = FitConfig(model=ModelConfig(name="mel2d", kwargs=TINY_KWARGS["mel2d"]))
    ctx, prior = DistContext(0, 1, torch.device("cpu")), torch.full((6,), 1 / 6)
    eeg, targets, votes = make_batch(4)

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
