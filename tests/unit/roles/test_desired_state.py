"""The desired state the roles hand to bridge_facts must be what their tasks apply: a parameter left out of it,
or compared with another value, would let a re-run skip a task that had work to do. The tasks are read from the
role files, the desired state from its one source (plugins/plugin_utils/_desired.py, the desired_state lookup)
with the role's defaults."""

from __future__ import annotations

import os
import re
import typing as t

import pytest
import yaml

from ansible_collections.dockermac.hostbridge.plugins.plugin_utils import _desired

ROLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
                     "roles")
PREFIX = "dockermac.hostbridge."
# The single source: a module task takes all its arguments from the desired entry bridge_facts compares. Where the
# desired entry has to leave a value to bridge_facts (a null owner or user: the console user; a null app_path: the
# bundle it finds), because it is rendered before the facts exist, the role's `__apply` fills in that value from
# the facts and nothing else.
SOURCE = {"loopback": "{{{{ loopback__desired.{entry}.params }}}}", "tap_bridge": "{{{{ tap_bridge__apply.{entry} }}}}"}
# A task that applies a part of the entry (tap_device's owner-only step before the shim) drops the rest.
PART = re.compile(r"^\{\{ (?P<source>\S+) \| combine\(\{(?P<dropped>[^}]*)\}\) \}\}$")


def load(role: str, *parts: str) -> t.Any:
    with open(os.path.join(ROLES, role, *parts), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def role_variables(role: str, **given: t.Any) -> t.Callable[[str], t.Any]:
    """The role's variables as the lookup reads them: ``given``, else the role's default; a derived variable of the
    role (vars/main.yml) as its name in a template, ``{{ name }}``, so a test can tell where a value comes from."""
    defaults, derived = load(role, "defaults", "main.yml"), load(role, "vars", "main.yml")

    def get(name: str) -> t.Any:
        if name in given:
            return given[name]
        if name in defaults:
            return defaults[name]
        assert name in derived, f"{role}: the desired state reads {name}, which the role does not define"
        return f"{{{{ {name} }}}}"
    return get


def desired_entries(role: str, **given: t.Any) -> dict[str, t.Any]:
    """The role's desired state with its defaults, every entry (the tap bridge's Docker side is managed by
    default)."""
    get = role_variables(role, **given)
    if role == "tap_bridge":
        return _desired.tap_bridge(get, lambda: "")
    return t.cast("dict[str, t.Any]", getattr(_desired, role)(get))


def tasks(role: str) -> list[dict[str, t.Any]]:
    """Every task that sets things up (absent.yml undoes them), blocks flattened."""
    out: list[dict[str, t.Any]] = []

    def walk(items: list[dict[str, t.Any]]) -> None:
        for item in items or []:
            if "block" in item:
                walk(item["block"])
            else:
                out.append(item)

    for name in sorted(set(os.listdir(os.path.join(ROLES, role, "tasks"))) - {"absent.yml"}):
        walk(load(role, "tasks", name))
    return out


def module_tasks(role: str, module: str) -> list[dict[str, t.Any]]:
    return [task for task in tasks(role) if PREFIX + module in task]


@pytest.mark.parametrize(("role", "entry"), [
    ("loopback", "lo0_alias"), ("loopback", "etc_hosts_entry"), ("tap_bridge", "tap_device"),
    ("tap_bridge", "hyperkit_shim"), ("tap_bridge", "boot_job"),
])
def test_module_tasks_apply_what_bridge_facts_compares(role: str, entry: str) -> None:
    desired = desired_entries(role)[entry]
    assert desired["kind"] == entry
    found = module_tasks(role, entry)
    assert found, f"no {entry} task in role {role}"
    source = SOURCE[role].format(entry=entry)
    full = [task for task in found if task[PREFIX + entry] == source]
    assert len(full) == 1, f"{role}: one {entry} task must take exactly {source}"
    for task in found:
        args = task[PREFIX + entry]
        assert isinstance(args, str), f"{task['name']}: arguments written out instead of taken from {source}"
        if args != source:
            part = PART.match(args)
            assert part, f"{task['name']}: {args}"
            assert part["source"] == source[3:-3], f"{task['name']}: {args}"
            dropped = dict(re.findall(r"'(\w+)': (none|false)", part["dropped"]))
            assert dropped, f"{task['name']}: {args}"
            assert set(dropped) < set(desired["params"]), f"{task['name']}: {args}"
        when = str(task["when"])
        assert f"{role}__plan.{entry}.pending | default(true)" in when \
            or f"{role}__compared.{entry}.pending | default(true)" in when, f"{task['name']}: when {when}"


@pytest.mark.parametrize("entry", ["tap_device", "hyperkit_shim"])
def test_the_tasks_fill_in_only_what_bridge_facts_fills_in(entry: str) -> None:
    variables = load("tap_bridge", "vars", "main.yml")
    apply = " ".join(variables["tap_bridge__apply"][entry].split())
    match = re.fullmatch(rf"\{{\{{ tap_bridge__desired\.{entry}\.params \| combine\(\{{(.*)\}}\) \}}\}}", apply)
    assert match, apply
    filled = dict(re.findall(r"'(\w+)': ([^,]+?)(?:,|$)", match[1]))
    assert filled, apply
    unset = desired_entries("tap_bridge", tap_bridge_user=None, tap_bridge_app_path="")[entry]["params"]
    given = desired_entries("tap_bridge", tap_bridge_user="alice", tap_bridge_app_path="/Applications/D.app")
    for key, value in filled.items():
        # Null in the desired state when the role variable is unset (left to bridge_facts), the variable itself
        # when set; resolved from the facts by a derived variable here.
        variable = f"tap_bridge_{key.replace('owner', 'user')}"
        assert unset[key] is None, key
        assert given[entry]["params"][key] == {"tap_bridge_user": "alice",
                                               "tap_bridge_app_path": "/Applications/D.app"}[variable], key
        assert value.strip().startswith("tap_bridge__"), (key, value)


def test_files_are_compared_with_what_the_templates_write() -> None:
    desired = desired_entries("tap_bridge")
    files = {name: entry["params"] for name, entry in desired.items() if entry["kind"] == "file"}
    written: dict[str, dict[str, t.Any]] = {}
    for task in tasks("tap_bridge"):
        template = task.get("ansible.builtin.template")
        if not template:
            continue
        for item in task.get("loop") or [None]:
            src = template["src"].replace("{{ item }}", item or "")
            dest = template["dest"].replace("{{ item }}", item or "")
            written[src] = {"dest": dest, "mode": template["mode"], "owner": template["owner"],
                            "when": str(task.get("when", "")).replace("' ~ item", f"{item}'").replace("~ item", "")}
    assert len(written) == len(files) == 1  # the re-apply program; its job is a boot_job entry
    for name, params in files.items():
        # The lookup renders the template the variable tap_bridge__reapply_template names, as the task's src.
        src = "{{ tap_bridge__reapply_template }}"
        assert written[src]["dest"] == "{{ tap_bridge_reapply_path }}"
        assert params["path"] == load("tap_bridge", "defaults", "main.yml")["tap_bridge_reapply_path"], name
        assert written[src]["mode"] == params["mode"], name
        assert written[src]["owner"] == "root"
        assert (params.get("uid", 0), params.get("gid", 0)) == (0, 0)
        assert name in written[src]["when"] or name == "reapply_program", f"{src}: not skipped on {name}"


@pytest.mark.parametrize(("role", "plan_var"), [("loopback", "loopback__plan"), ("tap_bridge", "tap_bridge__compared")])
def test_every_part_a_task_waits_for_is_compared(role: str, plan_var: str) -> None:
    """A misspelt part would never be in the plan, so its task would run every time (or, worse, never)."""
    desired = desired_entries(role)
    text = ""
    for name in os.listdir(os.path.join(ROLES, role, "tasks")):
        with open(os.path.join(ROLES, role, "tasks", name), encoding="utf-8") as handle:
            text += handle.read()
    parts = set(re.findall(rf"{plan_var}\.(\w+)\.pending", text))
    parts |= {f"reapply_{item}" for item in ("service", "timer") if f"{plan_var}['reapply_' ~ item]" in text}
    assert parts, f"{role}: no task waits for the comparison"
    assert parts <= set(desired), sorted(parts - set(desired))
    assert set(desired) <= parts, f"compared but no task skips on it: {sorted(set(desired) - parts)}"


@pytest.mark.parametrize(("entry", "module"), [
    ("network", "community.docker.docker_network"), ("vm_link", "community.docker.docker_container"),
])
def test_the_docker_tasks_apply_what_bridge_facts_compares(entry: str, module: str) -> None:
    """Every compared option reaches the community.docker task from the entry itself (tap_bridge__want), the task
    talks to the engine through the socket the entry names (or the facts' one), and it is skipped on the plan."""
    params = desired_entries("tap_bridge")[entry]["params"]
    (task,) = [task for task in tasks("tap_bridge") if module in task]
    assert task["vars"] == {"tap_bridge__want": f"{{{{ tap_bridge__desired.{entry}.params }}}}"}
    args = yaml.safe_dump(task[module])
    used = set(re.findall(r"tap_bridge__want\.(\w+)", args))
    assert used == set(params) - {"socket"}, sorted(set(params) ^ used)
    # null: the socket the facts found (tap_bridge__socket), as the task's docker_host falls back to
    assert params["socket"] is None
    given = desired_entries("tap_bridge", tap_bridge_docker_socket="/run/user/1/docker.sock")[entry]["params"]
    assert given["socket"] == "/run/user/1/docker.sock"
    assert task[module]["docker_host"] == "unix://{{ tap_bridge__socket }}"
    assert f"tap_bridge__compared.{entry}.pending | default(true)" in str(task["when"])


def test_every_routed_part_is_compared_and_waited_for() -> None:
    """The routed role's entries (the routed part of the desired state: its Homebrew tap, formula and service, the
    engine's version rule, the networks, daemon.json) each decide a `routed__pending_*` that its tasks wait for, and
    are compared only on a Mac where the routed strategy is possible."""
    variables = load("routed", "vars", "main.yml")
    # every entry of either direct-routing mode (the networks only when there are some)
    entries = {**desired_entries("routed", routed_networks=[{"name": "n", "subnet": "172.30.0.0/24"}]),
               **desired_entries("routed", routed_direct_routing="daemon_option")}
    assert set(entries) == {"brew_tap", "brew_formula", "brew_service", "engine_version", "trusted_networks",
                            "daemon_json"}
    assert all((entry["strategy"], entry["platforms"]) == ("routed", ["darwin"]) for entry in entries.values())
    pending = {name: str(value) for name, value in variables.items() if name.startswith("routed__pending_")}
    read = set(re.findall(r"routed__compared\.(\w+)\.pending \| default\(true\)", " ".join(pending.values())))
    assert read == set(entries), sorted(read ^ set(entries))
    text = ""
    for name in os.listdir(os.path.join(ROLES, "routed", "tasks")):
        with open(os.path.join(ROLES, "routed", "tasks", name), encoding="utf-8") as handle:
            text += handle.read()
    # each waited for by a task, or by another part (the engine's version rule, by the networks and daemon.json)
    assert set(re.findall(r"routed__pending_\w+", text + " ".join(pending.values()))) == set(pending)
    assert set(re.findall(r"routed__pending_\w+", text)) == set(pending) - {"routed__pending_engine"}
    # the networks are compared with the driver and option the task creates them with
    (task,) = [task for task in tasks("routed") if task.get("community.docker.docker_network", {}).get("driver")]
    params = entries["trusted_networks"]["params"]
    assert task["community.docker.docker_network"]["driver"] == params["driver"]
    # the same option name and value, both from the role's derived variables
    assert task["community.docker.docker_network"]["driver_options"] == "{{ {routed__option: routed__trusted} }}"
    assert params["driver_options"] == {"{{ routed__option }}": "{{ routed__trusted }}"}
    defaults = load("routed", "defaults", "main.yml")
    assert (entries["brew_tap"]["params"], entries["brew_formula"]["params"]) == (
        {"tap": defaults["routed_tap"]}, {"formula": defaults["routed_formula"]})
