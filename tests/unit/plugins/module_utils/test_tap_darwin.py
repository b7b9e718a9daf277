"""macOS tap devices (tuntaposx): recorded ``ifconfig``/``kmutil``/``kextstat`` output in, exact argv out.

``/dev/tapN`` is faked with a ``stat`` stand-in (a character device, or not) and ``chown`` is recorded, so these
tests run anywhere; every command goes through FakeRunner. Samples: tests/fixtures/darwin (see SOURCES.md).
"""

from __future__ import annotations

import ipaddress
import os
import pwd
import stat
import typing as t

import pytest

from ansible_collections.dockermac.hostbridge.plugins.module_utils._darwin import TUNTAP_KEXT, kext_listed
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.plugins.module_utils._netinfo import parse_ifconfig, parse_ifconfig_status
from ansible_collections.dockermac.hostbridge.plugins.module_utils._tap import DarwinTap, manage
from ansible_collections.dockermac.hostbridge.tests.unit.utils import FakeRunner, context, fixture_text

IFCONFIG = ["ifconfig", "tap1"]
KMUTIL = ["kmutil", "showloaded", "--list-only", "-b", TUNTAP_KEXT]
KEXTSTAT = ["kextstat", "-l", "-b", TUNTAP_KEXT]
ROOT = 0
NOBODY = pwd.getpwnam("nobody")


def sample(name: str) -> str:
    return fixture_text("darwin", name)


OPEN = sample("ifconfig_tap1_open.txt")  # UP, 10.0.75.1/24, open (pid 25606)
FRESH = sample("ifconfig_tap1_open_unconfigured.txt")  # no UP, no address, open (pid 25606)
MISSING = sample("ifconfig_tap1_missing_stderr.txt")  # ifconfig: interface tap1 does not exist
KMUTIL_ERR = sample("kmutil_showloaded_stderr.txt")
KEXT_ROW = sample("kextstat_l_b_tuntap_tap.txt")
TUN_ONLY_ROW = sample("kextstat_l_b_tuntap_tun_only.txt")


class FakeDev:
    """``/dev``: each name maps to (mode, uid); chown calls are recorded and applied."""

    def __init__(self, nodes: dict[str, tuple[int, int]] | None = None, *, chown_error: OSError | None = None) -> None:
        self.nodes = dict(nodes or {})
        self.chowns: list[tuple[str, int, int]] = []
        self.chown_error = chown_error

    def stat(self, path: str) -> os.stat_result:
        name = os.path.basename(path)
        assert path == f"/dev/{name}", path
        if name not in self.nodes:
            raise FileNotFoundError(2, "No such file or directory", path)
        mode, uid = self.nodes[name]
        return os.stat_result((mode, 1, 1, 1, uid, 0, 0, 0, 0, 0))

    def chown(self, path: str, uid: int, gid: int) -> None:
        if self.chown_error is not None:
            raise self.chown_error
        self.chowns.append((path, uid, gid))
        name = os.path.basename(path)
        self.nodes[name] = (self.nodes[name][0], uid)


def char_dev(uid: int) -> tuple[int, int]:
    return (stat.S_IFCHR | 0o660, uid)  # crw-rw---- as tuntaposx makes it (devfs_make_node ... 0660)


def run(runner: FakeRunner, dev: FakeDev, *, check_mode: bool = False, diff_mode: bool = False,
        **params: t.Any) -> dict[str, t.Any]:
    params.setdefault("name", "tap1")
    params.setdefault("state", "present")
    backend = DarwinTap(runner, stat_fn=dev.stat, chown_fn=dev.chown)
    result = manage(context("Darwin", runner=runner, check_mode=check_mode, diff_mode=diff_mode), params,
                    backend=backend)
    runner.assert_done()
    return result


# --- parsing ---------------------------------------------------------------------------------------------
def test_parse_recorded_tap1_while_hyperkit_holds_it() -> None:
    status = parse_ifconfig_status(OPEN, "tap1")
    assert status is not None
    assert status.holder_pid == 25606
    assert status.flags == frozenset({"UP", "BROADCAST", "RUNNING", "PROMISC", "SIMPLEX", "MULTICAST"})
    assert parse_ifconfig(OPEN) == {"tap1": [ipaddress.ip_interface("10.0.75.1/24")]}


def test_parse_fresh_interface_and_other_blocks() -> None:
    status = parse_ifconfig_status(FRESH, "tap1")
    assert status is not None
    assert "UP" not in status.flags
    assert status.holder_pid == 25606
    assert parse_ifconfig(FRESH) == {"tap1": []}
    assert parse_ifconfig_status(OPEN, "tap2") is None
    # The status line of one interface is not credited to another one printed before it.
    both = OPEN + "tap2: flags=8842<BROADCAST,RUNNING,SIMPLEX,MULTICAST> mtu 1500\n"
    assert parse_ifconfig_status(both, "tap2") == (frozenset({"BROADCAST", "RUNNING", "SIMPLEX", "MULTICAST"}), None)


def test_kext_rows() -> None:
    assert kext_listed(KEXT_ROW) is True
    assert kext_listed(TUN_ONLY_ROW) is False  # net.sf.tuntaposx.tun is not the tap kext
    assert kext_listed("") is False


# --- state=present ---------------------------------------------------------------------------------------
def test_nothing_to_do_reads_once_and_reports() -> None:
    dev = FakeDev({"tap1": char_dev(NOBODY.pw_uid)})
    result = run(FakeRunner([(IFCONFIG, 0, OPEN, "")]), dev, owner="nobody", address="10.0.75.1/24")
    assert result == {"changed": False, "name": "tap1", "owner": "nobody", "address": "10.0.75.1/24",
                      "interface_present": True, "holder_pid": 25606, "actions": [], "warnings": []}
    assert dev.chowns == []


def test_owner_by_uid_is_set_with_chown_keeping_the_group() -> None:
    dev = FakeDev({"tap1": char_dev(ROOT)})
    result = run(FakeRunner([(IFCONFIG, 0, OPEN, "")]), dev, owner=str(NOBODY.pw_uid), address="10.0.75.1/24")
    assert result["changed"] is True
    assert dev.chowns == [("/dev/tap1", NOBODY.pw_uid, -1)]
    assert result["actions"] == [f"changing the owner of /dev/tap1 to nobody (uid {NOBODY.pw_uid})"]
    assert result["owner"] == "nobody"


def test_fresh_interface_gets_address_and_up_in_one_ifconfig() -> None:
    dev = FakeDev({"tap1": char_dev(NOBODY.pw_uid)})
    runner = FakeRunner([
        (IFCONFIG, 0, FRESH, ""),
        (["ifconfig", "tap1", "inet", "10.0.75.1/24", "up"], 0, "", ""),
    ])
    result = run(runner, dev, owner="nobody", address="10.0.75.1/24", diff_mode=True)
    assert result["changed"] is True
    assert result["address"] == "10.0.75.1/24"
    assert result["diff"] == {
        "before_header": "/dev/tap1", "after_header": "/dev/tap1",
        "before": f"device /dev/tap1: owner nobody (uid {NOBODY.pw_uid})\ninterface tap1: link down\n",
        "after": (f"device /dev/tap1: owner nobody (uid {NOBODY.pw_uid})\ninterface tap1: link up\n"
                  "interface tap1: address 10.0.75.1/24\n"),
    }


def test_other_prefix_replaces_the_address() -> None:
    dev = FakeDev({"tap1": char_dev(NOBODY.pw_uid)})
    runner = FakeRunner([
        (IFCONFIG, 0, OPEN, ""),
        (["ifconfig", "tap1", "inet", "10.0.75.1/30", "up"], 0, "", ""),
    ])
    result = run(runner, dev, owner="nobody", address="10.0.75.1/30", diff_mode=True)
    assert result["diff"]["before"].endswith("interface tap1: address 10.0.75.1/24\n")
    assert result["diff"]["after"].endswith("interface tap1: link up\ninterface tap1: address 10.0.75.1/30\n")


def test_address_present_but_link_down_only_brings_it_up() -> None:
    # The recorded sample with UP cleared, as `ifconfig tap1 down` leaves it.
    down = OPEN.replace("flags=8943<UP,BROADCAST,", "flags=8942<BROADCAST,")
    dev = FakeDev({"tap1": char_dev(NOBODY.pw_uid)})
    runner = FakeRunner([(IFCONFIG, 0, down, ""), (["ifconfig", "tap1", "up"], 0, "", "")])
    assert run(runner, dev, owner="nobody", address="10.0.75.1/24")["actions"] == ["bringing tap1 up"]


def test_interface_missing_sets_owner_and_leaves_the_address_for_later() -> None:
    dev = FakeDev({"tap1": char_dev(ROOT)})
    result = run(FakeRunner([(IFCONFIG, 1, "", MISSING)]), dev, owner="nobody", address="10.0.75.1/24",
                 diff_mode=True)
    assert result["changed"] is True
    assert (result["interface_present"], result["address"], result["holder_pid"]) == (False, None, None)
    assert dev.chowns == [("/dev/tap1", NOBODY.pw_uid, -1)]
    assert result["diff"]["after"] == f"device /dev/tap1: owner nobody (uid {NOBODY.pw_uid})\ninterface tap1: absent\n"
    # Second run: only the read, nothing changed.
    again = run(FakeRunner([(IFCONFIG, 1, "", MISSING)]), dev, owner="nobody", address="10.0.75.1/24")
    assert again["changed"] is False
    # The address that could not be set is said, not only implied by interface_present (the harness warns).
    assert result["warnings"] == again["warnings"] == [
        "tap1: the interface does not exist (no process holds /dev/tap1 open), so 10.0.75.1/24 was not set; run the "
        "module again once hyperkit has opened the device, or set require_interface: true to fail instead."]
    assert run(FakeRunner([(IFCONFIG, 1, "", MISSING)]), dev, owner="nobody")["warnings"] == []


def test_require_interface_fails_before_any_change() -> None:
    dev = FakeDev({"tap1": char_dev(ROOT)})
    with pytest.raises(HostbridgeError) as info:
        run(FakeRunner([(IFCONFIG, 1, "", MISSING)]), dev, owner="nobody", address="10.0.75.1/24",
            require_interface=True)
    assert info.value.msg.startswith("tap1: the interface does not exist - no process holds /dev/tap1 open.")
    assert "require_interface: false" in info.value.msg
    assert dev.chowns == []


def test_check_mode_changes_nothing_and_predicts() -> None:
    dev = FakeDev({"tap1": char_dev(ROOT)})
    result = run(FakeRunner([(IFCONFIG, 0, FRESH, "")]), dev, owner="nobody", address="10.0.75.1/24",
                 check_mode=True)
    assert result["changed"] is True
    assert result["actions"] == [f"changing the owner of /dev/tap1 to nobody (uid {NOBODY.pw_uid})",
                                 "setting 10.0.75.1/24 on tap1 and bringing it up"]
    assert dev.chowns == []


# --- the kernel extension --------------------------------------------------------------------------------
def test_missing_node_and_kext_not_loaded_says_how_to_install() -> None:
    runner = FakeRunner([(KMUTIL, 0, "", KMUTIL_ERR)])
    with pytest.raises(HostbridgeError) as info:
        run(runner, FakeDev(), owner="nobody")
    msg = info.value.msg
    assert msg.startswith("name: /dev/tap1 does not exist: the tuntap kernel extension net.sf.tuntaposx.tap is not "
                          "loaded. Install tuntaposx (Intel Macs only): with the tap_bridge role set "
                          "tap_bridge_tuntap_pkg")
    assert msg.endswith("then `sudo kextload /Library/Extensions/tap.kext`.")
    assert info.value.details["kext_loaded"] is False
    assert info.value.details["cmd"] == KMUTIL
    assert (info.value.details["rc"], info.value.details["stderr"]) == (0, KMUTIL_ERR)


def test_kextstat_is_the_fallback_without_kmutil() -> None:
    runner = FakeRunner([(KEXTSTAT, 0, TUN_ONLY_ROW, "")], missing=["kmutil"])
    with pytest.raises(HostbridgeError, match=r"net\.sf\.tuntaposx\.tap is not loaded"):
        run(runner, FakeDev(), owner="nobody")


def test_kext_loaded_but_only_tap0_to_tap15_exist() -> None:
    runner = FakeRunner([(KMUTIL, 0, KEXT_ROW, KMUTIL_ERR)])
    with pytest.raises(HostbridgeError) as info:
        run(runner, FakeDev(), name="tap20", owner="nobody")
    assert info.value.msg == ("name: /dev/tap20 does not exist, although net.sf.tuntaposx.tap is loaded: tuntaposx "
                              "makes /dev/tap0 to /dev/tap15 only; pick one of those.")


def test_kext_loaded_but_node_missing_suggests_a_reload() -> None:
    runner = FakeRunner([(KEXTSTAT, 0, KEXT_ROW, "")], missing=["kmutil"])
    with pytest.raises(HostbridgeError, match=r"although net\.sf\.tuntaposx\.tap is loaded\. Reload it"):
        run(runner, FakeDev(), owner="nobody")


def test_not_a_character_device_and_no_tool_to_ask() -> None:
    dev = FakeDev({"tap1": (stat.S_IFREG | 0o644, ROOT)})
    runner = FakeRunner([], missing=["kmutil", "kextstat"])
    with pytest.raises(HostbridgeError) as info:
        run(runner, dev, owner="nobody")
    assert info.value.msg.startswith("name: /dev/tap1 is not a character device, and whether the tuntap kernel "
                                     "extension net.sf.tuntaposx.tap is loaded could not be checked")
    assert info.value.details["kext_loaded"] is None
    assert dev.chowns == []


# --- state=absent ----------------------------------------------------------------------------------------
def test_absent_gives_the_node_back_to_root_and_removes_the_address() -> None:
    dev = FakeDev({"tap1": char_dev(NOBODY.pw_uid)})
    runner = FakeRunner([
        (IFCONFIG, 0, OPEN, ""),
        (["ifconfig", "tap1", "inet", "10.0.75.1", "-alias"], 0, "", ""),
    ])
    result = run(runner, dev, state="absent", address="10.0.75.1/24")
    assert dev.chowns == [("/dev/tap1", ROOT, -1)]
    assert result["actions"] == ["changing the owner of /dev/tap1 to root (uid 0)", "removing 10.0.75.1/24 from tap1"]
    assert (result["owner"], result["address"], result["interface_present"]) == ("root", None, True)


def test_absent_without_address_only_chowns_and_is_idempotent() -> None:
    dev = FakeDev({"tap1": char_dev(NOBODY.pw_uid)})
    assert run(FakeRunner([(IFCONFIG, 0, OPEN, "")]), dev, state="absent")["changed"] is True
    assert dev.chowns == [("/dev/tap1", ROOT, -1)]
    assert run(FakeRunner([(IFCONFIG, 1, "", MISSING)]), dev, state="absent", address="10.0.75.1/24")["changed"] \
        is False


def test_absent_without_the_kext_has_nothing_to_undo() -> None:
    result = run(FakeRunner([]), FakeDev(), state="absent")
    assert (result["changed"], result["owner"], result["interface_present"]) == (False, None, False)


# --- failures --------------------------------------------------------------------------------------------
def test_unknown_owner_fails_before_reading_anything() -> None:
    class NoStat(FakeDev):
        def stat(self, path: str) -> os.stat_result:
            raise AssertionError("read before validation")

    with pytest.raises(HostbridgeError) as info:
        run(FakeRunner([]), NoStat(), owner="hb-no-such-user")
    assert info.value.msg == "owner: 'hb-no-such-user' is not a user on this host"
    assert info.value.details == {"field": "owner", "value": "hb-no-such-user"}


def test_other_ifconfig_failure_carries_rc_and_stderr() -> None:
    dev = FakeDev({"tap1": char_dev(ROOT)})
    with pytest.raises(HostbridgeError) as info:
        run(FakeRunner([(IFCONFIG, 1, "", "ifconfig: ioctl (SIOCGIFFLAGS): Device not configured\n")]), dev,
            owner="nobody")
    assert info.value.msg == "ifconfig tap1 failed (rc=1): ifconfig: ioctl (SIOCGIFFLAGS): Device not configured"
    assert info.value.details["rc"] == 1
    assert dev.chowns == []


def test_failing_ifconfig_after_chown_reports_what_was_done() -> None:
    dev = FakeDev({"tap1": char_dev(ROOT)})
    runner = FakeRunner([
        (IFCONFIG, 0, FRESH, ""),
        (["ifconfig", "tap1", "inet", "10.0.75.1/24", "up"], 1, "", "ifconfig: ioctl (SIOCAIFADDR): File exists\n"),
    ])
    with pytest.raises(HostbridgeError) as info:
        run(runner, dev, owner="nobody", address="10.0.75.1/24")
    assert info.value.msg == ("setting 10.0.75.1/24 on tap1 and bringing it up failed (rc=1): ifconfig: ioctl "
                              "(SIOCAIFADDR): File exists")
    assert info.value.details["changed"] is True
    assert info.value.details["actions"] == [f"changing the owner of /dev/tap1 to nobody (uid {NOBODY.pw_uid})"]
    assert info.value.details["stderr"] == "ifconfig: ioctl (SIOCAIFADDR): File exists\n"


def test_chown_failure_is_a_clear_error() -> None:
    dev = FakeDev({"tap1": char_dev(ROOT)}, chown_error=PermissionError(1, "Operation not permitted"))
    with pytest.raises(HostbridgeError) as info:
        run(FakeRunner([(IFCONFIG, 1, "", MISSING)]), dev, owner="nobody")
    assert info.value.msg == (f"Cannot change the owner of /dev/tap1 to nobody (uid {NOBODY.pw_uid}): "
                              "Operation not permitted")
    assert info.value.details["changed"] is False
