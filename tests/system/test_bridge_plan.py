"""The bridge playbook's re-run: one remote call (bridge_facts' plan) when the host is in step, and exactly the
drifted part repaired when it is not. Real ansible-playbook runs as root in a fresh network namespace."""

from __future__ import annotations

import json
import pwd
import secrets
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

from ansible_collections.dockermac.hostbridge.tests import ansible_cli
from ansible_collections.dockermac.hostbridge.tests.ansible_cli import ROOT
from ansible_collections.dockermac.hostbridge.tests.system.playbook import PLAYBOOK_BIN

pytestmark = pytest.mark.root

SERVICES = [{"name": f"svc{n}.plan.test", "ip": f"198.18.201.{n}"} for n in (1, 2, 3)]
USER_LINES = b"127.0.0.1\tlocalhost\n# a user's comment\n10.9.9.9 mine.example mine  # keep me\n"
BEGIN, END = b"# BEGIN dockermac.hostbridge", b"# END dockermac.hostbridge"
# The plan entries that apply here (no persistent re-apply job, so its boot_job entry is compared but not used).
RELEVANT = ("lo0_alias", "etc_hosts_entry", "tap_device", "reapply_program")
# Actions that run on the controller only; every other task that is not skipped made a remote call.
CONTROLLER = {"set_fact", "assert", "debug", "fail", "include_role", "include_tasks", "import_tasks", "meta",
              "validate_argument_spec"}
FACTS = "dockermac.hostbridge.bridge_facts"


def sh(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


class Run(t.NamedTuple):
    changed: int
    results: list[dict[str, t.Any]]  # every task's result, each with its "action"

    def remote(self) -> list[str]:
        """The actions of the tasks that were not skipped and are not controller-only."""
        return [r["action"] for r in self.results
                if not r.get("skipped") and r["action"].removeprefix("ansible.builtin.") not in CONTROLLER]

    def plan(self) -> dict[str, dict[str, t.Any]]:
        (facts,) = [r for r in self.results if r["action"] == FACTS and not r.get("skipped")]
        return facts["plan"]


class Host:
    """A network namespace and the temp files the bridge role manages in it."""

    def __init__(self, netns: str, tmp: Path) -> None:
        self.netns, self.tmp = netns, tmp
        self.hosts, self.program = tmp / "hosts", tmp / "libexec" / "tap-reapply"
        self.hosts.write_bytes(USER_LINES)

    def ip(self, *args: str) -> str:
        return sh("ip", "-n", self.netns, *args)

    def run(self) -> Run:
        """playbooks/bridge.yml once, with the role's settings as inventory variables."""
        host_vars = {
            "ansible_connection": "local", "ansible_python_interpreter": sys.executable, "bridge_strategy": "tap",
            "loopback_services": SERVICES, "loopback_interface": "lo", "loopback_persistent": False,
            "loopback_hosts_path": str(self.hosts), "loopback_flush_cache": False,
            "tap_bridge_user": "nobody", "tap_bridge_device": "tap5", "tap_bridge_host_address": "10.0.75.1/24",
            "tap_bridge_reapply_path": str(self.program), "tap_bridge_reapply_persistent": False,
            "tap_bridge_network_manage": False, "tap_bridge_vm_link_manage": False,
            "tap_bridge_restart_docker": False}
        inventory = self.tmp / "inventory.json"
        inventory.write_text(json.dumps({"all": {"hosts": {"localhost": host_vars}}}), encoding="utf-8")
        proc = ansible_cli.run(["ip", "netns", "exec", self.netns, PLAYBOOK_BIN, "-i", str(inventory),
                                f"{ROOT}/playbooks/bridge.yml"], timeout=180)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        output = json.loads(proc.stdout)
        results = [task["hosts"]["localhost"] for play in output["plays"] for task in play["tasks"]]
        return Run(output["stats"]["localhost"]["changed"], results)

    def state(self) -> dict[str, t.Any]:
        """Everything the role manages here, as the host has it."""
        tap = json.loads(self.ip("-j", "addr", "show", "dev", "tap5"))[0]
        info = self.program.stat()
        return {
            "lo": sorted(f"{a['local']}/{a['prefixlen']}" for link in json.loads(self.ip("-j", "addr", "show", "lo"))
                         for a in link["addr_info"]),
            "hosts": self.hosts.read_bytes(),
            "tap_owner": int(sh("ip", "netns", "exec", self.netns, "cat", "/sys/class/net/tap5/owner")),
            "tap_addresses": [f"{a['local']}/{a['prefixlen']}" for a in tap.get("addr_info", [])],
            "program": (self.program.read_bytes(), info.st_mode & 0o7777, info.st_uid),
        }


def outside_block(hosts: bytes) -> bytes:
    """The hosts file without the managed block: the user's own lines."""
    lines = hosts.splitlines(keepends=True)
    begin = next(i for i, line in enumerate(lines) if line.startswith(BEGIN))
    end = next(i for i, line in enumerate(lines) if line.startswith(END))
    return b"".join(lines[:begin] + lines[end + 1:])


@pytest.fixture
def converged(tmp_path: Path) -> t.Iterator[tuple[Host, dict[str, t.Any]]]:
    """A fresh namespace (loopback up) the playbook has converged once; yields it and the converged state."""
    netns = f"hb-plan-{secrets.token_hex(3)}"
    sh("ip", "netns", "add", netns)
    try:
        host = Host(netns, tmp_path)
        host.ip("link", "set", "lo", "up")
        assert host.run().changed > 0
        state = host.state()
        assert state["lo"] == sorted(["127.0.0.1/8", "::1/128"] + [f"{s['ip']}/32" for s in SERVICES])
        assert outside_block(state["hosts"]) == USER_LINES
        assert all(f"\n{s['ip']}\t{s['name']}\n".encode() in state["hosts"] for s in SERVICES), state["hosts"]
        assert state["tap_owner"] == pwd.getpwnam("nobody").pw_uid
        assert state["tap_addresses"] == ["10.0.75.1/24"]
        assert b"TAP=tap5" in state["program"][0]
        assert state["program"][1:] == (0o755, 0)
        yield host, state
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=False)


def test_rerun_in_step_makes_one_remote_call(converged: tuple[Host, dict[str, t.Any]]) -> None:
    """Nothing drifted: bridge_facts is the only remote module; every module task is skipped by its plan."""
    host, state = converged
    again = host.run()
    assert again.changed == 0
    assert again.remote() == [FACTS]
    skipped = {r["action"] for r in again.results if r.get("skipped")}
    assert {"dockermac.hostbridge.lo0_alias", "dockermac.hostbridge.etc_hosts_entry",
            "dockermac.hostbridge.tap_device", "ansible.builtin.file", "ansible.builtin.template"} <= skipped
    plan = again.plan()
    assert {name: plan[name]["pending"] for name in RELEVANT} == dict.fromkeys(RELEVANT, False), plan
    # macOS-only parts (and the shim without a bundle) are not even checked on Linux.
    assert "hyperkit_shim" not in set(plan), plan
    assert host.state() == state


def _delete_hosts_name(host: Host) -> None:
    lines = host.hosts.read_bytes().splitlines(keepends=True)
    (victim,) = [line for line in lines if b"svc2.plan.test" in line]
    host.hosts.write_bytes(b"".join(line for line in lines if line is not victim))


def _tap_owned_by_root(host: Host) -> None:
    host.ip("tuntap", "del", "dev", "tap5", "mode", "tap")
    host.ip("tuntap", "add", "dev", "tap5", "mode", "tap", "user", "root")


def _append_to_program(host: Host) -> None:
    with host.program.open("ab") as handle:
        handle.write(b"echo tampered\n")


DRIFTS: dict[str, tuple[t.Callable[[Host], t.Any], str, set[str]]] = {
    # drift, the plan entry it makes pending, the remote actions the repair run runs besides bridge_facts
    "alias_removed": (lambda h: h.ip("addr", "del", "198.18.201.2/32", "dev", "lo"), "lo0_alias",
                      {"dockermac.hostbridge.lo0_alias"}),
    "hosts_block_edited": (_delete_hosts_name, "etc_hosts_entry", {"dockermac.hostbridge.etc_hosts_entry"}),
    "tap_owner_changed": (_tap_owned_by_root, "tap_device", {"dockermac.hostbridge.tap_device"}),
    "tap_address_removed": (lambda h: h.ip("addr", "del", "10.0.75.1/24", "dev", "tap5"), "tap_device",
                            {"dockermac.hostbridge.tap_device"}),
    "program_content_changed": (_append_to_program, "reapply_program",
                                {"ansible.builtin.file", "ansible.builtin.template"}),
    "program_mode_changed": (lambda h: h.program.chmod(0o700), "reapply_program",
                             {"ansible.builtin.file", "ansible.builtin.template"}),
}


@pytest.mark.parametrize("drift", list(DRIFTS))
def test_drift_is_repaired_and_nothing_else_runs(converged: tuple[Host, dict[str, t.Any]], drift: str) -> None:
    """The plan marks only the drifted part; its tasks alone run and put back exactly the converged state."""
    host, state = converged
    make_drift, entry, actions = DRIFTS[drift]
    make_drift(host)
    assert host.state() != state, "the drift must be visible"

    repair = host.run()
    assert repair.changed > 0
    plan = repair.plan()
    assert {name for name in RELEVANT if plan[name]["pending"]} == {entry}, plan
    assert plan[entry]["reason"] != "in sync"
    assert sorted(repair.remote()) == sorted([FACTS, *actions])
    assert {r["action"] for r in repair.results if r.get("changed")} <= actions
    assert host.state() == state
    assert outside_block(host.hosts.read_bytes()) == USER_LINES

    third = host.run()
    assert third.changed == 0
    assert third.remote() == [FACTS]
    assert host.state() == state
