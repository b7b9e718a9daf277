"""A stand-in for Docker Desktop's hyperkit, for the end-to-end test of the tap bridge on Linux.

Like hyperkit it parses its command line (``-s <slot>[:<func>],<emulation>[,<config>]`` devices and the
other flags Docker Desktop passes) and refuses what hyperkit refuses: a malformed ``-s``, a slot out of
range, an unknown emulation, two devices on one slot, a ``virtio-tap`` without a device name. A tap device it
cannot open (owned by another user: tuntaposx's nodes are root:wheel 0660 after every boot) only gets hyperkit's
warning ``open of tap device /dev/tapN failed`` and the VM boots with an unbacked NIC, as hyperkit does. For
each ``virtio-tap,<tapN>`` it opens that TAP device in the caller's network
namespace (the simulated Mac's side: tuntaposx's ``/dev/tapN``) and forwards Ethernet frames both ways
between it and the simulated VM's NIC, a TAP device in the VM's namespace (with its own engine) that stands for the
VM's ``eth1``. Without a ``virtio-tap`` device the "VM" has no eth1 link to the host: frames go nowhere,
exactly as on a Mac without the shim.

Environment (set by the test, as Docker Desktop's VM configuration would be):
  HOSTBRIDGE_SIM_VM_NIC      name of the VM-side TAP device (default hbsim-eth1)
  HOSTBRIDGE_SIM_VM_NETNS    path of the VM's network namespace (the simulation's /run/netns/hb-vm-<id>)
  HOSTBRIDGE_SIM_RUN_AS      user the "VM" runs as after opening the VM NIC (hyperkit runs as the user,
                             which is why /dev/tapN must be owned by them); default: stay as is
  HOSTBRIDGE_SIM_ARGV_LOG    file to which the received argv is appended, one JSON list per start
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import pwd
import re
import select
import signal
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
CLONE_NEWNET = 0x40000000

# Emulations hyperkit knows (pci_emul registrations in hyperkit's sources).
EMULATIONS = {
    "hostbridge", "amd_hostbridge", "lpc", "virtio-net", "virtio-tap", "virtio-vpnkit", "virtio-vmnet",
    "virtio-blk", "virtio-rnd", "virtio-sock", "virtio-9p", "virtio-ipc", "ahci", "ahci-hd", "ahci-cd", "uart",
    "virtio-console",
}
SLOT = re.compile(r"^(?P<slot>\d+)(?::(?P<func>\d+))?$")
# Flags that take a value, as in hyperkit's getopt string; the rest are switches.
VALUE_FLAGS = {"-c", "-m", "-s", "-l", "-U", "-F", "-f", "-g", "-G"}


class Rejected(Exception):
    """An argument line hyperkit would refuse."""


def parse(argv: list[str]) -> list[tuple[str, str, list[str]]]:
    """The ``-s`` devices as (slot, emulation, config), after hyperkit's checks."""
    devices, used = [], set()
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in VALUE_FLAGS:
            if i + 1 >= len(argv):
                raise Rejected(f"option requires an argument -- '{arg[1:]}'")
            value = argv[i + 1]
            i += 2
            if arg != "-s":
                continue
            slot_text, _sep, rest = value.partition(",")
            match = SLOT.match(slot_text)
            if not match or not rest:
                raise Rejected(f"invalid slot config '{value}'")
            slot, func = int(match["slot"]), int(match["func"] or 0)
            if slot > 31 or func > 7:
                raise Rejected(f"invalid slot {slot}:{func}")
            if (slot, func) in used:
                raise Rejected(f"pci slot {slot}:{func} already in use")
            used.add((slot, func))
            emulation, *config = rest.split(",")
            if emulation not in EMULATIONS:
                raise Rejected(f"unknown PCI emulation '{emulation}'")
            if emulation == "virtio-tap" and (not config or not re.match(r"^tap\d{1,3}$", config[0])):
                raise Rejected(f"virtio-tap needs a tap device name, got '{value}'")
            devices.append((f"{slot}:{func}", emulation, config))
        elif arg.startswith("-") and len(arg) == 2:
            i += 1
        else:
            i += 1  # the kernel spec (kexec,...) and other positional arguments
    return devices


def guest_visible(devices: list[tuple[str, str, list[str]]]) -> list[tuple[str, str, list[str]]]:
    """The devices the Linux guest finds. hyperkit takes a function N > 0 on a slot without function 0
    (moby/hyperkit src/lib/pci_emul.c: pci_parse_slot only checks that slot:func is free; pci_cfgrw answers
    all-ones for a slot:func without a device), but Linux scans the other functions of a slot only when
    function 0 answers (drivers/pci/probe.c pci_scan_slot: "Function 0 is required"), so the VM never sees them."""
    with_function_0 = {slot.split(":")[0] for slot, _emulation, _config in devices if slot.endswith(":0")}
    return [device for device in devices if device[0].split(":")[0] in with_function_0]


def setns(path: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({path}): {os.strerror(err)}")
    finally:
        os.close(fd)


def open_tap(name: str, fd: int | None = None) -> int:
    """Attach to TAP device ``name``; ``fd`` is an already opened /dev/net/tun (see main)."""
    fd = os.open("/dev/net/tun", os.O_RDWR) if fd is None else fd
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    except OSError:
        os.close(fd)
        raise
    return fd


def forward(pairs: list[tuple[int, int]]) -> None:
    """Copy frames both ways between each (host_fd, vm_fd) pair until killed."""
    peer = {}
    for a, b in pairs:
        peer[a], peer[b] = b, a
    poller = select.poll()
    for fd in peer:
        poller.register(fd, select.POLLIN)
    while True:
        for fd, _event in poller.poll():
            try:
                frame = os.read(fd, 65536)
                os.write(peer[fd], frame)
            except OSError:
                # A peer without carrier drops the frame, as a NIC would.
                continue


def main(argv: list[str]) -> int:
    log = os.environ.get("HOSTBRIDGE_SIM_ARGV_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(argv) + "\n")
    try:
        devices = parse(argv)
    except Rejected as exc:
        print(f"hyperkit: {exc}", file=sys.stderr)
        return 1

    visible = guest_visible(devices)
    for slot, emulation, _config in devices:
        if (slot, emulation, _config) not in visible:
            print(f"hyperkit stand-in: the guest cannot see {slot},{emulation} (no function 0 on its slot)",
                  file=sys.stderr)
    taps = [config[0] for _slot, emulation, config in visible if emulation == "virtio-tap"]
    vm_nic = os.environ.get("HOSTBRIDGE_SIM_VM_NIC", "hbsim-eth1")
    own_ns = f"/proc/{os.getpid()}/ns/net"
    own_ns_fd = os.open(own_ns, os.O_RDONLY)
    setns(os.environ.get("HOSTBRIDGE_SIM_VM_NETNS", "/proc/1/ns/net"))
    vm_fd = open_tap(vm_nic)
    # Back to the Mac's namespace, where /dev/tapN lives.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.setns(own_ns_fd, CLONE_NEWNET)
    os.close(own_ns_fd)
    # /dev/net/tun itself may be root-only (0600) where tuntaposx's /dev/tapN is per device; the check that
    # matters, the device's owner, is made at TUNSETIFF time with the dropped credentials below.
    tun_fds = [os.open("/dev/net/tun", os.O_RDWR) for _tap in taps[:1]]
    run_as = os.environ.get("HOSTBRIDGE_SIM_RUN_AS")
    if run_as:
        user = pwd.getpwnam(run_as)
        os.setgroups([])
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)
    pairs = []
    for tap, tun_fd in zip(taps[:1], tun_fds):  # one NIC for the VM's eth1, as Docker Desktop's VM has
        try:
            pairs.append((open_tap(tap, tun_fd), vm_fd))
        except OSError:
            # hyperkit only warns (WPRINTF, src/lib/pci_virtio_net_tap.c:630-632 at 3cb0d547) and boots the VM
            # with the NIC unbacked: eth1 is there, its frames go nowhere. The VM starts all the same.
            print(f"open of tap device /dev/{tap} failed", file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"hyperkit stand-in: devices={devices} forwarding={'yes' if pairs else 'no'}", file=sys.stderr, flush=True)
    if pairs:
        forward(pairs)
    else:
        signal.pause()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
