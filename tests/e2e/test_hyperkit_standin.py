"""The VM stand-in must accept what hyperkit accepts and refuse what it refuses, or the end-to-end test
would prove nothing about the shim's argument line."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("hyperkit_standin", Path(__file__).with_name("hyperkit_standin.py"))
standin = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(standin)

# background.md: a real command line from a public issue (paths shortened), shim already applied.
REAL = ("-A -u -F hyperkit.pid -c 2 -m 2048M -s 0:0,hostbridge -s 31,lpc "
        "-s 2:0,virtio-vpnkit,uuid=x,path=/Data/s50,macfile=/Data/mac -s 2:1,virtio-tap,tap1 "
        "-s 3,virtio-blk,file:///Data/Docker.raw -l com1,autopty=/Data/tty -f kexec,/k,/i,console=ttyS0").split()


def test_real_line_parses_with_the_tap_device() -> None:
    devices = standin.parse(REAL)
    assert ("2:1", "virtio-tap", ["tap1"]) in devices
    assert [slot for slot, _e, _c in devices] == ["0:0", "31:0", "2:0", "2:1", "3:0"]


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("-s 2:0,virtio-vpnkit,path=x -s 2:0,virtio-tap,tap1", "pci slot 2:0 already in use"),
        ("-s 2:1,virtio-tap,tap1 -s 2:1,virtio-tap,tap1", "pci slot 2:1 already in use"),
        ("-s 2:8,virtio-tap,tap1", "invalid slot 2:8"),
        ("-s 32,lpc", "invalid slot 32:0"),
        ("-s two,lpc", "invalid slot config"),
        ("-s 2:1", "invalid slot config"),
        ("-s 2:1,virtio-tapp,tap1", "unknown PCI emulation 'virtio-tapp'"),
        ("-s 2:1,virtio-tap", "virtio-tap needs a tap device name"),
        ("-s 2:1,virtio-tap,/dev/tap1", "virtio-tap needs a tap device name"),
        ("-s", "option requires an argument -- 's'"),
    ],
)
def test_refuses_what_hyperkit_refuses(line: str, error: str) -> None:
    with pytest.raises(standin.Rejected, match=error):
        standin.parse(line.split())


@pytest.mark.parametrize(
    ("line", "seen"),
    [
        ("-s 1:0,virtio-vpnkit,p -s 2:0,ahci-hd,d -s 2:1,virtio-tap,tap1", ["1:0", "2:0", "2:1"]),
        # the 2019 line without its 2:0: hyperkit starts, the guest has no eth1
        ("-s 1:0,virtio-vpnkit,p -s 2:1,virtio-tap,tap1 -s 3,virtio-blk,f", ["1:0", "3:0"]),
        ("-s 2:3,virtio-rnd -s 2:4,virtio-tap,tap1", []),
    ],
)
def test_guest_sees_a_function_only_beside_function_0(line: str, seen: list[str]) -> None:
    assert [slot for slot, _e, _c in standin.guest_visible(standin.parse(line.split()))] == seen
