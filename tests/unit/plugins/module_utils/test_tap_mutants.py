"""``_tap.py`` where cosmic-ray's mutants survived the other tests (docs/development.md, "Mutation score"): the
exact TUNSETIFF/TUNSETOWNER calls and their failures, the holder of a Linux TAP device found in /proc, the
predicted addresses with more than one on the interface, other addresses left alone, read errors, boundaries."""

from __future__ import annotations

import errno
import fcntl
import os
import sys
import typing as t
from unittest import mock

import pytest

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _tap
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.tests.unit.plugins.module_utils.test_tap_darwin import (
    IFCONFIG,
    KEXT_ROW,
    KMUTIL,
    KMUTIL_ERR,
    MISSING,
    NOBODY,
    OPEN,
    ROOT,
    FakeDev,
    char_dev,
    run,
)
from ansible_collections.dockermac.hostbridge.tests.unit.plugins.modules.test_tap_device import (
    SHOW,
    TAP1_UP,
    module_run,
    tap_sysfs,
)
from ansible_collections.dockermac.hostbridge.tests.unit.utils import FakeRunner

TUNSETIFF, TUNSETOWNER = 0x400454CA, 0x400454CC  # <linux/if_tun.h>, _IOW('T', 202/204, int) on x86_64


# --- TunControl: the ioctls themselves -------------------------------------------------------------------
class Ioctls:
    """Stands in for fcntl.ioctl on an fd of a plain file opened as /dev/net/tun: records each call, with how
    the fd was opened, and fails the calls named in ``fail``."""

    def __init__(self, fail: dict[int, int] | None = None) -> None:
        self.calls: list[tuple[int, t.Any]] = []
        self.fds: set[int] = set()
        self.opened: set[tuple[int, bool]] = set()
        self.fail = fail or {}

    def __call__(self, fd: int, request: int, arg: t.Any) -> None:
        self.fds.add(fd)
        self.opened.add((fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE, os.get_inheritable(fd)))
        self.calls.append((request, arg))
        if request in self.fail:
            raise OSError(self.fail[request], os.strerror(self.fail[request]))


@pytest.fixture
def tun(tmp_path, monkeypatch) -> t.Callable[..., Ioctls]:
    clone = tmp_path / "tun"
    clone.write_bytes(b"")
    monkeypatch.setattr(_tap.TunControl, "clone_path", str(clone))
    monkeypatch.setattr(_tap.platform, "machine", lambda: "x86_64")

    def make(fail: dict[int, int] | None = None) -> Ioctls:
        ioctls = Ioctls(fail)
        monkeypatch.setattr(_tap.fcntl, "ioctl", ioctls)
        return ioctls

    return make


def ifreq(name: bytes, flags: int) -> bytes:
    """struct ifreq as TUNSETIFF reads it: ifr_name[16], then ifr_flags (a short), padded to 40 bytes."""
    return name.ljust(16, b"\0") + flags.to_bytes(2, sys.byteorder) + bytes(22)


@pytest.mark.parametrize(
    ("flags", "sent"),
    [
        (0x1802, 0x1002),  # IFF_TAP | IFF_NO_PI | IFF_PERSIST as sysfs shows it: IFF_PERSIST is not sent
        # Every bit: only the type bits and TUN_FEATURES (drivers/net/tun.c) go; not IFF_TUN_EXCL (exclusive
        # creation: EBUSY on an existing device), IFF_PERSIST, IFF_ATTACH/DETACH_QUEUE, IFF_NO_CARRIER.
        (0xFFFF, 0x0001 | 0x0002 | 0x0010 | 0x0020 | 0x0100 | 0x1000 | 0x2000 | 0x4000),
        (0, 0),
    ],
)
def test_tunsetiff_gets_the_devices_own_flags_the_kernel_keeps_then_tunsetowner_the_uid(
        tun: t.Callable[..., Ioctls], flags: int, sent: int) -> None:
    ioctls = tun()
    _tap.TunControl().set_owner("tap1", flags=flags, uid=NOBODY.pw_uid)
    assert ioctls.calls == [(TUNSETIFF, ifreq(b"tap1", sent)), (TUNSETOWNER, NOBODY.pw_uid)]
    assert ioctls.opened == {(os.O_RDWR, False)}  # read-write, close-on-exec
    (fd,) = ioctls.fds
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.fstat(fd)  # closed again


@pytest.mark.parametrize(
    ("code", "msg"),
    [
        (errno.EBUSY, "Cannot attach to tap1 to change its owner (TUNSETIFF): Device or resource busy - a process "
                      "has it open (a VM?); stop it and run again"),
        (errno.EPERM, "Cannot attach to tap1 to change its owner (TUNSETIFF): Operation not permitted"),
        (errno.EINVAL, "Cannot attach to tap1 to change its owner (TUNSETIFF): Invalid argument"),
    ],
)
def test_a_failed_tunsetiff_says_why_and_only_busy_blames_a_process(tun: t.Callable[..., Ioctls], code: int,
                                                                     msg: str) -> None:
    ioctls = tun({TUNSETIFF: code})
    with pytest.raises(HostbridgeError) as info:
        _tap.TunControl().set_owner("tap1", flags=0x1802, uid=NOBODY.pw_uid)
    assert (info.value.msg, info.value.details) == (msg, {"errno": code})
    assert [request for request, _ in ioctls.calls] == [TUNSETIFF]


def test_a_failed_tunsetowner_says_why(tun: t.Callable[..., Ioctls]) -> None:
    tun({TUNSETOWNER: errno.EPERM})
    with pytest.raises(HostbridgeError) as info:
        _tap.TunControl().set_owner("tap1", flags=0x1802, uid=NOBODY.pw_uid)
    assert (info.value.msg, info.value.details) == (
        "Cannot change the owner of tap1 (TUNSETOWNER): Operation not permitted", {"errno": errno.EPERM})


# --- LinuxTap.holder: who has the device open ------------------------------------------------------------
MY_NET, OTHER_NET = "net:[4026531840]", "net:[4026532999]"


def fake_proc(root: t.Any, pids: dict[str, tuple[str | None, dict[str, tuple[str, str | None]]]]) -> str:
    """/proc: pid -> (its ns/net link or None for a process gone meanwhile, fd -> (link, fdinfo or None))."""
    (root / "self" / "ns").mkdir(parents=True)
    os.symlink(MY_NET, root / "self" / "ns" / "net")
    for pid, (net, fds) in pids.items():
        (root / pid / "fd").mkdir(parents=True)
        (root / pid / "fdinfo").mkdir()
        if net is not None:
            (root / pid / "ns").mkdir()
            os.symlink(net, root / pid / "ns" / "net")
        for fd, (link, info) in fds.items():
            os.symlink(link, root / pid / "fd" / fd)
            if info is not None:
                (root / pid / "fdinfo" / fd).write_text(info)
    return str(root)


def tun_info(name: str) -> str:
    return f"pos:\t0\nflags:\t0104002\nmnt_id:\t25\nino:\t1041\niff:\t{name}\n"  # tun_chr_show_fdinfo


@pytest.fixture
def proc(tmp_path, monkeypatch) -> t.Callable[..., _tap.LinuxTap]:
    real = os.listdir
    monkeypatch.setattr(_tap.os, "listdir", lambda path: sorted(real(path)))  # /proc lists in ascending order

    def make(**pids: t.Any) -> _tap.LinuxTap:
        tap = _tap.LinuxTap(FakeRunner([]))
        tap.proc = fake_proc(tmp_path / "proc", {pid.lstrip("p"): value for pid, value in pids.items()})
        return tap

    return make


def test_the_holder_is_the_process_of_this_namespace_with_the_device_open(proc: t.Callable[..., t.Any]) -> None:
    tap = proc(
        p100=(OTHER_NET, {"3": ("/dev/net/tun", tun_info("tap1"))}),  # another namespace's tap1
        p150=(None, {}),  # exited between the listing and the look
        p200=(MY_NET, {"3": ("/dev/net/tun", tun_info("tap2"))}),  # another device
        p300=(MY_NET, {"0": ("/dev/null", None), "4": ("/dev/net/tun", None),  # fd 4 closed meanwhile
                       "5": ("/dev/net/tun", tun_info("tap1"))}),
    )
    assert (tap.holder("tap1"), tap.holder("tap2"), tap.holder("tap9")) == (300, 200, None)


def test_a_device_held_only_in_another_namespace_has_no_holder_here(proc: t.Callable[..., t.Any]) -> None:
    tap = proc(p100=(OTHER_NET, {"3": ("/dev/net/tun", tun_info("tap1"))}), p200=(MY_NET, {}))
    assert tap.holder("tap1") is None


# --- macOS -----------------------------------------------------------------------------------------------
def test_a_dev_node_that_cannot_be_read_is_a_clear_error() -> None:
    class Denied(FakeDev):
        def stat(self, path: str) -> os.stat_result:
            raise PermissionError(errno.EACCES, "Permission denied", path)

    with pytest.raises(HostbridgeError) as info:
        run(FakeRunner([]), Denied(), owner="nobody")
    assert (info.value.msg, info.value.details) == ("Cannot stat /dev/tap1: Permission denied", {"path": "/dev/tap1"})


def test_an_ifconfig_killed_by_a_signal_is_an_error() -> None:
    with pytest.raises(HostbridgeError, match=r"^ifconfig tap1 failed \(rc=-9\)$"):
        run(FakeRunner([(IFCONFIG, -9, "", "")]), FakeDev({"tap1": char_dev(NOBODY.pw_uid)}), owner="nobody")


def test_tap16_is_past_the_last_device_tuntaposx_makes() -> None:
    with pytest.raises(HostbridgeError, match=r"makes /dev/tap0 to /dev/tap15 only; pick one of those\.$"):
        run(FakeRunner([(KMUTIL, 0, KEXT_ROW, KMUTIL_ERR)]), FakeDev(), name="tap16", owner="nobody")


def test_require_interface_names_the_option_in_the_error() -> None:
    with pytest.raises(HostbridgeError) as info:
        run(FakeRunner([(IFCONFIG, 1, "", MISSING)]), FakeDev({"tap1": char_dev(NOBODY.pw_uid)}), owner="nobody",
            require_interface=True)
    assert info.value.details == {"field": "require_interface", "value": True, "interface_present": False}


def test_without_require_interface_a_missing_interface_is_not_an_error_through_the_module() -> None:
    dev = FakeDev({"tap1": char_dev(NOBODY.pw_uid)})
    with mock.patch.dict(_tap.BACKENDS, Darwin=lambda r: _tap.DarwinTap(r, stat_fn=dev.stat, chown_fn=dev.chown)):
        result = module_run(FakeRunner([(IFCONFIG, 1, "", MISSING)]), {"name": "tap1", "owner": "nobody"},
                            system="Darwin")
    assert (result.get("failed"), result["changed"], result["interface_present"]) == (None, False, False)


def test_owner_missing_is_refused_before_the_host_is_read() -> None:
    class NoStat(FakeDev):
        def stat(self, path: str) -> os.stat_result:
            raise AssertionError("read before validation")

    with pytest.raises(HostbridgeError, match=r"^owner: None is required with state=present"):
        run(FakeRunner([]), NoStat())


# Two more IPv4 addresses on tap1 (`ifconfig tap1 alias ...`), below and above the one asked for.
THREE = OPEN.replace("\tmedia:", "\tinet 10.0.60.1 netmask 0xffffff00 broadcast 10.0.60.255\n"
                                 "\tinet 10.0.90.1 netmask 0xffffff00 broadcast 10.0.90.255\n\tmedia:")


def test_a_new_address_replaces_only_the_first_ipv4_address_in_the_prediction() -> None:
    runner = FakeRunner([(IFCONFIG, 0, THREE, ""), (["ifconfig", "tap1", "inet", "10.0.80.1/24", "up"], 0, "", "")])
    result = run(runner, FakeDev({"tap1": char_dev(NOBODY.pw_uid)}), owner="nobody", address="10.0.80.1/24",
                 diff_mode=True)
    assert result["diff"]["after"].splitlines()[2:] == [
        "interface tap1: address 10.0.80.1/24", "interface tap1: address 10.0.60.1/24",
        "interface tap1: address 10.0.90.1/24"]


def test_bringing_the_link_up_is_in_the_predicted_state() -> None:
    down = OPEN.replace("flags=8943<UP,BROADCAST,", "flags=8942<BROADCAST,")
    runner = FakeRunner([(IFCONFIG, 0, down, ""), (["ifconfig", "tap1", "up"], 0, "", "")])
    result = run(runner, FakeDev({"tap1": char_dev(NOBODY.pw_uid)}), owner="nobody", address="10.0.75.1/24",
                 diff_mode=True)
    assert "interface tap1: link down\n" in result["diff"]["before"]
    assert "interface tap1: link up\n" in result["diff"]["after"]


def test_absent_removes_only_the_address_asked_for() -> None:
    result = run(FakeRunner([(IFCONFIG, 0, OPEN, "")]), FakeDev({"tap1": char_dev(ROOT)}), state="absent",
                 address="10.0.75.2/24")
    assert (result["changed"], result["actions"]) == (False, [])


def test_absent_with_no_interface_does_not_warn_about_an_address_not_set() -> None:
    result = run(FakeRunner([(IFCONFIG, 1, "", MISSING)]), FakeDev({"tap1": char_dev(ROOT)}), state="absent",
                 address="10.0.75.1/24")
    assert (result["changed"], result["warnings"]) == (False, [])


# --- Linux -----------------------------------------------------------------------------------------------
@pytest.fixture
def sysfs(tmp_path, monkeypatch) -> t.Any:
    root = tmp_path / "sys-class-net"
    root.mkdir()
    monkeypatch.setattr(_tap.LinuxTap, "sysfs_net", str(root))
    return root


def test_linux_other_addresses_on_the_device_are_left_alone(sysfs) -> None:
    tap_sysfs(sysfs)
    second = TAP1_UP.replace('}]}]', '},{"family":"inet","local":"10.0.76.1","prefixlen":24,"scope":"global",'
                                     '"label":"tap1","valid_life_time":4294967295,"preferred_life_time":4294967295}]}]')
    result = module_run(FakeRunner([(SHOW, 0, second, "")]), {"name": "tap1", "owner": "nobody",
                                                             "address": "10.0.75.1/24"})
    assert (result["changed"], result["actions"]) == (False, [])


def test_linux_a_narrower_prefix_of_the_same_address_is_replaced_too(sysfs) -> None:
    tap_sysfs(sysfs)
    runner = FakeRunner([
        (SHOW, 0, TAP1_UP.replace('"prefixlen":24', '"prefixlen":30'), ""),
        (["ip", "addr", "del", "10.0.75.1/30", "dev", "tap1"], 0, "", ""),
        (["ip", "addr", "replace", "10.0.75.1/24", "dev", "tap1"], 0, "", ""),
    ])
    result = module_run(runner, {"name": "tap1", "owner": "nobody", "address": "10.0.75.1/24"})
    assert result["actions"] == ["removing 10.0.75.1/30 from tap1", "adding 10.0.75.1/24 to tap1"]


def test_linux_an_unreadable_sysfs_attribute_is_a_clear_error(sysfs) -> None:
    (sysfs / "tap1" / "tun_flags").mkdir(parents=True)  # read() fails with EISDIR, not ENOENT
    result = module_run(FakeRunner([]), {"name": "tap1", "owner": "nobody"})
    assert result["msg"] == f"Cannot read {sysfs}/tap1/tun_flags: Is a directory"

