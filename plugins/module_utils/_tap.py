# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TAP devices for the tap host bridge: who may open the device, and the host side's address and link state.

``DarwinTap`` (tuntaposx): ``/dev/tapN`` is a character device made by the ``net.sf.tuntaposx.tap`` kext
(root:wheel 0660, recreated at every boot); the network interface ``tapN`` exists only while a process
(hyperkit) holds the device open. Owner: ``os.stat``/``os.chown``; interface: ``ifconfig tapN`` and
``ifconfig tapN inet IP/len up``.

``LinuxTap``: a persistent TAP device (``ip tuntap add dev tapN mode tap user UID``), read from
``/sys/class/net/tapN`` (``tun_flags``, ``owner``) and ``ip -d -j addr show dev tapN``.

Each backend reads the current state once and plans ``Step``s; ``manage()`` (the whole of the ``tap_device``
module behind its argument parsing) returns the result and, outside check mode, runs the steps.
"""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import ipaddress
import os
import platform
import pwd
import stat
import struct
import typing as t

from ansible_collections.dockermac.hostbridge.plugins.module_utils._commands import command_error
from ansible_collections.dockermac.hostbridge.plugins.module_utils._darwin import (
    TUNTAP_KEXT,
    TUNTAP_KEXT_PATH,
    TUNTAPOSX_DEVICES,
    kext_loaded,
)
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.plugins.module_utils._module import Context, select_backend
from ansible_collections.dockermac.hostbridge.plugins.module_utils._netinfo import (
    IFF_NO_PI,
    IFF_PERSIST,
    IFF_TAP,
    IFF_TUN,
    parse_ifconfig,
    parse_ifconfig_status,
    parse_ip_json,
    parse_ip_link,
)
from ansible_collections.dockermac.hostbridge.plugins.module_utils._types import Params, Result, Runner
from ansible_collections.dockermac.hostbridge.plugins.module_utils._validation import (
    IPInterface,
    bad,
    host_interface,
    tap_name,
    user_name,
)

# Flags TUNSETIFF copies onto an existing device (TUN_FEATURES in drivers/net/tun.c plus the type bits):
# IFF_TUN, IFF_TAP, IFF_NAPI, IFF_NAPI_FRAGS, IFF_MULTI_QUEUE, IFF_NO_PI, IFF_ONE_QUEUE, IFF_VNET_HDR.
_SETIFF_KEEP = 0x0001 | 0x0002 | 0x0010 | 0x0020 | 0x0100 | 0x1000 | 0x2000 | 0x4000


# --- state -----------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class TapState:
    """What the host has (or will have). ``exists``: macOS - /dev/tapN is a character device; Linux - the TAP
    device exists. ``owner_uid`` None on Linux means no owner (only CAP_NET_ADMIN may attach)."""

    exists: bool
    owner_uid: int | None = None
    interface_present: bool = False
    up: bool = False
    addresses: tuple[IPInterface, ...] = ()
    holder_pid: int | None = None
    tun_flags: int | None = None


class Step(t.NamedTuple):
    """One change: a command run through the CommandRunner, or a system call (chown, ioctl)."""

    what: str
    argv: list[str] | None = None
    call: t.Callable[[], None] | None = None


class Request(t.NamedTuple):
    name: str
    owner: pwd.struct_passwd | None
    address: ipaddress.IPv4Interface | None
    state: str
    require_interface: bool


def wanted_uid(req: Request) -> int:
    if req.owner is None:  # validate() already refuses this
        raise bad("owner", None, "is required with state=present (a user name or uid)")
    return req.owner.pw_uid


def user_label(uid: int | None) -> str:
    if uid is None:
        return "none"
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def owner_name(uid: int | None) -> str | None:
    if uid is None:
        return None
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


# --- parsing ---------------------------------------------------------------------------------------------
def _ipv4(addresses: t.Iterable[IPInterface]) -> list[IPInterface]:
    return [a for a in addresses if a.version == 4]


# --- macOS -----------------------------------------------------------------------------------------------
class DarwinTap:
    """tuntaposx on macOS. ifconfig syntax per Apple's ifconfig(8) (network_cmds ``ifconfig.tproj``)."""

    dev_dir = "/dev"

    def __init__(self, runner: Runner, *, stat_fn: t.Callable[[str], os.stat_result] = os.stat,
                 chown_fn: t.Callable[[str, int, int], None] = os.chown) -> None:
        self._runner = runner
        self._stat = stat_fn
        self._chown = chown_fn
        self._node_kind: dict[str, str] = {}

    def device(self, name: str) -> str:
        return f"{self.dev_dir}/{name}"

    def read(self, name: str) -> TapState:
        path = self.device(name)
        try:
            info = self._stat(path)
        except FileNotFoundError:
            self._node_kind[name] = "missing"
            return TapState(exists=False)
        except OSError as exc:
            raise HostbridgeError(f"Cannot stat {path}: {exc.strerror}", path=path) from exc
        if not stat.S_ISCHR(info.st_mode):
            self._node_kind[name] = "not a character device"
            return TapState(exists=False)
        argv = ["ifconfig", name]
        result = self._runner.run(argv, check=False)
        if result.rc != 0:
            if "does not exist" in result.stderr + result.stdout:  # ifconfig: interface tap1 does not exist
                return TapState(exists=True, owner_uid=info.st_uid)
            raise command_error(f"ifconfig {name}", argv, result.rc, result.stdout, result.stderr)
        status = parse_ifconfig_status(result.stdout, name)
        if status is None:
            raise HostbridgeError(f"`ifconfig {name}` printed no block for {name}", cmd=argv, rc=result.rc,
                                  stdout=result.stdout, stderr=result.stderr)
        return TapState(exists=True, owner_uid=info.st_uid, interface_present=True, up="UP" in status.flags,
                        addresses=tuple(parse_ifconfig(result.stdout).get(name, [])), holder_pid=status.holder_pid)

    def holder(self, name: str) -> int | None:
        """The pid holding /dev/``name`` open (tuntaposx's ``open (pid N)`` line), or None."""
        return self.read(name).holder_pid

    def missing_device(self, name: str) -> HostbridgeError:
        path = self.device(name)
        kind = self._node_kind.get(name, "missing")
        what = f"{path} does not exist" if kind == "missing" else f"{path} is not a character device"
        loaded, details = kext_loaded(self._runner)
        install = (f"Install tuntaposx (Intel Macs only): with the tap_bridge role set tap_bridge_tuntap_pkg to the "
                   f"tuntaposx installer package on the Mac (tuntap_20150118.pkg), or run `sudo installer -pkg "
                   f"tuntap_20150118.pkg -target /`; then `sudo kextload {TUNTAP_KEXT_PATH}`.")
        if loaded is False:
            msg = f"name: {what}: the tuntap kernel extension {TUNTAP_KEXT} is not loaded. {install}"
        elif loaded and int(name[3:]) >= TUNTAPOSX_DEVICES:
            msg = (f"name: {what}, although {TUNTAP_KEXT} is loaded: tuntaposx makes /dev/tap0 to "
                   f"/dev/tap{TUNTAPOSX_DEVICES - 1} only; pick one of those.")
        elif loaded:
            msg = (f"name: {what}, although {TUNTAP_KEXT} is loaded. Reload it (`sudo kextunload -b "
                   f"{TUNTAP_KEXT}`, then `sudo kextload {TUNTAP_KEXT_PATH}`) or reboot.")
        else:
            msg = (f"name: {what}, and whether the tuntap kernel extension {TUNTAP_KEXT} is loaded could not "
                   f"be checked (no kmutil or kextstat answered). {install}")
        return HostbridgeError(msg, field="name", value=name, device=path, kext_loaded=loaded, **details)

    def plan(self, req: Request, current: TapState) -> tuple[list[Step], TapState]:
        name, path = req.name, self.device(req.name)
        steps: list[Step] = []
        if req.state == "absent":
            if not current.exists:
                return [], current  # no kext, no node: nothing to give back
            after = current
            if current.owner_uid != 0:
                steps.append(self._chown_step(path, 0))
                after = dataclasses.replace(after, owner_uid=0)
            present = [a for a in current.addresses if req.address is not None and a.ip == req.address.ip]
            for iface in present:
                # `-alias` is the form ifconfig(8) documents ("Remove the network address specified"); `delete`
                # is only listed as another name for it. The address alone (no prefix) names what to remove.
                steps.append(Step(f"removing {iface} from {name}", ["ifconfig", name, "inet", str(iface.ip), "-alias"]))
            if present:
                after = dataclasses.replace(after, addresses=tuple(a for a in current.addresses if a not in present))
            return steps, after

        if not current.exists:
            raise self.missing_device(name)
        if req.require_interface and not current.interface_present:
            raise HostbridgeError(
                f"{name}: the interface does not exist - no process holds {path} open. hyperkit opens it when "
                f"Docker Desktop starts through the hyperkit shim (tap_bridge role); start or restart Docker "
                f"Desktop, or set require_interface: false to give it the address later.",
                field="require_interface", value=True, interface_present=False)
        uid = wanted_uid(req)
        after = current
        if current.owner_uid != uid:
            steps.append(self._chown_step(path, uid))
            after = dataclasses.replace(after, owner_uid=uid)
        if req.address is not None and current.interface_present:
            if req.address not in current.addresses:
                # Without `alias`, ifconfig replaces the interface's first IPv4 address (SIOCDIFADDR, then
                # SIOCAIFADDR): the tap's host side ends with the one address asked for.
                steps.append(Step(f"setting {req.address} on {name} and bringing it up",
                                  ["ifconfig", name, "inet", str(req.address), "up"]))
                v4 = _ipv4(current.addresses)
                kept = [a for a in current.addresses if a not in v4[:1] and a.ip != req.address.ip]
                after = dataclasses.replace(after, addresses=(req.address, *kept), up=True)
            elif not current.up:
                # The address is there: bring the link up without touching any address.
                steps.append(Step(f"bringing {name} up", ["ifconfig", name, "up"]))
                after = dataclasses.replace(after, up=True)
        return steps, after

    def _chown_step(self, path: str, uid: int) -> Step:
        def call() -> None:
            try:
                self._chown(path, uid, -1)  # the group (wheel) stays
            except OSError as exc:
                raise HostbridgeError(f"Cannot change the owner of {path} to {user_label(uid)}: {exc.strerror}",
                                      path=path) from exc

        return Step(f"changing the owner of {path} to {user_label(uid)}", call=call)


# --- Linux -----------------------------------------------------------------------------------------------
def _iow_t(nr: int) -> int:
    """``_IOW('T', nr, int)``: <asm-generic/ioctl.h> encoding; alpha, mips, powerpc and sparc have 3 direction
    bits with write = 4."""
    machine = platform.machine().lower()
    write = (4 << 29) if machine.startswith(("alpha", "mips", "ppc", "powerpc", "sparc")) else (1 << 30)
    return write | (4 << 16) | (ord("T") << 8) | nr


class TunControl:
    """Changes the owner of an existing TAP device in place, as ``tunctl -u`` does: open /dev/net/tun,
    TUNSETIFF (attach to the device by name, with its own flags), TUNSETOWNER, close. The device is persistent,
    so closing leaves it there with its ifindex, addresses, routes, MTU and bridge membership untouched.

    Why not iproute2: ``ip tuntap add`` on an existing device fails with "ioctl(TUNSETIFF): Device or resource
    busy" (it asks for exclusive creation), and deleting and re-creating the device would drop everything that
    refers to it (routes, bridge port, ifindex) and break a process attached to it for a moment."""

    clone_path = "/dev/net/tun"

    def set_owner(self, name: str, *, flags: int, uid: int) -> None:
        try:
            fd = os.open(self.clone_path, os.O_RDWR | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            raise HostbridgeError(f"Cannot open {self.clone_path} to change the owner of {name}: {exc.strerror}",
                                  path=self.clone_path) from exc
        try:
            ifreq = struct.pack("16sH22x", name.encode("ascii"), flags & _SETIFF_KEEP)
            try:
                fcntl.ioctl(fd, _iow_t(202), ifreq)  # TUNSETIFF
            except OSError as exc:
                hint = (" - a process has it open (a VM?); stop it and run again" if exc.errno == errno.EBUSY
                        else "")
                raise HostbridgeError(f"Cannot attach to {name} to change its owner (TUNSETIFF): "
                                      f"{exc.strerror}{hint}", errno=exc.errno) from exc
            try:
                fcntl.ioctl(fd, _iow_t(204), uid)  # TUNSETOWNER
            except OSError as exc:
                raise HostbridgeError(f"Cannot change the owner of {name} (TUNSETOWNER): {exc.strerror}",
                                      errno=exc.errno) from exc
        finally:
            os.close(fd)


class LinuxTap:
    """Persistent TAP devices with iproute2 (``ip -j`` needs iproute2 4.13 or later) and sysfs."""

    sysfs_net = "/sys/class/net"
    proc = "/proc"

    def __init__(self, runner: Runner, *, tun: TunControl | None = None) -> None:
        self._runner = runner
        self._tun = tun or TunControl()

    def _sysfs(self, name: str, attribute: str) -> str | None:
        try:
            with open(os.path.join(self.sysfs_net, name, attribute), encoding="ascii") as handle:
                return handle.read().strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise HostbridgeError(f"Cannot read {self.sysfs_net}/{name}/{attribute}: {exc.strerror}") from exc

    def holder(self, name: str) -> int | None:
        """A pid in this network namespace holding the TAP device ``name`` open, or None: a ``/dev/net/tun`` fd whose
        fdinfo says ``iff: name`` (drivers/net/tun.c, tun_chr_show_fdinfo). Another namespace's device of the same
        name is not this one."""
        mine = os.readlink(os.path.join(self.proc, "self", "ns", "net"))
        wanted = f"iff:\t{name}"
        for pid in filter(str.isdigit, os.listdir(self.proc)):
            base = os.path.join(self.proc, pid)
            try:
                if os.readlink(os.path.join(base, "ns", "net")) != mine:
                    continue
                fds = os.listdir(os.path.join(base, "fd"))
            except OSError:  # gone, or a kernel thread
                continue
            for fd in fds:
                try:
                    if os.readlink(os.path.join(base, "fd", fd)) != "/dev/net/tun":
                        continue
                    with open(os.path.join(base, "fdinfo", fd), encoding="ascii", errors="replace") as handle:
                        if wanted in handle.read().splitlines():
                            return int(pid)
                except OSError:
                    continue
        return None

    def read(self, name: str) -> TapState:
        if not os.path.isdir(os.path.join(self.sysfs_net, name)):
            return TapState(exists=False)
        flags_text = self._sysfs(name, "tun_flags")
        argv = ["ip", "-d", "-j", "addr", "show", "dev", name]
        result = self._runner.run(argv, what=f"ip addr show dev {name}")
        link = parse_ip_link(result.stdout, name)
        flags = int(flags_text, 16) if flags_text else 0
        if flags_text is None or not flags & IFF_TAP:
            kind = "a TUN device" if flags & IFF_TUN else \
                f"a {(link.get('linkinfo') or {}).get('info_kind') or 'non-tun/tap'} interface"
            raise HostbridgeError(
                f"name: {name!r} exists but is {kind}, not a TAP device; it was left untouched. Remove it or pick "
                f"another name.", field="name", value=name)
        owner_text = self._sysfs(name, "owner")
        owner = int(owner_text) if owner_text not in (None, "", "-1") else None
        return TapState(exists=True, owner_uid=owner, interface_present=True, up="UP" in link.get("flags", []),
                        addresses=tuple(parse_ip_json(result.stdout).get(name, [])), tun_flags=flags)

    def plan(self, req: Request, current: TapState) -> tuple[list[Step], TapState]:
        name = req.name
        if req.state == "absent":
            if not current.exists:
                return [], current
            return [Step(f"deleting {name}", ["ip", "tuntap", "del", "dev", name, "mode", "tap"])], TapState(False)

        uid = wanted_uid(req)
        steps: list[Step] = []
        after = current
        if not current.exists:
            steps.append(Step(f"creating {name} owned by {user_label(uid)}",
                              ["ip", "tuntap", "add", "dev", name, "mode", "tap", "user", str(uid)]))
            after = TapState(exists=True, owner_uid=uid, interface_present=True,
                             tun_flags=IFF_TAP | IFF_NO_PI | IFF_PERSIST)
        elif current.owner_uid != uid:
            flags = current.tun_flags or (IFF_TAP | IFF_NO_PI)
            steps.append(Step(f"changing the owner of {name} to {user_label(uid)}",
                              call=lambda: self._tun.set_owner(name, flags=flags, uid=uid)))
            after = dataclasses.replace(after, owner_uid=uid)
        if req.address is not None:
            want = req.address
            stale = [a for a in after.addresses if a.ip == want.ip and a != want]
            for iface in stale:  # same address, other prefix: `ip addr replace` would add a second entry
                steps.append(Step(f"removing {iface} from {name}", ["ip", "addr", "del", str(iface), "dev", name]))
            if want not in after.addresses:
                steps.append(Step(f"adding {want} to {name}", ["ip", "addr", "replace", str(want), "dev", name]))
                after = dataclasses.replace(
                    after, addresses=(*(a for a in after.addresses if a not in stale), want))
            if not after.up:
                steps.append(Step(f"bringing {name} up", ["ip", "link", "set", "dev", name, "up"]))
                after = dataclasses.replace(after, up=True)
        return steps, after


Backend = t.Union[DarwinTap, LinuxTap]
BACKENDS: dict[str, t.Callable[[Runner], Backend]] = {"Darwin": DarwinTap, "Linux": LinuxTap}


# --- the module ------------------------------------------------------------------------------------------
def validate(params: Params) -> Request:
    """Every option checked before the host is touched; errors name the option and the value."""
    state = params.get("state") or "present"
    name = tap_name(params.get("name"), field="name")
    owner = None
    if params.get("owner") not in (None, ""):
        owner = user_name(params["owner"], field="owner")
    elif state == "present":
        raise bad("owner", params.get("owner"), "is required with state=present (a user name or uid)")
    address = None
    if params.get("address") not in (None, ""):
        value = params["address"]
        if "/" not in str(value):
            raise bad("address", value, "needs a prefix length, such as 10.0.75.1/24")
        iface = host_interface(value, field="address", allow_loopback=False)
        if not isinstance(iface, ipaddress.IPv4Interface):
            raise bad("address", value, "must be an IPv4 address with a prefix length, such as 10.0.75.1/24")
        address = iface
    return Request(name=name, owner=owner, address=address, state=state,
                   require_interface=bool(params.get("require_interface")))


def describe(name: str, device: str, state: TapState) -> str:
    """The diff text: device owner, interface, link state and addresses."""
    if not state.exists:
        return f"device {device}: absent\n"
    lines = [f"device {device}: owner {user_label(state.owner_uid)}"]
    if not state.interface_present:
        lines.append(f"interface {name}: absent")
    else:
        lines.append(f"interface {name}: link {'up' if state.up else 'down'}")
        lines += [f"interface {name}: address {a}" for a in state.addresses if a.version == 4]
    return "".join(f"{line}\n" for line in lines)


# The module's options; bridge_facts validates its desired-state entries with the same spec.
ARGUMENT_SPEC = {
    "name": {"type": "str", "required": True},
    "owner": {"type": "str"},
    "address": {"type": "str"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "require_interface": {"type": "bool", "default": False},
}
ARGUMENT_RULES: dict[str, t.Any] = {"required_if": [("state", "present", ["owner"])]}


def manage(ctx: Context, params: Params, *, backend: Backend | None = None) -> Result:
    """Validate, read once, plan, and (outside check mode) apply. Returns the module result."""
    backend = backend or select_backend(ctx.system, BACKENDS, what="tap_device")(ctx.runner)
    req = validate(params)
    current = backend.read(req.name)
    steps, after = backend.plan(req, current)

    device = backend.device(req.name) if isinstance(backend, DarwinTap) else req.name
    result: dict[str, t.Any] = {
        "changed": bool(steps),
        "name": req.name,
        "owner": owner_name(after.owner_uid) if after.exists else None,
        "address": str(req.address) if req.address is not None and req.address in after.addresses else None,
        "interface_present": after.interface_present,
        "holder_pid": after.holder_pid,
        "actions": [s.what for s in steps],
        "warnings": [],
    }
    if req.state == "present" and req.address is not None and not after.interface_present:
        result["warnings"].append(
            f"{req.name}: the interface does not exist (no process holds {device} open), so {req.address} was not "
            "set; run the module again once hyperkit has opened the device, or set require_interface: true to fail "
            "instead.")
    if ctx.diff_mode:
        result["diff"] = {"before_header": device, "after_header": device,
                          "before": describe(req.name, device, current), "after": describe(req.name, device, after)}
    if not ctx.check_mode:
        _apply(ctx.runner, steps)
    return result


def _apply(runner: Runner, steps: list[Step]) -> None:
    done: list[str] = []
    try:
        for step in steps:
            if step.argv is not None:
                runner.run(step.argv, what=step.what)
            elif step.call is not None:
                step.call()
            done.append(step.what)
    except HostbridgeError as exc:
        exc.details.update(changed=bool(done), actions=done)
        raise
