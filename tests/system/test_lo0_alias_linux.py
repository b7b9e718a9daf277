"""lo0_alias end to end on Linux: the real module, run by ansible-playbook inside a network namespace.

Each test makes its own namespace (``hb-lo0_alias-<random>``, loopback up, a veth pair as "another
interface") and deletes it afterwards; the host's interfaces are never touched.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import typing as t

import pytest

from ansible_collections.dockermac.hostbridge.tests.system.playbook import run_module_in_netns

pytestmark = pytest.mark.root

MANY_V4 = [f"198.51.100.{n}" for n in range(1, 21)]
MANY_V6 = [f"fd00:db8:77::{n:x}" for n in range(1, 6)]


def sh(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


class Netns:
    def __init__(self, name: str, tmp: str) -> None:
        self.name = name
        self.tmp = tmp

    def addresses(self, dev: str = "lo") -> list[str]:
        links = json.loads(sh("ip", "-n", self.name, "-j", "addr", "show", "dev", dev))
        return sorted(f"{a['local']}/{a['prefixlen']}" for link in links for a in link.get("addr_info", []))

    def everything(self) -> str:
        """Every address of every interface in the namespace (to prove nothing changed)."""
        return sh("ip", "-n", self.name, "-o", "addr", "show")

    def ip(self, *args: str) -> None:
        sh("ip", "-n", self.name, *args)

    def play(self, args: dict[str, t.Any], *, check: bool = False, diff: bool = False) -> dict[str, t.Any]:
        return run_module_in_netns(self.name, self.tmp, "lo0_alias", args, check=check, diff=diff)


@pytest.fixture
def netns(tmp_path) -> t.Iterator[Netns]:
    name = f"hb-lo0_alias-{secrets.token_hex(3)}"
    sh("ip", "netns", "add", name)
    try:
        ns = Netns(name, str(tmp_path))
        ns.ip("link", "set", "lo", "up")
        ns.ip("link", "add", "hbv0", "type", "veth", "peer", "name", "hbv1")
        ns.ip("link", "set", "hbv0", "up")
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


STOCK = ["127.0.0.1/8", "::1/128"]


def test_add_many_check_mode_then_real_then_idempotent(netns: Netns) -> None:
    args = {"addresses": [*MANY_V4, *MANY_V6]}
    want = sorted([f"{a}/32" for a in MANY_V4] + [f"{a}/128" for a in MANY_V6])

    checked = netns.play(args, check=True, diff=True)
    assert checked["changed"] is True
    assert len(checked["added"]) == 25
    assert "lo 198.51.100.20/32\n" in checked["diff"][0]["after"]
    assert netns.addresses() == sorted(STOCK)  # check mode changed nothing

    first = netns.play(args)
    assert first["changed"] is True
    assert sorted(first["added"]) == want
    assert netns.addresses() == sorted(STOCK + want)

    second = netns.play(args)
    assert second["changed"] is False
    assert second["added"] == second["removed"] == []
    assert sorted(second["addresses"]) == want


def test_prefix_is_corrected(netns: Netns) -> None:
    netns.ip("addr", "add", "198.51.100.5/24", "dev", "lo")
    netns.ip("addr", "add", "fd00:db8:77::5/64", "dev", "lo")
    result = netns.play({"addresses": ["198.51.100.5/32", "fd00:db8:77::5"]})
    assert result["changed"] is True
    assert result["removed"] == ["198.51.100.5/24", "fd00:db8:77::5/64"]
    assert netns.addresses() == sorted([*STOCK, "198.51.100.5/32", "fd00:db8:77::5/128"])
    assert netns.play({"addresses": ["198.51.100.5/32", "fd00:db8:77::5"]})["changed"] is False


def test_exclusive_within_removes_only_inside_and_never_the_loopbacks_own(netns: Netns) -> None:
    for extra in ("198.51.100.50/32", "10.77.0.1/32", "127.0.0.2/8", "fd00:db8:77::99/128", "fd00:9::1/128"):
        netns.ip("addr", "add", extra, "dev", "lo")
    result = netns.play({"addresses": ["198.51.100.1", "fd00:db8:77::1"], "exclusive_within": "198.51.100.0/24"})
    assert result["removed"] == ["198.51.100.50/32"]
    result = netns.play({"addresses": ["fd00:db8:77::1"], "exclusive_within": "fd00:db8:77::/64"})
    assert result["removed"] == ["fd00:db8:77::99/128"]
    # 127.0.0.0/8 covers 127.0.0.1 and ::/1 covers ::1: only 127.0.0.2 goes.
    assert netns.play({"addresses": [], "exclusive_within": "127.0.0.0/8"})["removed"] == ["127.0.0.2/8"]
    assert netns.play({"addresses": [], "exclusive_within": "::/1"})["changed"] is False
    assert netns.addresses() == sorted([*STOCK, "198.51.100.1/32", "10.77.0.1/32", "fd00:db8:77::1/128",
                                        "fd00:9::1/128"])


def test_absent_removes_exactly_what_present_made(netns: Netns) -> None:
    netns.ip("addr", "add", "198.51.100.200/32", "dev", "lo")  # somebody else's alias in the same range
    before = netns.everything()
    args = {"addresses": ["198.51.100.1", "198.51.100.2/24", "fd00:db8:77::1"]}
    assert netns.play(args)["changed"] is True
    gone = netns.play({**args, "state": "absent"}, diff=True)
    assert gone["changed"] is True
    assert gone["removed"] == ["198.51.100.1/32", "198.51.100.2/24", "fd00:db8:77::1/128"]
    assert gone["addresses"] == []
    assert netns.everything() == before
    assert netns.play({**args, "state": "absent"})["changed"] is False


def test_address_on_another_interface_fails_and_changes_nothing(netns: Netns) -> None:
    netns.ip("addr", "add", "198.51.100.77/24", "dev", "hbv0")
    before = netns.everything()
    result = netns.play({"addresses": ["198.51.100.1", "198.51.100.77"]})
    assert result["failed"] is True
    assert result["msg"].startswith("addresses: cannot add to lo: 198.51.100.77 is on hbv0.")
    assert netns.everything() == before


def test_unknown_interface_and_bad_input_fail_and_change_nothing(netns: Netns) -> None:
    before = netns.everything()
    result = netns.play({"addresses": ["198.51.100.1"], "interface": "hb-nope0"})
    assert result["failed"] is True
    assert result["msg"] == "interface: 'hb-nope0' does not exist on this host"
    result = netns.play({"addresses": ["198.51.100.1", "224.0.0.9"]})
    assert result["failed"] is True
    assert result["msg"] == "addresses[1]: '224.0.0.9' is a multicast address"
    result = netns.play({"addresses": ["198.51.100.1"], "persistent": True})  # no systemd here
    assert result["failed"] is True
    assert "persistence needs systemd or launchd; not available on this host" in result["msg"]
    # IPv6 switched off (as Docker does in containers): refused before the IPv4 address is added.
    sh("ip", "netns", "exec", netns.name, "sysctl", "-q", "-w", "net.ipv6.conf.lo.disable_ipv6=1")
    before = netns.everything()
    result = netns.play({"addresses": ["198.51.100.1", "fd00:db8:77::1"]})
    assert result["failed"] is True
    assert result["msg"].startswith("addresses: IPv6 is disabled on lo")
    assert netns.everything() == before


def test_another_interface_can_be_managed(netns: Netns) -> None:
    result = netns.play({"addresses": ["10.0.75.1/24"], "interface": "hbv0"})
    assert result["interface"] == "hbv0"
    assert "10.0.75.1/24" in netns.addresses("hbv0")
