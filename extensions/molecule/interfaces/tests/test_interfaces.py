"""What the interface modules left in each container, seen from inside it."""

from __future__ import annotations

import json


def test_loopback_aliases(host) -> None:
    addrs = json.loads(host.check_output("ip -j addr show dev lo"))
    inet = {(a["local"], a["prefixlen"]) for a in addrs[0]["addr_info"] if a["family"] == "inet"}
    assert ("192.100.200.1", 32) in inet
    assert ("192.100.200.2", 32) in inet
    assert ("127.0.0.1", 8) in inet  # the interface's own address is left alone


def test_tap_device_owned_by_developer(host) -> None:
    uid = host.user("hbdev").uid
    assert host.file("/sys/class/net/tap1/owner").content_string.strip() == str(uid)
    addrs = json.loads(host.check_output("ip -j addr show dev tap1"))
    assert {(a["local"], a["prefixlen"]) for a in addrs[0]["addr_info"] if a["family"] == "inet"} == {("10.0.75.1", 24)}


def test_hosts_names_in_one_managed_block(host) -> None:
    lines = host.file("/etc/hosts").content_string.splitlines()
    fields = [line.split() for line in lines if line.strip() and not line.startswith("#")]
    assert ["192.100.200.1", "nginx.local"] in fields
    assert ["192.100.200.2", "api.local", "api.internal"] in fields
    assert ["127.0.0.1", "localhost"] in fields  # Docker's own lines are kept
    markers = [line for line in lines if "dockermac.hostbridge" in line]
    assert len(markers) == 2, markers  # one BEGIN and one END marker
