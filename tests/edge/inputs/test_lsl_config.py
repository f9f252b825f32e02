"""The loopback LSL config is written only into a private directory, never through a planted symlink."""

from __future__ import annotations

import os
import stat

import pytest

from edge.errors import EegEdgeError
from edge.inputs.lsl_config import LOOPBACK_CONFIG, use_loopback_only, write_loopback_config


def test_config_is_written_into_a_fresh_private_directory(tmp_path) -> None:
    path = write_loopback_config(tmp_path / "lsl")
    assert path.read_text() == LOOPBACK_CONFIG
    assert stat.S_IMODE(os.stat(tmp_path / "lsl").st_mode) & 0o077 == 0
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert write_loopback_config(tmp_path / "lsl") == path  # again: same place, no temp files left
    assert [p.name for p in (tmp_path / "lsl").iterdir()] == [path.name]


def test_a_symlink_planted_at_the_directory_is_refused_and_its_target_untouched(tmp_path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir(mode=0o700)
    (victim / "lsl-loopback.cfg").write_text("precious")
    (tmp_path / "lsl").symlink_to(victim)
    with pytest.raises(EegEdgeError, match="is a symlink, not a private directory of this user"):
        write_loopback_config(tmp_path / "lsl")
    assert (victim / "lsl-loopback.cfg").read_text() == "precious"


def test_a_symlink_at_the_config_path_is_replaced_not_written_through(tmp_path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    directory = tmp_path / "lsl"
    directory.mkdir(mode=0o700)
    (directory / "lsl-loopback.cfg").symlink_to(victim)
    path = write_loopback_config(directory)
    assert victim.read_text() == "precious"
    assert not path.is_symlink() and path.read_text() == LOOPBACK_CONFIG


def test_a_directory_open_to_others_or_owned_by_another_user_is_refused(tmp_path) -> None:
    directory = tmp_path / "lsl"
    directory.mkdir()
    directory.chmod(0o777)
    with pytest.raises(EegEdgeError, match="is open to others"):
        write_loopback_config(directory)
    if os.geteuid() != 0:
        return  # handing the directory to another user needs root
    directory.chmod(0o700)
    (directory / "lsl-loopback.cfg").write_text("[lab]\nKnownPeers = {10.0.0.66}\n")
    os.chmod(directory / "lsl-loopback.cfg", 0o666)
    os.chown(directory, 65534, 65534)
    with pytest.raises(EegEdgeError, match="is owned by uid 65534"):
        write_loopback_config(directory)


def test_use_loopback_only_points_lslapicfg_at_the_private_config() -> None:
    path = use_loopback_only()
    assert os.environ["LSLAPICFG"] == str(path) and path.read_text() == LOOPBACK_CONFIG
    assert stat.S_IMODE(os.stat(path.parent).st_mode) & 0o077 == 0


@pytest.mark.lsl
def test_more_than_32_local_outlets_resolve(stream_name) -> None:
    """Unicast resolution on loopback asks only the config's port range, one port per local outlet: with
    liblsl's default range (32), outlets 33-39 of 40 on one machine were not found (the 64-stream load test)."""
    import pylsl

    names = [f"{stream_name}-{i}" for i in range(40)]
    outlets = [pylsl.StreamOutlet(pylsl.StreamInfo(name, "EEG", 1, 200, "float32", name)) for name in names]
    try:
        found = {info.name() for info in pylsl.resolve_streams(wait_time=3.0)}
        assert not set(names) - found, f"not resolved: {sorted(set(names) - found)}"
    finally:
        del outlets
