# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Comparing a desired state with the host inside the ``bridge_facts`` process.

A re-run with nothing to do should cost one remote execution, not one per module. The roles send what their
module tasks would apply; each entry runs that module's own ``manage()`` in check mode, so "pending" is exactly
the ``changed`` the task would report (a ``boot_job`` entry: its plist or units, and whether the job is loaded, or
the timer enabled and active). Files the roles render on the controller are compared by checksum, mode and owner;
the Docker network and container the roles' community.docker tasks manage are read from the engine through the
same socket (``_docker_api``), and compared on the options those tasks give. The routed strategy's Homebrew tap,
formula and root service are read as Homebrew reads them (``_homebrew``), Docker Desktop's ``daemon.json`` as JSON,
and the engine's version where a role's rule depends on it.
Nothing here changes the host. A check that cannot decide (an error, a permission, a path relative to a home
directory) or that has something to say (a warning) is "pending": the module task then runs and reports for
itself, as the user it runs as.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import typing as t

from ansible.module_utils.basic import FILE_COMMON_ARGUMENTS
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.dockermac.hostbridge.plugins.module_utils import (
    _bootjob,
    _docker_api,
    _homebrew,
    _hosts,
    _hyperkit,
    _loopback,
    _tap,
)
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.plugins.module_utils._module import Context, Manage
from ansible_collections.dockermac.hostbridge.plugins.module_utils._types import Module, Params, Result, Runner
from ansible_collections.dockermac.hostbridge.plugins.module_utils._validation import bad

FILE_SPEC = {
    "path": {"type": "path", "required": True},
    "sha1": {"type": "str", "required": True},
    "mode": {"type": "str", "required": True},
    "uid": {"type": "int", "default": 0},
    "gid": {"type": "int", "default": 0},
}
# The options of the roles' community.docker tasks that are compared; socket null: the one the facts found.
DOCKER_NETWORK_SPEC = {
    "name": {"type": "str", "required": True},
    "driver": {"type": "str", "required": True},
    "driver_options": {"type": "dict", "default": {}},
    "subnet": {"type": "str", "required": True},
    "gateway": {"type": "str"},
    "iprange": {"type": "str"},
    "labels": {"type": "dict", "default": {}},
    "socket": {"type": "str"},
}
DOCKER_CONTAINER_SPEC = {
    "name": {"type": "str", "required": True},
    "image": {"type": "str", "required": True},
    "command": {"type": "list", "elements": "str", "required": True},
    "labels": {"type": "dict", "default": {}},
    "network_mode": {"type": "str", "required": True},
    "capabilities": {"type": "list", "elements": "str", "default": []},
    "init": {"type": "bool", "default": False},
    "restart_policy": {"type": "str", "required": True},
    "socket": {"type": "str"},
}
# The routed role's parts (the desired_state lookup's routed part, plugins/plugin_utils/_desired.py). brew null:
# the one the facts found.
HOMEBREW_TAP_SPEC = {"tap": {"type": "str", "required": True}, "brew": {"type": "path"}}
HOMEBREW_FORMULA_SPEC = {"formula": {"type": "str", "required": True}, "brew": {"type": "path"}}
HOMEBREW_SERVICE_SPEC = {"formula": {"type": "str", "required": True}}
# path null: Docker Desktop's engine configuration of the console user (~/.docker/daemon.json).
DAEMON_JSON_KEY_SPEC = {"path": {"type": "path"}, "key": {"type": "str", "required": True},
                        "value": {"type": "raw", "required": True}}
DOCKER_ENGINE_SPEC = {"version_at_least": {"type": "str", "required": True}, "socket": {"type": "str"}}
DOCKER_NETWORKS_SPEC = {
    "networks": {"type": "list", "elements": "dict", "required": True, "options": {
        "name": {"type": "str", "required": True}, "subnet": {"type": "str", "required": True},
        "gateway": {"type": "str"}}},
    "driver": {"type": "str", "required": True},
    "driver_options": {"type": "dict", "default": {}},
    "socket": {"type": "str"},
}


STRATEGIES = frozenset(("loopback", "tap", "routed"))


class PlanContext(t.NamedTuple):
    """What a check needs from the ``bridge_facts`` run: the host, the command runner, the console user, and the
    strategies possible here."""

    system: str
    runner: Runner
    module: Module
    console_user: str | None
    possible: frozenset[str] = STRATEGIES
    docker_socket: str | None = None
    systemd: bool = False  # systemd runs here (Linux): an entry for platform "systemd" applies
    facts: t.Mapping[str, t.Any] | None = None  # the facts just gathered: Homebrew's path, the console user's home


PLATFORMS = frozenset(("darwin", "linux", "systemd"))


# The collection's modules, each compared by its own manage() in check mode.
MODULES: dict[str, Manage] = {
    "lo0_alias": _loopback.manage,
    "etc_hosts_entry": _hosts.manage,
    "tap_device": _tap.manage,
    "hyperkit_shim": _hyperkit.manage,
    "boot_job": _bootjob.manage,
}


def _run_module(kind: str, params: Params, ctx: PlanContext) -> Result:
    return MODULES[kind](Context(ctx.system, ctx.runner, ctx.module, check_mode=True, diff_mode=False), params)


def _check_file(params: Params, ctx: PlanContext) -> list[str]:
    """What differs between the file at ``path`` and the wanted content checksum, mode and owner."""
    path = params["path"]
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return [f"{path} does not exist"]
    if not stat.S_ISREG(info.st_mode):
        return [f"{path} is not a regular file"]
    reasons = []
    digest = hashlib.sha1(usedforsecurity=False)  # the checksum Ansible's stat and template report
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(65536), b""):
            digest.update(block)
    if digest.hexdigest() != params["sha1"].lower():
        reasons.append(f"{path}: content differs")
    if stat.S_IMODE(info.st_mode) != int(params["mode"], 8):
        reasons.append(f"{path}: mode {stat.S_IMODE(info.st_mode):04o}, wanted {params['mode']}")
    if (info.st_uid, info.st_gid) != (params["uid"], params["gid"]):
        reasons.append(f"{path}: owner {info.st_uid}:{info.st_gid}, wanted {params['uid']}:{params['gid']}")
    return reasons


def _engine(params: Params, ctx: PlanContext) -> str:
    socket_path = params.get("socket") or ctx.docker_socket
    if not socket_path:
        raise _docker_api.EngineError("no Docker socket was found")
    return str(socket_path).removeprefix("unix://")


def _unequal(what: str, have: t.Any, want: t.Any) -> list[str]:
    return [] if have == want else [f"{what} is {have!r}, wanted {want!r}"]


def _missing_labels(have: t.Any, want: t.Mapping[str, str]) -> list[str]:
    """Labels the object lacks or has with another value (community.docker compares only those given)."""
    have = have or {}
    return [f"label {key} is {have.get(key)!r}, wanted {value!r}" for key, value in want.items()
            if have.get(key) != value]


def _check_docker_network(params: Params, ctx: PlanContext) -> list[str]:
    """docker_network (state present, appends): the driver, its options, the first IPAM config and the labels."""
    name = params["name"]
    network = _docker_api.inspect(_engine(params, ctx), "networks", name)
    if network is None or network.get("Name") != name:
        return [f"network {name} does not exist"]
    configs = (network.get("IPAM") or {}).get("Config") or [{}]
    config = configs[0] or {}
    options = network.get("Options") or {}
    return [f"network {name}: {reason}" for reason in [
        *_unequal("driver", network.get("Driver"), params["driver"]),
        *(f"option {key} is {options.get(key)!r}, wanted {value!r}"
          for key, value in params["driver_options"].items() if options.get(key) != value),
        *_unequal("IPAM configs", len(configs), 1),
        *_unequal("subnet", config.get("Subnet"), params["subnet"]),
        *(_unequal("gateway", config.get("Gateway"), params["gateway"]) if params.get("gateway") else []),
        *(_unequal("ip range", config.get("IPRange"), params["iprange"]) if params.get("iprange") else []),
        *_missing_labels(network.get("Labels"), params["labels"])]]


def _check_docker_networks(params: Params, ctx: PlanContext) -> list[str]:
    """The routed role's networks: each as docker_network with the same driver and options; labels are not
    compared (a listed network that already has the option is left as it is, unlabelled)."""
    common = {"driver": params["driver"], "driver_options": params["driver_options"], "labels": {},
              "socket": params.get("socket")}
    return [reason for network in params["networks"]
            for reason in _check_docker_network({**common, **network}, ctx)]


def _release(version: str) -> tuple[int, ...] | None:
    """(major, minor, patch) of an engine version such as ``28.2.2`` or ``28.2.0-rc.1``; None when unreadable."""
    match = re.match(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", version)
    return tuple(int(part or 0) for part in match.groups()) if match else None


def _check_docker_engine(params: Params, ctx: PlanContext) -> list[str]:
    """The engine answers and is at least ``version_at_least``: below it a role's tasks refuse or warn, and say
    why."""
    version = _docker_api.version(_engine(params, ctx))
    have, want = _release(version), _release(params["version_at_least"])
    if have is None or want is None or have < want:
        return [f"Docker Engine {version} is not {params['version_at_least']} or later"]
    return []


def _fact(ctx: PlanContext, *keys: str) -> t.Any:
    value: t.Any = ctx.facts or {}
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _brew(params: Params, ctx: PlanContext) -> str:
    brew = params.get("brew") or _fact(ctx, "homebrew", "path")
    if not brew:
        raise HostbridgeError("Homebrew was not found")
    return str(brew)


def _check_homebrew_tap(params: Params, ctx: PlanContext) -> list[str]:
    return _homebrew.tap_missing(_brew(params, ctx), params["tap"])


def _check_homebrew_formula(params: Params, ctx: PlanContext) -> list[str]:
    return _homebrew.formula_missing(_brew(params, ctx), params["formula"])


def _check_homebrew_service(params: Params, ctx: PlanContext) -> list[str]:
    return _homebrew.service_not_running_as_root(ctx.runner, params["formula"])


def _check_daemon_json_key(params: Params, ctx: PlanContext) -> list[str]:
    """Docker Desktop's engine configuration holds ``key`` with ``value`` (a missing file holds nothing)."""
    home = _fact(ctx, "console_user", "home")
    path = params.get("path") or (home and os.path.join(home, ".docker", "daemon.json"))
    if not path:
        raise HostbridgeError("the console user's home is unknown")
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except FileNotFoundError:
        return [f"{path} does not exist"]
    if not isinstance(document, dict):
        return [f"{path} is not a JSON object"]
    return _unequal(f"{path}: {params['key']}", document.get(params["key"]), params["value"])


def _capabilities(names: t.Any) -> list[str]:
    """Capability names in one form, ``CAP_<NAME>``: the engine keeps what the API was given (``NET_ADMIN`` from
    community.docker), while ``docker create --cap-add NET_ADMIN`` (the CLI) sends ``CAP_NET_ADMIN``."""
    return sorted({name.upper() if name.upper().startswith("CAP_") else f"CAP_{name.upper()}" for name in names or []})


def _check_docker_container(params: Params, ctx: PlanContext) -> list[str]:
    """docker_container (state started, no_defaults): running, from the image the name points to now, with the
    command, labels, network mode, capabilities, init and restart policy given."""
    name, engine = params["name"], _engine(params, ctx)
    container = _docker_api.inspect(engine, "containers", name)
    if container is None or container.get("Name") != f"/{name}":
        return [f"container {name} does not exist"]
    image = _docker_api.inspect(engine, "images", params["image"])
    config, host = container.get("Config") or {}, container.get("HostConfig") or {}
    reasons = [
        *([] if (container.get("State") or {}).get("Running") else ["is not running"]),
        *(["its image is not there"] if image is None else _unequal("image", container.get("Image"), image.get("Id"))),
        *_unequal("command", config.get("Cmd"), params["command"]),
        *_missing_labels(config.get("Labels"), params["labels"]),
        *_unequal("network mode", host.get("NetworkMode"), params["network_mode"]),
        *_unequal("added capabilities", _capabilities(host.get("CapAdd")), _capabilities(params["capabilities"])),
        *_unequal("init", bool(host.get("Init")), params["init"]),
        *_unequal("restart policy", (host.get("RestartPolicy") or {}).get("Name"), params["restart_policy"])]
    return [f"container {name}: {reason}" for reason in reasons]


# Checks that are not a module of this collection: what differs, as a list of reasons.
STATE_CHECKS: dict[str, t.Callable[[Params, PlanContext], list[str]]] = {
    "file": _check_file,
    "docker_network": _check_docker_network,
    "docker_container": _check_docker_container,
    "docker_networks": _check_docker_networks,
    "docker_engine": _check_docker_engine,
    "homebrew_tap": _check_homebrew_tap,
    "homebrew_formula": _check_homebrew_formula,
    "homebrew_service": _check_homebrew_service,
    "daemon_json_key": _check_daemon_json_key,
}

KINDS: dict[str, tuple[dict[str, t.Any], dict[str, t.Any]]] = {
    "lo0_alias": (_loopback.ARGUMENT_SPEC, {}),
    # The module adds AnsibleModule's file arguments (mode, owner, unsafe_writes...) to its spec.
    "etc_hosts_entry": (dict(_hosts.ARGUMENT_SPEC, **FILE_COMMON_ARGUMENTS), _hosts.ARGUMENT_RULES),
    "tap_device": (_tap.ARGUMENT_SPEC, _tap.ARGUMENT_RULES),
    "hyperkit_shim": (_hyperkit.ARGUMENT_SPEC, {}),
    "boot_job": (_bootjob.ARGUMENT_SPEC, _bootjob.ARGUMENT_RULES),
    "file": (FILE_SPEC, {}),
    "docker_network": (DOCKER_NETWORK_SPEC, {}),
    "docker_container": (DOCKER_CONTAINER_SPEC, {}),
    "docker_networks": (DOCKER_NETWORKS_SPEC, {}),
    "docker_engine": (DOCKER_ENGINE_SPEC, {}),
    "homebrew_tap": (HOMEBREW_TAP_SPEC, {}),
    "homebrew_formula": (HOMEBREW_FORMULA_SPEC, {}),
    "homebrew_service": (HOMEBREW_SERVICE_SPEC, {}),
    "daemon_json_key": (DAEMON_JSON_KEY_SPEC, {}),
}
# The role passes the console user (the facts') to these modules when no user is configured.
CONSOLE_USER_PARAM = {"tap_device": "owner", "hyperkit_shim": "user"}


def _differences(kind: str, params: Params, ctx: PlanContext) -> list[str]:
    """Why the host is not in the desired state (empty: in sync), from the module's own logic or a state check."""
    if kind in STATE_CHECKS:
        return STATE_CHECKS[kind](params, ctx)
    result = _run_module(kind, params, ctx)
    if result.get("warnings"):  # the task gives them, where they belong (a hosts name shadowed by another line)
        return [f"{kind}: {'; '.join(map(str, result['warnings']))}"]
    if not result.get("changed"):
        return []
    actions = result.get("actions") or [f"{key} {result[key]}" for key in ("added", "removed") if result.get(key)]
    return [f"{kind}: {'; '.join(map(str, actions)) or 'would change'}"]


def _differences_or_failure(kind: str, params: Params, ctx: PlanContext) -> list[str]:
    """``_differences``, with a check that fails reported as a difference: the task then runs and tells."""
    try:
        return _differences(kind, params, ctx)
    except (HostbridgeError, OSError, ValueError, _docker_api.EngineError) as exc:  # ValueError: a mode not octal
        return [f"{kind}: {getattr(exc, 'msg', None) or exc}"]
    except Exception as exc:  # pylint: disable=broad-exception-caught  # the facts must not fail for a check
        return [f"{kind}: the check failed ({type(exc).__name__}: {exc}); the task will tell"]


def check_one(entry: dict[str, t.Any], ctx: PlanContext) -> dict[str, t.Any]:
    """``{"pending": bool, "reason": str}`` for one desired-state entry, with its ``strategy`` when it has one (the
    bridge role includes a role only for a strategy with something pending); a ``file`` entry also says whether
    the file ``exists`` (the role creates the directories of a missing one)."""
    kind = entry["kind"]
    # null stands for "not set", as omit does in the task that applies the same parameters.
    params = {k: v for k, v in (entry.get("params") or {}).items() if v is not None}
    if kind in CONSOLE_USER_PARAM and ctx.console_user:
        params.setdefault(CONSOLE_USER_PARAM[kind], ctx.console_user)
    spec, rules = KINDS[kind]
    # This process runs as the connecting user, the task as the become user: "~" is not the same place.
    home = sorted(k for k, v in params.items() if spec.get(k, {}).get("type") == "path" and str(v).startswith("~"))
    if home:
        reasons = [f"{kind}: {', '.join(home)} starts with ~, which the task expands for its own user"]
    else:
        validated = ArgumentSpecValidator(spec, **rules).validate(params)
        reasons = ([f"{kind}: {'; '.join(validated.error_messages)}"] if validated.error_messages
                   else _differences_or_failure(kind, validated.validated_parameters, ctx))
    result: dict[str, t.Any] = {"pending": bool(reasons), "reason": "; ".join(reasons) or "in sync"}
    if entry.get("strategy"):
        result["strategy"] = entry["strategy"]
    if kind == "file":
        result["exists"] = os.path.lexists(str(params.get("path", "")))
    return result


def _entry(name: str, entry: t.Any) -> dict[str, t.Any]:
    """The entry, its shape checked: kind, params (a dict), platforms (a list), strategy (a name)."""
    if not isinstance(entry, dict) or entry.get("kind") not in KINDS:
        kind = entry.get("kind") if isinstance(entry, dict) else entry
        raise bad(f"desired.{name}.kind", kind, f"must be one of {', '.join(KINDS)}")
    if not isinstance(entry.get("params") or {}, dict):
        raise bad(f"desired.{name}.params", entry["params"], "must be a dict of the module's options")
    platforms = entry.get("platforms")
    if platforms is not None and not (isinstance(platforms, list) and set(platforms) <= PLATFORMS):
        raise bad(f"desired.{name}.platforms", platforms, f"must be a list of {', '.join(sorted(PLATFORMS))}")
    if entry.get("strategy") not in (None, *STRATEGIES):
        raise bad(f"desired.{name}.strategy", entry["strategy"], "must be loopback, tap or routed")
    return entry


def check(desired: t.Mapping[str, t.Any], ctx: PlanContext) -> dict[str, t.Any]:
    """The plan: entry name -> pending and reason. Every entry's shape is checked before any is compared.

    Not compared, and not in the plan: an entry whose ``platforms`` leave this host out (a LaunchDaemon on
    Linux; ``systemd``: Linux where systemd runs), or whose ``strategy`` is not possible here (the tap bridge on
    Apple Silicon).
    """
    entries = {name: _entry(name, entry) for name, entry in desired.items()}
    here = {ctx.system.lower()} | ({"systemd"} if ctx.systemd else set())
    return {name: check_one(entry, ctx) for name, entry in entries.items()
            if (entry.get("platforms") is None or here & set(entry["platforms"]))
            and entry.get("strategy") in (None, *ctx.possible)}
