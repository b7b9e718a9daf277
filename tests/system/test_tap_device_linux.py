"""tap_device end to end on Linux: the real module, run by ansible-playbook inside a network namespace.

Each test makes its own namespace (``hb-tap_device-<random>``, loopback up) and deletes it afterwards, with every
device in it; the host's interfaces are never touched. Whether the owner can really attach is proven by running
TUNSETIFF as that user (``setpriv``) on a private copy of the /dev/net/tun node (the host's node may be 0600;
it is left alone).
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import tempfile
import typing as t

import pytest

from ansible_collections.dockermac.hostbridge.tests.system.playbook import run_module_in_netns

pytestmark = pytest.mark.root

NOBODY = pwd.getpwnam("nobody")
DAEMON = pwd.getpwnam("daemon")
IFF_TAP_NO_PI_PERSIST = "0x1802"

# TUNSETIFF (_IOW('T', 202, int), asm-generic encoding: x86_64, aarch64) with IFF_TAP | IFF_NO_PI; prints
# "attached", or the errno and exits 3. With "hold", it keeps the device open until stdin closes.
ATTACH = r"""
import fcntl, os, struct, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    fcntl.ioctl(fd, 0x400454CA, struct.pack("16sH22x", sys.argv[2].encode(), 0x1002))
except OSError as exc:
    print(exc.errno, flush=True)
    sys.exit(3)
print("attached", flush=True)
if sys.argv[3:] == ["hold"]:
    sys.stdin.read()
"""


def sh(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


# The system's Python: any user can run it (a pyenv or venv interpreter under /root cannot load its libpython
# as another user when /root is 0700).
USER_PYTHON = "/usr/bin/python3"


class Netns:
    def __init__(self, name: str, tmp: str, tun_node: str) -> None:
        self.name = name
        self.tmp = tmp
        self.tun_node = tun_node

    def ip(self, *args: str) -> str:
        return sh("ip", "-n", self.name, *args)

    def sysfs(self, dev: str, attribute: str) -> str:
        return sh("ip", "netns", "exec", self.name, "cat", f"/sys/class/net/{dev}/{attribute}").strip()

    def link(self, dev: str) -> dict[str, t.Any] | None:
        proc = subprocess.run(["ip", "-n", self.name, "-d", "-j", "addr", "show", "dev", dev], capture_output=True,
                              text=True, check=False)
        return json.loads(proc.stdout)[0] if proc.returncode == 0 else None

    def addresses(self, dev: str) -> list[str]:
        link = self.link(dev) or {}
        return sorted(f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", []) if a["family"] == "inet")

    def everything(self) -> list[t.Any]:
        """Every link (with its kind and owner) and address in the namespace, to prove nothing changed.

        IPv6 link-local addresses are left out: the kernel adds them on its own, a moment after a TAP device
        gets a carrier (a process attaching)."""
        links = json.loads(self.ip("-d", "-j", "addr", "show"))
        for link in links:
            link["addr_info"] = [a for a in link.get("addr_info", [])
                                 if not (a["family"] == "inet6" and a.get("scope") == "link")]
        return links

    def attach(self, user: pwd.struct_passwd, dev: str) -> str:
        """TUNSETIFF on ``dev`` as ``user``: "attached" or the errno."""
        proc = subprocess.run(self._as(user, dev), capture_output=True, text=True, check=False, timeout=30)
        assert proc.returncode in (0, 3), proc.stderr
        return proc.stdout.strip()

    def hold(self, user: pwd.struct_passwd, dev: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen([*self._as(user, dev), "hold"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "attached"
        return proc

    def _as(self, user: pwd.struct_passwd, dev: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, "setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}",
                "--clear-groups", USER_PYTHON, "-c", ATTACH, self.tun_node, dev]

    def play(self, args: dict[str, t.Any], *, check: bool = False, diff: bool = False) -> dict[str, t.Any]:
        return run_module_in_netns(self.name, self.tmp, "tap_device", args, check=check, diff=diff)


@pytest.fixture
def netns(tmp_path) -> t.Iterator[Netns]:
    name = f"hb-tap_device-{secrets.token_hex(3)}"
    # A world-readable directory (pytest's tmp_path is 0700) holding a 0666 copy of /dev/net/tun (10:200).
    node_dir = tempfile.mkdtemp(prefix="hb-tap_device-")
    os.chmod(node_dir, 0o755)  # noqa: S103 - nobody and daemon must reach the node
    node = os.path.join(node_dir, "tun")
    os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(10, 200))
    os.chmod(node, 0o666)  # noqa: S103 - a private copy of /dev/net/tun, as most distributions ship it
    sh("ip", "netns", "add", name)
    try:
        ns = Netns(name, str(tmp_path), node)
        ns.ip("link", "set", "lo", "up")
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)
        shutil.rmtree(node_dir, ignore_errors=True)


ARGS = {"name": "tap1", "owner": "nobody", "address": "10.0.75.1/24"}


def test_create_check_mode_then_real_then_idempotent_and_only_the_owner_attaches(netns: Netns) -> None:
    checked = netns.play(ARGS, check=True, diff=True)
    assert checked["changed"] is True
    assert checked["diff"]["before"] == "device tap1: absent\n"
    assert checked["diff"]["after"].endswith("interface tap1: link up\ninterface tap1: address 10.0.75.1/24\n")
    assert netns.link("tap1") is None  # check mode created nothing

    first = netns.play(ARGS)
    assert first["changed"] is True
    assert (first["owner"], first["address"], first["interface_present"]) == ("nobody", "10.0.75.1/24", True)
    assert netns.sysfs("tap1", "tun_flags") == IFF_TAP_NO_PI_PERSIST
    assert netns.sysfs("tap1", "owner") == str(NOBODY.pw_uid)
    assert netns.addresses("tap1") == ["10.0.75.1/24"]
    assert "UP" in (netns.link("tap1") or {})["flags"]

    second = netns.play(ARGS)
    assert second["changed"] is False
    assert second["actions"] == []

    assert netns.attach(NOBODY, "tap1") == "attached"
    assert netns.attach(DAEMON, "tap1") == "1"  # EPERM: another non-root user may not attach


def test_owner_change_in_place_keeps_ifindex_address_and_route(netns: Netns) -> None:
    assert netns.play(ARGS)["changed"] is True
    netns.ip("route", "add", "10.99.0.0/16", "via", "10.0.75.2", "dev", "tap1")
    before = netns.link("tap1") or {}

    changed = netns.play({**ARGS, "owner": "daemon"}, diff=True)
    assert changed["changed"] is True
    assert changed["actions"] == [f"changing the owner of tap1 to daemon (uid {DAEMON.pw_uid})"]
    assert changed["diff"]["before"].startswith(f"device tap1: owner nobody (uid {NOBODY.pw_uid})\n")
    assert changed["diff"]["after"].startswith(f"device tap1: owner daemon (uid {DAEMON.pw_uid})\n")
    after = netns.link("tap1") or {}
    assert netns.sysfs("tap1", "owner") == str(DAEMON.pw_uid)
    assert netns.sysfs("tap1", "tun_flags") == IFF_TAP_NO_PI_PERSIST  # flags kept
    assert after["ifindex"] == before["ifindex"]
    assert netns.addresses("tap1") == ["10.0.75.1/24"]
    assert "10.99.0.0/16 via 10.0.75.2" in netns.ip("route", "show", "dev", "tap1")

    assert netns.attach(DAEMON, "tap1") == "attached"
    assert netns.attach(NOBODY, "tap1") == "1"
    assert netns.play({**ARGS, "owner": "daemon"})["changed"] is False


def test_owner_change_of_a_device_in_use_fails_clearly_and_changes_nothing(netns: Netns) -> None:
    assert netns.play(ARGS)["changed"] is True
    holder = netns.hold(NOBODY, "tap1")
    try:
        before = netns.everything()
        result = netns.play({**ARGS, "owner": "daemon"})
        assert result["failed"] is True
        assert result["msg"] == ("Cannot attach to tap1 to change its owner (TUNSETIFF): Device or resource busy - "
                                 "a process has it open (a VM?); stop it and run again")
        assert result["changed"] is False
        assert netns.sysfs("tap1", "owner") == str(NOBODY.pw_uid)
        assert netns.everything() == before
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)


def test_existing_device_gets_address_link_and_prefix_correction(netns: Netns) -> None:
    netns.ip("tuntap", "add", "dev", "tap7", "mode", "tap", "user", str(NOBODY.pw_uid))
    result = netns.play({"name": "tap7", "owner": "nobody", "address": "10.0.77.1/24"})
    assert result["actions"] == ["adding 10.0.77.1/24 to tap7", "bringing tap7 up"]
    assert netns.addresses("tap7") == ["10.0.77.1/24"]

    netns.ip("addr", "add", "10.0.78.1/24", "dev", "tap7")  # someone else's address stays
    result = netns.play({"name": "tap7", "owner": "nobody", "address": "10.0.77.1/30"})
    assert result["actions"] == ["removing 10.0.77.1/24 from tap7", "adding 10.0.77.1/30 to tap7"]
    assert netns.addresses("tap7") == ["10.0.77.1/30", "10.0.78.1/24"]

    netns.ip("link", "set", "dev", "tap7", "down")
    assert netns.play({"name": "tap7", "owner": "nobody", "address": "10.0.77.1/30"})["actions"] == \
        ["bringing tap7 up"]


def test_absent_removes_exactly_what_present_made(netns: Netns) -> None:
    netns.ip("link", "add", "hbv0", "type", "veth", "peer", "name", "hbv1")
    netns.ip("addr", "add", "10.0.75.9/24", "dev", "hbv0")
    before = netns.everything()
    assert netns.play(ARGS)["changed"] is True
    gone = netns.play({"name": "tap1", "state": "absent"}, diff=True)
    assert gone["changed"] is True
    assert gone["actions"] == ["deleting tap1"]
    assert gone["diff"]["after"] == "device tap1: absent\n"
    assert (gone["owner"], gone["address"], gone["interface_present"]) == (None, None, False)
    assert netns.everything() == before
    assert netns.play({"name": "tap1", "state": "absent"})["changed"] is False


def test_veth_or_tun_named_tap_is_refused_untouched(netns: Netns) -> None:
    netns.ip("link", "add", "tap3", "type", "veth", "peer", "name", "hbp3")
    netns.ip("addr", "add", "10.0.75.1/24", "dev", "tap3")
    netns.ip("tuntap", "add", "dev", "tap4", "mode", "tun")
    before = netns.everything()
    for state in ("present", "absent"):
        result = netns.play({"name": "tap3", "owner": "nobody", "address": "10.0.75.1/24", "state": state})
        assert result["failed"] is True
        assert result["msg"] == ("name: 'tap3' exists but is a veth interface, not a TAP device; it was left "
                                 "untouched. Remove it or pick another name.")
        result = netns.play({"name": "tap4", "owner": "nobody", "state": state})
        assert result["failed"] is True
        assert result["msg"].startswith("name: 'tap4' exists but is a TUN device, not a TAP device")
    assert netns.everything() == before


def test_unknown_owner_and_bad_input_are_refused_with_nothing_changed(netns: Netns) -> None:
    before = netns.everything()
    result = netns.play({**ARGS, "owner": "hb-no-such-user"})
    assert result["failed"] is True
    assert result["msg"] == "owner: 'hb-no-such-user' is not a user on this host"
    assert result["field"] == "owner"
    result = netns.play({**ARGS, "address": "10.0.75.1"})
    assert result["msg"] == "address: '10.0.75.1' needs a prefix length, such as 10.0.75.1/24"
    result = netns.play({"name": "tap1"})
    assert result["msg"] == "state is present but all of the following are missing: owner"
    assert netns.everything() == before

    # An existing device keeps its owner when the new one is unknown.
    assert netns.play(ARGS)["changed"] is True
    before = netns.everything()
    assert netns.play({**ARGS, "owner": "4242424"})["msg"] == "owner: '4242424' is not a user on this host"
    assert netns.sysfs("tap1", "owner") == str(NOBODY.pw_uid)
    assert netns.everything() == before
