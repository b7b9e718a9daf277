"""Team services merge, not replace: the team's list in group vars, a host's additions and removals in host vars
(loopback_services_extra, loopback_services_drop). A service the team adds later reaches the host, nothing of the
team's is removed by the host's changes beyond what it drops, and verify checks the same merged list. Real
ansible-playbook runs as root in a network namespace of the test's own."""

from __future__ import annotations

import json
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

from ansible_collections.dockermac.hostbridge.tests import ansible_cli
from ansible_collections.dockermac.hostbridge.tests.system.playbook import PLAYBOOK_BIN, new_netns

pytestmark = pytest.mark.root

NGINX = {"name": "nginx.test", "ip": "198.51.100.1"}
DB = {"name": "db.test", "ip": "198.51.100.3"}
API = {"name": "api.test", "ip": "198.51.100.2", "aliases": ["api.team.internal"]}
GRAFANA = {"name": "grafana.test", "ip": "198.51.100.9"}


class Laptop:
    def __init__(self, netns: str, tmp: Path) -> None:
        self.netns, self.tmp, self.hosts = netns, tmp, tmp / "hosts"
        self.hosts.write_text("127.0.0.1\tlocalhost\n", encoding="utf-8")
        subprocess.run(["ip", "-n", netns, "link", "set", "lo", "up"], check=True)

    def play(self, playbook: str, team: list[dict[str, t.Any]], **host: t.Any) -> dict[str, t.Any]:
        """``playbook`` with the team's list in the group's vars and ``host`` in the host's vars."""
        inventory = {"laptops": {
            "vars": {"loopback_services": team, "loopback_exclusive_within": "198.51.100.0/24",
                     "bridge_strategy": "loopback"},
            "hosts": {"laptop": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                                 "loopback_persistent": False, "loopback_flush_cache": False,
                                 "loopback_hosts_path": str(self.hosts), "verify_resolve": False, **host}}}}
        path = self.tmp / "inventory.json"
        path.write_text(json.dumps(inventory), encoding="utf-8")
        proc = ansible_cli.run(["ip", "netns", "exec", self.netns, PLAYBOOK_BIN, "-i", str(path), playbook],
                               timeout=180)
        output = json.loads(proc.stdout)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        return output["stats"]["laptop"]

    def aliases(self) -> set[str]:
        links = json.loads(subprocess.run(["ip", "-n", self.netns, "-j", "addr", "show", "lo"], check=True,
                                          capture_output=True, text=True).stdout)
        return {a["local"] for link in links for a in link["addr_info"] if a["local"].startswith("198.51.100.")}

    def names(self) -> set[str]:
        text = self.hosts.read_text(encoding="utf-8")
        return {name for line in text.splitlines() if line.startswith("198.51.100.") for name in line.split()[1:]}


@pytest.fixture
def laptop(tmp_path: Path) -> t.Iterator[Laptop]:
    with new_netns("merge") as netns:
        yield Laptop(netns, tmp_path)


def test_host_additions_and_removals_on_top_of_a_growing_team_list(laptop: Laptop) -> None:
    host = {"loopback_services_extra": [GRAFANA], "loopback_services_drop": ["db.test"]}
    laptop.play("dockermac.hostbridge.bridge", [NGINX, DB], **host)
    assert laptop.aliases() == {"198.51.100.1", "198.51.100.9"}
    assert laptop.names() == {"nginx.test", "grafana.test"}

    # The team adds a service: it reaches this laptop; the host's own service stays, the dropped one stays away.
    stats = laptop.play("dockermac.hostbridge.bridge", [NGINX, DB, API], **host)
    assert stats["changed"] > 0
    assert laptop.aliases() == {"198.51.100.1", "198.51.100.2", "198.51.100.9"}
    assert laptop.names() == {"nginx.test", "api.test", "api.team.internal", "grafana.test"}

    # verify checks the same merged list: all passes (it fails the run when a check fails).
    laptop.play("dockermac.hostbridge.verify", [NGINX, DB, API], **host)
    assert laptop.play("dockermac.hostbridge.bridge", [NGINX, DB, API], **host)["changed"] == 0

    # The host stops dropping db.test: it comes back; the host's addition goes when it is no longer listed.
    laptop.play("dockermac.hostbridge.bridge", [NGINX, DB, API])
    assert laptop.aliases() == {"198.51.100.1", "198.51.100.2", "198.51.100.3"}
    assert laptop.names() == {"nginx.test", "api.test", "api.team.internal", "db.test"}


def test_a_team_list_emptied_leaves_no_alias_and_no_block(laptop: Laptop) -> None:
    laptop.play("dockermac.hostbridge.bridge", [NGINX, DB])
    assert laptop.aliases() == {"198.51.100.1", "198.51.100.3"}
    # No service left (or a laptop that only wants the tap bridge): the exclusive block holds nothing and goes.
    assert laptop.play("dockermac.hostbridge.bridge", [])["changed"] > 0
    assert (laptop.aliases(), laptop.names()) == (set(), set())
    assert "dockermac.hostbridge" not in laptop.hosts.read_text(encoding="utf-8")
    assert laptop.play("dockermac.hostbridge.bridge", [])["changed"] == 0
