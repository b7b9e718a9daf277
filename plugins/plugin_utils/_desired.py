# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What each part's tasks would apply, and every bad value of its input, from its role variables.

The one source of both: the roles' variables (``loopback__desired``, ``tap_bridge__desired``, ``<role>__problems``)
and the bridge role's bridge_facts call take them from here, through the ``desired_state`` and ``input_problems``
lookups. Python rather than Jinja because a re-run with nothing to do renders them on every host:
as role templates they cost the controller about 0.1 s a host (docs/performance.md).

Each entry is what bridge_facts compares (``plugins/module_utils/_plan.py``): its kind, its strategy, the platforms
it applies on (none: all) and the module's options, a null option being one left out. ``get(name)`` is a role
variable's value, rendered.
"""

from __future__ import annotations

import hashlib
import typing as t

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.dockermac.hostbridge.plugins.filter.merge_services import merge_services
from ansible_collections.dockermac.hostbridge.plugins.module_utils import _validation

Get = t.Callable[[str], t.Any]
Entry = t.Dict[str, t.Any]

# The command of the container that keeps the VM's NIC up (tap_bridge__vm_link_name). It sets the link up, then
# waits on `ip monitor link` and sets it up again whenever it goes down (event-driven, no polling); with an `ip` that
# has no `monitor` it sets the link up once per boot and sleeps. "$0" is the interface.
VM_LINK_SCRIPT = (
    "up() { ip -o link show dev \"$0\" 2>/dev/null | grep -q '[<,]UP[,>]' || ip link set dev \"$0\" up; }; "
    "up; ip monitor link 2>/dev/null | while read -r _event; do up; done; "
    "exec sleep 2147483647"
)
ROLE_LABEL = "com.dockermac.hostbridge.role"


def _unset_to_none(value: t.Any) -> t.Any:
    """An empty value is an option left out (Jinja's ``default(none, true)``)."""
    return value if value else None


def _fold(value: t.Any) -> t.Any:
    """Text compared without case, as Ansible's ``unique`` and Jinja's ``groupby`` compare it."""
    return value.lower() if isinstance(value, str) else value


def _unique(items: t.Iterable[t.Any]) -> list[t.Any]:
    """Each item once, the first spelling kept (``unique``: ``Web.test`` and ``web.test`` are one name)."""
    seen: dict[t.Any, t.Any] = {}
    for item in items:
        seen.setdefault(_fold(item), item)
    return list(seen.values())


# -- the loopback services -------------------------------------------------------------------------------------
def loopback_services(get: Get) -> list[t.Mapping[str, t.Any]]:
    """This host's services: the team's list with the host's or group's additions and removals."""
    return merge_services(get("loopback_services"), get("loopback_services_extra"), get("loopback_services_drop"))


def loopback_addresses(services: t.Sequence[t.Mapping[str, t.Any]]) -> list[str]:
    """``ip`` or ``ip/prefix`` of every service, each once."""
    return _unique(f"{service.get('ip')}" + (f"/{service['prefix']}" if service.get("prefix") is not None else "")
                   for service in services)


def loopback_entries(services: t.Sequence[t.Mapping[str, t.Any]]) -> list[dict[str, t.Any]]:
    """One hosts entry per address, sorted by address, with the names (and aliases) of every service on it; as
    Jinja's ``groupby`` made them: addresses sorted and grouped without case, each group under its first spelling."""
    groups: dict[t.Any, tuple[t.Any, list[t.Any]]] = {}  # unchecked values here: the input check names what is wrong
    for service in sorted(services, key=lambda s: str(_fold(s.get("ip")))):
        ip = service.get("ip")
        groups.setdefault(_fold(ip), (ip, []))[1].extend([service.get("name"), *(service.get("aliases") or [])])
    return [{"ip": ip, "names": _unique(names)} for ip, names in groups.values()]


def loopback(get: Get) -> dict[str, Entry]:
    services = loopback_services(get)
    state = get("loopback_state")
    return {
        "lo0_alias": {"kind": "lo0_alias", "strategy": "loopback", "params": {
            "addresses": loopback_addresses(services),
            "interface": _unset_to_none(get("loopback_interface")),
            "exclusive_within": _unset_to_none(get("loopback_exclusive_within")),
            "persistent": get("loopback_persistent"),
            "persistent_label": get("loopback_persistent_label"),
            "state": state,
        }},
        "etc_hosts_entry": {"kind": "etc_hosts_entry", "strategy": "loopback", "params": {
            "path": get("loopback_hosts_path"),
            "entries": loopback_entries(services),
            "exclusive": get("loopback_hosts_exclusive") or state == "absent",
            "marker": get("loopback_hosts_marker"),
            "backup": get("loopback_hosts_backup"),
            "flush_cache": get("loopback_flush_cache"),
            "on_conflict": get("loopback_hosts_on_conflict"),
            "unsafe_writes": get("loopback_hosts_unsafe_writes"),
            "state": state,
        }},
    }


def loopback_problems(get: Get) -> list[str]:
    """Every bad value, naming the role variable: the names and the marker, which only etc_hosts_entry reads, must
    be refused before lo0_alias changes anything. A service without a name or an address is a bad value of that
    field."""
    values: dict[str, t.Any] = {}
    rules: dict[str, t.Any] = {}
    for list_name in ("loopback_services", "loopback_services_extra"):
        for index, item in enumerate(get(list_name) or []):
            at = f"{list_name}[{index}]"
            service = item if isinstance(item, t.Mapping) else {}
            values.update({f"{at}.name": service.get("name"), f"{at}.ip": service.get("ip"),
                           f"{at}.aliases": service.get("aliases", [])})
            rules.update({f"{at}.name": "hostname", f"{at}.ip": "ip_address", f"{at}.aliases": "hostname[]"})
    values.update({"loopback_services_drop": get("loopback_services_drop") or [],
                   "loopback_hosts_marker": get("loopback_hosts_marker")})
    rules.update({"loopback_services_drop": "hostname[]", "loopback_hosts_marker": "hosts_marker"})
    return _validation.invalid_fields(values, rules)


# -- the tap bridge ------------------------------------------------------------------------------------------------
def tap_bridge_job_platforms(get: Get) -> list[str]:
    """Where the job that runs the re-apply program is installed: as tap_bridge_reapply_persistent says, or when it
    is unset on macOS (launchd) and on Linux where systemd runs (docs/roles.md, "Persistence rule")."""
    persistent = get("tap_bridge_reapply_persistent")
    if persistent is None:
        return ["darwin", "systemd"]
    return ["darwin", "linux"] if boolean(persistent, strict=False) else []


def tap_bridge(get: Get, reapply_program: t.Callable[[], str]) -> dict[str, Entry]:
    """The host side (tap device, shim, re-apply program and its job) and, when managed, the Docker side (network,
    VM link container). It is rendered before the facts exist: a null owner or user is the console user there, and
    a null app_path the bundle bridge_facts finds. ``reapply_program()`` is the program as the role's template task
    writes it."""
    device, path, label = get("tap_bridge_device"), get("tap_bridge_reapply_path"), get("tap_bridge_reapply_label")
    app_path, user = _unset_to_none(get("tap_bridge_app_path")), _unset_to_none(get("tap_bridge_user"))
    address, socket = get("tap_bridge_host_address"), _unset_to_none(get("tap_bridge_docker_socket"))
    entries: dict[str, Entry] = {
        "tap_device": {"kind": "tap_device", "strategy": "tap", "params": {
            "name": device, "owner": user, "address": address,
            "require_interface": get("tap_bridge_require_interface"), "state": "present",
        }},
        # As tap_bridge__manage_shim: on Linux only for a given bundle (the simulation).
        "hyperkit_shim": {"kind": "hyperkit_shim", "strategy": "tap", "platforms": None if app_path else ["darwin"],
                          "params": {
            "app_path": app_path, "user": user, "tap_device": device, "slot": get("tap_bridge_shim_slot"),
            "backup": get("tap_bridge_shim_backup"), "state": "present",
        }},
        "reapply_program": {"kind": "file", "strategy": "tap", "params": {
            "path": path, "mode": "0755",
            "sha1": hashlib.sha1(reapply_program().encode("utf-8"), usedforsecurity=False).hexdigest(),
        }},
        # The boot_job task's options: bridge_facts runs the module's own logic in check mode. /bin/sh runs the
        # program as root: boot_job refuses it unless it and every directory above it are root's.
        "boot_job": {"kind": "boot_job", "strategy": "tap", "platforms": tap_bridge_job_platforms(get), "params": {
            "name": label, "program_arguments": ["/bin/sh", path], "trusted_paths": [path],
            "description": f"dockermac.hostbridge: re-apply the address of {device}",
            # an integer, or its text: tap_bridge_problems (integer_at_least) refuses anything else first
            "start_interval": int(get("tap_bridge_reapply_interval")),
            "standard_error_path": f"/var/log/{label}.log", "state": "present",
        }},
    }
    # What the community.docker tasks apply, compared through the engine's API on the same socket (null: the socket
    # the facts found).
    vm_interface = get("tap_bridge_vm_interface")
    if boolean(get("tap_bridge_network_manage"), strict=False):
        entries["network"] = {"kind": "docker_network", "strategy": "tap", "params": {
            "name": get("tap_bridge_network_name"), "driver": "macvlan", "driver_options": {"parent": vm_interface},
            "subnet": get("tap_bridge_network_subnet"), "gateway": get("tap_bridge__gateway"),
            "iprange": get("tap_bridge_network_ip_range"),
            "labels": {**(get("tap_bridge_network_labels") or {}), ROLE_LABEL: "tap_bridge"},
            "socket": socket,
        }}
    if boolean(get("tap_bridge_vm_link_manage"), strict=False):
        entries["vm_link"] = {"kind": "docker_container", "strategy": "tap", "params": {
            "name": get("tap_bridge__vm_link_name"), "image": get("tap_bridge_vm_link_image"),
            "command": ["/bin/sh", "-c", VM_LINK_SCRIPT, vm_interface],
            "labels": {ROLE_LABEL: "tap_bridge"}, "network_mode": "host",
            # NET_ADMIN is all `ip link set up` needs in the VM's namespace (full --privileged fails where the
            # engine itself runs with a reduced capability set).
            "capabilities": ["NET_ADMIN"],
            # An init as PID 1 passes the engine's SIGTERM on, so the VM shuts down without waiting for a kill.
            "init": True, "restart_policy": "unless-stopped", "socket": socket,
        }}
    return entries


def tap_bridge_problems(get: Get) -> list[str]:
    """Every bad value templated into the re-apply program and the units."""
    fields = {
        "tap_bridge_device": "tap_name", "tap_bridge_host_address": "ipv4_cidr",
        "tap_bridge_network_subnet": "ipv4_cidr", "tap_bridge_network_ip_range": "ipv4_cidr",
        "tap_bridge_reapply_label": "launchd_label", "tap_bridge_reapply_path": "safe_path",
        "tap_bridge_vm_interface": "interface_name",
        "tap_bridge_reapply_interval": {"rule": "integer_at_least", "minimum": 10},
    }
    return _validation.invalid_fields({name: get(name) for name in fields}, fields)


# The parts whose input is checked here (the routed role's formula and tap are checked by the comparison itself,
# pending with the reason, and by the role before brew runs).
PROBLEMS: dict[str, t.Callable[[Get], list[str]]] = {"loopback": loopback_problems, "tap_bridge": tap_bridge_problems}


def problems(get: Get, parts: t.Iterable[str]) -> list[str]:
    """One message per part with bad values, ``<part>: <problem>; <problem>``; parts without a check pass."""
    messages = []
    for part in parts:
        found = PROBLEMS[part](get) if part in PROBLEMS else []
        if found:
            messages.append(f"{part}: {'; '.join(found)}")
    return messages


# -- the routed strategy -------------------------------------------------------------------------------------------
def routed(get: Get) -> dict[str, Entry]:
    """What the routed role's macOS tasks would apply. The record of what this collection installed (routed.json)
    has no entry: it changes only in a run that taps, installs or starts, and those are entries."""
    def entry(kind: str, params: dict[str, t.Any]) -> Entry:
        return {"kind": kind, "strategy": "routed", "platforms": ["darwin"], "params": params}

    formula, mode, networks = get("routed_formula"), get("routed_direct_routing"), get("routed_networks") or []
    socket = _unset_to_none(get("routed_docker_socket"))
    entries = {"brew_tap": entry("homebrew_tap", {"tap": get("routed_tap")}),
               "brew_formula": entry("homebrew_formula", {"formula": formula}),
               "brew_service": entry("homebrew_service", {"formula": formula})}
    # Docker Engine 28.2 added both escape hatches: below it the tasks refuse (28.0, 28.1) or say (before 28.0).
    if mode == "daemon_option" or (mode == "trusted_interfaces" and networks):
        entries["engine_version"] = entry("docker_engine", {"version_at_least": "28.2", "socket": socket})
    if mode == "trusted_interfaces" and networks:
        entries["trusted_networks"] = entry("docker_networks", {
            "networks": networks, "driver": "bridge",
            "driver_options": {get("routed__option"): get("routed__trusted")}, "socket": socket})
    if mode == "daemon_option":
        entries["daemon_json"] = entry("daemon_json_key", {
            "path": _unset_to_none(get("routed_daemon_json")), "key": "allow-direct-routing", "value": True})
    return entries
