# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Input checks shared by every module. Each error names the field and the offending value, and is raised
before anything on the host is touched."""

from __future__ import annotations

import ipaddress
import pwd
import re
import typing as t

from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError

IPAddress = t.Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
IPInterface = t.Union[ipaddress.IPv4Interface, ipaddress.IPv6Interface]

# RFC 1123 host names: labels of letters, digits and inner hyphens, 1-63 characters, 253 in all.
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_TAP_NAME = re.compile(r"^tap([0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5])$")
_USER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$")


def bad(field: str, value: t.Any, why: str) -> HostbridgeError:
    return HostbridgeError(f"{field}: {value!r} {why}", field=field, value=value)


def ip_address(value: t.Any, *, field: str) -> IPAddress:
    """A unicast host address (IPv4 or IPv6) without prefix."""
    try:
        address = ipaddress.ip_address(str(value).strip() if isinstance(value, str) else value)
    except ValueError:
        raise bad(field, value, "is not a valid IPv4 or IPv6 address") from None
    if isinstance(value, str) and value != value.strip():
        raise bad(field, value, "has surrounding whitespace")
    return address


def host_interface(value: t.Any, *, field: str, allow_loopback: bool = True) -> IPInterface:
    """An address with an optional prefix length (``192.100.200.1/24``) usable as an interface alias.

    Rejects multicast, unspecified, the limited broadcast, link-local-only oddities are allowed.
    Without a prefix the address gets a host prefix (/32 or /128).
    """
    text = str(value)
    if text != text.strip() or not text:
        raise bad(field, value, "is not an IP address with an optional /prefix")
    addr_text, _sep, prefix = text.partition("/")
    address = ip_address(addr_text, field=field)
    if prefix:
        if not prefix.isdigit() or int(prefix) > address.max_prefixlen or (prefix != str(int(prefix))):
            raise bad(field, value, f"has a prefix length out of range 0-{address.max_prefixlen}")
        if int(prefix) == 0:
            raise bad(field, value, "has prefix length 0, which would claim every address")
    iface = ipaddress.ip_interface(f"{address}/{prefix or address.max_prefixlen}")
    if address.is_multicast:
        raise bad(field, value, "is a multicast address")
    if address.is_unspecified:
        raise bad(field, value, "is the unspecified address")
    if isinstance(address, ipaddress.IPv4Address):
        if address == ipaddress.IPv4Address("255.255.255.255"):
            raise bad(field, value, "is the broadcast address")
        if iface.network.prefixlen < 31 and address == iface.network.broadcast_address:
            raise bad(field, value, f"is the broadcast address of {iface.network}")
        if iface.network.prefixlen < 31 and address == iface.network.network_address:
            raise bad(field, value, f"is the network address of {iface.network}")
    if not allow_loopback and address.is_loopback:
        raise bad(field, value, "is a loopback address")
    return iface


def network(value: t.Any, *, field: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        raise bad(field, value, "is not a valid CIDR network such as 192.100.200.0/24") from None


def hostname(value: t.Any, *, field: str) -> str:
    """An RFC 1123 host name (no whitespace, no '#', no empty labels); returned unchanged."""
    if not isinstance(value, str) or not value:
        raise bad(field, value, "must be a non-empty host name")
    if len(value) > 253:
        raise bad(field, value, "is longer than 253 characters")
    labels = value[:-1].split(".") if value.endswith(".") else value.split(".")
    if not all(_LABEL.fullmatch(label) for label in labels):
        raise bad(field, value, "is not a valid RFC 1123 host name (letters, digits, hyphens and dots only)")
    return value


def tap_name(value: t.Any, *, field: str) -> str:
    if not isinstance(value, str) or not _TAP_NAME.fullmatch(value):
        raise bad(field, value, "must be a tap device name from tap0 to tap255")
    return value


def user_name(value: t.Any, *, field: str) -> pwd.struct_passwd:
    """An existing local user, by name or numeric uid."""
    text = str(value)
    try:
        if text.isdigit():
            return pwd.getpwuid(int(text))
        if not _USER_NAME.fullmatch(text):
            raise KeyError(text)
        return pwd.getpwnam(text)
    except KeyError:
        raise bad(field, value, "is not a user on this host") from None
