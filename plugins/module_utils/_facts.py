# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What this machine offers for reaching Docker containers: the facts behind ``bridge_facts``.

``DarwinFacts`` and ``LinuxFacts`` gather (reading files and running read-only commands, never changing
anything); the pure functions below parse what they read (Docker Desktop's settings and Info.plist,
os-release). The decisions made from it (the VM manager, which strategy is possible) are ``_strategy``'s, the
comparison with a desired state ``_plan``'s. The filesystem root and the user's home are injectable.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import plistlib
import pwd
import re
import stat
import typing as t

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _app_management, _docker_api, _trust
from ansible_collections.dockermac.hostbridge.plugins.module_utils._darwin import (
    KEXT_APPROVAL_STEPS,
    TUNTAP_KEXT_PATH,
    kext_load_on_demand,
    kext_loaded,
    kext_state,
    kext_todo,
)
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.plugins.module_utils._hyperkit import (
    DEFAULT_APP,
    detect,
    locate,
    target_user,
)
from ansible_collections.dockermac.hostbridge.plugins.module_utils._hyperkit import validate as shim_options
from ansible_collections.dockermac.hostbridge.plugins.module_utils._module import Context, select_backend
from ansible_collections.dockermac.hostbridge.plugins.module_utils._netinfo import IFF_TAP
from ansible_collections.dockermac.hostbridge.plugins.module_utils._plan import PlanContext, check
from ansible_collections.dockermac.hostbridge.plugins.module_utils._strategy import (
    ARM64,
    HOMEBREW_PATHS,
    Observed,
    decide_strategies,
    decide_vm_manager,
    recommendation,
)
from ansible_collections.dockermac.hostbridge.plugins.module_utils._tap import DarwinTap, LinuxTap
from ansible_collections.dockermac.hostbridge.plugins.module_utils._types import Params, Result, Runner
from ansible_collections.dockermac.hostbridge.plugins.module_utils._validation import tap_name

SETTINGS_DIR = os.path.join("Library", "Group Containers", "group.com.docker")
SETTINGS_STORE = "settings-store.json"  # Docker Desktop 4.35 and later
SETTINGS_LEGACY = "settings.json"  # 4.34 and earlier
DOCKER_SOCKET = "/var/run/docker.sock"
USER_SOCKET = os.path.join(".docker", "run", "docker.sock")
PING_TIMEOUT = 2.0
_ARM_MACHINES = ("arm64", "aarch64")
_TAP_DEV = re.compile(r"^tap([0-9]+)$")


class SettingsRead(t.NamedTuple):
    """What reading Docker Desktop's settings gave: the file found, its content, or why the system refused it."""

    path: str | None = None
    name: str | None = None
    parsed: dict[str, t.Any] | None = None
    refused: str | None = None  # the error text of a refused read (EPERM, EACCES)


# --- pure parsing -------------------------------------------------------------------------------------------
def parse_info_plist(data: bytes) -> str | None:
    """``CFBundleShortVersionString`` of a bundle's ``Contents/Info.plist`` (XML or binary), or None."""
    try:
        info = plistlib.loads(data)
    except Exception:  # plistlib raises InvalidFileException, ExpatError, ValueError... on bad input
        return None
    version = info.get("CFBundleShortVersionString") if isinstance(info, dict) else None
    return version if isinstance(version, str) and version else None


def parse_settings(text: str) -> dict[str, t.Any] | None:
    """Docker Desktop's settings file as a dict; None when it is not a JSON object."""
    try:
        settings = json.loads(text)
    except ValueError:
        return None
    return settings if isinstance(settings, dict) else None


def parse_os_release(text: str) -> str | None:
    """``PRETTY_NAME`` of /etc/os-release (quotes removed), or None."""
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key == "PRETTY_NAME":
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            return value or None
    return None


def unreadable_settings(read: SettingsRead) -> str | None:
    """Why the VM manager is unknown when the system refused to open Docker Desktop's settings (macOS 15 refuses
    the whole group container, so even a missing settings-store.json gives EPERM, not ENOENT)."""
    if read.refused is None:
        return None
    return (f"{read.path} could not be read ({read.refused}): macOS 15 lets only Docker Desktop's own "
            "app group open its group container and asks the user at the screen, which an SSH session or a "
            "LaunchDaemon cannot answer. Set tap_bridge_vm_manager (the VM manager Docker Desktop > Settings > "
            "General shows: hyperkit, virtualization_framework, docker_vmm or qemu), or bridge_strategy")


def docker_host_socket(value: str | None) -> str | None:
    """The path of a ``unix://`` DOCKER_HOST; None for anything else (tcp://, ssh://, unset)."""
    if value and value.startswith("unix://"):
        return value[len("unix://"):] or None
    return None


def tap_devices(names: t.Iterable[str]) -> list[str]:
    """``tapN`` names among ``names``, in numeric order (tap2 before tap10)."""
    found = [(int(m.group(1)), name) for name in names for m in [_TAP_DEV.match(name)] if m]
    return [name for _n, name in sorted(found)]


def _is_tap_interface(tun_flags: str) -> bool:
    try:
        with open(tun_flags, encoding="ascii") as handle:
            return bool(int(handle.read().strip(), 16) & IFF_TAP)
    except (OSError, ValueError):
        return False


# --- the backends ------------------------------------------------------------------------------------------
class Facts:
    """Gathers the facts. ``root`` prefixes every absolute system path; ``home`` replaces the user's home."""

    platform = "generic"

    def __init__(self, *, runner: Runner, root: str = "/", home: str | None = None,
                 environ: t.Mapping[str, str] | None = None, machine: str | None = None) -> None:
        self.runner = runner
        self.root = root
        self.home_override = home
        self.environ = os.environ if environ is None else environ
        self.machine = machine if machine is not None else platform.machine()
        self.warnings: list[str] = []

    def path(self, absolute: str) -> str:
        return os.path.join(self.root, absolute.lstrip("/"))

    # -- pieces shared by both platforms --
    def architecture(self) -> str:
        return ARM64 if self.machine.lower() in _ARM_MACHINES else self.machine

    def user(self, name: str | None) -> pwd.struct_passwd | None:
        # SUDO_USER, the login user, then whoever runs: the resolution hyperkit_shim uses.
        return target_user(name, environ=self.environ)

    def home(self, account: pwd.struct_passwd | None) -> str | None:
        if self.home_override is not None:
            return self.home_override
        return account.pw_dir if account is not None and account.pw_dir else None

    def is_char_device(self, absolute: str) -> bool:
        try:
            return stat.S_ISCHR(os.stat(self.path(absolute)).st_mode)
        except OSError:
            return False

    def tap_devices(self) -> list[str]:
        try:
            names = os.listdir(self.path("/dev"))
        except OSError:
            return []
        return [name for name in tap_devices(names) if self.is_char_device(f"/dev/{name}")]

    def docker(self, *, home: str | None) -> dict[str, t.Any]:
        path = self.socket_path(home=home)
        exists = os.path.exists(path)
        # The default socket is a link on a Mac: present (lexists) even while Docker Desktop is not running.
        return {"socket": path, "socket_exists": exists,
                "engine_reachable": exists and _docker_api.ping(path, timeout=PING_TIMEOUT),
                "default_socket": DOCKER_SOCKET, "default_socket_present": os.path.lexists(self.path(DOCKER_SOCKET))}

    def socket_path(self, *, home: str | None) -> str:
        raise NotImplementedError

    def bundle_state(self, app: str, tap: str) -> tuple[str | None, str | None, str | None]:
        """(hyperkit path, shim state, problem) of a bundle; (None, None, None) without hyperkit."""
        try:
            location = locate(app)
        except HostbridgeError:
            return None, None, None
        try:
            detection = detect(location, shim_options({"tap_device": tap}))
        except (HostbridgeError, OSError) as exc:
            message = exc.msg if isinstance(exc, HostbridgeError) else str(exc)
            self.warnings.append(f"Could not read the hyperkit shim state in {app}: {message}")
            return location.hyperkit_path, None, None
        return location.hyperkit_path, detection.state, detection.problem

    def tap_backend(self) -> DarwinTap | LinuxTap:
        raise NotImplementedError

    def tap_held(self, *, tap: str, shim_state: str | None, docker: dict[str, t.Any],
                 devices: list[str]) -> tuple[int | None, bool]:
        """(the pid holding the tap device, whether the VM runs without it), looked up only where it matters: the
        shim installed and the engine answering (else None, False). The VM runs without the device when nothing
        holds it then: hyperkit could not open it when Docker Desktop started (after a reboot the device is root's
        until the boot job gives it back; hyperkit then only warns and boots the VM with an unbacked NIC), and only
        a Docker Desktop restart attaches it."""
        if tap not in devices or shim_state != "installed" or not docker["engine_reachable"]:
            return None, False
        try:
            holder = self.tap_backend().holder(tap)
        except (HostbridgeError, OSError) as exc:
            self.warnings.append(f"Cannot tell which process holds {tap}: {getattr(exc, 'msg', None) or exc}")
            return None, False
        return holder, holder is None

    # -- the whole module --
    def gather(self, params: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        raise NotImplementedError

    def _assemble(self, *, seen: Observed, os_version: str | None, account: pwd.struct_passwd | None,
                  home: str | None, docker: dict[str, t.Any], desktop: dict[str, t.Any],
                  tuntap: dict[str, t.Any], homebrew: dict[str, t.Any]) -> dict[str, t.Any]:
        strategies = decide_strategies(seen)
        recommended, why = recommendation(seen.platform, strategies)
        return {
            "platform": seen.platform,
            "architecture": seen.architecture,
            "os_version": os_version,
            # Boot jobs on Linux are systemd units; launchd always runs on a Mac.
            "systemd": seen.platform == "linux" and os.path.isdir(self.path("/run/systemd/system")),
            "console_user": {"name": account.pw_name if account else None,
                             "uid": account.pw_uid if account else None, "home": home},
            "docker": docker,
            "docker_desktop": desktop,
            "tuntap": tuntap,
            "homebrew": homebrew,
            "strategies": strategies,
            "recommended_strategy": recommended,
            "recommended_reason": why,
        }


class DarwinFacts(Facts):
    """macOS: Docker Desktop, its VM manager, tuntaposx; the console user by default."""

    platform = "darwin"

    def architecture(self) -> str:
        arch = super().architecture()
        # An x86_64 Python under Rosetta on Apple Silicon still reports x86_64: ask the kernel.
        if arch != ARM64 and self.runner.which("sysctl", required=False):
            result = self.runner.run(["sysctl", "-in", "hw.optional.arm64"], check=False)
            if result.rc == 0 and result.stdout.strip() == "1":
                return ARM64
        return arch

    def console_user(self, name: str | None) -> pwd.struct_passwd | None:
        """``user``, else the owner of /dev/console (the user logged in at the screen) unless it is root
        (nobody logged in), else SUDO_USER, the login user, the user running."""
        if name is None:
            with contextlib.suppress(OSError, KeyError):
                owner = os.stat(self.path("/dev/console")).st_uid
                if owner != 0:
                    return pwd.getpwuid(owner)
        return self.user(name)

    def os_version(self) -> str | None:
        if self.runner.which("sw_vers", required=False):
            result = self.runner.run(["sw_vers", "-productVersion"], check=False)
            if result.rc == 0 and result.stdout.strip():
                return result.stdout.strip()
        return platform.mac_ver()[0] or None

    def socket_path(self, *, home: str | None) -> str:
        if home:
            candidate = os.path.join(home, USER_SOCKET)
            if os.path.exists(candidate):
                return candidate
        return self.path(DOCKER_SOCKET)

    def candidate_apps(self, app_path: str | None, home: str | None) -> list[str]:
        apps = [app_path] if app_path else []
        apps.append(self.path(DEFAULT_APP))
        if home:
            apps.append(os.path.join(home, "Applications", "Docker.app"))
        return apps

    def settings(self, home: str | None) -> SettingsRead:
        """Docker Desktop's settings; the newer settings-store.json wins. A read the system refuses (macOS 15
        guards app group containers: EPERM over SSH or from a LaunchDaemon) is recorded as ``refused``."""
        if not home:
            return SettingsRead()
        for name in (SETTINGS_STORE, SETTINGS_LEGACY):
            path = os.path.join(home, SETTINGS_DIR, name)
            try:
                with open(path, encoding="utf-8") as handle:
                    text = handle.read()
            except FileNotFoundError:
                continue
            except PermissionError as exc:
                return SettingsRead(path, name, refused=exc.strerror or str(exc))
            except (OSError, UnicodeDecodeError) as exc:
                self.warnings.append(f"Cannot read Docker Desktop's settings {path}: {exc}")
                return SettingsRead(path, name)
            parsed = parse_settings(text)
            if parsed is None:
                self.warnings.append(f"Docker Desktop's settings {path} is not a JSON object; the VM manager is "
                                     "guessed from the Docker Desktop version.")
            return SettingsRead(path, name, parsed)
        return SettingsRead()

    def homebrew(self) -> dict[str, t.Any]:
        """The first ``brew`` of HOMEBREW_PATHS that is an executable file, and the user owning it (Homebrew runs
        as the owner of its prefix, never as root)."""
        for candidate in HOMEBREW_PATHS:
            path = self.path(candidate)
            if os.path.isfile(path) and os.access(path, os.X_OK):
                owner = None
                with contextlib.suppress(OSError, KeyError):
                    owner = pwd.getpwuid(os.stat(path).st_uid).pw_name
                return {"path": path, "owner": owner}
        return {"path": None, "owner": None}

    def kext_loaded(self) -> bool:
        return kext_loaded(self.runner)[0] is True

    def tap_backend(self) -> DarwinTap:
        backend = DarwinTap(self.runner)
        backend.dev_dir = self.path("/dev")
        return backend

    def gather(self, params: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        tap = tap_name(params.get("tap_device") or "tap1", field="tap_device")
        account = self.console_user(params.get("user"))
        home = self.home(account)
        arch = self.architecture()
        macos = self.os_version()

        app_option = params.get("app_path")
        candidates = self.candidate_apps(app_option, home)
        if app_option and not os.path.isdir(app_option):
            self.warnings.append(f"app_path {app_option} is not a directory; looked for Docker Desktop in the "
                                 "default places instead.")
        app = next((c for c in candidates if os.path.isdir(c)), None)
        version = None
        if app:
            with contextlib.suppress(OSError), open(os.path.join(app, "Contents", "Info.plist"), "rb") as handle:
                version = parse_info_plist(handle.read())
        read = self.settings(home)
        vm = (decide_vm_manager(settings=read.parsed, settings_name=read.name, version=version, architecture=arch,
                                macos=macos, refused=unreadable_settings(read), override=params.get("vm_manager"))
              if app else None)
        hyperkit_path, shim_state, problem = self.bundle_state(app, tap) if app else (None, None, None)
        devices = self.tap_devices()
        loaded = self.kext_loaded()
        kext = kext_state(loaded=loaded, installed=os.path.isdir(self.path(TUNTAP_KEXT_PATH)), macos=macos)
        homebrew = self.homebrew()
        docker = self.docker(home=home)

        seen = Observed(platform=self.platform, architecture=arch, tap_device=tap, installed=app is not None,
                        app_path=app, vm=vm, hyperkit_path=hyperkit_path, shim_state=shim_state,
                        shim_problem=problem, kext_loaded=loaded, kext_todo=kext_todo(kext, tap, macos),
                        tap_device_exists=tap in devices,
                        apps_tried=tuple(candidates), homebrew_path=homebrew["path"],
                        default_socket=docker["default_socket_present"])
        holder, without_tap = self.tap_held(tap=tap, shim_state=shim_state, docker=docker, devices=devices)
        desktop = {"installed": app is not None, "app_path": app, "version": version,
                   "vm_manager": vm.manager if vm else None, "vm_manager_source": vm.source if vm else None,
                   "settings_path": read.path, "hyperkit_path": hyperkit_path, "shim_state": shim_state,
                   "app_management": _app_management.probe(home, macos) if hyperkit_path else None,
                   "vm_without_tap": without_tap}
        tuntap = {"kext_loaded": loaded, "devices": devices, "tap_device": tap, "tap_device_exists": tap in devices,
                  "dev_net_tun": False, "kext_state": kext, "kext_load_on_demand": kext_load_on_demand(macos),
                  "kext_approval_steps": None if kext_load_on_demand(macos) else KEXT_APPROVAL_STEPS,
                  "holder_pid": holder}
        return self._assemble(seen=seen, os_version=macos, account=account, home=home,
                              docker=docker, desktop=desktop, tuntap=tuntap, homebrew=homebrew)


class LinuxFacts(Facts):
    """Linux laptops (and the collection's tests): no Docker Desktop; TAP devices through /dev/net/tun."""

    platform = "linux"

    def os_version(self) -> str | None:
        try:
            with open(self.path("/etc/os-release"), encoding="utf-8") as handle:
                return parse_os_release(handle.read())
        except (OSError, UnicodeDecodeError):
            return None

    def tap_devices(self) -> list[str]:
        """TAP interfaces named ``tapN`` (Linux has no /dev/tapN: a TUN/TAP interface has a tun_flags file)."""
        base = self.path("/sys/class/net")
        try:
            names = os.listdir(base)
        except OSError:
            return []
        return [name for name in tap_devices(names) if _is_tap_interface(os.path.join(base, name, "tun_flags"))]

    def socket_path(self, *, home: str | None) -> str:
        return docker_host_socket(self.environ.get("DOCKER_HOST")) or self.path(DOCKER_SOCKET)

    def tap_backend(self) -> LinuxTap:
        backend = LinuxTap(self.runner)
        backend.proc = self.path("/proc")
        return backend

    def gather(self, params: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        tap = tap_name(params.get("tap_device") or "tap1", field="tap_device")
        account = self.user(params.get("user"))
        home = self.home(account)
        # An explicit app_path on Linux is the end-to-end simulation's bundle: report its shim state.
        app_option = params.get("app_path")
        app = app_option if app_option and os.path.isdir(app_option) else None
        hyperkit_path, shim_state, _problem = self.bundle_state(app, tap) if app else (None, None, None)
        tun = self.is_char_device("/dev/net/tun")
        devices = self.tap_devices()
        seen = Observed(platform=self.platform, architecture=self.architecture(), tap_device=tap, dev_net_tun=tun,
                        tap_device_exists=tap in devices)
        docker = self.docker(home=home)
        holder, without_tap = self.tap_held(tap=tap, shim_state=shim_state, docker=docker, devices=devices)
        desktop = {"installed": False, "app_path": app, "version": None, "vm_manager": None,
                   "vm_manager_source": None, "settings_path": None, "hyperkit_path": hyperkit_path,
                   "shim_state": shim_state, "app_management": "not_required" if hyperkit_path else None,
                   "vm_without_tap": without_tap}
        tuntap = {"kext_loaded": False, "devices": devices, "tap_device": tap, "tap_device_exists": tap in devices,
                  "dev_net_tun": tun, "kext_state": None, "kext_load_on_demand": False, "kext_approval_steps": None,
                  "holder_pid": holder}
        # Homebrew matters only to the routed strategy, which Linux does not need.
        return self._assemble(seen=seen, os_version=self.os_version(), account=account, home=home,
                              docker=docker, desktop=desktop, tuntap=tuntap,
                              homebrew={"path": None, "owner": None})


BACKENDS: dict[str, type[Facts]] = {"Darwin": DarwinFacts, "Linux": LinuxFacts}


def gather(*, params: Params, system: str, runner: Runner, **kwargs: t.Any) -> Result:
    """The facts (``ansible_facts.hostbridge``) and the warnings met while gathering them. ``kwargs``: the
    backend's ``root``, ``home``, ``environ``, ``machine`` (the tests')."""
    backend = select_backend(system, BACKENDS, what="bridge_facts")(runner=runner, **kwargs)
    facts = backend.gather(params)
    return {"changed": False, "ansible_facts": {"hostbridge": facts}, "warnings": backend.warnings}


def manage(ctx: Context, params: Params) -> Result:
    """The whole ``bridge_facts`` module behind its argument parsing: the facts, and with ``desired`` the plan
    (``_plan``: what the roles' module tasks would change)."""
    result = gather(params=params, system=ctx.system, runner=ctx.runner)
    if params.get("trusted_paths"):  # whether each is root's alone, up to / (_trust: what a root job may run)
        result["ansible_facts"]["hostbridge"]["trust"] = [_trust.check(p).as_fact() for p in params["trusted_paths"]]
    if params.get("desired") is not None:
        facts = result["ansible_facts"]["hostbridge"]
        possible = frozenset(name for name, verdict in facts["strategies"].items() if verdict["possible"])
        console_user = (facts.get("console_user") or {}).get("name")
        result["plan"] = check(params["desired"], PlanContext(ctx.system, ctx.runner, ctx.module, console_user,
                                                              possible, (facts.get("docker") or {}).get("socket"),
                                                              bool(facts.get("systemd")), facts))
    return result
