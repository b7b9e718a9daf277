"""The bridge_facts module through AnsibleModule: a real run on this Linux machine, and a fabricated Mac."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import pwd
import shutil
import stat
import subprocess
import sys
import typing as t
from pathlib import Path
from unittest import mock

import pytest
from ansible.module_utils import basic

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _facts, _module
from ansible_collections.dockermac.hostbridge.plugins.modules import bridge_facts
from ansible_collections.dockermac.hostbridge.tests.unit.utils import fixture_text, run_module


def module(args: dict[str, t.Any]) -> tuple[dict[str, t.Any], list[str]]:
    warnings: list[str] = []
    with mock.patch.object(basic.AnsibleModule, "warn", lambda self, msg: warnings.append(msg)):
        result = run_module(bridge_facts.main, args)
    return result, warnings


def expected_user() -> pwd.struct_passwd:
    """The default user on Linux, found independently: SUDO_USER, the login user, the user running."""
    sudo_user = os.environ.get("SUDO_USER")
    if sudo_user and sudo_user != "root":
        return pwd.getpwnam(sudo_user)
    try:
        return pwd.getpwnam(os.getlogin())
    except (OSError, KeyError):
        return pwd.getpwuid(os.getuid())


def pretty_name() -> str | None:
    with open("/etc/os-release", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    return None


def engine_answers() -> bool:
    docker = shutil.which("docker")
    return docker is not None and subprocess.run([docker, "info"], capture_output=True, check=False).returncode == 0


@pytest.mark.skipif(platform.system() != "Linux", reason="asserts this Linux machine's facts")
@pytest.mark.parametrize(("docker_host", "socket_path"), [
    (None, "/var/run/docker.sock"),
    ("unix:///run/user/1000/docker.sock", "/run/user/1000/docker.sock"),
    ("tcp://192.0.2.7:2376", "/var/run/docker.sock"),
])
def test_real_run_on_this_linux_machine(docker_host: str | None, socket_path: str) -> None:
    environ = {key: value for key, value in os.environ.items() if key != "DOCKER_HOST"}
    if docker_host is not None:
        environ["DOCKER_HOST"] = docker_host
    with mock.patch.dict(os.environ, environ, clear=True):
        result, warnings = module({})
    assert result["changed"] is False
    assert warnings == []
    facts = result["ansible_facts"]["hostbridge"]
    assert facts["platform"] == "linux"
    machine = platform.machine()
    assert facts["architecture"] == ("arm64" if machine == "aarch64" else machine)
    assert facts["os_version"] == pretty_name()
    user = expected_user()
    assert facts["console_user"] == {"name": user.pw_name, "uid": user.pw_uid, "home": user.pw_dir}

    # The expected socket is written out above, not computed by the code under test.
    assert facts["docker"]["socket"] == socket_path
    assert facts["docker"]["socket_exists"] == os.path.exists(socket_path)
    if socket_path == "/var/run/docker.sock":
        assert facts["docker"]["engine_reachable"] == engine_answers()

    try:
        tun = stat.S_ISCHR(os.stat("/dev/net/tun").st_mode)
    except OSError:
        tun = False
    assert facts["tuntap"]["dev_net_tun"] is tun
    assert facts["tuntap"]["kext_loaded"] is False
    assert facts["strategies"]["tap"]["possible"] is tun
    assert facts["strategies"]["loopback"]["possible"] is True
    assert facts["strategies"]["routed"]["possible"] is False
    assert "directly" in facts["strategies"]["routed"]["reason"]
    assert facts["homebrew"] == {"path": None, "owner": None}
    assert facts["recommended_strategy"] == "loopback"
    assert facts["docker_desktop"]["installed"] is False
    assert facts["tuntap"]["tap_device"] == "tap1"


# The module run in a network namespace of the test's own (never the machine's): its JSON result on stdout.
_IN_NETNS = """
import sys
from ansible.module_utils.testing import patch_module_args
from ansible_collections.dockermac.hostbridge.plugins.modules import bridge_facts
with patch_module_args({"tap_device": sys.argv[1], "_ansible_check_mode": True}):
    bridge_facts.main()
"""


@pytest.mark.root
@pytest.mark.skipif(platform.system() != "Linux", reason="creates a real TAP interface")
def test_a_real_tap_interface_is_listed() -> None:
    name = "tap213"
    netns = f"hb-facts-{os.urandom(3).hex()}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        subprocess.run(["ip", "-n", netns, "tuntap", "add", "dev", name, "mode", "tap"], check=True)
        runs = {}
        for device in (name, "tap214"):  # the one that exists, and one that does not
            proc = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", _IN_NETNS, device],
                                  capture_output=True, text=True, check=False,
                                  env=dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p)))
            assert proc.returncode == 0, proc.stderr
            runs[device] = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=False)
    tuntap = runs[name]["ansible_facts"]["hostbridge"]["tuntap"]
    assert name in tuntap["devices"]
    assert (tuntap["tap_device"], tuntap["tap_device_exists"]) == (name, True)
    assert runs[name]["changed"] is False
    other = runs["tap214"]["ansible_facts"]["hostbridge"]["tuntap"]
    assert (other["tap_device"], other["tap_device_exists"]) == ("tap214", False)
    assert name in other["devices"]


def test_invalid_options_fail() -> None:
    result, _w = module({"tap_device": "eth0"})
    assert result["failed"] is True
    assert result["msg"] == "tap_device: 'eth0' must be a tap device name from tap0 to tap255"
    result, _w = module({"user": "no-such-user-here"})
    assert result["failed"] is True
    assert result["msg"] == "user: 'no-such-user-here' is not a user on this host"


def test_a_fabricated_apple_silicon_mac_through_the_module(tmp_path: Path) -> None:
    """The module's Darwin path with the filesystem rooted in tmp_path (no sw_vers/kmutil here: they are looked up
    and skipped); the warning of a broken app_path reaches module.warn."""
    root, home = tmp_path / "root", tmp_path / "home"
    app = root / "Applications" / "Docker.app" / "Contents"
    app.mkdir(parents=True)
    (app / "Info.plist").write_text(fixture_text("darwin", "docker_app_info_plist_4.15.0.xml"))
    settings = home / "Library" / "Group Containers" / "group.com.docker" / "settings-store.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(fixture_text("darwin", "settings_store_docker_vmm.json"))
    real_gather = _facts.gather

    def rooted(**kwargs: t.Any) -> dict[str, t.Any]:
        return real_gather(root=str(root), home=str(home), machine="arm64", environ={}, **kwargs)

    with mock.patch.object(_module.platform, "system", return_value="Darwin"), \
            mock.patch.object(_facts, "gather", rooted), \
            mock.patch.object(basic.AnsibleModule, "get_bin_path", return_value=None):
        result, warnings = module({"user": "nobody", "app_path": str(tmp_path / "missing.app")})
    facts = result["ansible_facts"]["hostbridge"]
    assert facts["platform"] == "darwin"
    assert facts["architecture"] == "arm64"
    assert facts["docker_desktop"]["vm_manager"] == "docker_vmm"
    assert facts["docker_desktop"]["version"] == "4.15.0"
    assert facts["strategies"]["tap"]["possible"] is False
    # Docker VMM: routed is possible, but this fabricated Mac has no Homebrew, so loopback stays recommended
    assert facts["strategies"]["routed"]["possible"] is True
    assert facts["homebrew"] == {"path": None, "owner": None}
    assert facts["recommended_strategy"] == "loopback"
    assert facts["recommended_reason"].startswith("the routed strategy would need Homebrew")
    assert warnings == [f"app_path {tmp_path / 'missing.app'} is not a directory; looked for Docker Desktop in the "
                        "default places instead."]


def test_desired_state_is_compared_in_the_same_run(tmp_path: Path) -> None:
    program = tmp_path / "tap-reapply"
    program.write_bytes(b"#!/bin/sh\n")
    program.chmod(0o755)
    sha1 = hashlib.sha1(b"#!/bin/sh\n", usedforsecurity=False).hexdigest()
    ids = {"uid": os.getuid(), "gid": os.getgid(), "sha1": sha1}
    desired = {
        "current": {"kind": "file", "params": {"path": str(program), "mode": "0755", **ids}},
        "hosts": {"kind": "etc_hosts_entry", "params": {"path": str(tmp_path / "hosts"),
                                                        "entries": [{"ip": "198.51.100.1", "names": ["a.test"]}]}},
    }
    result, warnings = module({"desired": desired})
    assert result["plan"] == {"current": {"pending": False, "reason": "in sync", "exists": True},
                              "hosts": {"pending": True, "reason": "etc_hosts_entry: would change"}}
    assert result["ansible_facts"]["hostbridge"]["platform"] == platform.system().lower()
    assert not (tmp_path / "hosts").exists(), "a comparison never writes"
    assert warnings == []


def test_without_desired_there_is_no_plan_and_a_bad_entry_fails_clearly() -> None:
    assert "plan" not in module({})[0]
    result = module({"desired": {"oops": {"kind": "shell", "params": {}}}})[0]
    assert result["failed"] is True
    assert result["msg"].startswith("desired.oops.kind: 'shell' must be one of lo0_alias")
