# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""macOS facts more than one module needs: tuntaposx's kernel extension, and how to tell it is loaded."""

from __future__ import annotations

import typing as t

from ansible_collections.dockermac.hostbridge.plugins.module_utils._types import Runner

TUNTAP_KEXT = "net.sf.tuntaposx.tap"
TUNTAP_KEXT_PATH = "/Library/Extensions/tap.kext"
TUNTAPOSX_DEVICES = 16  # the kext makes /dev/tap0 ... /dev/tap15
# From macOS 11 a third-party kext cannot be loaded on demand: it loads at boot, from the auxiliary kernel
# collection, once the user approved it (System Settings > Privacy & Security) and restarted (Apple Platform
# Deployment, "System extensions in macOS" > "Kernel extensions"). Before 11, kextload loads an approved kext.
FIRST_MACOS_WITHOUT_KEXTLOAD = 11
KEXT_LOADED, KEXT_NOT_INSTALLED, KEXT_NOT_LOADED, KEXT_AWAITING = (
    "loaded", "not_installed", "not_loaded", "awaiting_approval_or_reboot")


# What the user must do on macOS 11+ (nothing unattended can): the approval prompt names the kext's developer
# (tuntaposx: Mattias Nissler); with several blocked, "Details..." lists them.
KEXT_APPROVAL_STEPS = (
    "macOS 11 and later load a third-party kernel extension only after the user approves it and restarts: on the "
    "Mac, open System Settings > Privacy & Security (System Preferences > Security & Privacy > General before "
    "macOS 13), click Allow next to \"System software from developer 'Mattias Nissler' was blocked from loading\" "
    "(Details... when several are listed), restart the Mac, then run the playbook again")


def kext_todo(state: str | None, tap_device: str, macos: str | None) -> str | None:
    """What is left to do for /dev/<tap_device>, by ``kext_state``; None when the kext is loaded."""
    install = ("install tuntaposx: set tap_bridge_tuntap_pkg to its installer package (for example "
               "tuntap_20150118.pkg) and the tap_bridge role installs it")
    if state == KEXT_LOADED:
        return None
    if state == KEXT_AWAITING:
        return f"tuntaposx is installed but not loaded: {KEXT_APPROVAL_STEPS}"
    if state == KEXT_NOT_LOADED:
        return (f"tuntaposx is installed but not loaded: the tap_bridge role loads it (kextload {TUNTAP_KEXT_PATH}); "
                "if macOS blocks it, Allow it under System Preferences > Security & Privacy > General")
    if kext_load_on_demand(macos):
        return f"{install} and loads it"
    return f"{install}; then {KEXT_APPROVAL_STEPS[0].lower()}{KEXT_APPROVAL_STEPS[1:]}"


def kext_load_on_demand(macos: str | None) -> bool:
    """Whether ``kextload`` can load an installed, approved kext now (macOS before 11)."""
    try:
        return int((macos or "").split(".")[0]) < FIRST_MACOS_WITHOUT_KEXTLOAD
    except ValueError:
        return False  # unknown: never try what can only fail on 11+


def kext_state(*, loaded: bool | None, installed: bool, macos: str | None) -> str:
    """``loaded``; ``not_installed`` (no tap.kext in /Library/Extensions); installed but not loaded:
    ``not_loaded`` where kextload can load it, ``awaiting_approval_or_reboot`` from macOS 11 (the user must approve
    it and restart; which of the two is pending is not readable without Full Disk Access)."""
    if loaded:
        return KEXT_LOADED
    if not installed:
        return KEXT_NOT_INSTALLED
    return KEXT_NOT_LOADED if kext_load_on_demand(macos) else KEXT_AWAITING


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
