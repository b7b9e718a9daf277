# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The routed strategy seen from the Mac: docker-mac-net-connect's tunnel and the routes it adds.

docker-mac-net-connect gives its ``utunN`` device ``10.33.33.1`` with the peer ``10.33.33.2`` (``ifconfig utunN inet
10.33.33.1/32 10.33.33.2``) and adds ``route -q -n add -inet <subnet> -interface utunN`` for every IPAM subnet of
every local-scope Docker network (chipmk/docker-mac-net-connect main.go and networkmanager/networkmanager.go,
commit 174902a). Pure functions on ``ifconfig`` and ``netstat -rnf inet`` output, tested on the samples of
``tests/fixtures/darwin/`` (SOURCES.md).
"""

from __future__ import annotations

import ipaddress
import typing as t

from ansible_collections.dockermac.hostbridge.plugins.module_utils._netinfo import parse_ifconfig

HOST_PEER = ipaddress.ip_address("10.33.33.1")


class Route(t.NamedTuple):
    network: ipaddress.IPv4Network
    interface: str


def _classful_prefix(first_octet: int) -> int:
    """The mask macOS's netstat leaves out: the address class's (network_cmds netstat.tproj/route.c, ``domask``
    prints ``/N`` only when the mask differs from ``forgemask``)."""
    if first_octet < 128:
        return 8
    if first_octet < 192:
        return 16
    return 24


def _destination(text: str, flags: str) -> ipaddress.IPv4Network | None:
    """A netstat destination as a network: ``default``, ``172.200`` (trailing zero octets left out, classful mask),
    ``10.1.2/24``, ``127.0.0.1`` (a host route, flag H). None for what is not an IPv4 destination."""
    if text == "default":
        return ipaddress.IPv4Network("0.0.0.0/0")
    address, _sep, bits = text.partition("/")
    octets = address.split(".")
    if not 1 <= len(octets) <= 4 or not all(part.isdigit() for part in octets):
        return None
    padded = ".".join(octets + ["0"] * (4 - len(octets)))
    if bits:
        prefix = int(bits) if bits.isdigit() else None
    elif "H" in flags:
        prefix = 32
    else:
        prefix = _classful_prefix(int(octets[0]))
    if prefix is None:
        return None
    try:
        return ipaddress.IPv4Network(f"{padded}/{prefix}", strict=False)
    except ValueError:
        return None


def parse_netstat_routes(text: str) -> list[Route]:
    """The IPv4 routes of ``netstat -rn -f inet`` (macOS): destination, gateway, flags, interface[, expire]."""
    routes: list[Route] = []
    started = False
    for line in text.splitlines():
        fields = line.split()
        if not fields:
            continue
        if fields[0] == "Destination":
            started = True
            continue
        if not started or len(fields) < 4:
            continue
        network = _destination(fields[0], fields[2])
        if network is not None:
            routes.append(Route(network, fields[3]))
    return routes


def tunnel_interface(ifconfig_text: str) -> str | None:
    """The interface holding docker-mac-net-connect's host address 10.33.33.1, or None."""
    for name, addresses in parse_ifconfig(ifconfig_text).items():
        if any(address.ip == HOST_PEER for address in addresses):
            return name
    return None


def docker_subnets(networks: t.Iterable[t.Mapping[str, t.Any]]) -> list[tuple[str, str]]:
    """(network name, IPv4 subnet) of every local-scope Docker network, as docker-mac-net-connect routes them."""
    found = []
    for network in networks:
        if (network.get("Scope") or "local") != "local":
            continue
        for config in (network.get("IPAM") or {}).get("Config") or []:
            subnet = (config or {}).get("Subnet") or ""
            try:
                if ipaddress.ip_network(subnet, strict=False).version == 4:
                    found.append((str(network.get("Name") or "?"), subnet))
            except ValueError:
                continue
    return found


def routed_state(*, ifconfig: str, netstat: str, networks: t.Iterable[t.Mapping[str, t.Any]]) -> dict[str, t.Any]:
    """The tunnel, and which Docker subnets are routed through it and which are not."""
    tunnel = tunnel_interface(ifconfig)
    routes = {(route.network, route.interface) for route in parse_netstat_routes(netstat)}
    routed: list[dict[str, str]] = []
    missing: list[dict[str, str]] = []
    for name, subnet in docker_subnets(networks):
        wanted = ipaddress.IPv4Network(subnet, strict=False)
        entry = {"name": name, "subnet": subnet}
        (routed if tunnel is not None and (wanted, tunnel) in routes else missing).append(entry)
    return {"tunnel": tunnel, "routed": routed, "missing": missing}
