# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading network interfaces: macOS/BSD ``ifconfig`` text, iproute2's ``ip -j`` JSON, Linux tun flags.

Pure functions on command output, shared by ``lo0_alias`` (``_loopback``), ``tap_device`` (``_tap``) and
``bridge_facts`` (``_facts``), tested on recorded samples (``tests/fixtures/darwin/``).
"""

from __future__ import annotations

import ipaddress
import json
import re
import typing as t

from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.plugins.module_utils._validation import IPInterface

# <linux/if_tun.h>
IFF_TUN = 0x0001
IFF_TAP = 0x0002
IFF_PERSIST = 0x0800
IFF_NO_PI = 0x1000


# --- ifconfig (macOS) -------------------------------------------------------------------------------------
_IFC_HEADER = re.compile(r"^([A-Za-z0-9_.:-]+): flags=")
_IFC_INET = re.compile(r"^\s+inet\s+(\S+)(?:\s+-->\s+\S+)?\s+netmask\s+(\S+)")
_IFC_INET6 = re.compile(r"^\s+inet6\s+(\S+)(?:\s+-->\s+\S+)?\s+prefixlen\s+(\d+)")


def _netmask_prefix(mask: str) -> int:
    """``0xffffff00`` (macOS prints hex) or ``255.255.255.0`` as a prefix length."""
    value = int(mask, 16) if mask.lower().startswith("0x") else int(ipaddress.IPv4Address(mask))
    return ipaddress.IPv4Network(f"0.0.0.0/{ipaddress.IPv4Address(value)}").prefixlen


def parse_ifconfig(text: str) -> dict[str, list[IPInterface]]:
    """Addresses per interface from ``ifconfig`` or ``ifconfig -a`` output (macOS/BSD format).

    Handles the hex netmask, trailing spaces, aliases after the inet6 lines, point-to-point ``-->`` peers
    and ``%scope`` suffixes (``fe80::1%lo0`` is read as ``fe80::1``).
    """
    result: dict[str, list[IPInterface]] = {}
    current: list[IPInterface] | None = None
    for line in text.splitlines():
        header = _IFC_HEADER.match(line)
        if header:
            current = result.setdefault(header.group(1), [])
            continue
        if current is None:
            continue
        inet = _IFC_INET.match(line)
        inet6 = _IFC_INET6.match(line) if not inet else None
        try:
            if inet:
                current.append(ipaddress.ip_interface(f"{inet.group(1)}/{_netmask_prefix(inet.group(2))}"))
            elif inet6:
                current.append(ipaddress.ip_interface(f"{inet6.group(1).split('%')[0]}/{inet6.group(2)}"))
        except ValueError as exc:
            raise HostbridgeError(f"Cannot parse this ifconfig line: {line.strip()!r} ({exc})") from exc
    return result


class IfconfigStatus(t.NamedTuple):
    flags: frozenset[str]
    holder_pid: int | None


_IFC_FLAGS = re.compile(r"^([A-Za-z0-9_.:-]+): flags=[0-9a-fA-F]+<([^>]*)>")
# tuntaposx answers SIOCGIFSTATUS with "\topen (pid %u)\n" or "\tclosed\n" (src/tuntap.cc), printed last.
_IFC_OPEN = re.compile(r"^\s+open \(pid (\d+)\)\s*$")


def parse_ifconfig_status(text: str, interface: str) -> IfconfigStatus | None:
    """The flags and the tuntaposx ``open (pid N)`` holder of ``interface`` in ``ifconfig`` output (None when
    the interface is not in it). Addresses are ``parse_ifconfig``'s job."""
    found: IfconfigStatus | None = None
    current = False
    for line in text.splitlines():
        header = _IFC_FLAGS.match(line)
        if header:
            current = header.group(1) == interface
            if current:
                flags = frozenset(f for f in header.group(2).split(",") if f)
                found = IfconfigStatus(flags=flags, holder_pid=None)
            continue
        opened = _IFC_OPEN.match(line) if current and found is not None else None
        if opened and found is not None:
            found = found._replace(holder_pid=int(opened.group(1)))
    return found


# --- iproute2 (Linux) --------------------------------------------------------------------------------------
def parse_ip_json(text: str) -> dict[str, list[IPInterface]]:
    """Addresses per interface from ``ip -j addr show [dev X]``."""
    try:
        links = json.loads(text or "[]")
    except ValueError as exc:
        raise HostbridgeError(f"Cannot parse the JSON of `ip -j addr show`: {exc}", stdout=text) from exc
    result: dict[str, list[IPInterface]] = {}
    for link in links:
        if not isinstance(link, dict) or "ifname" not in link:
            continue  # iproute2 prints {} for links it cannot describe
        addresses = result.setdefault(link["ifname"], [])
        for info in link.get("addr_info", []):
            if info.get("family") in ("inet", "inet6") and "local" in info:
                addresses.append(ipaddress.ip_interface(f"{info['local']}/{info['prefixlen']}"))
    return result


def parse_ip_link(text: str, interface: str) -> dict[str, t.Any]:
    """The link object of ``interface`` in ``ip -d -j addr show`` output (flags, linkinfo), or {}."""
    try:
        links = json.loads(text or "[]")
    except ValueError as exc:
        raise HostbridgeError(f"Cannot parse the JSON of `ip -d -j addr show dev {interface}`: {exc}",
                              stdout=text) from exc
    for link in links:
        if isinstance(link, dict) and link.get("ifname") == interface:
            return link
    return {}
