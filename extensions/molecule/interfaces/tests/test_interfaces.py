"""What the interface modules left in each container, seen from inside it."""

from __future__ import annotations

import json


def test_loopback_aliases(host) -> None:
    addrs = json.loads(host.check_output("ip -j addr show dev lo"))
    inet = sorted((a["local"], a["prefixlen"]) for a in addrs[0]["addr_info"] if a["family"] == "inet")
    # Exactly the two aliases (each once) and the interface's own address, left alone.
    assert inet == [("127.0.0.1", 8), ("198.51.100.1", 32), ("198.51.100.2", 32)]
    inet6 = sorted((a["local"], a["prefixlen"]) for a in addrs[0]["addr_info"] if a["family"] == "inet6")
    assert inet6 in ([], [("::1", 128)])  # nothing added; ::1 when the container has IPv6


def test_tap_device_owned_by_developer(host) -> None:
    uid = host.user("hbdev").uid
    assert host.file("/sys/class/net/tap1/owner").content_string.strip() == str(uid)
    addrs = json.loads(host.check_output("ip -j addr show dev tap1"))
    assert {(a["local"], a["prefixlen"]) for a in addrs[0]["addr_info"] if a["family"] == "inet"} == {("10.0.75.1", 24)}


def test_hosts_names_in_one_managed_block(host) -> None:
    lines = host.file("/etc/hosts").content_string.splitlines()
    markers = [n for n, line in enumerate(lines) if "dockermac.hostbridge" in line]
    assert len(markers) == 2, markers  # one BEGIN and one END marker
    begin, end = markers
    assert lines[begin].startswith("# BEGIN dockermac.hostbridge")
    assert lines[end] == "# END dockermac.hostbridge"
    # The block holds exactly the two entries, in order; nothing of ours outside it.
    want = [["198.51.100.1", "nginx.test"], ["198.51.100.2", "api.test", "api.internal"]]
    assert [line.split() for line in lines[begin + 1:end]] == want
    outside = [line.split() for line in lines[:begin] + lines[end + 1:] if line.strip() and not line.startswith("#")]
    assert ["127.0.0.1", "localhost"] in outside  # Docker's own lines are kept
    assert not [f for f in outside if f[0].startswith("198.51.100.") or "nginx.test" in f or "api.test" in f]
