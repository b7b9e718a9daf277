"""The tap_bridge role's re-apply program: installed once, left alone (no remote write) when it is current, and
put back when its content, mode or owner drifted. Real ansible-playbook runs in a network namespace."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import typing as t
from pathlib import Path

import pytest

from ansible_collections.dockermac.hostbridge.tests import ansible_cli
from ansible_collections.dockermac.hostbridge.tests.system.playbook import PLAYBOOK_BIN, new_netns

pytestmark = pytest.mark.root


def run_role(netns: str, tmp: str, program: str) -> dict[str, dict[str, t.Any]]:
    """The tap_bridge role once; returns each task's result by task name (the last one wins)."""
    playbook = os.path.join(tmp, "play.yml")
    role_vars = {"tap_bridge_user": "nobody", "tap_bridge_device": "tap4", "tap_bridge_reapply_path": program,
                 "tap_bridge_reapply_persistent": False, "tap_bridge_network_manage": False,
                 "tap_bridge_vm_link_manage": False, "tap_bridge_restart_docker": False}
    with open(playbook, "w", encoding="utf-8") as handle:  # JSON is YAML
        json.dump([{"hosts": "localhost", "gather_facts": False, "roles": [
            {"role": "dockermac.hostbridge.tap_bridge", "vars": role_vars}]}], handle)
    proc = ansible_cli.run(["ip", "netns", "exec", netns, PLAYBOOK_BIN, "-i", "localhost,", "-c", "local", playbook],
                           timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    output = json.loads(proc.stdout)
    return {name.split(" : ", 1)[-1]: result for name, result in ansible_cli.named_task_results(output, "localhost")}


@pytest.fixture
def netns() -> t.Iterator[str]:
    with new_netns("reapply") as name:
        yield name


def test_program_is_written_once_skipped_when_current_and_repaired_after_drift(netns: str, tmp_path) -> None:
    program = str(tmp_path / "libexec" / "tap-reapply")
    first = run_role(netns, str(tmp_path), program)
    assert first["Re-apply program"]["changed"] is True
    installed = Path(program).read_text(encoding="utf-8")
    assert "TAP=tap4" in installed
    assert os.stat(program).st_mode & 0o7777 == 0o755

    again = run_role(netns, str(tmp_path), program)
    assert again["Re-apply program"].get("skipped") is True, "a current program must not be written again"
    assert again["Directory of the re-apply program"].get("skipped") is True

    with open(program, "a", encoding="utf-8") as handle:
        handle.write("echo tampered\n")
    os.chmod(program, 0o777)  # noqa: S103 - the drift the role must repair
    repaired = run_role(netns, str(tmp_path), program)
    assert repaired["Re-apply program"]["changed"] is True
    assert Path(program).read_text(encoding="utf-8") == installed
    assert os.stat(program).st_mode & 0o7777 == 0o755

    os.chmod(program, 0o700)  # mode drift alone
    assert run_role(netns, str(tmp_path), program)["Re-apply program"]["changed"] is True
    assert os.stat(program).st_mode & 0o7777 == 0o755


def test_program_names_an_owner_it_cannot_give_back(netns: str, tmp_path) -> None:
    """The Linux branch of what the macOS one does (tests/reliability/test_reapply_darwin.py): a remembered uid
    without an account still gets the device, and the log says so; a file with no uid in it is said once and
    removed."""
    program = str(tmp_path / "libexec" / "tap-reapply")
    run_role(netns, str(tmp_path), program)
    owner_file = tmp_path / "libexec" / "tap4.owner"
    removed = next(uid for uid in range(4242, 9999) if not any(p.pw_uid == uid for p in pwd.getpwall()))

    def reboot_and_run(saved: str) -> subprocess.CompletedProcess[str]:
        subprocess.run(["ip", "-n", netns, "tuntap", "del", "dev", "tap4", "mode", "tap"], check=False)
        owner_file.write_text(saved, encoding="ascii")
        return subprocess.run(["ip", "netns", "exec", netns, "/bin/sh", program], capture_output=True, text=True,
                              check=False)

    proc = reboot_and_run(f"{removed}\n")
    assert (proc.returncode, proc.stderr) == (0, f"tap-reapply: tap4 given to uid {removed}, which has no account "
                                                 "(a removed user?): run bridge.yml for the user who runs Docker "
                                                 "Desktop\n")
    owner = subprocess.run(["ip", "netns", "exec", netns, "cat", "/sys/class/net/tap4/owner"], capture_output=True,
                           text=True, check=True).stdout
    assert owner == f"{removed}\n"

    proc = reboot_and_run("alice\n")
    assert (proc.returncode, proc.stderr) == (0, f"tap-reapply: {owner_file} holds no user's uid ('alice'): removed; "
                                                 "tap4 stays root's until the playbook gives it to its user\n")
    assert not owner_file.exists()
    again = subprocess.run(["ip", "netns", "exec", netns, "/bin/sh", program], capture_output=True, text=True,
                           check=False)
    assert (again.returncode, again.stderr) == (0, "")
