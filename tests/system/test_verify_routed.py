"""The verify role's routed and container-to-host checks, run by ansible-playbook.

- Routed (macOS): the facts of a Mac given as extra vars (verify reads ``verify__facts``), ``launchctl``,
  ``ifconfig`` and ``netstat`` replaced by scripts printing the recorded samples of tests/fixtures/darwin
  (SOURCES.md), and the engine's networks from the fake Docker API (tests/fake_docker_api.py). No Docker needed.
- Container to host (Linux, for real, markers root and docker): a container on a throwaway Docker network reaches a
  one-shot server on the host side at host.docker.internal (``--add-host host.docker.internal:host-gateway``, the
  default bridge's gateway - a local bridge, never the machine's own network), and a probe container is fetched by
  its IP (routed strategy: Linux reaches container IPs directly).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import secrets
import socket
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

from ansible_collections.dockermac.hostbridge.tests import ansible_cli
from ansible_collections.dockermac.hostbridge.tests.fake_docker_api import FakeDockerAPI

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "darwin"
BASE_IMAGE = "hostbridge-base:bookworm"


def run_verify(tmp_path: Path, extra: dict[str, t.Any]) -> subprocess.CompletedProcess[str]:
    play = [{"hosts": "all", "gather_facts": False,
             "tasks": [{"name": "verify", "ansible.builtin.include_role": {"name": "dockermac.hostbridge.verify"}}]}]
    book = tmp_path / "verify.yml"
    book.write_text(json.dumps(play))
    (tmp_path / "extra.json").write_text(json.dumps(extra))
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    env = ansible_cli.ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")
    return ansible_cli.run([ansible_cli.cli("ansible-playbook"), "-i", str(inventory), str(book),
                            "-e", f"@{tmp_path / 'extra.json'}"], env=env, cwd=str(tmp_path))


def flat(result: subprocess.CompletedProcess[str]) -> str:
    return " ".join(result.stdout.split())


# --- routed checks on a recorded Mac ---------------------------------------------------------------------------
def printing(path: Path, sample: str | None, rc: int = 0) -> str:
    """A script printing a recorded sample and exiting with rc."""
    body = f"cat {FIXTURES / sample}\n" if sample else ""
    path.write_text(f"#!/bin/sh\n{body}exit {rc}\n")
    path.chmod(0o755)
    return str(path)


def mac_facts(socket_path: str, *, default_socket: bool = True) -> dict[str, t.Any]:
    return {
        "platform": "darwin", "architecture": "arm64", "os_version": "15.1",
        "console_user": {"name": "alice", "uid": 501, "home": "/Users/alice"},
        "docker": {"socket": socket_path, "socket_exists": True, "engine_reachable": True,
                   "default_socket": "/var/run/docker.sock", "default_socket_present": default_socket},
        "docker_desktop": {"installed": True, "app_path": "/Applications/Docker.app", "version": "4.42.0",
                           "vm_manager": "virtualization_framework", "hyperkit_path": None, "shim_state": None},
        "homebrew": {"path": "/opt/homebrew/bin/brew", "owner": "alice"},
        "strategies": {"loopback": {"possible": True, "reason": "always"},
                       "tap": {"possible": False, "reason": "Apple Silicon", "needs": []},
                       "routed": {"possible": True, "reason": "Docker Desktop on Apple's Virtualization framework",
                                  "needs": []}},
        "recommended_strategy": "routed", "recommended_reason": "routed",
    }


@pytest.fixture
def recorded_mac(tmp_path: Path) -> t.Iterator[tuple[FakeDockerAPI, dict[str, t.Any]]]:
    sock = Path("/tmp") / f"hbv-{secrets.token_hex(3)}.sock"  # AF_UNIX paths are short
    with FakeDockerAPI(str(sock), version="28.2.2") as api:
        for name, subnet in (("my-network", "172.200.0.0/16"), ("hbr", "198.51.100.0/24"),
                             ("compose_default", "10.99.200.0/24")):
            api.add_network(name, subnet)
        running = "launchctl_print_docker_mac_net_connect_running.txt"
        extra = {"verify__facts": mac_facts(str(sock)), "bridge_strategy": "routed", "verify_loopback": False,
                 "verify__launchctl": printing(tmp_path / "launchctl", running),
                 "verify__ifconfig": printing(tmp_path / "ifconfig", "ifconfig_a_routed.txt"),
                 "verify__netstat": printing(tmp_path / "netstat", "netstat_rnf_inet_routed.txt")}
        yield api, extra


def test_routed_checks_pass_on_a_working_mac(tmp_path: Path, recorded_mac: tuple[FakeDockerAPI, dict]) -> None:
    _api, extra = recorded_mac
    result = run_verify(tmp_path, extra)
    assert result.returncode == 0, result.stdout[-4000:]
    assert ("verify: OK on localhost (strategy routed): docker-mac-net-connect running, tunnel utun3 with a route "
            "for each of 4 Docker subnet(s)") in flat(result)


def test_routed_checks_name_every_broken_part(tmp_path: Path, recorded_mac: tuple[FakeDockerAPI, dict]) -> None:
    api, extra = recorded_mac
    api.add_network("lost", "172.18.0.0/16")  # created while the service was not watching: no route
    extra["verify__facts"] = mac_facts(extra["verify__facts"]["docker"]["socket"], default_socket=False)
    extra["verify__launchctl"] = printing(tmp_path / "launchctl", None, rc=113)  # not loaded
    result = run_verify(tmp_path, extra)
    assert result.returncode != 0
    said = flat(result)
    assert "verify: 3 check(s) failed on localhost:" in said
    assert ('/var/run/docker.sock is missing: docker-mac-net-connect (root) finds no engine; switch on "Allow the '
            'default Docker socket to be used" in Docker Desktop > Settings > Advanced') in said
    assert "LaunchDaemon homebrew.mxcl.docker-mac-net-connect (docker-mac-net-connect) is not loaded" in said
    assert "Docker network lost (172.18.0.0/16) has no route through utun3" in said
    assert "sudo brew services info chipmk/tap/docker-mac-net-connect" in said  # where to look

    # no tunnel at all: said once, not once per network
    extra["verify__ifconfig"] = printing(tmp_path / "ifconfig", "ifconfig_a_utun.txt")
    result = run_verify(tmp_path, extra)
    assert "no interface holds 10.33.33.1: docker-mac-net-connect has no tunnel" in flat(result)
    assert "has no route through" not in flat(result)


# --- container to host and the probe by IP, for real on Linux ---------------------------------------------------
def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _free_subnet(taken: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> str:
    for candidate in (ipaddress.ip_network(f"10.98.{n}.0/24") for n in range(10, 250)):
        if not any(candidate.overlaps(other) for other in taken):
            return str(candidate)
    raise RuntimeError("no free 10.98.x.0/24 for a throwaway network")


@contextlib.contextmanager
def throwaway_network() -> t.Iterator[str]:
    """A Docker network of the test's own, on a 10.98.x.0/24 no route of this machine overlaps."""
    routes = json.loads(subprocess.run(["ip", "-j", "-4", "route"], capture_output=True, text=True,
                                       check=True).stdout or "[]")
    taken = [ipaddress.ip_network(r["dst"], strict=False) for r in routes if r.get("dst", "default") != "default"]
    subnet = _free_subnet(taken)
    name = f"hbv-{secrets.token_hex(3)}"
    docker("network", "create", "--subnet", subnet, "--label", "com.dockermac.hostbridge.test=verify", name)
    try:
        yield name
    finally:
        docker("network", "rm", name, check=False)


def linux_extra(network: str, port: int, **more: t.Any) -> dict[str, t.Any]:
    probe_port = free_port()
    fetch = ("import urllib.request as u; "
             f"print(u.urlopen('http://host.docker.internal:{port}/', timeout=5).read().decode())")
    return {"bridge_strategy": "routed", "verify_loopback": False, "verify_probe": True,
            "verify_probe_image": BASE_IMAGE,
            "verify_probe_command": ["python3", "-m", "http.server", str(probe_port)],
            "verify_probe_port": probe_port, "verify_probe_network": network,
            "verify_probe_name": f"hbv-probe-{secrets.token_hex(3)}",
            "verify_host_probe": True, "verify_host_probe_port": port,
            "verify_host_probe_command": ["python3", "-c", fetch], **more}


@pytest.mark.root
@pytest.mark.docker
def test_a_container_reaches_the_host_and_the_host_reaches_it_by_ip(tmp_path: Path) -> None:
    with throwaway_network() as network:
        port = free_port()
        result = run_verify(tmp_path, linux_extra(network, port))
        said = flat(result)
        assert result.returncode == 0, result.stdout[-5000:]
        assert f"a container reaches the host at host.docker.internal:{port}" in said
        assert "probe container answers at http://10.98." in said  # by the container's IP on the throwaway network
        assert "routed checks (Linux reaches container IPs directly)" in said
        # nothing left behind: no probe container, no server
        assert docker("ps", "-aq", "--filter", "label=com.dockermac.hostbridge.role=verify").stdout.strip() == ""
        listening = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=True)
        assert listening.stdout.strip() == ""  # the one-shot server is gone

        # negative control: a server listening on 127.0.0.1 only is not the host-gateway address - the check must
        # fail and say so (not pass because something else answered)
        port = free_port()
        result = run_verify(tmp_path, linux_extra(network, port, verify_host_probe_address="127.0.0.1"))
        assert result.returncode != 0
        said = flat(result)
        assert f"a container on network {network} cannot reach the host at host.docker.internal:{port}" in said
        assert "Connection refused" in said or "URLError" in said or "urlopen error" in said
        assert docker("ps", "-aq", "--filter", "label=com.dockermac.hostbridge.role=verify").stdout.strip() == ""
