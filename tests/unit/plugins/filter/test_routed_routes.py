"""docker-mac-net-connect's tunnel and routes read from macOS ``ifconfig`` and ``netstat -rn -f inet`` samples
(tests/fixtures/darwin/SOURCES.md), and the verify role's filter over them. A controller test (the filter imports
ansible.errors), so it lives with the filters, not with the target-side module_utils tests."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.dockermac.hostbridge.plugins.filter.routed_routes import routed_routes
from ansible_collections.dockermac.hostbridge.plugins.module_utils import _routes

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "darwin"
NETSTAT = (FIXTURES / "netstat_rnf_inet_routed.txt").read_text()
IFCONFIG = (FIXTURES / "ifconfig_a_routed.txt").read_text()


def net(name: str, *subnets: str, scope: str = "local") -> dict[str, object]:
    return {"Name": name, "Scope": scope, "IPAM": {"Config": [{"Subnet": subnet} for subnet in subnets]}}


def test_netstat_destinations_as_macos_abbreviates_them() -> None:
    routes = {(str(route.network), route.interface) for route in _routes.parse_netstat_routes(NETSTAT)}
    assert ("0.0.0.0/0", "en0") in routes
    assert ("10.0.0.0/16", "en0") in routes  # "10/16": the mask printed, it is not class A's
    assert ("10.0.0.1/32", "en0") in routes
    assert ("10.33.33.2/32", "utun3") in routes  # host route (flag H): the tunnel's peer
    assert ("10.99.200.0/24", "utun3") in routes
    assert ("127.0.0.0/8", "lo0") in routes  # "127": class A, mask left out
    assert ("172.17.0.0/16", "utun3") in routes  # "172.17": class B
    assert ("172.200.0.0/16", "utun3") in routes  # the README's own example line
    assert ("198.51.100.0/24", "utun3") in routes  # "198.51.100": class C
    assert len(routes) == 12


def test_the_header_and_what_is_not_a_route_are_skipped() -> None:
    assert _routes.parse_netstat_routes("") == []
    assert _routes.parse_netstat_routes("172.17  utun3  USc  utun3\n") == []  # before the header: not a table
    text = "Destination  Gateway  Flags  Netif Expire\nfe80::%utun0  fe80::1  UGc  utun0\nx.y  a  U  en0\n"
    assert _routes.parse_netstat_routes(text) == []


def test_the_tunnel_is_the_interface_holding_10_33_33_1() -> None:
    assert _routes.tunnel_interface(IFCONFIG) == "utun3"
    assert _routes.tunnel_interface((FIXTURES / "ifconfig_a_utun.txt").read_text()) is None  # another VPN's utun


def test_every_local_ipv4_subnet_routed_through_the_tunnel() -> None:
    networks = [net("bridge", "172.17.0.0/16"), net("my-network", "172.200.0.0/16"),
                net("hbr", "198.51.100.0/24", "fd00:db8::/64"), net("compose_default", "10.99.200.0/24"),
                net("host"), net("none"), net("ingress", "10.0.0.0/24", scope="swarm"),
                net("lost", "172.18.0.0/16"), net("elsewhere", "172.19.0.0/16")]
    state = _routes.routed_state(ifconfig=IFCONFIG, netstat=NETSTAT, networks=networks)
    assert state["tunnel"] == "utun3"
    assert state["routed"] == [{"name": "bridge", "subnet": "172.17.0.0/16"},
                               {"name": "my-network", "subnet": "172.200.0.0/16"},
                               {"name": "hbr", "subnet": "198.51.100.0/24"},
                               {"name": "compose_default", "subnet": "10.99.200.0/24"}]
    # no route at all, and a route through another interface
    assert state["missing"] == [{"name": "lost", "subnet": "172.18.0.0/16"},
                                {"name": "elsewhere", "subnet": "172.19.0.0/16"}]


def test_without_the_tunnel_nothing_is_routed() -> None:
    state = routed_routes(NETSTAT, ifconfig="", networks=[net("bridge", "172.17.0.0/16")])
    assert state == {"tunnel": None, "routed": [], "missing": [{"name": "bridge", "subnet": "172.17.0.0/16"}]}


def test_filter_input_is_checked() -> None:
    with pytest.raises(AnsibleFilterError, match="must be strings"):
        routed_routes(None, ifconfig="", networks=[])
    with pytest.raises(AnsibleFilterError, match="list of Docker networks"):
        routed_routes("", ifconfig="", networks=["bridge"])


def test_classful_masks() -> None:
    assert [_routes._classful_prefix(octet) for octet in (10, 127, 128, 191, 192, 223)] == [8, 8, 16, 16, 24, 24]
    assert _routes._destination("default", "UGSc") == ipaddress.IPv4Network("0.0.0.0/0")
