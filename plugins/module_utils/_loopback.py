# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Loopback aliases: read the interface once, plan, then add/remove only what differs.

``DarwinLoopback`` parses ``ifconfig`` and changes addresses with ``ifconfig <if> alias``/``-alias``;
``LinuxLoopback`` reads ``ip -j addr show`` and changes addresses with ``ip addr add``/``del``.
``manage()`` is the whole of the ``lo0_alias`` module behind its argument parsing.
"""

from __future__ import annotations

import ipaddress
import shlex
import typing as t

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _trust
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.plugins.module_utils._launchd import LaunchDaemon, validate_label
from ansible_collections.dockermac.hostbridge.plugins.module_utils._module import Context, select_backend
from ansible_collections.dockermac.hostbridge.plugins.module_utils._netinfo import parse_ifconfig, parse_ip_json
from ansible_collections.dockermac.hostbridge.plugins.module_utils._systemd import (
    SystemdUnit,
    render_oneshot,
    systemd_running,
)
from ansible_collections.dockermac.hostbridge.plugins.module_utils._types import Module, Params, Result, Runner
from ansible_collections.dockermac.hostbridge.plugins.module_utils._validation import (
    IPInterface,
    bad,
    host_interface,
    network,
)
from ansible_collections.dockermac.hostbridge.plugins.module_utils._validation import (
    interface_name as _interface_name,
)

DEFAULT_LABEL = "com.dockermac.hostbridge.loopback"

# The module's options; bridge_facts validates its desired-state entries with the same spec.
ARGUMENT_SPEC = {
    "addresses": {"type": "list", "elements": "str", "required": True},
    "interface": {"type": "str"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "exclusive_within": {"type": "str"},
    "persistent": {"type": "bool"},
    "persistent_label": {"type": "str", "default": DEFAULT_LABEL},
}

# The loopback's own addresses: never listed, never removed by exclusive_within.
PROTECTED = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))


def protected(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """127.0.0.1, ::1 and IPv6 link-local addresses (``fe80::1%lo0``) belong to the system."""
    return address in PROTECTED or (address.version == 6 and address.is_link_local)


def interface_name(value: t.Any, *, field: str = "interface") -> str:
    return _interface_name(value, field=field, allow_colon=True)


def _sort_key(iface: IPInterface) -> tuple[int, int, int]:
    return (iface.version, int(iface.ip), iface.network.prefixlen)


def as_text(addresses: t.Iterable[IPInterface]) -> list[str]:
    return [str(a) for a in addresses]


# --- backends --------------------------------------------------------------------------------------------
class DarwinLoopback:
    """macOS: ``ifconfig``. Syntax per Apple's ifconfig(8): ``ifconfig interface [address_family] [address]
    [parameters]`` with ``alias``/``-alias`` and, for inet6, ``prefixlen len``."""

    default_interface = "lo0"

    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    def read(self, interface: str) -> list[IPInterface]:
        result = self._runner.run(["ifconfig", interface], check=False)
        if result.rc != 0:
            if "does not exist" in (result.stderr + result.stdout):
                raise bad("interface", interface, "does not exist on this host")
            self._runner.run(["ifconfig", interface], what=f"ifconfig {interface}")  # raises with details
        return parse_ifconfig(result.stdout).get(interface, [])

    def read_all(self) -> dict[str, list[IPInterface]]:
        return parse_ifconfig(self._runner.run(["ifconfig", "-a"], what="ifconfig -a").stdout)

    def refuse_unaddable(self, interface: str, adding: list[IPInterface]) -> None:
        """Nothing to check up front on macOS (lo0 always has IPv6)."""

    def add_argv(self, interface: str, iface: IPInterface) -> list[str]:
        if iface.version == 4:
            return ["ifconfig", interface, "alias", str(iface)]
        return ["ifconfig", interface, "inet6", str(iface.ip), "prefixlen", str(iface.network.prefixlen), "alias"]

    def remove_argv(self, interface: str, iface: IPInterface) -> list[str]:
        if iface.version == 4:
            return ["ifconfig", interface, "-alias", str(iface.ip)]
        return ["ifconfig", interface, "inet6", str(iface.ip), "-alias"]

    def boot_argv(self, interface: str, iface: IPInterface) -> list[str]:
        argv = self.add_argv(interface, iface)
        return [self._runner.which(argv[0]) or argv[0], *argv[1:]]


class LinuxLoopback:
    """Linux: iproute2 (``ip -j`` JSON needs iproute2 4.13 or later)."""

    default_interface = "lo"
    proc_ipv6_conf = "/proc/sys/net/ipv6/conf"

    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    def read(self, interface: str) -> list[IPInterface]:
        result = self._runner.run(["ip", "-j", "addr", "show", "dev", interface], check=False)
        if result.rc != 0:
            if "does not exist" in (result.stderr + result.stdout):
                raise bad("interface", interface, "does not exist on this host")
            self._runner.run(["ip", "-j", "addr", "show", "dev", interface], what=f"ip addr show dev {interface}")
        return parse_ip_json(result.stdout).get(interface, [])

    def read_all(self) -> dict[str, list[IPInterface]]:
        return parse_ip_json(self._runner.run(["ip", "-j", "addr", "show"], what="ip addr show").stdout)

    def refuse_unaddable(self, interface: str, adding: list[IPInterface]) -> None:
        """IPv6 switched off on the interface (Docker containers by default) fails before any change."""
        v6 = [a for a in adding if a.version == 6]
        if not v6:
            return
        try:
            with open(f"{self.proc_ipv6_conf}/{interface}/disable_ipv6", encoding="ascii") as handle:
                disabled = handle.read().strip() == "1"
        except OSError:
            return  # unknown: let `ip` speak
        if disabled:
            raise HostbridgeError(
                f"addresses: IPv6 is disabled on {interface} (net.ipv6.conf.{interface}.disable_ipv6=1); cannot add "
                f"{', '.join(as_text(v6))}. Enable IPv6 there or list IPv4 addresses only.",
                field="addresses", value=as_text(v6))

    def add_argv(self, interface: str, iface: IPInterface) -> list[str]:
        return ["ip", "addr", "add", str(iface), "dev", interface]

    def remove_argv(self, interface: str, iface: IPInterface) -> list[str]:
        return ["ip", "addr", "del", str(iface), "dev", interface]

    def boot_argv(self, interface: str, iface: IPInterface) -> list[str]:
        return [self._runner.which("ip") or "ip", "addr", "replace", str(iface), "dev", interface]


Backend = t.Union[DarwinLoopback, LinuxLoopback]
BACKENDS: dict[str, type[DarwinLoopback] | type[LinuxLoopback]] = {"Darwin": DarwinLoopback, "Linux": LinuxLoopback}


# --- planning --------------------------------------------------------------------------------------------
class Plan(t.NamedTuple):
    before: list[IPInterface]  # every address on the interface now
    remove: list[IPInterface]
    add: list[IPInterface]
    after: list[IPInterface]  # every address on the interface afterwards
    managed: list[IPInterface]  # the listed addresses present afterwards


def desired_addresses(values: t.Sequence[t.Any], *, field: str = "addresses") -> list[IPInterface]:
    """Validated, de-duplicated addresses; one address listed with two prefixes is an error."""
    seen: dict[t.Any, IPInterface] = {}
    for index, value in enumerate(values):
        iface = host_interface(value, field=f"{field}[{index}]")
        if iface.ip in PROTECTED:
            raise bad(f"{field}[{index}]", value, "is the loopback's own address; it is never managed")
        other = seen.get(iface.ip)
        if other is not None and other != iface:
            raise bad(f"{field}[{index}]", value, f"names {iface.ip} again, already listed as {other}")
        seen[iface.ip] = iface
    return list(seen.values())


def compute_plan(*, current: list[IPInterface], desired: list[IPInterface], state: str,
                 exclusive_within: ipaddress.IPv4Network | ipaddress.IPv6Network | None) -> Plan:
    remove: list[IPInterface] = []
    add: list[IPInterface] = []
    wanted_ips = {d.ip for d in desired}
    if state == "present":
        for want in desired:
            same_ip = [c for c in current if c.ip == want.ip]
            if want in same_ip:
                remove += [c for c in same_ip if c != want]  # (only Linux can hold one IP twice)
                continue
            remove += same_ip  # present with another prefix: corrected (remove, then add)
            add.append(want)
        if exclusive_within is not None:
            remove += [c for c in current
                       if c.ip not in wanted_ips and c.version == exclusive_within.version
                       and c.ip in exclusive_within and not protected(c.ip) and c not in remove]
        managed = list(desired)
    else:
        remove = [c for c in current if c.ip in wanted_ips]
        managed = []
    after = [c for c in current if c not in remove] + add
    return Plan(before=list(current), remove=remove, add=add, after=after, managed=managed)


# --- persistence -----------------------------------------------------------------------------------------
class _Persistence:
    """The boot-time job that re-adds the aliases; ``plan*`` decide, ``apply`` acts."""

    path: str

    def __init__(self, *, label: str) -> None:
        self.label = label
        self._plan: t.Any = None

    def require_trusted(self, commands: list[list[str]]) -> None:
        """The job runs these programs as root at every boot: each found one must be root's alone up to / (_trust;
        a bare name is looked up in the service manager's own PATH of system directories)."""
        _trust.require([argv[0] for argv in commands if argv[0].startswith("/")],
                       what=f"lo0_alias persistent job {self.label}")

    def diff(self) -> dict[str, str]:
        return {
            "before_header": self.path, "after_header": self.path,
            "before": (self._plan.before or b"").decode("utf-8", "replace"),
            "after": (self._plan.after or b"").decode("utf-8", "replace"),
        }


class LaunchdPersistence(_Persistence):
    """macOS: a LaunchDaemon running ``/bin/sh -c 'ifconfig ...; ifconfig ...'`` at load (boot)."""

    def __init__(self, *, runner: Runner, module: Module, label: str) -> None:
        super().__init__(label=label)
        self._daemon = LaunchDaemon(runner, module)
        self.path = self._daemon.path(label)

    def plan(self, *, backend: Backend, interface: str, addresses: list[IPInterface]) -> bool:
        if not addresses:
            return self.plan_remove()
        # Every word is a validated address, prefix or interface name; quoted all the same.
        commands = [backend.boot_argv(interface, a) for a in addresses]
        self.require_trusted([["/bin/sh"], *commands])
        script = "; ".join(shlex.join(argv) for argv in commands)
        self._plan = self._daemon.plan_ensure(label=self.label, program_arguments=["/bin/sh", "-c", script],
                                              run_at_load=True)
        return bool(self._plan.changed)

    def plan_remove(self) -> bool:
        self._plan = self._daemon.plan_remove(self.label)
        return bool(self._plan.changed)

    def apply(self) -> None:
        self._daemon.apply(self._plan)


class SystemdPersistence(_Persistence):
    """Linux: an enabled oneshot unit with one ``ip addr replace`` per address."""

    def __init__(self, *, runner: Runner, module: Module, label: str) -> None:
        super().__init__(label=label)
        if not systemd_running():
            raise HostbridgeError("persistent: persistence needs systemd or launchd; not available on this "
                                  "host (set persistent: false)", field="persistent", value=True)
        self._units = SystemdUnit(runner, module)
        self._unit = f"{label}.service"
        self.path = self._units.path(self._unit)

    def plan(self, *, backend: Backend, interface: str, addresses: list[IPInterface]) -> bool:
        if not addresses:
            return self.plan_remove()
        commands = [backend.boot_argv(interface, a) for a in addresses]
        self.require_trusted(commands)
        content = render_oneshot(
            description=f"dockermac.hostbridge loopback aliases on {interface}",
            commands=commands,
            header="Managed by the dockermac.hostbridge.lo0_alias Ansible module; edits are overwritten.")
        self._plan = self._units.plan_ensure(self._unit, content)
        return bool(self._plan.changed)

    def plan_remove(self) -> bool:
        self._plan = self._units.plan_remove(self._unit)
        return bool(self._plan.changed)

    def apply(self) -> None:
        self._units.apply(self._plan)


Persistence = t.Union[LaunchdPersistence, SystemdPersistence]
PERSISTENCE: dict[str, type[LaunchdPersistence] | type[SystemdPersistence]] = {
    "Darwin": LaunchdPersistence, "Linux": SystemdPersistence}


# Whether the platform has a service manager to run a boot job: launchd always, systemd when it runs.
BOOT_JOBS_POSSIBLE: dict[str, t.Callable[[], bool]] = {"Darwin": lambda: True, "Linux": systemd_running}


def make_persistence(ctx: Context, *, label: str) -> Persistence:
    factory = select_backend(ctx.system, PERSISTENCE, what="lo0_alias")
    return factory(runner=ctx.runner, module=ctx.module, label=label)


# --- the module ------------------------------------------------------------------------------------------
def _listing(interface: str, addresses: t.Iterable[IPInterface]) -> str:
    return "".join(f"{interface} {a}\n" for a in sorted(addresses, key=_sort_key))


class Request(t.NamedTuple):
    interface: str
    desired: list[IPInterface]
    state: str
    within: ipaddress.IPv4Network | ipaddress.IPv6Network | None
    persistent: bool
    label: str


def validate(params: Params, *, default_interface: str, system: str) -> Request:
    """Every option checked before the host is touched; errors name the option and the value."""
    persistent = params.get("persistent")
    if persistent is None:  # auto: a boot job wherever the platform has a service manager to run it
        persistent = select_backend(system, BOOT_JOBS_POSSIBLE, what="lo0_alias")()
    within = None
    if params.get("exclusive_within"):
        within = network(params["exclusive_within"], field="exclusive_within")
        if within.prefixlen == 0:
            raise bad("exclusive_within", params["exclusive_within"], "covers every address; name a smaller network")
    return Request(
        interface=interface_name(params.get("interface") or default_interface),
        desired=desired_addresses(params.get("addresses") or []),
        state=params.get("state") or "present",
        within=within,
        persistent=bool(persistent),
        label=validate_label(params.get("persistent_label") or DEFAULT_LABEL, field="persistent_label"),
    )


def _refuse_addresses_elsewhere(backend: Backend, interface: str, adding: list[IPInterface]) -> None:
    """An address to add that another interface holds is an error (macOS would say "File exists")."""
    elsewhere: dict[t.Any, str] = {}
    for name, addresses in backend.read_all().items():
        if name != interface:
            for a in addresses:
                elsewhere.setdefault(a.ip, name)
    clashes = [a for a in adding if a.ip in elsewhere]
    if clashes:
        where = "; ".join(f"{a.ip} is on {elsewhere[a.ip]}" for a in clashes)
        raise HostbridgeError(
            f"addresses: cannot add to {interface}: {where}. Remove it there first or pick another address.",
            field="addresses", value=as_text(clashes))


def manage(ctx: Context, params: Params) -> Result:
    """Validate, read once, plan, and (outside check mode) apply. Returns the module result."""
    backend = select_backend(ctx.system, BACKENDS, what="lo0_alias")(ctx.runner)
    req = validate(params, default_interface=backend.default_interface, system=ctx.system)
    persistence = make_persistence(ctx, label=req.label) if req.persistent else None

    current = backend.read(req.interface)
    plan = compute_plan(current=current, desired=req.desired, state=req.state,
                        exclusive_within=req.within if req.state == "present" else None)
    if plan.add:
        backend.refuse_unaddable(req.interface, plan.add)
        _refuse_addresses_elsewhere(backend, req.interface, plan.add)
    persist_changed = False
    if persistence is not None:
        if req.state == "present":
            persist_changed = persistence.plan(backend=backend, interface=req.interface, addresses=req.desired)
        else:
            persist_changed = persistence.plan_remove()

    result: dict[str, t.Any] = {
        "changed": bool(plan.add or plan.remove or persist_changed),
        "interface": req.interface,
        "addresses": as_text(plan.managed),
        "added": as_text(plan.add),
        "removed": as_text(plan.remove),
        "persistent_path": persistence.path if persistence is not None else None,
        "warnings": [],
    }
    if ctx.diff_mode:
        header = f"{req.interface} addresses"
        diffs = [{"before_header": header, "after_header": header,
                  "before": _listing(req.interface, plan.before), "after": _listing(req.interface, plan.after)}]
        if persist_changed and persistence is not None:
            diffs.append(persistence.diff())
        result["diff"] = diffs
    if not ctx.check_mode:
        _apply(runner=ctx.runner, backend=backend, interface=req.interface, plan=plan,
               persistence=persistence if persist_changed else None)
    return result


def _apply(*, runner: Runner, backend: Backend, interface: str, plan: Plan, persistence: Persistence | None) -> None:
    """Removals first (a prefix correction removes before it adds), then additions, then the boot job."""
    done_add: list[str] = []
    done_remove: list[str] = []
    try:
        for iface in plan.remove:
            runner.run(backend.remove_argv(interface, iface), what=f"removing {iface} from {interface}")
            done_remove.append(str(iface))
        for iface in plan.add:
            runner.run(backend.add_argv(interface, iface), what=f"adding {iface} to {interface}")
            done_add.append(str(iface))
        if persistence is not None:
            persistence.apply()
    except HostbridgeError as exc:
        exc.details.update(interface=interface, added=done_add, removed=done_remove,
                           changed=bool(done_add or done_remove))
        raise
