"""train/fit/config.py: TOML configs, overrides, field-naming errors."""


from __future__ import annotations

from pathlib import Path

import pytest

from edge.errors import SpecError
from train.fit.config import FitConfig, load_config


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
    configs = Path(__file__).resolve().parents[3] / "configs"
    for path in sorted(configs.glob("*.toml")):
        load_config(path)
    assert load_config(configs / "default.toml") == FitConfig()
