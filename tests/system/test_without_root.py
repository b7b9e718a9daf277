"""A module run without root fails with a message that says to use become - never a traceback. For real: the
module runs as ``nobody`` under the system's /usr/bin/python3 (a target Python with nothing extra), through a
real ansible run (pipelining, so the payload comes on stdin), inside a network namespace of the test's own."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
import typing as t
from pathlib import Path

import pytest

from ansible_collections.dockermac.hostbridge.tests import ansible_cli
from ansible_collections.dockermac.hostbridge.tests.system.playbook import new_netns

pytestmark = pytest.mark.root

SYSTEM_PYTHON = "/usr/bin/python3"
NOBODY_UID = 65534
HINT = (f"This needs root and the module ran as uid {NOBODY_UID}: run the task with become (become: true on the task "
        "or the play, or ansible-playbook --become; add -K when sudo asks for a password).")


@pytest.fixture
def shared_dir() -> t.Iterator[Path]:
    """A root-owned 0755 directory outside /tmp/pytest-of-root (0700), so nobody can read in it but not write."""
    path = Path(tempfile.mkdtemp(prefix="hb-noroot-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path)


def run_as_nobody(netns: str, folder: Path, module: str, args: dict[str, t.Any]) -> tuple[int, dict[str, t.Any]]:
    """``module`` with ``args`` once, run as nobody by /usr/bin/python3: the exit status and the ad-hoc result."""
    interpreter = folder / "python-as-nobody"
    drop = "setpriv --reuid=nobody --regid=nogroup --clear-groups"
    interpreter.write_text(f'#!/bin/sh\nexec {drop} {SYSTEM_PYTHON} "$@"\n', encoding="utf-8")
    interpreter.chmod(interpreter.stat().st_mode | stat.S_IXUSR)
    proc = ansible_cli.run(
        ["ip", "netns", "exec", netns, ansible_cli.cli("ansible"), "localhost", "-c", "local", "-m",
         f"dockermac.hostbridge.{module}", "-a", json.dumps(args), "-e", f"ansible_python_interpreter={interpreter}"],
        env=ansible_cli.ansible_env(ANSIBLE_PIPELINING="true", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.minimal",
                                    ANSIBLE_LOAD_CALLBACK_PLUGINS="true"))
    assert "Traceback" not in proc.stdout + proc.stderr
    return proc.returncode, json.loads(proc.stdout[proc.stdout.index(" => {") + len(" => "):])


def as_nobody(netns: str, folder: Path, module: str, args: dict[str, t.Any]) -> dict[str, t.Any]:
    """``module`` with ``args`` once as nobody, which must fail: the ad-hoc result."""
    rc, result = run_as_nobody(netns, folder, module, args)
    assert rc == 2, result
    return result


@pytest.fixture
def netns() -> t.Iterator[str]:
    if not os.access(SYSTEM_PYTHON, os.X_OK) or shutil.which("setpriv") is None:
        pytest.fail(f"{SYSTEM_PYTHON} and setpriv are needed (tools/bootstrap installs them)")
    with new_netns("noroot") as name:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name


@pytest.mark.parametrize("backup", [False, True])
def test_etc_hosts_entry_says_to_use_become(netns: str, shared_dir: Path, backup: bool) -> None:
    hosts = shared_dir / "hosts"
    hosts.write_bytes(b"127.0.0.1\tlocalhost\n")
    hosts.chmod(0o644)
    result = as_nobody(netns, shared_dir, "etc_hosts_entry", {
        "path": str(hosts), "entries": [{"ip": "198.51.100.5", "names": ["noroot.test"]}], "flush_cache": False,
        "backup": backup})
    assert result["msg"] == (f"Cannot write {hosts}: Permission denied (creating a file in {shared_dir}). {HINT} "
                             "The original file is unchanged.")
    assert hosts.read_bytes() == b"127.0.0.1\tlocalhost\n"
    assert sorted(os.listdir(shared_dir)) == ["hosts", "python-as-nobody"]


def test_a_hosts_file_in_a_directory_of_the_users_own_needs_no_become(netns: str, shared_dir: Path) -> None:
    """Only what the user cannot write needs root: a hosts-format file of nobody's own is written as nobody."""
    own = shared_dir / "nobodys"
    own.mkdir()
    os.chown(own, NOBODY_UID, -1)
    hosts = own / "hosts"
    hosts.write_bytes(b"127.0.0.1\tlocalhost\n")
    os.chown(hosts, NOBODY_UID, -1)
    rc, result = run_as_nobody(netns, shared_dir, "etc_hosts_entry", {
        "path": str(hosts), "entries": [{"ip": "198.51.100.5", "names": ["noroot.test"]}], "flush_cache": False})
    assert (rc, result["changed"]) == (0, True), result
    assert b"198.51.100.5\tnoroot.test\n" in hosts.read_bytes()


def test_lo0_alias_says_to_use_become(netns: str, shared_dir: Path) -> None:
    result = as_nobody(netns, shared_dir, "lo0_alias", {"addresses": ["198.51.100.5"], "interface": "lo",
                                                        "persistent": False})
    assert result["msg"] == ("adding 198.51.100.5/32 to lo failed (rc=2): RTNETLINK answers: Operation not "
                             f"permitted. {HINT}")
    assert result["stderr"] == "RTNETLINK answers: Operation not permitted\n"
    addresses = subprocess.run(["ip", "-n", netns, "-o", "addr", "show", "lo"], capture_output=True, text=True,
                               check=True).stdout
    assert "198.51.100.5" not in addresses


def test_tap_device_says_to_use_become(netns: str, shared_dir: Path) -> None:
    result = as_nobody(netns, shared_dir, "tap_device", {"name": "tap7", "owner": "nobody",
                                                         "address": "10.0.75.1/24"})
    # `ip tuntap add` as nobody: "open: Permission denied" (/dev/net/tun 0600) or the TUNSETIFF ioctl's
    # "Operation not permitted" (0666): either is a missing privilege.
    assert result["msg"].startswith(f"creating tap7 owned by nobody (uid {NOBODY_UID}) failed (rc=1): ")
    assert result["msg"].endswith(f". {HINT}")
    links = subprocess.run(["ip", "-n", netns, "-o", "link"], capture_output=True, text=True, check=True).stdout
    assert "tap7" not in links
