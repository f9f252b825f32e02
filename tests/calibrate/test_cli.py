"""The calibrate command line's defaults (the pipeline itself is tested in test_pipeline.py)."""

from __future__ import annotations

import inspect

import pytest

from calibrate import cli
from calibrate.quantize import QuantizeConfig


@pytest.mark.parametrize("command", [cli.quantize, cli.run])
def test_cli_quantization_defaults_are_the_library_defaults(command):
    """cli.py writes QuantizeConfig's defaults out (so --help does not import onnxruntime); they must agree."""
    params = inspect.signature(command).parameters
    defaults = QuantizeConfig()
    assert (params["method"].default, params["percentile"].default) == (defaults.method, defaults.percentile)
    assert (params["calib_windows"].default, params["batch"].default) == (defaults.windows, defaults.batch)
    assert params["sensitivity_windows"].default == defaults.sensitivity_windows


@pytest.mark.parametrize("command", [cli.verify_command, cli.run])
def test_cli_gate_defaults_are_the_library_defaults(command):
    from calibrate.gates import Gates

    params = inspect.signature(command).parameters
    gates = Gates()
    assert (params["max_fp32_diff"].default, params["max_kl"].default, params["min_agreement"].default,
            params["max_kl_degradation"].default, params["min_int8_conv_share"].default) == (
        gates.fp32_max_abs_diff, gates.max_mean_kl, gates.min_argmax_agreement, gates.max_kaggle_kl_degradation,
        gates.min_int8_conv_share)


def test_cli_gate_flags_reach_the_gates_they_name():
    """Each flag's value lands in its own field (a positional Gates(...) broke when a field was added)."""
    _, gates = cli._verify_args(8, 4, (1e-3, 0.02, 0.9, 0.05, 0.6))
    assert (gates.fp32_max_abs_diff, gates.max_mean_kl, gates.min_argmax_agreement, gates.max_kaggle_kl_degradation,
            gates.min_int8_conv_share) == (1e-3, 0.02, 0.9, 0.05, 0.6)


def test_keygen_and_sign_commands_sign_a_bundle_and_refuse_to_overwrite_a_key(tmp_path, capsys):
    pytest.importorskip("cryptography")
    from edge.cli_support import run_app
    from edge.model.bundle import verify_checksums
    from edge.testing import build_test_bundle

    bundle = build_test_bundle(tmp_path / "bundle")
    private, public = tmp_path / "k.pem", tmp_path / "k.pub.pem"
    assert run_app(cli.app, ["keygen", str(private), str(public)]) == 0
    assert run_app(cli.app, ["sign", str(bundle), "--key", str(private)]) == 0
    verify_checksums(bundle, public_key=public)  # raises unless SHA256SUMS.sig verifies with the public key
    capsys.readouterr()
    assert run_app(cli.app, ["keygen", str(private), str(public)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "File exists" in err


def test_sign_refuses_a_tampered_bundle_in_one_line(tmp_path, capsys):
    pytest.importorskip("cryptography")
    from edge.cli_support import run_app
    from edge.model.bundle import SIGNATURE_FILE
    from edge.testing import build_test_bundle

    bundle = build_test_bundle(tmp_path / "bundle")
    assert run_app(cli.app, ["keygen", str(tmp_path / "k.pem"), str(tmp_path / "k.pub.pem")]) == 0
    (bundle / "spec.json").write_text((bundle / "spec.json").read_text() + " ")
    capsys.readouterr()
    assert run_app(cli.app, ["sign", str(bundle), "--key", str(tmp_path / "k.pem")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "calibrate: error:" in err and not (bundle / SIGNATURE_FILE).exists()
