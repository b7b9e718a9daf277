"""The bridge playbook's re-run with the routed strategy on a fake Mac: one remote module execution (bridge_facts'
plan) when the Mac is in step, and exactly the drifted part repaired by its own tasks when it is not (issue 17
item 3). Real ansible-playbook runs as root; the routed tasks run as in test_routed_role.py.

The fake Mac is test_routed_role.py's (a ``brew`` owned by nobody that refuses root but for ``services``, keeps on
disk what Homebrew and launchd keep, and answers from recorded samples), with what bridge_facts' Darwin backend
reads: the Mac's ``/`` under a temp dir (Docker.app, ``/dev/console`` owned by the console user nobody,
``/var/run/docker.sock`` linked to the user's socket, Homebrew in ``/opt/homebrew``), Docker Desktop's recorded
settings store on Apple's Virtualization framework, and ``launchctl``, ``sw_vers`` and ``ifconfig`` answering from
the recorded samples of tests/fixtures/darwin (SOURCES.md). Linux cannot be a Mac to the Darwin backend: the module
process runs as on macOS through tests/system/fake_macos/darwin_facts/sitecustomize.py, which only sets the system
and points the real backend at the fake root. The engine is the fake Docker API (28.2.2) on the user's socket.
"""

from __future__ import annotations

import json
import os
import shutil
import sysconfig
import typing as t
from pathlib import Path

import pytest

from ansible_collections.dockermac.hostbridge.tests import ansible_cli
from ansible_collections.dockermac.hostbridge.tests.ansible_cli import ROOT
from ansible_collections.dockermac.hostbridge.tests.fake_docker_api import FakeDockerAPI
from ansible_collections.dockermac.hostbridge.tests.system.playbook import PLAYBOOK_BIN
from ansible_collections.dockermac.hostbridge.tests.system.test_bridge_plan import FACTS, Run
from ansible_collections.dockermac.hostbridge.tests.system.test_routed_role import (
    FIXTURES,
    NOBODY,
    FakeMac,
    new_fake_mac,
)
from ansible_collections.dockermac.hostbridge.tests.unit.plugins.module_utils.test_facts import SETTINGS, plist_bytes

pytestmark = pytest.mark.root

HARNESS = Path(__file__).resolve().parent / "fake_macos" / "darwin_facts"
ROUTED = ("brew_tap", "brew_formula", "brew_service")
NET = {"name": "hbr-routed-plan", "subnet": "198.51.100.0/24"}
OPTION = "com.docker.network.bridge.trusted_host_interfaces"

FAKE_LAUNCHCTL = r'''#!/usr/bin/python3
"""Fake launchctl: `print system/<label>` of the fake brew's service (state.json), from the recorded samples, the
property list's path in the fake Mac's Library/LaunchDaemons."""
import json, os, sys
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LABEL = "homebrew.mxcl.docker-mac-net-connect"
args = sys.argv[1:]
with open(os.path.join(HERE, "launchctl.jsonl"), "a") as rec:
    rec.write(json.dumps({"uid": os.getuid(), "argv": args}) + "\n")
if args != ["print", "system/" + LABEL]:
    sys.stderr.write("fake launchctl: unexpected arguments %r\n" % (args,))
    sys.exit(64)
with open(os.path.join(HERE, "state.json")) as handle:
    service = json.load(handle)["service"]
if service == "none":
    sys.stderr.write('Could not find service "%s" in domain for system\n' % LABEL)
    sys.exit(113)
sample = {"started": "running", "error": "exited"}[service]
with open(os.path.join(HERE, "samples", "launchctl_print_docker_mac_net_connect_%s.txt" % sample)) as handle:
    text = handle.read()
sys.stdout.write(text.replace("/Library/LaunchDaemons/", os.path.join(HERE, "Library", "LaunchDaemons") + "/"))
'''
FAKE_IFCONFIG = r'''#!/bin/sh
[ "$*" = "lo0" ] || { echo "fake ifconfig: unexpected arguments $*" >&2; exit 64; }
cat "$(dirname "$0")/../samples/ifconfig_lo0_stock_old.txt"
'''
FAKE_SW_VERS = '''#!/bin/sh
[ "$*" = "-productVersion" ] || exit 64
echo 15.1
'''


class DarwinMac:
    """test_routed_role's FakeMac as bridge_facts' Darwin backend sees a Mac, with the fake engine on its socket."""

    def __init__(self, mac: FakeMac, api: FakeDockerAPI) -> None:
        self.mac, self.api = mac, api
        base, home = mac.base, mac.home
        for name, text in (("launchctl", FAKE_LAUNCHCTL), ("ifconfig", FAKE_IFCONFIG), ("sw_vers", FAKE_SW_VERS)):
            (base / "bin").mkdir(exist_ok=True)
            (base / "bin" / name).write_text(text)
            (base / "bin" / name).chmod(0o755)
        shutil.copy(FIXTURES / "ifconfig_lo0_stock_old.txt", base / "samples")
        (base / "dev").mkdir()
        (base / "dev" / "console").write_text("")
        os.chown(base / "dev" / "console", NOBODY.pw_uid, NOBODY.pw_gid)
        (base / "Applications" / "Docker.app" / "Contents").mkdir(parents=True)
        (base / "Applications" / "Docker.app" / "Contents" / "Info.plist").write_bytes(plist_bytes("4.42.0"))
        settings = home / SETTINGS / "settings-store.json"
        settings.parent.mkdir(parents=True)
        shutil.copy(FIXTURES / "settings_store_apple_silicon_vf.json", settings)
        (base / "var" / "run").mkdir(parents=True)
        (base / "var" / "run" / "docker.sock").symlink_to(api.socket_path)
        (base / "launchctl.jsonl").write_text("")
        (base / "launchctl.jsonl").chmod(0o666)
        self.hosts = base / "hosts"
        self.hosts.write_text("127.0.0.1\tlocalhost\n")
        self.daemon_json = home / ".docker" / "daemon.json"
        self.settings = base / "mac.json"
        self.settings.write_text(json.dumps({"root": str(base), "home": str(home), "machine": "arm64",
                                             "bin": str(base / "bin")}))

    def run(self, **role_vars: t.Any) -> Run:
        """playbooks/bridge.yml once, as bridge_facts sees it on the fake Mac."""
        host_vars = {
            "ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3",
            "ansible_become_method": "ansible.builtin.su", "ansible_become_flags": "-s /bin/sh",
            "bridge_strategy": "routed", "loopback_persistent": False, "loopback_hosts_path": str(self.hosts),
            "loopback_flush_cache": False, "routed_state_dir": str(self.mac.state_dir),
            "routed_docker_restart_command": self.api.restart_argv(), "routed_docker_restart_timeout": 5,
            **role_vars}
        inventory = self.mac.base / "inventory.json"
        inventory.write_text(json.dumps({"all": {"hosts": {"localhost": host_vars}}}), encoding="utf-8")
        env = ansible_cli.ansible_env(
            HOSTBRIDGE_TEST_MAC=str(self.settings),
            # The harness first; the venv's packages give /usr/bin/python3 `requests` for the Docker modules.
            PYTHONPATH=f"{HARNESS}:{sysconfig.get_paths()['purelib']}")
        proc = ansible_cli.run([PLAYBOOK_BIN, "-i", str(inventory), f"{ROOT}/playbooks/bridge.yml"], env=env,
                               cwd=str(self.mac.base), timeout=300)
        assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
        output = json.loads(proc.stdout)
        results = ansible_cli.task_results(output, "localhost")
        return Run(output["stats"]["localhost"]["changed"], results)

    def state(self) -> dict[str, t.Any]:
        """Everything the routed role manages on the fake Mac, as the Mac has it."""
        daemon = json.loads(self.daemon_json.read_text()) if self.daemon_json.exists() else None
        network = self.api.networks.get(NET["name"])
        return {**self.mac.state(), "plist": sorted(p.name for p in self.mac.launch_daemons.iterdir()),
                "record": self.mac.record.read_text() if self.mac.record.exists() else None,
                "daemon_json": daemon,
                "network": network and (network["Driver"], network["Options"], network["IPAM"]["Config"])}


@pytest.fixture
def darwin_mac() -> t.Iterator[DarwinMac]:
    with new_fake_mac() as fake_mac, FakeDockerAPI(
            str(fake_mac.home / ".docker" / "run" / "docker.sock"), version="28.2.2",
            daemon_json=str(fake_mac.home / ".docker" / "daemon.json")) as api:
        os.chown(fake_mac.home / ".docker", NOBODY.pw_uid, NOBODY.pw_gid)
        yield DarwinMac(fake_mac, api)


def converge(mac: DarwinMac, **role_vars: t.Any) -> dict[str, t.Any]:
    """The first run on a fresh Mac installs and starts everything; the converged state, checked."""
    first = mac.run(**role_vars)
    assert first.changed > 0
    assert first.plan()["brew_service"]["pending"] is True
    state = mac.state()
    assert state["installed"] is True
    assert state["service"] == "started"
    assert "chipmk/tap" in state["taps"]
    assert json.loads(state["record"])["installed"] == ["formula", "service"]
    return state


CONFIGS: dict[str, dict[str, t.Any]] = {
    "trusted_interfaces": {"routed_direct_routing": "trusted_interfaces", "routed_networks": [NET]},
    "daemon_option": {"routed_direct_routing": "daemon_option"},
}
ENTRIES = {"trusted_interfaces": (*ROUTED, "engine_version", "trusted_networks"),
           "daemon_option": (*ROUTED, "engine_version", "daemon_json")}


@pytest.mark.parametrize("config", list(CONFIGS))
def test_routed_rerun_in_step_makes_one_remote_call(darwin_mac: DarwinMac, config: str) -> None:
    """Nothing drifted: bridge_facts is the only remote module; no brew, no launchctl but bridge_facts' own read,
    no engine change, nothing written."""
    state = converge(darwin_mac, **CONFIGS[config])
    darwin_mac.mac.take_calls()
    (darwin_mac.mac.base / "launchctl.jsonl").write_text("")
    darwin_mac.api.requests.clear()
    again = darwin_mac.run(**CONFIGS[config])
    assert again.changed == 0
    assert again.remote() == [FACTS]
    plan = again.plan()
    assert {name: plan[name] for name in ENTRIES[config]} == {
        name: {"pending": False, "reason": "in sync", "strategy": "routed"} for name in ENTRIES[config]}, plan
    assert darwin_mac.mac.take_calls() == []  # brew itself is never run by the plan
    launchctl = [json.loads(line) for line in (darwin_mac.mac.base / "launchctl.jsonl").read_text().splitlines()]
    assert launchctl == [{"uid": 0, "argv": ["print", "system/homebrew.mxcl.docker-mac-net-connect"]}]
    assert {verb for verb, _path in darwin_mac.api.requests} == {"GET"}
    assert darwin_mac.state() == state


def _stop_service(mac: DarwinMac) -> None:
    mac.mac.set_state(service="none")


def _uninstall_formula(mac: DarwinMac) -> None:
    shutil.rmtree(mac.mac.keg)
    mac.mac.set_state(installed=False)


def _remove_daemon_json_key(mac: DarwinMac) -> None:
    document = json.loads(mac.daemon_json.read_text())
    del document["allow-direct-routing"]
    mac.daemon_json.write_text(json.dumps(document))


def _remove_network(mac: DarwinMac) -> None:
    del mac.api.networks[NET["name"]]


COMMAND, SLURP = "ansible.builtin.command", "ansible.builtin.slurp"
# drift, its configuration, the plan entry it makes pending, the remote actions of the repair besides bridge_facts
DRIFTS: dict[str, tuple[t.Callable[[DarwinMac], t.Any], str, str, list[str]]] = {
    # `brew services info` as root, `brew services start`, the record read (own.yml: nothing new to record)
    "service_stopped": (_stop_service, "trusted_interfaces", "brew_service", [COMMAND, COMMAND, SLURP]),
    # who runs brew, `brew install` (community.general.homebrew), the record read
    "formula_uninstalled": (_uninstall_formula, "trusted_interfaces", "brew_formula",
                            ["ansible.builtin.setup", "community.general.homebrew", SLURP]),
    # the engine's version, the network looked at and created again
    "network_removed": (_remove_network, "trusted_interfaces", "trusted_networks",
                        ["community.docker.docker_host_info", "community.docker.docker_network_info",
                         "community.docker.docker_network"]),
    # who edits, the engine's version, daemon.json looked at, read and written, Docker Desktop restarted (its
    # restart command) and the engine waited for
    "daemon_json_key_removed": (_remove_daemon_json_key, "daemon_option", "daemon_json",
                                ["ansible.builtin.setup", "community.docker.docker_host_info", "ansible.builtin.stat",
                                 SLURP, "ansible.builtin.copy", COMMAND, "community.docker.docker_host_info"]),
}


@pytest.mark.parametrize("drift", list(DRIFTS))
def test_routed_drift_is_repaired_by_its_own_task(darwin_mac: DarwinMac, drift: str) -> None:
    make_drift, config, entry, actions = DRIFTS[drift]
    state = converge(darwin_mac, **CONFIGS[config])
    make_drift(darwin_mac)
    assert darwin_mac.state() != state, "the drift must be visible"

    repair = darwin_mac.run(**CONFIGS[config])
    assert repair.changed > 0
    plan = repair.plan()
    assert {name for name in ENTRIES[config] if plan[name]["pending"]} == {entry}, plan
    assert sorted(repair.remote()) == sorted([FACTS, *actions])
    assert darwin_mac.state() == state

    third = darwin_mac.run(**CONFIGS[config])
    assert third.changed == 0
    assert third.remote() == [FACTS]
    assert darwin_mac.state() == state
