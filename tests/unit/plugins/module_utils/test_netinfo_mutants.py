"""``_netinfo.py`` where cosmic-ray's mutants survived the other tests (docs/development.md, "Mutation score"):
ifconfig output with several interfaces (the status of the one asked for, not of the next), lines before the
first interface, and ``ip -j`` output with an empty link object, several links, or that is not JSON."""

from __future__ import annotations

import json

import pytest

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _netinfo
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError

# Two tuntaposx devices, as `ifconfig` lists them (flags line, addresses, then tuntaposx's open/closed line).
TWO_TAPS = ("tap1: flags=8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> mtu 1500\n"
            "\tinet 10.0.75.1 netmask 0xffffff00 broadcast 10.0.75.255\n"
            "\tclosed\n"
            "tap2: flags=8802<BROADCAST,SIMPLEX,MULTICAST> mtu 1500\n"
            "\topen (pid 99)\n")


def test_the_status_is_the_one_of_the_interface_asked_for() -> None:
    status = _netinfo.parse_ifconfig_status(TWO_TAPS, "tap1")
    assert status == _netinfo.IfconfigStatus(
        flags=frozenset({"UP", "BROADCAST", "RUNNING", "SIMPLEX", "MULTICAST"}), holder_pid=None)
    assert _netinfo.parse_ifconfig_status(TWO_TAPS, "tap2") == _netinfo.IfconfigStatus(
        flags=frozenset({"BROADCAST", "SIMPLEX", "MULTICAST"}), holder_pid=99)


def test_lines_before_the_first_interface_are_skipped() -> None:
    assert _netinfo.parse_ifconfig("\n" + TWO_TAPS) == {
        "tap1": [_netinfo.ipaddress.ip_interface("10.0.75.1/24")], "tap2": []}


def test_an_address_ifconfig_cannot_have_is_an_error_naming_the_line() -> None:
    with pytest.raises(HostbridgeError, match=r"^Cannot parse this ifconfig line: 'inet 300.0.0.1 netmask"):
        _netinfo.parse_ifconfig("lo0: flags=8049<UP,LOOPBACK> mtu 16384\n\tinet 300.0.0.1 netmask 0xff000000\n")


LINKS = [{}, {"ifname": "lo", "addr_info": [{"family": "inet", "local": "127.0.0.1", "prefixlen": 8}]},
         {"ifname": "eth0", "addr_info": []}, {"ifname": "tap1", "addr_info": []}]


def test_an_empty_link_object_is_skipped_and_the_rest_read() -> None:
    """iproute2 prints {} for a link it cannot describe."""
    assert _netinfo.parse_ip_json(json.dumps(LINKS)) == {
        "lo": [_netinfo.ipaddress.ip_interface("127.0.0.1/8")], "eth0": [], "tap1": []}


@pytest.mark.parametrize("name", ["eth0", "tap1"])
def test_the_link_is_the_one_asked_for(name: str) -> None:
    assert _netinfo.parse_ip_link(json.dumps(LINKS), name)["ifname"] == name


@pytest.mark.parametrize("parse", [_netinfo.parse_ip_json, lambda text: _netinfo.parse_ip_link(text, "lo")])
def test_output_that_is_not_json_is_an_error(parse) -> None:
    with pytest.raises(HostbridgeError, match=r"^Cannot parse the JSON of `ip "):
        parse("Object \"addr\" is unknown, try \"ip help\".")
