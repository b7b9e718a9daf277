"""unbridge.yml as a new user runs it: a target Python with nothing extra (Debian's /usr/bin/python3, no `requests`,
no Docker SDK) while a Docker engine answers on the default socket.

The loopback undo must always run; the Docker-side clean-up (the tap network, the routed networks) cannot, and
must say so as a warning naming what is left and the command that removes it, instead of stopping the undo.
A namespace stands in for the laptop; its /etc/hosts is a private copy (ip netns exec binds /etc/netns/NAME/hosts).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from ansible_collections.dockermac.hostbridge.tests import ansible_cli
from ansible_collections.dockermac.hostbridge.tests.system.playbook import PLAIN_PYTHON, STOCK_HOSTS

pytestmark = [pytest.mark.root, pytest.mark.docker]

SERVICE = {"name": "plain.hostbridge-test.test", "ip": "198.51.100.61"}
RECAP = re.compile(r"^localhost\s*:\s*ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=(\d+)\s+skipped=\d+\s+"
                   r"rescued=(\d+)", re.MULTILINE)


def play(netns: str, tmp: Path, playbook: str) -> tuple[int, int, int, str]:
    extra = {"loopback_services": [SERVICE], "loopback_persistent": False, "loopback_flush_cache": False,
             # /etc/hosts is a bind mount here, as in a container: it cannot be renamed over.
             "loopback_hosts_unsafe_writes": True, "ansible_python_interpreter": PLAIN_PYTHON}
    (tmp / "vars.json").write_text(json.dumps(extra), encoding="utf-8")
    proc = ansible_cli.run(["ip", "netns", "exec", netns, ansible_cli.cli("ansible-playbook"), "-i", "localhost,",
                            "-c", "local", f"dockermac.hostbridge.{playbook}", "-e", f"@{tmp / 'vars.json'}"],
                           env=ansible_cli.ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default",
                                                       ANSIBLE_PYTHON_INTERPRETER=PLAIN_PYTHON), timeout=240)
    match = RECAP.search(proc.stdout)
    if proc.returncode != 0 or not match:
        pytest.fail(f"{playbook}.yml failed (rc={proc.returncode}):\n{proc.stdout[-5000:]}\n{proc.stderr[-2000:]}")
    changed, failed, rescued = (int(n) for n in match.groups())
    return changed, failed, rescued, proc.stdout


def addresses(netns: str) -> list[str]:
    out = subprocess.run(["ip", "-n", netns, "-j", "addr", "show", "dev", "lo"], capture_output=True, text=True,
                         check=True).stdout
    return sorted(f"{a['local']}/{a['prefixlen']}" for link in json.loads(out) for a in link["addr_info"])


def test_unbridge_completes_without_requests_and_says_what_is_left(
        laptop: tuple[str, Path], tmp_path: Path) -> None:
    netns, hosts = laptop
    before = addresses(netns)
    changed, _failed, _rescued, _out = play(netns, tmp_path, "bridge")
    assert changed > 0
    assert f"{SERVICE['ip']}/32" in addresses(netns)
    assert SERVICE["name"] in hosts.read_text(encoding="utf-8")

    changed, failed, rescued, out = play(netns, tmp_path, "unbridge")
    assert (failed, rescued) == (0, 2), out[-3000:]
    assert changed > 0
    # What is left, and the command that removes it, for each Docker-side part.
    assert ("WARNING: tap_bridge: the Docker network tap and the container dockermac-hostbridge-vm-link (if this "
            "role created them) were left in place") in out
    assert "Remove them by hand with: docker rm -f dockermac-hostbridge-vm-link; docker network rm tap" in out
    assert "WARNING: routed: networks labelled com.dockermac.hostbridge.role=routed were left in place" in out
    assert "docker network ls --filter label=com.dockermac.hostbridge.role=routed" in out
    assert "(requests)" in out  # the cause, as the Docker modules give it
    # The loopback undo ran all the same: the host is back to where it was, byte for byte.
    assert addresses(netns) == before
    assert hosts.read_text(encoding="utf-8") == STOCK_HOSTS

    # Again on an undone host: nothing changes, the same warnings.
    changed, failed, rescued, out = play(netns, tmp_path, "unbridge")
    assert (changed, failed, rescued) == (0, 0, 2)
