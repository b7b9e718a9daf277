"""``_tap.py`` where cosmic-ray's mutants survived the other tests (docs/development.md, "Mutation score"): the
exact TUNSETIFF/TUNSETOWNER calls and their failures, the holder of a Linux TAP device found in /proc, the
predicted addresses with more than one on the interface, other addresses left alone, read errors, boundaries."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import pwd
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
NO_USER = 3999999


def from_json(params: dict[str, str]) -> dict[str, str]:
    return t.cast("dict[str, str]", json.loads(json.dumps(params)))


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
    assert ioctls.opened == {(os.O_RDWR, False)}  # read-write, not inherited by a child
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
def test_a_failed_tunsetiff_says_why_and_only_busy_blames_a_process(
        tun: t.Callable[..., Ioctls], code: int, msg: str) -> None:
    ioctls = tun({TUNSETIFF: code})
    with pytest.raises(HostbridgeError) as info:
        _tap.TunControl().set_owner("tap1", flags=0x1802, uid=NOBODY.pw_uid)
    assert (info.value.msg, info.value.details) == (msg, {"errno": code})
    assert [request for request, _arg in ioctls.calls] == [TUNSETIFF]


def test_a_failed_tunsetowner_says_why(tun: t.Callable[..., Ioctls]) -> None:
    tun({TUNSETOWNER: errno.EPERM})
    with pytest.raises(HostbridgeError) as info:
        _tap.TunControl().set_owner("tap1", flags=0x1802, uid=NOBODY.pw_uid)
    assert (info.value.msg, info.value.details) == (
        "Cannot change the owner of tap1 (TUNSETOWNER): Operation not permitted", {"errno": errno.EPERM})


# --- LinuxTap.holder: who has the device open ------------------------------------------------------------
MY_NET, LOWER_NET, HIGHER_NET = "net:[4026531840]", "net:[4026531000]", "net:[4026532999]"


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
        p100=(HIGHER_NET, {"3": ("/dev/net/tun", tun_info("tap1"))}),  # other namespaces' tap1
        p110=(LOWER_NET, {"3": ("/dev/net/tun", tun_info("tap1"))}),
        p150=(None, {}),  # exited between the listing and the look
        p200=(MY_NET, {"3": ("/dev/net/tun", tun_info("tap2"))}),  # another device
        p300=(MY_NET, {"0": ("/dev/null", "pos:\t0\nflags:\t0100002\n"), "4": ("/dev/net/tun", None),  # fd 4:
                       "5": ("/dev/net/tun", tun_info("tap1"))}),  # closed meanwhile
    )
    assert (tap.holder("tap1"), tap.holder("tap2"), tap.holder("tap9")) == (300, 200, None)


def test_a_device_held_only_in_another_namespace_has_no_holder_here(proc: t.Callable[..., t.Any]) -> None:
    tap = proc(p100=(HIGHER_NET, {"3": ("/dev/net/tun", tun_info("tap1"))}),
               p110=(LOWER_NET, {"3": ("/dev/net/tun", tun_info("tap1"))}), p200=(MY_NET, {}))
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


def test_users_without_a_passwd_entry_are_shown_by_uid() -> None:
    with pytest.raises(KeyError):
        pwd.getpwuid(NO_USER)
    assert (_tap.user_label(NO_USER), _tap.owner_name(NO_USER)) == (f"uid {NO_USER}", str(NO_USER))


@pytest.mark.parametrize("state", [{}, {"state": "present"}, from_json({"state": "present"})])
def test_owner_missing_is_refused_before_the_host_is_read(state: dict[str, str]) -> None:
    class NoStat(FakeDev):
        def stat(self, path: str) -> os.stat_result:
            raise AssertionError("read before validation")

    with pytest.raises(HostbridgeError, match=r"^owner: None is required with state=present"):
        run(FakeRunner([]), NoStat(), **state)


def test_a_device_owned_by_a_higher_uid_is_given_to_root_when_asked() -> None:
    dev = FakeDev({"tap1": char_dev(NOBODY.pw_uid)})
    result = run(FakeRunner([(IFCONFIG, 1, "", MISSING)]), dev, owner="root")
    assert (result["changed"], dev.chowns) == (True, [("/dev/tap1", ROOT, -1)])


def test_state_from_json_is_compared_by_value() -> None:
    """A real task's options are decoded from JSON: not the interpreter's shared "absent"/"present" strings."""
    dev = FakeDev({"tap1": char_dev(NOBODY.pw_uid)})
    assert run(FakeRunner([(IFCONFIG, 1, "", MISSING)]), dev, **from_json({"state": "absent"}))["actions"] == [
        "changing the owner of /dev/tap1 to root (uid 0)"]
    warned = run(FakeRunner([(IFCONFIG, 1, "", MISSING)]), dev,
                 **from_json({"state": "present", "owner": "root", "address": "10.0.75.1/24"}))
    assert warned["warnings"][0].startswith("tap1: the interface does not exist")


# tap1 with a link-local IPv6 address (printed before inet, as en0 in ifconfig_a_laptop.txt) and two more IPv4
# addresses (`ifconfig tap1 alias ...`).
def aliases(*inet: str) -> str:
    lines = "".join(f"\tinet {a} netmask 0xffffff00 broadcast {a.rsplit('.', 1)[0]}.255\n" for a in inet)
    return OPEN.replace("\tinet ", "\tinet6 fe80::d8b7:5aff:fe67:4681%tap1 prefixlen 64 scopeid 0x10\n\tinet ").replace(
        "\tmedia:", lines + "\tmedia:")


@pytest.mark.parametrize(
    ("inet", "wanted", "after"),
    [
        (["10.0.60.1", "10.0.90.1"], "10.0.80.1/24", ["10.0.80.1/24", "10.0.60.1/24", "10.0.90.1/24"]),
        # The address asked for already there as an alias: one entry left for it.
        (["10.0.80.1", "10.0.90.1"], "10.0.80.1/30", ["10.0.80.1/30", "10.0.90.1/24"]),
    ],
)
def test_a_new_address_replaces_only_the_first_ipv4_address_in_the_prediction(
        inet: list[str], wanted: str, after: list[str]) -> None:
    runner = FakeRunner([(IFCONFIG, 0, aliases(*inet), ""), (["ifconfig", "tap1", "inet", wanted, "up"], 0, "", "")])
    result = run(runner, FakeDev({"tap1": char_dev(NOBODY.pw_uid)}), owner="nobody", address=wanted,
                 diff_mode=True)
    before = ["10.0.75.1", *inet]
    assert result["diff"]["before"].splitlines()[2:] == [f"interface tap1: address {a}/24" for a in before]
    assert result["diff"]["after"].splitlines()[2:] == [f"interface tap1: address {a}" for a in after]


def test_bringing_the_link_up_is_in_the_predicted_state() -> None:
    down = OPEN.replace("flags=8943<UP,BROADCAST,", "flags=8942<BROADCAST,")
    runner = FakeRunner([(IFCONFIG, 0, down, ""), (["ifconfig", "tap1", "up"], 0, "", "")])
    result = run(runner, FakeDev({"tap1": char_dev(NOBODY.pw_uid)}), owner="nobody", address="10.0.75.1/24",
                 diff_mode=True)
    assert "interface tap1: link down\n" in result["diff"]["before"]
    assert "interface tap1: link up\n" in result["diff"]["after"]


@pytest.mark.parametrize("other", ["10.0.75.2/24", "10.0.74.1/24"])
def test_absent_removes_only_the_address_asked_for(other: str) -> None:
    result = run(FakeRunner([(IFCONFIG, 0, OPEN, "")]), FakeDev({"tap1": char_dev(ROOT)}), state="absent",
                 address=other)
    assert (result["changed"], result["actions"]) == (False, [])


def test_absent_with_no_interface_does_not_warn_about_an_address_not_set() -> None:
    result = run(FakeRunner([(IFCONFIG, 1, "", MISSING)]), FakeDev({"tap1": char_dev(ROOT)}), state="absent",
                 address="10.0.75.1/24")
    assert (result["changed"], result["warnings"]) == (False, [])


# --- Linux -----------------------------------------------------------------------------------------------
def test_linux_other_addresses_on_the_device_are_left_alone(sysfs) -> None:
    tap_sysfs(sysfs)
    more = "".join(f',{{"family":"inet","local":"{a}","prefixlen":24,"scope":"global","label":"tap1",'
                   f'"valid_life_time":4294967295,"preferred_life_time":4294967295}}'
                   for a in ("10.0.74.1", "10.0.76.1"))  # below and above the one asked for
    result = module_run(FakeRunner([(SHOW, 0, TAP1_UP.replace("}]}]", "}" + more + "]}]"), "")]),
                        {"name": "tap1", "owner": "nobody", "address": "10.0.75.1/24"})
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


@pytest.mark.parametrize("flags", ["0x1801", "0x0001"])  # persistent, and a plain IFF_TUN held by a program
def test_linux_a_tun_device_is_called_one(sysfs, flags: str) -> None:
    tap_sysfs(sysfs, flags=flags, owner=None)
    result = module_run(FakeRunner([(SHOW, 0, TAP1_UP, "")]), {"name": "tap1", "owner": "nobody"})
    assert result["msg"].startswith("name: 'tap1' exists but is a TUN device, not a TAP device")


def test_linux_absent_predicts_no_device(sysfs) -> None:
    tap_sysfs(sysfs)
    runner = FakeRunner([(SHOW, 0, TAP1_UP, ""), (["ip", "tuntap", "del", "dev", "tap1", "mode", "tap"], 0, "", "")])
    result = module_run(runner, {"name": "tap1", "state": "absent", "_ansible_diff": True})
    assert result["diff"]["after"] == "device tap1: absent\n"


def test_the_name_is_required() -> None:
    result = module_run(FakeRunner([]), {"owner": "nobody"})
    assert result["msg"] == "missing required arguments: name"
