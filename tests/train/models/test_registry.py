"""Registry-wide model tests (tiny configs) and the registry's error handling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from edge.contract import CHANNELS, CLASSES, WINDOW_SAMPLES
from edge.errors import SpecError
from edge.model.model_spec import FrontEndConfig, ModelSpec
from train._compat import import_timm
from train.checkpoint import build_model, load_bundle_model, save_bundle
from train.models import TINY_KWARGS, ProbabilityModel, create_model, list_models, model_options
from train.models.cost import model_cost


def random_eeg(batch: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, len(CHANNELS), WINDOW_SAMPLES, generator=torch.Generator().manual_seed(seed)) * 40


def test_registry_lists_the_three_models_and_tiny_configs() -> None:
    assert set(list_models()) >= {"mel2d", "grouped1d", "ensemble"}
    assert set(TINY_KWARGS) == set(list_models()), "every registered model needs a tiny config for tests"
    json.dumps(TINY_KWARGS)  # kwargs travel in spec.json


@pytest.mark.parametrize("name", list_models())
def test_forward_shape_finite_and_every_parameter_gets_a_gradient(name: str) -> None:
    torch.manual_seed(0)
    model = create_model(name, **TINY_KWARGS[name]).train()
    logits = model(random_eeg(3))
    assert logits.shape == (3, len(CLASSES))
    assert torch.isfinite(logits).all()
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 2, 5])).backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not no_grad, f"parameters without a finite gradient: {no_grad[:5]}"


@pytest.mark.parametrize("name", ["mel2d", "grouped1d"])
def test_forward_equals_classifier_of_frontend(name: str) -> None:
    model = create_model(name, **TINY_KWARGS[name]).eval()
    eeg = random_eeg(2)
    with torch.no_grad():
        encoded = model.forward_frontend(eeg)
        torch.testing.assert_close(model.forward_classifier(encoded), model(eeg), rtol=0, atol=0)
    frontend = FrontEndConfig()
    expected = (2, *frontend.image_shape) if name == "mel2d" else (2, frontend.n_pairs, WINDOW_SAMPLES)
    assert tuple(encoded.shape) == expected


def test_image_layout_stack_gives_one_channel_image() -> None:
    frontend = FrontEndConfig(image_layout="stack")
    model = create_model("mel2d", frontend=frontend, **TINY_KWARGS["mel2d"]).eval()
    with torch.no_grad():
        assert tuple(model.forward_frontend(random_eeg(1)).shape) == (1, *frontend.image_shape)
        assert model(random_eeg(1)).shape == (1, len(CLASSES))


def test_grouped1d_with_central_chain_montage() -> None:
    frontend = FrontEndConfig(montage="double_banana_central", image_layout="stack")
    model = create_model("grouped1d", frontend=frontend, width=4, stage_strides=[4, 4], pointwise_groups=2).eval()
    with torch.no_grad():
        assert model.forward_frontend(random_eeg(1)).shape[1] == 18
        assert model(random_eeg(1)).shape == (1, len(CLASSES))


def test_ensemble_is_log_of_mean_member_probabilities() -> None:
    torch.manual_seed(0)
    ensemble = create_model("ensemble", **TINY_KWARGS["ensemble"]).eval()
    eeg = random_eeg(2)
    with torch.no_grad():
        mean = torch.stack([torch.softmax(m(eeg), -1) for m in ensemble.members]).mean(0)
        torch.testing.assert_close(torch.exp(ensemble(eeg)), mean, rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(ProbabilityModel(ensemble)(eeg), mean, rtol=1e-5, atol=1e-7)
    with pytest.raises(SpecError, match="no forward_frontend/forward_classifier"):
        ensemble.forward_frontend(eeg)


def test_probability_model_rows_sum_to_one() -> None:
    model = ProbabilityModel(create_model("grouped1d", **TINY_KWARGS["grouped1d"])).eval()
    with torch.no_grad():
        probs = model(random_eeg(4))
    assert (probs >= 0).all()
    torch.testing.assert_close(probs.sum(-1), torch.ones(4))


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("resnet", {}, "unknown model 'resnet'; registered models: ensemble, grouped1d, mel2d"),
        ("mel2d", {"bakbone": "x"}, "no option\\(s\\) bakbone; valid: backbone, pretrained"),
        ("mel2d", {"backbone": "mixnet_ss"}, "unknown timm model 'mixnet_ss'; close matches: mixnet_s"),
        ("mel2d", {"pretrained": "/nonexistent/w.safetensors"}, "is not a file"),
        ("mel2d", {"drop_rate": 1.5}, "drop_rate must be in"),
        ("grouped1d", {"width": 3, "pointwise_groups": 5}, "pointwise_groups must divide pairs \\* width = 48"),
        ("grouped1d", {"kernel": 4}, "must be odd"),
        ("grouped1d", {"width": 2.5}, "grouped1d.width must be int, got 2.5"),
        ("grouped1d", {"stage_strides": [2, "2"]}, "grouped1d.stage_strides\\[1\\] must be int"),
        ("mel2d", {"pretrained": 3}, "mel2d.pretrained must be str, got 3"),
        ("mel2d", {"drop_rate": True}, "mel2d.drop_rate must be float"),
        ("mel2d", {"drop_path_rate": -0.1}, "mel2d.drop_path_rate must be in"),
        ("grouped1d", {"gem_p": 0}, "gem_p must be > 0"),
        ("ensemble", {"members": []}, "at least one"),
        ("ensemble", {"members": [{"model": "grouped1d", "model_kwargs": [1]}]}, "members\\[0\\] must be"),
        ("ensemble", {"members": [{"model": "mel2d", "kwargs": {}}]}, "members\\[0\\] must be"),
        ("ensemble", {"members": [{"model": "ensemble"}]}, "cannot itself be an ensemble"),
        ("grouped1d", {"width": torch.tensor(4)}, "JSON-serialisable"),
    ],
)
def test_bad_names_and_options_raise_spec_error_naming_them(name: str, kwargs: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        create_model(name, **kwargs)


def test_bad_frontend_config_is_rejected() -> None:
    with pytest.raises(SpecError, match="bandpass_taps"):
        create_model("grouped1d", frontend=FrontEndConfig(bandpass_taps=400), **TINY_KWARGS["grouped1d"])


def test_model_options_list_defaults() -> None:
    options = model_options("mel2d")
    assert options["backbone"] == "mixnet_s" and options["pretrained"] is None and options["gem_p"] == 3.0


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_pretrained_imagenet_style_checkpoint_loads_from_a_local_file(tmp_path: Path, suffix: str) -> None:
    """A 3-channel, 1000-class checkpoint: classifier dropped, stem adapted to the image's 4 channels."""
    timm = import_timm()
    torch.manual_seed(1)
    imagenet = timm.create_model(TINY_KWARGS["mel2d"]["backbone"], in_chans=3, num_classes=1000)
    state = imagenet.state_dict()
    path = tmp_path / f"imagenet{suffix}"
    save_file(state, str(path)) if suffix == ".safetensors" else torch.save(state, path)
    torch.manual_seed(2)
    loaded = create_model("mel2d", pretrained=str(path), **TINY_KWARGS["mel2d"]).backbone.state_dict()
    stem = f"{imagenet.pretrained_cfg['first_conv']}.weight"
    expected = {k: v for k, v in state.items() if not k.startswith(f"{imagenet.pretrained_cfg['classifier']}.")}
    expected[stem] = timm.models.adapt_input_conv(FrontEndConfig().image_shape[0], state[stem])
    assert loaded.keys() == expected.keys()
    for key, value in loaded.items():
        torch.testing.assert_close(value, expected[key], rtol=0, atol=0, msg=key)


def test_pretrained_file_of_another_backbone_is_a_spec_error(tmp_path: Path) -> None:
    path = tmp_path / "other.safetensors"
    save_file({"conv.weight": torch.zeros(3, 3)}, str(path))
    with pytest.raises(SpecError, match="does not fit backbone"):
        create_model("mel2d", pretrained=str(path), **TINY_KWARGS["mel2d"])


def test_spec_json_round_trip_rebuilds_the_same_model() -> None:
    spec = ModelSpec.from_json(ModelSpec(model="ensemble", model_kwargs=TINY_KWARGS["ensemble"]).to_json())
    torch.manual_seed(0)
    first = build_model(spec).eval()
    second = build_model(spec).eval()
    second.load_state_dict(first.state_dict())
    eeg = random_eeg(1)
    with torch.no_grad():
        torch.testing.assert_close(first(eeg), second(eeg), rtol=0, atol=0)


def test_bundle_with_a_pretrained_path_loads_where_the_file_is_gone(tmp_path: Path) -> None:
    """spec.json keeps the pretrained path as provenance; loading takes the weights from the bundle."""
    pretrained = tmp_path / "init.safetensors"
    save_file(create_model("mel2d", **TINY_KWARGS["mel2d"]).backbone.state_dict(), str(pretrained))
    member = {"model": "mel2d", "model_kwargs": {**TINY_KWARGS["mel2d"], "pretrained": str(pretrained)}}
    kwargs = {"members": [member, {"model": "grouped1d", "model_kwargs": TINY_KWARGS["grouped1d"]}]}
    model = create_model("ensemble", **kwargs).eval()
    bundle = save_bundle(tmp_path / "bundle", model, ModelSpec(model="ensemble", model_kwargs=kwargs))
    pretrained.unlink()
    loaded, spec = load_bundle_model(bundle)
    assert spec.model_kwargs["members"][0]["model_kwargs"]["pretrained"] == str(pretrained)
    eeg = random_eeg(1)
    with torch.no_grad():
        torch.testing.assert_close(loaded(eeg), model(eeg), rtol=0, atol=0)


def test_ekg_channel_is_ignored() -> None:
    model = create_model("grouped1d", **TINY_KWARGS["grouped1d"]).eval()
    eeg = random_eeg(1)
    changed = eeg.clone()
    changed[:, CHANNELS.index("EKG")] = 1000.0
    with torch.no_grad():
        torch.testing.assert_close(model(eeg), model(changed), rtol=0, atol=0)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "max_gflops", "max_params"), [("mel2d", 1.0, 5e6), ("grouped1d", 0.5, 1e6)])
def test_default_models_fit_the_compute_budget(name: str, max_gflops: float, max_params: float) -> None:
    cost = model_cost(create_model(name))
    assert cost.flops <= max_gflops * 1e9 and cost.params <= max_params, cost


@pytest.mark.slow
@pytest.mark.parametrize("backbone", ["efficientnet_b0", "resnet18", "mobilenetv3_large_100"])
def test_other_timm_backbones_build_and_run(backbone: str) -> None:
    model = create_model("mel2d", backbone=backbone).eval()
    with torch.no_grad():
        assert model(random_eeg(1)).shape == (1, len(CLASSES))
