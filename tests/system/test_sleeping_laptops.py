"""Sleeping laptops: a fleet run over SSH + sudo where some laptops do not answer finishes for the others in a
bounded time, names the unreachable ones in the recap and in the retry file (at the path set explicitly), and
``--limit @<retry file>`` brings them in later (docs/fleet.md, "Laptops that sleep").

Four SSH hosts (``tests/ssh_fleet.py``); for the second run three of them sleep, each in its own way:
- ``sshd stopped``: the port refuses at once;
- ``address dropped``: the host left the test's own Docker network (no answer to ARP: "No route to host");
- ``paused`` (``docker pause``): the kernel still completes the TCP handshake, but nothing answers the SSH
  banner. Only ``timeout`` (ssh's ``ConnectTimeout``, which covers the banner exchange) ends that wait.
The ansible.cfg is docs/fleet.md's recipe with a shorter ``timeout``; each run opens new SSH connections.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import tempfile
import time
import typing as t
from pathlib import Path

import pytest

from ansible_collections.dockermac.hostbridge.tests import ansible_cli
from ansible_collections.dockermac.hostbridge.tests.ssh_fleet import SshFleet, docker

pytestmark = [pytest.mark.docker, pytest.mark.root]

TIMEOUT = 5   # seconds: ansible.cfg [defaults] timeout, i.e. ssh -o ConnectTimeout
SLACK = 10    # seconds: what a loaded 2-core machine may add (process start-up, the failing hosts' own ssh)
TEAM = [{"name": "one.sleep.test", "ip": "198.51.100.21"}, {"name": "two.sleep.test", "ip": "198.51.100.22"}]
ADDED = {"name": "three.sleep.test", "ip": "198.51.100.23"}
CONFIG = """[defaults]
forks = 20
timeout = {timeout}
retry_files_enabled = True
retry_files_save_path = {retry}

[connection]
pipelining = True

[ssh_connection]
retries = 0
ssh_args = -C -o ControlMaster=auto -o ControlPersist=60s -o ServerAliveInterval=5 -o ServerAliveCountMax=2
"""
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


class Run(t.NamedTuple):
    rc: int
    seconds: float
    recap: dict[str, dict[str, int]]
    output: str


@pytest.fixture
def fleet(tmp_path: Path) -> t.Iterator[SshFleet]:
    suffix = secrets.token_hex(3)
    hosts = SshFleet(str(tmp_path), f"hb-sleep-{suffix}", 4, subnet=f"198.18.{secrets.randbelow(250) + 1}.0/24",
                     docker_args=["--cap-add", "NET_ADMIN"])
    try:
        yield hosts
    finally:
        docker("unpause", hosts.names[3], check=False)
        hosts.close()


def bridge(fleet: SshFleet, services: list[dict[str, str]], *args: str) -> Run:
    # New SSH connections for every run, as for scheduled runs further apart than ControlPersist (60 s): a
    # multiplexing master still open from the run before would carry on over its established connection.
    # Not under tmp_path: the control sockets' paths must stay short (unix sockets: ~100 bytes), and pytest-xdist
    # puts tmp_path a level deeper.
    with tempfile.TemporaryDirectory(prefix="hbcp-") as control:
        env = fleet.env(ANSIBLE_CONFIG=os.path.join(fleet.workdir, "ansible.cfg"),
                        ANSIBLE_SSH_CONTROL_PATH_DIR=control)
        # The recap and the retry file as a user sees them: the default callback, retry files as ansible.cfg says.
        for name in ("ANSIBLE_STDOUT_CALLBACK", "ANSIBLE_RETRY_FILES_ENABLED"):
            env.pop(name)
        started = time.monotonic()
        proc = subprocess.run([ansible_cli.cli("ansible-playbook"), "-i", fleet.inventory_dir,
                               "-e", json.dumps({"loopback_services": services}), *args,
                               "dockermac.hostbridge.bridge"],
                              env=env, cwd=fleet.workdir, capture_output=True, text=True, check=False, timeout=600)
        seconds = time.monotonic() - started
    assert not ansible_cli.deprecations(proc.stdout, proc.stderr)
    recap = {m[1]: {"ok": int(m[2]), "changed": int(m[3]), "unreachable": int(m[4]), "failed": int(m[5])}
             for m in RECAP.finditer(proc.stdout)}
    return Run(proc.returncode, seconds, recap, proc.stdout + proc.stderr)


def aliases(name: str) -> set[str]:
    info = json.loads(docker("exec", name, "ip", "-j", "addr", "show", "dev", "lo"))[0]["addr_info"]
    return {a["local"] for a in info if a["family"] == "inet" and not a["local"].startswith("127.")}


def test_sleeping_laptops_are_named_bounded_and_brought_in_later(fleet: SshFleet) -> None:
    retry_dir = Path(fleet.workdir) / "retry"
    Path(fleet.workdir, "ansible.cfg").write_text(CONFIG.format(timeout=TIMEOUT, retry=retry_dir))
    fleet.write_inventory({"bridge_strategy": "loopback", "loopback_persistent": False,
                           "loopback_hosts_unsafe_writes": True})
    awake, stopped, dropped, paused = fleet.names

    first = bridge(fleet, TEAM)
    assert first.rc == 0, first.output[-4000:]
    assert set(first.recap) == set(fleet.names)
    assert all(r["changed"] >= 1 and r["unreachable"] == 0 for r in first.recap.values()), first.recap

    # Three laptops fall asleep; the team adds a service meanwhile.
    fleet.stop_sshd(stopped)
    fleet.drop_address(dropped)
    docker("pause", paused)
    second = bridge(fleet, [*TEAM, ADDED])
    assert second.rc == 4, second.output[-4000:]   # 4: some hosts were unreachable
    assert second.recap[awake]["changed"] >= 1
    assert second.recap[awake]["unreachable"] == 0
    assert {h for h, r in second.recap.items() if r["unreachable"]} == {stopped, dropped, paused}, second.recap
    assert all(second.recap[h]["failed"] == 0 for h in fleet.names)
    # Bounded: the paused host is given up after `timeout` (so the run lasts at least that long), and the run
    # costs no more than the first one (which converged all four) plus that one timeout (forks >= hosts).
    assert second.seconds >= TIMEOUT
    assert second.seconds <= first.seconds + TIMEOUT + SLACK, (second.seconds, first.seconds)
    # The retry file is where ansible.cfg says, named after the playbook, and lists exactly the sleepers.
    retry = retry_dir / "bridge.retry"
    assert sorted(retry.read_text().split()) == sorted([stopped, dropped, paused])
    assert not list(Path(ansible_cli.ROOT, "playbooks").glob("*.retry"))
    assert aliases(awake) == {s["ip"] for s in [*TEAM, ADDED]}
    assert aliases(stopped) == {s["ip"] for s in TEAM}

    # They wake up: the documented follow-up brings exactly them in.
    fleet.start_sshd(stopped)
    fleet.restore_address(dropped)
    docker("unpause", paused)
    third = bridge(fleet, [*TEAM, ADDED], "--limit", f"@{retry}")
    assert third.rc == 0, third.output[-4000:]
    assert set(third.recap) == {stopped, dropped, paused}
    assert all(r["changed"] >= 1 and r["unreachable"] == 0 for r in third.recap.values()), third.recap
    for name in fleet.names:
        assert aliases(name) == {s["ip"] for s in [*TEAM, ADDED]}, name
