# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deciding from the facts: which VM manager Docker Desktop uses, and which strategy (loopback, tap, routed) is
possible here and recommended.

Pure functions on plain values (``Observed``, settings dicts, version strings): ``_facts`` gathers those values
and calls these; the unit tests call them directly on recorded samples.
"""

from __future__ import annotations

import re
import typing as t

from ansible_collections.dockermac.hostbridge.plugins.module_utils._hyperkit import FOREIGN_SHIM, ORPHANED_SHIM

# Where Homebrew's installer puts brew: Apple Silicon first, then Intel (docs.brew.sh/Installation).
HOMEBREW_PATHS = ("/opt/homebrew/bin/brew", "/usr/local/bin/brew")
ROUTED_TOOL = "docker-mac-net-connect"
DEFAULT_SOCKET = "/var/run/docker.sock"
# docker-mac-net-connect runs as root and builds its Docker client from the environment (main.go,
# client.NewClientWithOpts(client.FromEnv)); its launchd job sets no DOCKER_HOST, so it talks to the default socket,
# which Docker Desktop links only with this setting on (docs.docker.com/desktop/settings-and-maintenance/settings/,
# Advanced). No settings-store.json key for it is documented: the user switches it on.
DEFAULT_SOCKET_NEED = (f"Docker Desktop's setting 'Allow the default Docker socket to be used' (Settings > Advanced; "
                       f"it asks for your password): {ROUTED_TOOL} runs as root and talks to {DEFAULT_SOCKET}, which "
                       "Docker Desktop creates only with that setting on")

HYPERKIT = "hyperkit"
VIRTUALIZATION_FRAMEWORK = "virtualization_framework"
DOCKER_VMM = "docker_vmm"
QEMU = "qemu"
UNKNOWN = "unknown"
VM_MANAGERS = (HYPERKIT, VIRTUALIZATION_FRAMEWORK, DOCKER_VMM, QEMU, UNKNOWN)
_VM_LABELS = {
    HYPERKIT: "HyperKit",
    VIRTUALIZATION_FRAMEWORK: "Apple's Virtualization framework",
    DOCKER_VMM: "Docker VMM",
    QEMU: "QEMU",
    UNKNOWN: "an unknown VM manager",
}
VF_DEFAULT_SINCE = (4, 14)  # Docker Desktop 4.14 (2022-11) made the Virtualization framework the default
VF_MIN_MACOS = (12, 5)  # 4.14 disabled the Virtualization framework below macOS 12.5

ARM64 = "arm64"
_TUNTAP_PKG_HINT = ("install tuntaposx (set tap_bridge_tuntap_pkg to its installer package, for example "
                    "tuntap_20150118.pkg; the tap_bridge role installs and loads it)")


# --- Docker Desktop's VM manager ----------------------------------------------------------------------------
def version_tuple(text: str | None) -> tuple[int, ...] | None:
    """``"4.15.0"`` -> ``(4, 15, 0)``; the leading numeric fields only; None when there are none."""
    if not text:
        return None
    match = re.match(r"^\s*(\d+(?:\.\d+)*)", str(text))
    return tuple(int(part) for part in match.group(1).split(".")) if match else None


def _setting(settings: t.Mapping[str, t.Any], name: str) -> t.Any:
    """A setting by name, whatever its case: settings-store.json says ``UseLibkrun``, settings.json
    ``useLibkrun``. A key that is absent (settings-store.json omits defaults) is None."""
    wanted = name.lower()
    for key, value in settings.items():
        if isinstance(key, str) and key.lower() == wanted:
            return value
    return None


class VmChoice(t.NamedTuple):
    manager: str
    source: str  # why: the settings key, or the default rule that applied


def vm_manager_from_settings(settings: t.Mapping[str, t.Any], *, filename: str,
                             architecture: str) -> VmChoice | None:
    """The VM manager recorded in Docker Desktop's settings, or None when the file does not say.

    ``UseLibkrun=true`` is Docker VMM; ``UseVirtualizationFramework=true`` the Virtualization framework;
    ``UseVirtualizationFramework=false`` is HyperKit on Intel and QEMU on Apple Silicon.
    """
    libkrun = _setting(settings, "UseLibkrun")
    if libkrun is True:
        return VmChoice(DOCKER_VMM, f"{filename} UseLibkrun=true")
    use_vf = _setting(settings, "UseVirtualizationFramework")
    if use_vf is True:
        return VmChoice(VIRTUALIZATION_FRAMEWORK, f"{filename} UseVirtualizationFramework=true")
    if use_vf is False:
        manager = QEMU if architecture == ARM64 else HYPERKIT
        return VmChoice(manager, f"{filename} UseVirtualizationFramework=false")
    return None


def vm_manager_default(*, version: str | None, architecture: str, macos: str | None) -> VmChoice:
    """The VM manager Docker Desktop picks when its settings do not say."""
    release = version_tuple(version)
    if release is None:
        return VmChoice(UNKNOWN, "no settings file says, and the Docker Desktop version is unknown")
    if release < VF_DEFAULT_SINCE:
        if architecture == ARM64:
            return VmChoice(QEMU, f"default of Docker Desktop {version} on Apple Silicon (before 4.14)")
        return VmChoice(HYPERKIT, f"default of Docker Desktop {version} (before 4.14)")
    os_release = version_tuple(macos)
    if architecture != ARM64 and os_release is not None and os_release < VF_MIN_MACOS:
        return VmChoice(HYPERKIT, f"default of Docker Desktop {version} on macOS {macos} (the Virtualization "
                                  "framework needs macOS 12.5)")
    return VmChoice(VIRTUALIZATION_FRAMEWORK, f"default of Docker Desktop {version} (4.14 and later)")


def decide_vm_manager(*, settings: t.Mapping[str, t.Any] | None, settings_name: str | None, version: str | None,
                      architecture: str, macos: str | None, refused: str | None = None,
                      override: str | None = None) -> VmChoice:
    """The user's ``override`` first; then a settings file the system refused to read is UNKNOWN (its
    ``refused`` text says why and how to override), never the version's default guessed past it; then the
    settings, then the version's default."""
    if override:
        return VmChoice(override, "set by the vm_manager option (tap_bridge_vm_manager)")
    if refused:
        return VmChoice(UNKNOWN, refused)
    if settings is not None and settings_name:
        choice = vm_manager_from_settings(settings, filename=settings_name, architecture=architecture)
        if choice is not None:
            return choice
    return vm_manager_default(version=version, architecture=architecture, macos=macos)


# --- strategies --------------------------------------------------------------------------------------------
class Observed(t.NamedTuple):
    """What the strategy decision depends on (all plain values, so tests build it directly)."""

    platform: str  # "darwin" | "linux"
    architecture: str
    tap_device: str
    installed: bool = False
    app_path: str | None = None
    vm: VmChoice | None = None
    hyperkit_path: str | None = None
    shim_state: str | None = None
    shim_problem: str | None = None
    kext_loaded: bool = False
    kext_todo: str | None = None  # _darwin.kext_todo: what is left to do for the tap device
    tap_device_exists: bool = False
    dev_net_tun: bool = False
    apps_tried: tuple[str, ...] = ()
    homebrew_path: str | None = None
    default_socket: bool = True  # /var/run/docker.sock exists (a link, even dangling while Docker Desktop is off)


def _verdict(possible: bool, reason: str, **extra: t.Any) -> dict[str, t.Any]:
    return dict(possible=possible, reason=reason, **extra)


def decide_strategies(seen: Observed) -> dict[str, dict[str, t.Any]]:
    if seen.platform == "linux":
        return _linux_strategies(seen)
    return _darwin_strategies(seen)


def _linux_strategies(seen: Observed) -> dict[str, dict[str, t.Any]]:
    if seen.dev_net_tun:
        tap = _verdict(True, f"/dev/net/tun is a character device: tap_device creates a real TAP device "
                             f"({seen.tap_device}) with the kernel's tun driver", needs=[])
    else:
        tap = _verdict(False, "/dev/net/tun is missing (load the tun module: modprobe tun; in a container, add "
                              "--device /dev/net/tun and the NET_ADMIN capability): the tap strategy needs it",
                       needs=["/dev/net/tun"])
    return {
        "loopback": _verdict(True, "aliases on lo and ports published on them work with any Docker engine"),
        "tap": tap,
        "routed": _verdict(False, "not needed on Linux: the host reaches container IPs directly through the "
                                  "Docker bridges, no tunnel is involved"),
    }


def _darwin_strategies(seen: Observed) -> dict[str, dict[str, t.Any]]:
    loopback = _verdict(True, "loopback aliases with ports published on them work with every Docker Desktop")
    return {"loopback": loopback, "tap": _darwin_tap(seen), "routed": _darwin_routed(seen)}


def _darwin_routed(seen: Observed) -> dict[str, t.Any]:
    """docker-mac-net-connect: a WireGuard link (utun on the Mac, chip0 in the VM) and one route per Docker
    network. Offered for Docker Desktop on every VM manager but HyperKit, where the tap strategy applies."""
    if not seen.installed:
        tried = f" (looked at {', '.join(seen.apps_tried)})" if seen.apps_tried else ""
        return _verdict(False, f"Docker Desktop is not installed{tried}; the routed strategy tunnels into Docker "
                               f"Desktop's VM ({ROUTED_TOOL})", needs=[])
    vm = seen.vm or VmChoice(UNKNOWN, "not determined")
    if vm.manager == HYPERKIT:
        return _verdict(False, f"Docker Desktop runs on HyperKit ({vm.source}): this collection offers the routed "
                               "strategy for the VM managers that replaced HyperKit; use the tap strategy there",
                        needs=[])
    needs = []
    if seen.homebrew_path is None:
        needs.append(f"Homebrew (brew at {' or '.join(HOMEBREW_PATHS)}): the routed role installs {ROUTED_TOOL} "
                     "with it")
    if not seen.default_socket:
        needs.append(DEFAULT_SOCKET_NEED)
    return _verdict(True, f"Docker Desktop on {_VM_LABELS[vm.manager]} ({vm.source}): {ROUTED_TOOL} routes the "
                          "Docker networks' subnets through a WireGuard tunnel into the VM", needs=needs)


def _darwin_tap(seen: Observed) -> dict[str, t.Any]:
    if seen.architecture == ARM64:
        return _verdict(False, "Apple Silicon: no HyperKit and no tuntaposx kext (both are x86_64 only)", needs=[])
    if not seen.installed:
        tried = f" (looked at {', '.join(seen.apps_tried)})" if seen.apps_tried else ""
        return _verdict(False, f"Docker Desktop is not installed{tried}; the tap bridge needs Docker Desktop "
                               "on HyperKit", needs=[])
    vm = seen.vm or VmChoice(UNKNOWN, "not determined")
    if vm.manager != HYPERKIT:
        what = _VM_LABELS[vm.manager]
        return _verdict(False, f"Docker Desktop uses {what} ({vm.source}); the tap bridge needs HyperKit (choose "
                               "it in Settings > General > Virtual Machine Options)", needs=[])
    if seen.hyperkit_path is None:
        return _verdict(False, f"no hyperkit binary in {seen.app_path}: this Docker Desktop cannot run HyperKit",
                        needs=[])
    if seen.shim_state in (FOREIGN_SHIM, ORPHANED_SHIM):
        return _verdict(False, f"the hyperkit binary is in state {seen.shim_state}: {seen.shim_problem}", needs=[])
    needs = []
    if not (seen.kext_loaded or seen.tap_device_exists):
        needs.append(f"tuntaposx kext not loaded and /dev/{seen.tap_device} missing: "
                     f"{seen.kext_todo or _TUNTAP_PKG_HINT}")
    return _verdict(True, f"Intel Mac, Docker Desktop on HyperKit ({vm.source})", needs=needs)


def recommendation(platform_name: str, strategies: t.Mapping[str, t.Mapping[str, t.Any]]) -> tuple[str, str]:
    """(strategy, why): macOS - tap when possible, else routed when possible and Homebrew is there, else loopback;
    Linux - loopback (containers are routable from a Linux host already)."""
    if platform_name != "darwin":
        return "loopback", "Linux reaches container IPs directly; loopback adds names for published ports"
    if strategies["tap"]["possible"]:
        return "tap", "the tap strategy is possible: " + strategies["tap"]["reason"]
    routed = strategies["routed"]
    if routed["possible"] and not routed.get("needs"):
        return "routed", "the tap strategy is not possible, the routed strategy is: " + routed["reason"]
    if routed["possible"]:
        return "loopback", "the routed strategy would need " + "; ".join(routed["needs"])
    return "loopback", "neither the tap nor the routed strategy is possible: " + routed["reason"]


def recommend(platform_name: str, strategies: t.Mapping[str, t.Mapping[str, t.Any]]) -> str:
    return recommendation(platform_name, strategies)[0]
