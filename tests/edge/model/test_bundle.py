"""Bundle integrity: SHA256SUMS written over every file, tampering and unlisted files refused."""

from __future__ import annotations

import os

import pytest

from edge.errors import BundleError
from edge.model.bundle import (
    SUMS_FILE,
    atomic_target,
    atomic_write,
    bundle_id,
    engine_file,
    load_spec,
    save_spec,
    verify_checksums,
    write_checksums,
)
from edge.model.model_spec import ModelSpec


def test_checksums_cover_every_file_and_verify(bundle):
    listed = {line.split("  ", 1)[1] for line in (bundle / SUMS_FILE).read_text().splitlines()}
    assert listed == {"spec.json", "model.onnx", "calibration.json"}
    verify_checksums(bundle)
    assert load_spec(bundle).model == "grouped1d"


def test_tampered_file_is_refused(bundle):
    (bundle / "model.onnx").write_bytes(b"\x08\x07evil")
    with pytest.raises(BundleError, match="model.onnx does not match"):
        load_spec(bundle)


def test_missing_and_unlisted_files_are_refused(bundle):
    (bundle / "extra.bin").write_bytes(b"x")
    with pytest.raises(BundleError, match="extra.bin are not in SHA256SUMS"):
        verify_checksums(bundle)
    (bundle / "extra.bin").unlink()
    (bundle / "model.onnx").unlink()
    with pytest.raises(BundleError, match="model.onnx listed in SHA256SUMS is missing"):
        verify_checksums(bundle)


def test_bundle_without_sums_or_dir_gives_actionable_error(tmp_path):
    with pytest.raises(BundleError, match="does not exist"):
        load_spec(tmp_path / "nope")
    save_spec(tmp_path, ModelSpec(model="x"))
    with pytest.raises(BundleError, match="has no SHA256SUMS"):
        load_spec(tmp_path)


def test_bundle_id_changes_with_content(bundle):
    before = bundle_id(bundle)
    atomic_write(bundle / "model.onnx", b"other")
    write_checksums(bundle)
    assert bundle_id(bundle) != before and len(before) == 12


def test_atomic_write_leaves_no_temp_files_and_a_normal_mode(tmp_path):
    atomic_write(tmp_path / "a.txt", "one")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o666 & ~umask
    atomic_write(tmp_path / "a.txt", "two")
    assert (tmp_path / "a.txt").read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_atomic_target_keeps_the_old_file_when_the_writer_fails(tmp_path):
    atomic_write(tmp_path / "w.bin", b"old")
    with pytest.raises(RuntimeError), atomic_target(tmp_path / "w.bin") as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("writer died")
    assert (tmp_path / "w.bin").read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["w.bin"]
    with atomic_target(tmp_path / "w.bin") as tmp:
        tmp.write_bytes(b"new")
    assert (tmp_path / "w.bin").read_bytes() == b"new"


def test_engine_file_names_the_gpu():
    assert engine_file("NVIDIA Jetson Orin Nano") == "model.nvidia_jetson_orin_nano.engine"


def _list(bundle, *entries: tuple[str, bytes]) -> None:
    """Append SHA256SUMS lines as a tamperer would: `name` with the hash of `content`."""
    import hashlib

    with (bundle / SUMS_FILE).open("a") as fh:
        for name, content in entries:
            fh.write(f"{hashlib.sha256(content).hexdigest()}  {name}\n")


@pytest.mark.parametrize("name", ["../outside.txt", "../../etc/hostname", "/etc/hostname", "sub/x.bin", ".hidden",
                                  "..", "a\\b"])
def test_entries_must_be_plain_names_inside_the_bundle(bundle, tmp_path_factory, name):
    outside = tmp_path_factory.mktemp("outside") / "outside.txt"
    outside.write_bytes(b"secret")
    _list(bundle, (name, b"secret"))
    with pytest.raises(BundleError) as refused:
        verify_checksums(bundle)
    message = str(refused.value)
    assert "entries must be distinct plain file names inside the bundle" in message
    assert "missing" not in message and "does not match" not in message  # nothing said about the outside


def test_refusal_is_the_same_whether_an_outside_path_exists_or_not(bundle):
    sums = (bundle / SUMS_FILE).read_text()
    messages = []
    for name in ("../no-such-file", "../" + bundle.name + "/model.onnx"):  # absent; present (the bundle's own)
        (bundle / SUMS_FILE).write_text(sums)
        _list(bundle, (name, b"\x08\x07onnx-bytes"))
        with pytest.raises(BundleError) as refused:
            verify_checksums(bundle)
        messages.append(str(refused.value).replace(repr(name), "NAME"))
    assert messages[0] == messages[1]


@pytest.mark.parametrize("kind", ["file", "directory"])
def test_symlinks_in_a_bundle_are_refused(bundle, tmp_path_factory, kind):
    outside = tmp_path_factory.mktemp("target")
    (outside / "weights.bin").write_bytes(b"w")
    target = outside / "weights.bin" if kind == "file" else outside
    (bundle / "link").symlink_to(target)
    if kind == "file":
        _list(bundle, ("link", b"w"))
    with pytest.raises(BundleError, match="bundle entry link is a symlink"):
        verify_checksums(bundle)
    with pytest.raises(BundleError, match="symlink"):
        write_checksums(bundle)


def test_directories_hidden_files_and_a_symlinked_sums_are_refused(bundle, tmp_path):
    (bundle / "reports").mkdir()
    with pytest.raises(BundleError, match="bundle entry reports is not a plain file"):
        verify_checksums(bundle)
    (bundle / "reports").rmdir()
    (bundle / ".model.x.tmp").write_bytes(b"half")
    with pytest.raises(BundleError, match="holds the hidden file .model.x.tmp"):
        verify_checksums(bundle)
    (bundle / ".model.x.tmp").unlink()
    real = tmp_path.parent / f"{tmp_path.name}-sums"
    (bundle / SUMS_FILE).rename(real)
    (bundle / SUMS_FILE).symlink_to(real)
    with pytest.raises(BundleError, match="SHA256SUMS is not a plain file"):
        verify_checksums(bundle)
