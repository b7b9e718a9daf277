# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""macOS facts more than one module needs: tuntaposx's kernel extension, and how to tell it is loaded."""

from __future__ import annotations

import typing as t

from ansible_collections.dockermac.hostbridge.plugins.module_utils._types import Runner

TUNTAP_KEXT = "net.sf.tuntaposx.tap"
TUNTAP_KEXT_PATH = "/Library/Extensions/tap.kext"
TUNTAPOSX_DEVICES = 16  # the kext makes /dev/tap0 ... /dev/tap15


def kext_listed(text: str, bundle_id: str = TUNTAP_KEXT) -> bool:
    """Whether ``kmutil showloaded`` / ``kextstat`` output has a row for ``bundle_id``: one kext a line, the bundle
    id a column of its own, so ``net.sf.tuntaposx.tun`` is not ``...tap``."""
    return any(bundle_id in line.split() for line in text.splitlines())


def kext_loaded(runner: Runner, bundle_id: str = TUNTAP_KEXT) -> tuple[bool | None, dict[str, t.Any]]:
    """Is ``bundle_id`` loaded? kmutil (macOS 11+), else kextstat; None when neither can tell. The details (cmd, rc,
    stdout, stderr) go into an error's result."""
    if runner.which("kmutil", required=False):
        argv = ["kmutil", "showloaded", "--list-only", "-b", bundle_id]
    elif runner.which("kextstat", required=False):
        argv = ["kextstat", "-l", "-b", bundle_id]
    else:
        return None, {}
    result = runner.run(argv, check=False)
    details = {"cmd": argv, "rc": result.rc, "stdout": result.stdout, "stderr": result.stderr}
    if result.rc != 0:
        return None, details
    return kext_listed(result.stdout, bundle_id), details
