"""A container on the tap strategy's macvlan network only has no way out; attached to the default bridge as well it
egresses through the bridge (docs/strategies.md, tap section).

Everything is the test's own: the macvlan parent is an unconnected TAP device (the kernel here has no dummy
interfaces), "outside" is a network namespace behind a veth pair with a web server on 198.51.100.2 (TEST-NET-2),
and every name carries one random id.
"""

from __future__ import annotations

import contextlib
import secrets
import subprocess
import sys
import time
import typing as t

import pytest

from ansible_collections.dockermac.hostbridge.tests.e2e.sim import assert_unreachable, parse_probe, probe_code

pytestmark = [pytest.mark.root, pytest.mark.docker]

IMAGE = "hostbridge-base:bookworm"
OUTSIDE = "198.51.100.2"
URL = f"http://{OUTSIDE}:8080/"


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=60)


class Setup(t.NamedTuple):
    id: str
    network: str
    label: str


@pytest.fixture
def setup() -> t.Iterator[Setup]:
    sim = secrets.token_hex(3)
    netns, veth, parent = f"hb-out-{sim}", f"hbo{sim}", f"hbp{sim}"
    network, label = f"hbtap{sim}", f"hostbridge-egress={sim}"  # "hbtap..." sorts after "bridge", as "tap" does
    server: subprocess.Popen[bytes] | None = None
    try:
        sh("ip", "netns", "add", netns)
        sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns)
        sh("ip", "addr", "add", "198.51.100.1/30", "dev", veth)
        sh("ip", "link", "set", veth, "up")
        for cmd in (("addr", "add", f"{OUTSIDE}/30", "dev", "eth0"), ("link", "set", "eth0", "up"),
                    ("link", "set", "lo", "up"), ("route", "add", "default", "via", "198.51.100.1")):
            sh("ip", "-n", netns, *cmd)
        server = subprocess.Popen(["ip", "netns", "exec", netns, sys.executable, "-m", "http.server", "8080",
                                   "--bind", OUTSIDE], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_server()
        sh("ip", "tuntap", "add", "dev", parent, "mode", "tap")
        sh("docker", "network", "create", "-d", "macvlan", "-o", f"parent={parent}", "--subnet",
           "198.51.100.128/26", "--gateway", "198.51.100.129", "--label", label, network)
        yield Setup(sim, network, label)
    finally:
        ids = sh("docker", "ps", "-aq", "--filter", f"label={label}", check=False).stdout.split()
        if ids:
            sh("docker", "rm", "-f", *ids, check=False)
        sh("docker", "network", "rm", network, check=False)
        if server is not None:
            server.kill()
            server.wait(5)
        sh("ip", "link", "del", parent, check=False)
        sh("ip", "link", "del", veth, check=False)
        sh("ip", "netns", "del", netns, check=False)


def wait_for_server() -> None:
    """Until the server outside answers the host (through the veth pair's connected route)."""
    deadline = time.monotonic() + 15
    while parse_probe(sh(sys.executable, "-c", probe_code(URL, 1), check=False)) != 200:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the test's web server on {URL} did not come up")
        time.sleep(0.1)


def container(setup: Setup, name: str, *networks: str) -> str:
    """A container started on the first network and connected to the others; its name."""
    full = f"hb{name}{setup.id}"
    sh("docker", "run", "-d", "--rm", "--name", full, "--label", setup.label, "--network", networks[0], IMAGE,
       "sleep", "300")
    for network in networks[1:]:
        sh("docker", "network", "connect", network, full)
    return full


def get(name: str) -> int | str:
    with contextlib.suppress(subprocess.TimeoutExpired):
        return parse_probe(sh("docker", "exec", name, "python3", "-c", probe_code(URL, 3), check=False))
    return "NETERR timeout (docker exec)"


def test_tap_network_only_has_no_way_out_both_networks_egress_through_the_bridge(setup: Setup) -> None:
    alone = container(setup, "alone", setup.network)
    both = container(setup, "both", setup.network, "bridge")
    # Its only route out is the macvlan gateway, which nothing answers (on a Mac: the tap address, no forwarding).
    kinds = ("timeout", "EHOSTUNREACH", "ENETUNREACH")
    assert_unreachable(get(alone), "a container on the macvlan network only", kinds)
    routes = sh("docker", "exec", both, "ip", "-4", "route", "show", "default").stdout
    assert routes.startswith("default via 172.17.0.1 "), routes
    assert get(both) == 200
