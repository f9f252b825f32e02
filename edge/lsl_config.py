"""Loopback-only LSL configuration, for tests and the demo: no stream traffic leaves the machine.

liblsl reads LSLAPICFG once, when pylsl loads, so call ``use_loopback_only()`` before importing pylsl.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

LOOPBACK_CONFIG = """\
[ports]
IPv6 = disable

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


def use_loopback_only() -> Path:
    """Write the loopback config and point LSLAPICFG at it; refuse if pylsl is already loaded elsewise."""
    path = Path(tempfile.gettempdir()) / f"eeg-edge-lsl-loopback-{os.getuid()}.cfg"
    if not path.is_file() or path.read_text() != LOOPBACK_CONFIG:
        path.write_text(LOOPBACK_CONFIG)
    if "pylsl" in sys.modules and os.environ.get("LSLAPICFG") != str(path):
        raise RuntimeError("pylsl was imported before the loopback LSL config was set")
    os.environ["LSLAPICFG"] = str(path)
    return path
