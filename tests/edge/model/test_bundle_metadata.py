"""Hostile bundle metadata: spec.json, calibration.json and SHA256SUMS give one-line errors, never tracebacks."""

from __future__ import annotations

import pytest

from edge.errors import BundleError, EegEdgeError
from edge.model.backends import chosen_precision, verified_precisions
from edge.model.bundle import SUMS_FILE, load_spec, verify_checksums, write_checksums
from edge.model.model_spec import ModelSpec


def _replace(bundle, name: str, data: bytes):
    (bundle / name).write_bytes(data)
    write_checksums(bundle)  # a consistent (re-summed) bundle: only the content is hostile


def _one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message and isinstance(exc.value, EegEdgeError)
    return message


@pytest.mark.parametrize(("content", "expected"), [
    (b"[" * 200_000 + b"]" * 200_000, "nests lists/objects more than 32 deep"),
    (b'{"model": "x", "training": ' + b'{"a": ' * 200_000 + b"1" + b"}" * 200_001, "nests lists/objects"),
    (b'{"model": "gr\xffouped1d"}', "is not UTF-8 text (byte 13 is invalid)"),
    (b'{"model": 5}', "spec.model must be str, got 5"),
    (b'{"model": "x", "frontend": []}', "spec.frontend must be an object, got list"),
    (b'{"model": "x", "frontend": {"clip_uv": NaN}}', "spec.frontend.clip_uv must be a finite number"),
    (b'{"model": "x", "frontend": {"clip_uv": 1e999}}', "spec.frontend.clip_uv must be a finite number"),
    (b'{"model": "x", "frontend": {"db_scale": -Infinity}}', "spec.frontend.db_scale must be a finite number"),
    (b'{"model": "x", "frontend": {"bandpass_taps": 1e300}}', "spec.frontend.bandpass_taps must be int"),
    (b'{"model": "x", "frontend": {"n_fft": 100000000000}}', "spec.frontend.n_fft must be an integer in [1, 8192]"),
    (b'{"model": "x", "frontend": {"clip_uv": 1e300}}', "spec.frontend.clip_uv must be a finite number in (0, 100000]"),
])
def test_hostile_spec_json_is_one_line(bundle, content, expected) -> None:
    _replace(bundle, "spec.json", content)
    with pytest.raises(EegEdgeError) as info:
        load_spec(bundle)
    assert expected in _one_line(info)


@pytest.mark.parametrize(("content", "expected"), [
    (b"[" * 200_000 + b"]" * 200_000, "nests lists/objects more than 32 deep"),
    (b'{"precision": {"chosen": {"onnxruntime": "\xfe"}}}', "is not UTF-8 text"),
    (b"[]", 'expected an object with a "precision" object, got list'),
    (b'{"precision": 3}', 'expected an object with a "precision" object, got int'),
    (b'{"precision": {"verified": "fp16"}}', "precision.verified must be a list of precision names"),
    (b'{"precision": {"verified": [1, 2]}}', "precision.verified must be a list of precision names"),
    (b'{"precision": {"chosen": ["fp16"]}}', "precision.chosen must map backends to precision names"),
    (b'{"precision": {"chosen": {"onnxruntime": {"x": 1}}}}', "precision.chosen must map backends"),
    (b'{"precision": {"chosen": {"onnxruntime": "fp64"}}}', "chooses precision 'fp64' for onnxruntime"),
    (b"{", "is not valid JSON"),
])
def test_hostile_calibration_json_is_one_line(bundle, content, expected) -> None:
    _replace(bundle, "calibration.json", content)
    with pytest.raises(BundleError) as info:
        chosen_precision(bundle, "onnxruntime")
    assert expected in _one_line(info)


def test_a_sane_calibration_record_is_read(bundle) -> None:
    assert verified_precisions(bundle) == ("fp32", "fp16")
    assert chosen_precision(bundle, "onnxruntime") == "fp32"
    # json.dumps writes NaN for a metric that could not be computed: records stay readable
    _replace(bundle, "calibration.json", b'{"parity": {"max_abs": NaN}, "precision": {"chosen": {"onnxruntime": '
                                         b'"fp16"}}}')
    assert chosen_precision(bundle, "onnxruntime") == "fp16"


def test_a_spec_with_nan_in_its_training_record_still_loads(bundle) -> None:
    text = ModelSpec(model="grouped1d", training={"oof_kl": float("nan")}).to_json()  # json.dumps writes NaN
    _replace(bundle, "spec.json", text.encode())
    assert "NaN" in text and load_spec(bundle).training["oof_kl"] != load_spec(bundle).training["oof_kl"]


def test_upper_case_digests_are_the_same_digest(bundle) -> None:
    sums = bundle / SUMS_FILE
    lines = sums.read_text().splitlines(keepends=True)
    sums.write_text("".join(line[:64].upper() + line[64:] for line in lines))
    verify_checksums(bundle)  # was "does not match its SHA256SUMS entry: refusing a tampered bundle"
    (bundle / "model.onnx").write_bytes(b"evil")
    with pytest.raises(BundleError, match="model.onnx does not match"):
        verify_checksums(bundle)


def test_crlf_sums_are_refused_naming_the_line(bundle) -> None:
    sums = bundle / SUMS_FILE
    sums.write_bytes(sums.read_bytes().replace(b"\n", b"\r\n"))
    with pytest.raises(BundleError, match=r"SHA256SUMS:1 ends in CR \(a Windows line end\)"):
        verify_checksums(bundle)


@pytest.mark.parametrize("line", [b"z" * 64 + b"  model.onnx\n", b"\xff" * 64 + b"  model.onnx\n"])
def test_non_hex_or_non_utf8_sums_are_corrupt(bundle, line) -> None:
    (bundle / SUMS_FILE).write_bytes(line)
    with pytest.raises(BundleError, match="the bundle is corrupt"):
        verify_checksums(bundle)


def test_a_deep_spec_is_one_line_from_edge_predict(bundle, recording_70s, capsys) -> None:
    from edge.cli import app
    from edge.cli_support import run_app

    _replace(bundle, "spec.json", b"[" * 200_000 + b"]" * 200_000)
    assert run_app(app, ["predict", str(recording_70s), "--bundle", str(bundle)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nests lists/objects" in err
