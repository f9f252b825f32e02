"""Loopback-only LSL configuration, for tests and the demo: no stream traffic leaves the machine.

liblsl reads LSLAPICFG once, when pylsl loads, so call ``use_loopback_only()`` before importing pylsl.
The file lives in a private directory (0700, ours, not a symlink) under the temp dir and is written
afresh each time (O_EXCL | O_NOFOLLOW temp file, then renamed over the old one), so nothing planted in
a shared /tmp is ever followed, trusted or overwritten through.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from pathlib import Path

from edge.errors import EegEdgeError

# Unicast resolution to 127.0.0.1 queries only BasePort..BasePort+PortRange, and each outlet on the machine
# takes its own port there: liblsl's default range of 32 hides the 33rd outlet (measured: 33 of 40 found;
# with 256, 70 of 70), which a 64-stream overload test needs.
LOOPBACK_CONFIG = """\
[ports]
IPv6 = disable
PortRange = 256

[multicast]
ResolveScope = machine
MachineAddresses = {127.0.0.1}
LinkAddresses = {}
SiteAddresses = {}
OrganizationAddresses = {}
GlobalAddresses = {}

[lab]
KnownPeers = {127.0.0.1}
SessionID = eeg-edge-loopback

[log]
level = -2
"""


def private_directory(path: Path) -> Path:
    """`path` as a directory only this user can write: created 0700, or refused when it is a symlink, not
    ours, or open to others."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        problem = "a symlink" if stat.S_ISLNK(info.st_mode) else "not a directory"
    elif info.st_uid != os.geteuid():
        problem = f"owned by uid {info.st_uid}"
    elif info.st_mode & 0o077:
        problem = f"open to others (mode {stat.S_IMODE(info.st_mode):o})"
    else:
        return path
    raise EegEdgeError(f"{path} is {problem}, not a private directory of this user: remove it, or point TMPDIR at "
                       "a private directory")


def write_loopback_config(directory: Path) -> Path:
    """The loopback config, written afresh in the private `directory`; returns its path."""
    path = private_directory(directory) / "lsl-loopback.cfg"
    temp = directory / f".lsl-loopback.{os.getpid()}.{os.urandom(4).hex()}.cfg"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(LOOPBACK_CONFIG)
        os.replace(temp, path)  # replaces whatever was there (a file or a symlink), never writes through it
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path


def use_loopback_only() -> Path:
    """Write the loopback config and point LSLAPICFG at it; refuse if pylsl is already loaded elsewise."""
    path = write_loopback_config(Path(tempfile.gettempdir()) / f"eeg-edge-lsl-{os.geteuid()}")
    if "pylsl" in sys.modules and os.environ.get("LSLAPICFG") != str(path):
        raise RuntimeError("pylsl was imported before the loopback LSL config was set")
    os.environ["LSLAPICFG"] = str(path)
    return path
