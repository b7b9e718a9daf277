"""The bridge playbook's re-run: one remote call (bridge_facts' plan) when the host is in step, and exactly the
drifted part repaired when it is not. Real ansible-playbook runs as root in a fresh network namespace; with the
Docker side managed, against the fake Docker API (tests/fake_docker_api.py) on the unix socket the roles use, so
the result does not depend on the installed engine and no macvlan network is made on this machine."""

from __future__ import annotations

import json
import pwd
import secrets
import subprocess
import sys
import tempfile
import typing as t
from pathlib import Path

import pytest

from ansible_collections.dockermac.hostbridge.tests import ansible_cli
from ansible_collections.dockermac.hostbridge.tests.ansible_cli import ROOT
from ansible_collections.dockermac.hostbridge.tests.fake_docker_api import FakeDockerAPI
from ansible_collections.dockermac.hostbridge.tests.system.playbook import PLAYBOOK_BIN

pytestmark = pytest.mark.root

SERVICES = [{"name": f"svc{n}.plan.test", "ip": f"198.18.201.{n}"} for n in (1, 2, 3)]
USER_LINES = b"127.0.0.1\tlocalhost\n# a user's comment\n10.9.9.9 mine.example mine  # keep me\n"
BEGIN, END = b"# BEGIN dockermac.hostbridge", b"# END dockermac.hostbridge"
# The plan entries that apply here (no persistent re-apply job, so its boot_job entry is compared but not used).
RELEVANT = ("lo0_alias", "etc_hosts_entry", "tap_device", "reapply_program")
FACTS = "dockermac.hostbridge.bridge_facts"
NETWORK, CONTAINER = "community.docker.docker_network", "community.docker.docker_container"
VM_LINK = "dockermac-hostbridge-vm-link"


def sh(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


class Run(t.NamedTuple):
    changed: int
    results: list[dict[str, t.Any]]  # every task's result, each with its "action"

    def remote(self) -> list[str]:
        """The actions of the tasks that were not skipped and are not controller-only."""
        return ansible_cli.remote_actions(self.results)

    def plan(self) -> dict[str, dict[str, t.Any]]:
        (facts,) = [r for r in self.results if r["action"] == FACTS and not r.get("skipped")]
        return facts["plan"]


class Host:
    """A network namespace and the temp files the bridge role manages in it."""

    def __init__(self, netns: str, tmp: Path, api: FakeDockerAPI | None = None) -> None:
        self.netns, self.tmp, self.api = netns, tmp, api
        self.hosts, self.program = tmp / "hosts", tmp / "libexec" / "tap-reapply"
        self.hosts.write_bytes(USER_LINES)

    def ip(self, *args: str) -> str:
        return sh("ip", "-n", self.netns, *args)

    def run(self, **settings: str) -> Run:
        """playbooks/bridge.yml once, with the role's settings as inventory variables; ``settings``: Ansible's
        own (ANSIBLE_* environment variables) besides the suite's."""
        host_vars = {
            "ansible_connection": "local", "ansible_python_interpreter": sys.executable, "bridge_strategy": "tap",
            "loopback_services": SERVICES, "loopback_interface": "lo", "loopback_persistent": False,
            "loopback_hosts_path": str(self.hosts), "loopback_flush_cache": False,
            "tap_bridge_user": "nobody", "tap_bridge_device": "tap5", "tap_bridge_host_address": "10.0.75.1/24",
            "tap_bridge_reapply_path": str(self.program), "tap_bridge_reapply_persistent": False,
            "tap_bridge_network_manage": self.api is not None, "tap_bridge_vm_link_manage": self.api is not None,
            "tap_bridge_restart_docker": False}
        if self.api is not None:
            host_vars["tap_bridge_docker_socket"] = self.api.socket_path
        inventory = self.tmp / "inventory.json"
        inventory.write_text(json.dumps({"all": {"hosts": {"localhost": host_vars}}}), encoding="utf-8")
        proc = ansible_cli.run(["ip", "netns", "exec", self.netns, PLAYBOOK_BIN, "-i", str(inventory),
                                f"{ROOT}/playbooks/bridge.yml"], env=ansible_cli.ansible_env(**settings),
                               timeout=180)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        output = json.loads(proc.stdout)
        return Run(output["stats"]["localhost"]["changed"], ansible_cli.task_results(output, "localhost"))

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
            **(self.docker_state() if self.api is not None else {}),
        }

    def docker_state(self) -> dict[str, t.Any]:
        """The engine's side: the network's settings and the link container's (ids left out: a repair makes new)."""
        api = _engine(self)
        network = api.networks.get("tap")
        link = api.containers.get(VM_LINK)
        return {
            "network": network and (network["Driver"], network["Options"], network["IPAM"]["Config"],
                                    network["Labels"]),
            "vm_link": link and (link["State"]["Running"], link["Config"]["Image"], link["Config"]["Cmd"],
                                 link["Config"]["Labels"], link["HostConfig"]["RestartPolicy"]["Name"],
                                 link["HostConfig"]["NetworkMode"], link["HostConfig"]["CapAdd"],
                                 link["HostConfig"]["Init"]),
        }


def outside_block(hosts: bytes) -> bytes:
    """The hosts file without the managed block: the user's own lines."""
    lines = hosts.splitlines(keepends=True)
    begin = next(i for i, line in enumerate(lines) if line.startswith(BEGIN))
    end = next(i for i, line in enumerate(lines) if line.startswith(END))
    return b"".join(lines[:begin] + lines[end + 1:])


def _converge(host: Host) -> dict[str, t.Any]:
    """The playbook's first run in a fresh namespace (loopback up); the converged state, checked."""
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
    return state


@pytest.fixture
def netns() -> t.Iterator[str]:
    name = f"hb-plan-{secrets.token_hex(3)}"
    sh("ip", "netns", "add", name)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.fixture
def converged(netns: str, tmp_path: Path) -> tuple[Host, dict[str, t.Any]]:
    """A fresh namespace the playbook has converged once (Docker side not managed); it and the converged state."""
    host = Host(netns, tmp_path)
    return host, _converge(host)


@pytest.fixture
def converged_docker(netns: str, tmp_path: Path) -> t.Iterator[tuple[Host, dict[str, t.Any]]]:
    """As ``converged``, with the Docker network and the VM link container managed on a fake engine."""
    # A unix socket path has ~100 bytes at most: not under tmp_path.
    with tempfile.TemporaryDirectory(prefix="hb-plan-") as short, FakeDockerAPI(f"{short}/docker.sock") as api:
        api.add_image("busybox:stable")
        host = Host(netns, tmp_path, api)
        state = _converge(host)
        assert state["network"] == ("macvlan", {"parent": "eth1"}, [
            {"Subnet": "10.0.75.0/24", "Gateway": "10.0.75.1", "IPRange": "10.0.75.128/25"}],
            {"com.dockermac.hostbridge.role": "tap_bridge"}), state["network"]
        running, image, command, *rest = state["vm_link"]
        assert (running, image, command[-1]) == (True, "busybox:stable", "eth1"), state["vm_link"]
        assert rest == [{"com.dockermac.hostbridge.role": "tap_bridge"}, "unless-stopped", "host", ["NET_ADMIN"],
                        True], state["vm_link"]
        yield host, state


# A team's ansible.cfg may make role variables private (private_role_vars): the bridge role's imports of the other
# roles' variables must not depend on the default.
@pytest.mark.parametrize("settings", [{}, {"ANSIBLE_PRIVATE_ROLE_VARS": "True"}], ids=["default", "private-role-vars"])
def test_rerun_in_step_makes_one_remote_call(converged: tuple[Host, dict[str, t.Any]],
                                             settings: dict[str, str]) -> None:
    """Nothing drifted: bridge_facts is the only remote module; every module task is skipped by its plan."""
    host, state = converged
    again = host.run(**settings)
    assert again.changed == 0
    assert again.remote() == [FACTS]
    # Nothing pending: the roles' apply tasks are not even included (the bridge role's bridge__apply is empty), and
    # the roles' desired state is taken from their variables without a task (its input checked with it): the run is
    # the role's argument check and bridge_facts; a meta task (no result of its own) ends the role.
    ran = [(r["action"], bool(r.get("skipped"))) for r in again.results]
    assert ran == [("ansible.builtin.validate_argument_spec", False), (FACTS, False)], ran
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
    assert_repaired_alone(host, state, DRIFTS[drift], RELEVANT)
    assert outside_block(host.hosts.read_bytes()) == USER_LINES


def assert_repaired_alone(host: Host, state: dict[str, t.Any],
                          drift: tuple[t.Callable[[Host], t.Any], str, set[str]], compared: t.Iterable[str]) -> None:
    """Drift, re-run: only the drifted entry pending, only its tasks run, the converged state back; then one call."""
    make_drift, entry, actions = drift
    make_drift(host)
    assert host.state() != state, "the drift must be visible"

    repair = host.run()
    assert repair.changed > 0
    plan = repair.plan()
    assert {name for name in compared if plan[name]["pending"]} == {entry}, plan
    assert plan[entry]["reason"] != "in sync"
    assert sorted(repair.remote()) == sorted([FACTS, *actions])
    assert {r["action"] for r in repair.results if r.get("changed")} <= actions
    assert host.state() == state

    third = host.run()
    assert third.changed == 0
    assert third.remote() == [FACTS]
    assert host.state() == state


def _engine_changes(api: FakeDockerAPI) -> list[tuple[str, str]]:
    return [(verb, path) for verb, path in api.requests if verb not in ("GET", "HEAD")]


def test_rerun_in_step_with_the_docker_side_makes_one_remote_call(
        converged_docker: tuple[Host, dict[str, t.Any]]) -> None:
    """The network and the VM link container are compared inside bridge_facts, through the engine's socket: a re-run
    in step is bridge_facts alone, and it only read from the engine."""
    host, state = converged_docker
    assert host.api is not None
    host.api.requests.clear()
    again = host.run()
    assert again.changed == 0
    assert again.remote() == [FACTS]
    assert not {NETWORK, CONTAINER} & {r["action"] for r in again.results}, "the tap role is not even included"
    plan = again.plan()
    assert {name: plan[name]["pending"] for name in (*RELEVANT, "network", "vm_link")} == dict.fromkeys(
        (*RELEVANT, "network", "vm_link"), False), plan
    assert _engine_changes(host.api) == []
    assert host.api.calls() == ["/networks/tap", f"/containers/{VM_LINK}/json", "/images/busybox:stable/json"]
    assert host.state() == state


def _engine(host: Host) -> FakeDockerAPI:
    assert host.api is not None
    return host.api


def _stop_link(host: Host) -> None:
    _engine(host).containers[VM_LINK]["State"].update(Running=False, Status="exited", Pid=0)


def _link_without_restart_policy(host: Host) -> None:
    _engine(host).containers[VM_LINK]["HostConfig"]["RestartPolicy"] = {"Name": "no", "MaximumRetryCount": 0}


DOCKER_DRIFTS: dict[str, tuple[t.Callable[[Host], t.Any], str, set[str]]] = {
    "network_deleted": (lambda h: _engine(h).networks.pop("tap"), "network", {NETWORK}),
    "link_stopped": (_stop_link, "vm_link", {CONTAINER}),
    "link_removed": (lambda h: _engine(h).containers.pop(VM_LINK), "vm_link", {CONTAINER}),
    "link_restart_policy_changed": (_link_without_restart_policy, "vm_link", {CONTAINER}),
}


@pytest.mark.parametrize("drift", list(DOCKER_DRIFTS))
def test_docker_drift_is_repaired_by_its_own_task(converged_docker: tuple[Host, dict[str, t.Any]],
                                                  drift: str) -> None:
    """A network deleted or a link container stopped, removed or changed: only its entry is pending, only its
    community.docker task runs, and the engine is back in the converged state; the run after is one call again."""
    host, state = converged_docker
    assert_repaired_alone(host, state, DOCKER_DRIFTS[drift], (*RELEVANT, "network", "vm_link"))
