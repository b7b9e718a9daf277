"""Input checks: every rejection names the field and the value."""

from __future__ import annotations

import pytest

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _validation as v
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("198.51.100.1", "198.51.100.1/32"),
        ("198.51.100.1/24", "198.51.100.1/24"),
        ("10.0.75.1/30", "10.0.75.1/30"),
        ("fd00:db8::1", "fd00:db8::1/128"),
        ("fd00:0db8:0::1/64", "fd00:db8::1/64"),
        ("127.0.0.2", "127.0.0.2/32"),
    ],
)
def test_host_interface_accepts(value: str, expected: str) -> None:
    assert str(v.host_interface(value, field="addresses[0]")) == expected


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("nope", "not a valid IPv4 or IPv6 address"),
        ("", "not an IP address"),
        (" 198.51.100.1", "not an IP address"),
        ("198.51.100.1/33", "prefix length out of range 0-32"),
        ("198.51.100.1/-1", "prefix length out of range"),
        ("198.51.100.1/024", "prefix length out of range"),
        ("fd00::1/129", "prefix length out of range 0-128"),
        ("198.51.100.1/0", "prefix length 0"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("255.255.255.255", "broadcast"),
        ("198.51.100.255/24", "broadcast address of 198.51.100.0/24"),
        ("198.51.100.0/24", "network address of 198.51.100.0/24"),
        ("198.51.100.1;reboot", "not a valid IPv4 or IPv6 address"),
    ],
)
def test_host_interface_rejects_with_field_and_value(value: str, why: str) -> None:
    with pytest.raises(HostbridgeError) as info:
        v.host_interface(value, field="addresses[3]")
    assert info.value.msg.startswith(f"addresses[3]: {value!r}")
    assert why in info.value.msg
    assert info.value.details == {"field": "addresses[3]", "value": value}


def test_host_interface_can_refuse_loopback() -> None:
    with pytest.raises(HostbridgeError, match="loopback"):
        v.host_interface("127.0.0.1", field="address", allow_loopback=False)


@pytest.mark.parametrize("name", ["nginx.test", "a", "x-1.example.test", "A.B.C", "fqdn.example.", "1.2.3.com"])
def test_hostname_accepts_rfc1123(name: str) -> None:
    assert v.hostname(name, field="names[0]") == name


@pytest.mark.parametrize(
    "name",
    ["", "bad name", "tab\tname", "hash#name", "new\nline", "-lead.example", "trail-.example", "a..b", "under_score",
     "x" * 64 + ".example", ".".join(["a" * 60] * 5), "$(reboot)", "name;rm"],
)
def test_hostname_rejects(name: str) -> None:
    with pytest.raises(HostbridgeError) as info:
        v.hostname(name, field="entries[1].names[2]")
    assert info.value.msg.startswith(f"entries[1].names[2]: {name!r}")


def test_hostname_rejects_non_string() -> None:
    with pytest.raises(HostbridgeError, match="non-empty host name"):
        v.hostname(None, field="names[0]")


@pytest.mark.parametrize("name", ["tap0", "tap1", "tap99", "tap255"])
def test_tap_name_accepts(name: str) -> None:
    assert v.tap_name(name, field="name") == name


@pytest.mark.parametrize("name", ["tap256", "tap999", "tap01", "tap", "tun1", "../x", "tap1 ", "eth0", "tap-1"])
def test_tap_name_rejects(name: str) -> None:
    with pytest.raises(HostbridgeError, match=r"^name: .* tap0 to tap255"):
        v.tap_name(name, field="name")


def test_user_name_resolves_existing_users() -> None:
    assert v.user_name("root", field="owner").pw_uid == 0
    assert v.user_name("0", field="owner").pw_name == "root"


@pytest.mark.parametrize("name", ["no-such-user-hb", "bad user", "../etc", "9999999", "$(id)"])
def test_user_name_rejects_unknown(name: str) -> None:
    with pytest.raises(HostbridgeError, match=r"^owner: .* is not a user on this host"):
        v.user_name(name, field="owner")


def test_network_parses_and_rejects() -> None:
    assert str(v.network("198.51.100.7/24", field="exclusive_within")) == "198.51.100.0/24"
    with pytest.raises(HostbridgeError, match="exclusive_within: 'x/24'"):
        v.network("x/24", field="exclusive_within")
