"""The tap_device module through AnsibleModule: argument handling, results, and the Linux backend.

Linux state comes from a stand-in ``/sys/class/net`` (``tun_flags``, ``owner``) and ``ip -d -j addr show``
output recorded with iproute2 6.1.0 on Debian 12; the TUNSETOWNER ioctl is recorded. The real kernel side is
proven in tests/system/test_tap_device_linux.py.
"""

from __future__ import annotations

import json
import pwd
import typing as t
from unittest import mock

import pytest

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _module, _tap
from ansible_collections.dockermac.hostbridge.plugins.modules import tap_device
from ansible_collections.dockermac.hostbridge.tests.unit.utils import FakeRunner, fixture_text, run_module

NOBODY = pwd.getpwnam("nobody").pw_uid
DAEMON = pwd.getpwnam("daemon").pw_uid
SHOW = ["ip", "-d", "-j", "addr", "show", "dev", "tap1"]

# `ip -n NS -d -j addr show dev tap1` after `ip tuntap add dev tap1 mode tap user nobody`,
# `ip addr add 10.0.75.1/24 dev tap1`, `ip link set tap1 up` (iproute2 6.1.0, Debian 12).
TAP1_UP = (
    '[{"ifindex":2,"ifname":"tap1","flags":["NO-CARRIER","BROADCAST","MULTICAST","UP"],"mtu":1500,'
    '"qdisc":"pfifo_fast","operstate":"DOWN","group":"default","txqlen":1000,"link_type":"ether",'
    '"address":"56:81:d0:a0:3b:e7","broadcast":"ff:ff:ff:ff:ff:ff","promiscuity":0,"allmulti":0,"min_mtu":68,'
    '"max_mtu":65521,"linkinfo":{"info_kind":"tun","info_data":{"type":"tap","pi":false,"vnet_hdr":false,'
    '"multi_queue":false,"persist":true,"user":"nobody"}},"num_tx_queues":1,"num_rx_queues":1,'
    '"gso_max_size":65536,"gso_max_segs":65535,"tso_max_size":65536,"tso_max_segs":65535,"gro_max_size":65536,'
    '"addr_info":[{"family":"inet","local":"10.0.75.1","prefixlen":24,"scope":"global","label":"tap1",'
    '"valid_life_time":4294967295,"preferred_life_time":4294967295}]}]'
)
# The same device right after `ip tuntap add` (down, no address).
TAP1_NEW = (
    '[{"ifindex":2,"ifname":"tap1","flags":["BROADCAST","MULTICAST"],"mtu":1500,"qdisc":"noop",'
    '"operstate":"DOWN","group":"default","txqlen":1000,"link_type":"ether","address":"1e:f7:fb:f1:dd:10",'
    '"broadcast":"ff:ff:ff:ff:ff:ff","promiscuity":0,"allmulti":0,"min_mtu":68,"max_mtu":65521,'
    '"linkinfo":{"info_kind":"tun","info_data":{"type":"tap","pi":false,"vnet_hdr":false,"multi_queue":false,'
    '"persist":true,"user":"nobody"}},"num_tx_queues":1,"num_rx_queues":1,"gso_max_size":65536,'
    '"gso_max_segs":65535,"tso_max_size":65536,"tso_max_segs":65535,"gro_max_size":65536,"addr_info":[]}]'
)
# `ip link add tap1 type veth peer name hbp1` (-d -j addr show: linkinfo veth, no tun_flags in sysfs).
VETH_TAP1 = (
    '[{"ifindex":4,"link":"hbp1","ifname":"tap1","flags":["BROADCAST","MULTICAST","M-DOWN"],"mtu":1500,'
    '"qdisc":"noop","operstate":"DOWN","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether",'
    '"address":"fe:01:12:a0:fd:92","broadcast":"ff:ff:ff:ff:ff:ff","promiscuity":0,"allmulti":0,"min_mtu":68,'
    '"max_mtu":65535,"linkinfo":{"info_kind":"veth"},"inet6_addr_gen_mode":"eui64","num_tx_queues":2,'
    '"num_rx_queues":2,"addr_info":[]}]'
)


class FakeTun:
    """Records TUNSETOWNER calls instead of making them."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int]] = []

    def set_owner(self, name: str, *, flags: int, uid: int) -> None:
        self.calls.append((name, flags, uid))


def tap_sysfs(root: t.Any, name: str = "tap1", *, flags: str = "0x1802", owner: int | None = NOBODY) -> None:
    """What the kernel shows for a persistent TAP device (0x1802 = IFF_TAP | IFF_NO_PI | IFF_PERSIST)."""
    (root / name).mkdir()
    (root / name / "tun_flags").write_text(f"{flags}\n")
    (root / name / "owner").write_text(f"{-1 if owner is None else owner}\n")


def module_run(runner: FakeRunner, args: dict[str, t.Any], *, system: str = "Linux",
               tun: FakeTun | None = None) -> dict[str, t.Any]:
    real_linux = _tap.LinuxTap

    def linux(r: t.Any) -> _tap.LinuxTap:
        return real_linux(r, tun=tun or FakeTun())

    with mock.patch.object(_module, "CommandRunner", return_value=runner), \
            mock.patch.object(_module.platform, "system", return_value=system), \
            mock.patch.dict(_tap.BACKENDS, Linux=linux):
        result = run_module(tap_device.main, args)
    runner.assert_done()
    return result


# --- arguments -------------------------------------------------------------------------------------------
def test_owner_is_required_with_state_present() -> None:
    result = module_run(FakeRunner([]), {"name": "tap1"})
    assert result["failed"] is True
    assert result["msg"] == "state is present but all of the following are missing: owner"


@pytest.mark.parametrize(
    ("args", "msg"),
    [
        ({"name": "tap256", "owner": "nobody"}, "name: 'tap256' must be a tap device name from tap0 to tap255"),
        ({"name": "eth0", "owner": "nobody"}, "name: 'eth0' must be a tap device name from tap0 to tap255"),
        ({"name": "tap1", "owner": "hb-no-such-user"}, "owner: 'hb-no-such-user' is not a user on this host"),
        ({"name": "tap1", "owner": "nobody", "address": "10.0.75.1"},
         "address: '10.0.75.1' needs a prefix length, such as 10.0.75.1/24"),
        ({"name": "tap1", "owner": "nobody", "address": "fd00::1/64"},
         "address: 'fd00::1/64' must be an IPv4 address with a prefix length, such as 10.0.75.1/24"),
        ({"name": "tap1", "owner": "nobody", "address": "10.0.75.0/24"},
         "address: '10.0.75.0/24' is the network address of 10.0.75.0/24"),
        ({"name": "tap1", "owner": "nobody", "address": "127.0.0.9/8"}, "address: '127.0.0.9/8' is a loopback address"),
    ],
)
def test_bad_input_fails_before_any_command(sysfs, args: dict[str, t.Any], msg: str) -> None:
    result = module_run(FakeRunner([]), args)  # FakeRunner would fail on any command
    assert result["failed"] is True
    assert result["msg"] == msg
    assert "changed" not in result


def test_unsupported_platform() -> None:
    result = module_run(FakeRunner([]), {"name": "tap1", "owner": "nobody"}, system="FreeBSD")
    assert result["failed"] is True
    assert result["msg"] == "tap_device does not support 'FreeBSD' (only macOS (Darwin) and Linux)"


# --- Linux -----------------------------------------------------------------------------------------------
def test_linux_creates_addresses_and_brings_up(sysfs) -> None:
    runner = FakeRunner([
        (["ip", "tuntap", "add", "dev", "tap1", "mode", "tap", "user", str(NOBODY)], 0, "", ""),
        (["ip", "addr", "replace", "10.0.75.1/24", "dev", "tap1"], 0, "", ""),
        (["ip", "link", "set", "dev", "tap1", "up"], 0, "", ""),
    ])
    result = module_run(runner, {"name": "tap1", "owner": "nobody", "address": "10.0.75.1/24", "_ansible_diff": True})
    assert result["changed"] is True
    assert (result["owner"], result["address"], result["interface_present"]) == ("nobody", "10.0.75.1/24", True)
    assert result["diff"] == {
        "before_header": "tap1", "after_header": "tap1", "before": "device tap1: absent\n",
        "after": f"device tap1: owner nobody (uid {NOBODY})\ninterface tap1: link up\n"
                 "interface tap1: address 10.0.75.1/24\n",
    }


def test_linux_unchanged_device_runs_only_the_read(sysfs) -> None:
    tap_sysfs(sysfs)
    result = module_run(FakeRunner([(SHOW, 0, TAP1_UP, "")]),
                        {"name": "tap1", "owner": "nobody", "address": "10.0.75.1/24"})
    assert result == {"changed": False, "name": "tap1", "owner": "nobody", "address": "10.0.75.1/24",
                      "interface_present": True, "holder_pid": None, "actions": []}


def test_linux_owner_changes_in_place_with_the_devices_own_flags(sysfs) -> None:
    tap_sysfs(sysfs, owner=NOBODY)
    tun = FakeTun()
    result = module_run(FakeRunner([(SHOW, 0, TAP1_UP, "")]), {"name": "tap1", "owner": "daemon"}, tun=tun)
    assert tun.calls == [("tap1", 0x1802, DAEMON)]
    assert result["actions"] == [f"changing the owner of tap1 to daemon (uid {DAEMON})"]
    assert result["owner"] == "daemon"
    assert result["address"] is None  # not managed without the option


def test_linux_existing_device_without_owner_gets_one(sysfs) -> None:
    tap_sysfs(sysfs, owner=None)
    tun = FakeTun()
    runner = FakeRunner([
        (SHOW, 0, TAP1_NEW, ""),
        (["ip", "addr", "replace", "10.0.75.1/24", "dev", "tap1"], 0, "", ""),
        (["ip", "link", "set", "dev", "tap1", "up"], 0, "", ""),
    ])
    result = module_run(runner, {"name": "tap1", "owner": "nobody", "address": "10.0.75.1/24",
                                 "_ansible_diff": True}, tun=tun)
    assert tun.calls == [("tap1", 0x1802, NOBODY)]
    assert result["diff"]["before"] == "device tap1: owner none\ninterface tap1: link down\n"


def test_linux_same_address_other_prefix_is_replaced(sysfs) -> None:
    tap_sysfs(sysfs)
    runner = FakeRunner([
        (SHOW, 0, TAP1_UP, ""),
        (["ip", "addr", "del", "10.0.75.1/24", "dev", "tap1"], 0, "", ""),
        (["ip", "addr", "replace", "10.0.75.1/30", "dev", "tap1"], 0, "", ""),
    ])
    result = module_run(runner, {"name": "tap1", "owner": "nobody", "address": "10.0.75.1/30"})
    assert result["actions"] == ["removing 10.0.75.1/24 from tap1", "adding 10.0.75.1/30 to tap1"]


def test_linux_check_mode_runs_nothing(sysfs) -> None:
    result = module_run(FakeRunner([]), {"name": "tap1", "owner": "nobody", "address": "10.0.75.1/24",
                                         "_ansible_check_mode": True})
    assert result["changed"] is True
    assert len(result["actions"]) == 3


def test_linux_veth_named_tap1_is_refused(sysfs) -> None:
    (sysfs / "tap1").mkdir()  # a veth has no tun_flags
    result = module_run(FakeRunner([(SHOW, 0, VETH_TAP1, "")]), {"name": "tap1", "owner": "nobody"})
    assert result["failed"] is True
    assert result["msg"] == ("name: 'tap1' exists but is a veth interface, not a TAP device; it was left untouched. "
                             "Remove it or pick another name.")
    # ... and so is state=absent: nothing is deleted.
    result = module_run(FakeRunner([(SHOW, 0, VETH_TAP1, "")]), {"name": "tap1", "state": "absent"})
    assert result["failed"] is True


def test_linux_tun_device_named_tap1_is_refused(sysfs) -> None:
    tap_sysfs(sysfs, flags="0x1801", owner=None)  # IFF_TUN | IFF_NO_PI | IFF_PERSIST
    result = module_run(FakeRunner([(SHOW, 0, TAP1_NEW, "")]), {"name": "tap1", "state": "absent"})
    assert result["msg"].startswith("name: 'tap1' exists but is a TUN device, not a TAP device")


def test_linux_absent_deletes_and_is_idempotent(sysfs) -> None:
    tap_sysfs(sysfs)
    runner = FakeRunner([(SHOW, 0, TAP1_UP, ""), (["ip", "tuntap", "del", "dev", "tap1", "mode", "tap"], 0, "", "")])
    result = module_run(runner, {"name": "tap1", "state": "absent", "owner": "nobody"})
    assert (result["changed"], result["owner"], result["interface_present"]) == (True, None, False)
    (sysfs / "tap1" / "tun_flags").unlink()
    (sysfs / "tap1" / "owner").unlink()
    (sysfs / "tap1").rmdir()
    assert module_run(FakeRunner([]), {"name": "tap1", "state": "absent"})["changed"] is False


def test_linux_failure_carries_rc_and_stderr(sysfs) -> None:
    runner = FakeRunner([
        (["ip", "tuntap", "add", "dev", "tap1", "mode", "tap", "user", str(NOBODY)], 1, "",
         "open: No such file or directory\n"),
    ])
    result = module_run(runner, {"name": "tap1", "owner": "nobody"})
    assert result["failed"] is True
    assert result["msg"] == (f"creating tap1 owned by nobody (uid {NOBODY}) failed (rc=1): "
                             "open: No such file or directory")
    assert (result["rc"], result["stderr"], result["changed"]) == (1, "open: No such file or directory\n", False)


def test_tunsetowner_on_a_missing_clone_device_is_a_clear_error(tmp_path) -> None:
    tun = _tap.TunControl()
    tun.clone_path = str(tmp_path / "no-tun")
    with pytest.raises(_tap.HostbridgeError, match=r"^Cannot open .*/no-tun to change the owner of tap1: No such"):
        tun.set_owner("tap1", flags=0x1802, uid=NOBODY)


def test_ioctl_numbers_match_linux_if_tun_h() -> None:
    with mock.patch.object(_tap.platform, "machine", return_value="x86_64"):
        assert (_tap._iow_t(202), _tap._iow_t(204)) == (0x400454CA, 0x400454CC)  # TUNSETIFF, TUNSETOWNER
    with mock.patch.object(_tap.platform, "machine", return_value="ppc64le"):
        assert _tap._iow_t(202) == 0x800454CA


# --- macOS through the module ----------------------------------------------------------------------------
def test_darwin_missing_device_through_the_module(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(_tap.DarwinTap, "dev_dir", str(tmp_path))  # an empty /dev: no tap1
    runner = FakeRunner([(["kmutil", "showloaded", "--list-only", "-b", "net.sf.tuntaposx.tap"], 0, "",
                          fixture_text("darwin", "kmutil_showloaded_stderr.txt"))])
    result = module_run(runner, {"name": "tap1", "owner": "nobody", "address": "10.0.75.1/24"}, system="Darwin")
    assert result["failed"] is True
    assert result["msg"].startswith(f"name: {tmp_path}/tap1 does not exist: the tuntap kernel extension "
                                    "net.sf.tuntaposx.tap is not loaded.")
    assert (result["field"], result["kext_loaded"], result["rc"]) == ("name", False, 0)
    json.dumps(result)
