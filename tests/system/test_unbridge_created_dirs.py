"""unbridge removes only what the collection installed: the directories bridge.yml created for the re-apply program
(recorded when it created them) go when nothing else is in them; a directory that was there before, or that holds
something of the user's, stays. Real ansible-playbook runs as root in a network namespace of the test's own, with
the tap strategy (a TAP device there) and the re-apply program under the test's temp directory."""

from __future__ import annotations

import json
import sys
import typing as t
from pathlib import Path

import pytest

from ansible_collections.dockermac.hostbridge.tests import ansible_cli
from ansible_collections.dockermac.hostbridge.tests.system.playbook import PLAYBOOK_BIN, new_netns

pytestmark = pytest.mark.root


def play(netns: str, tmp: Path, playbook: str, program: Path) -> None:
    host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, "bridge_strategy": "tap",
            "loopback_services": [{"name": "dirs.test", "ip": "198.51.100.81"}],
            "loopback_persistent": False, "loopback_hosts_path": str(tmp / "hosts"),
            "loopback_flush_cache": False, "tap_bridge_user": "nobody", "tap_bridge_device": "tap6",
            "tap_bridge_host_address": "10.0.75.1/24", "tap_bridge_reapply_path": str(program),
            "tap_bridge_reapply_persistent": False, "tap_bridge_network_manage": False,
            "tap_bridge_vm_link_manage": False, "tap_bridge_restart_docker": False}
    inventory = tmp / "inventory.json"
    inventory.write_text(json.dumps({"all": {"hosts": {"laptop": host}}}), encoding="utf-8")
    proc = ansible_cli.run(["ip", "netns", "exec", netns, PLAYBOOK_BIN, "-i", str(inventory), playbook], timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]


def tree(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


@pytest.fixture
def netns() -> t.Iterator[str]:
    with new_netns("mkdirs") as name:
        yield name


def test_directories_the_bridge_created_go_with_it(netns: str, tmp_path: Path) -> None:
    (tmp_path / "hosts").write_text("127.0.0.1\tlocalhost\n", encoding="utf-8")
    root = tmp_path / "root"
    root.mkdir()
    program = root / "local" / "libexec" / "dockermac-hostbridge" / "tap-reapply"
    play(netns, tmp_path, "dockermac.hostbridge.bridge", program)
    assert program.exists()
    record = json.loads((program.parent / ".created-by-dockermac-hostbridge").read_text(encoding="utf-8"))
    assert record == [str(root / "local"), str(root / "local" / "libexec"), str(program.parent)]
    play(netns, tmp_path, "dockermac.hostbridge.unbridge", program)
    assert tree(root) == []
    play(netns, tmp_path, "dockermac.hostbridge.unbridge", program)  # again: nothing left to do, no error
    assert tree(root) == []


def test_a_directory_that_was_there_or_holds_the_users_files_stays(netns: str, tmp_path: Path) -> None:
    (tmp_path / "hosts").write_text("127.0.0.1\tlocalhost\n", encoding="utf-8")
    root = tmp_path / "root"
    (root / "local").mkdir(parents=True)  # there before the bridge
    program = root / "local" / "libexec" / "dockermac-hostbridge" / "tap-reapply"
    play(netns, tmp_path, "dockermac.hostbridge.bridge", program)
    record = json.loads((program.parent / ".created-by-dockermac-hostbridge").read_text(encoding="utf-8"))
    assert record == [str(root / "local" / "libexec"), str(program.parent)]
    (root / "local" / "libexec" / "users-tool").write_text("#!/bin/sh\n", encoding="utf-8")  # put there later
    play(netns, tmp_path, "dockermac.hostbridge.unbridge", program)
    assert tree(root) == ["local", "local/libexec", "local/libexec/users-tool"]
