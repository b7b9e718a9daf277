"""unbridge.yml must leave the host exactly as prepare.yml found it (before bridge.yml ran)."""

from __future__ import annotations

import difflib


def test_host_state_identical_to_the_snapshot(host) -> None:
    before = host.file("/root/hb-snapshot.before").content_string.rstrip("\n")
    after = host.check_output("/root/hb-snapshot.sh").rstrip("\n")
    diff = "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True)))
    # bridge.yml created /usr/local/libexec too (the base image has none): unbridge.yml removes it with the rest.
    assert after.splitlines() == before.splitlines(), diff


def test_no_managed_block_left_in_hosts(host) -> None:
    assert "dockermac.hostbridge" not in host.file("/etc/hosts").content_string


def test_tap_device_gone(host) -> None:
    assert not host.file("/sys/class/net/tap3").exists
