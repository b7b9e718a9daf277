"""unbridge.yml must leave the host exactly as prepare.yml found it (before bridge.yml ran)."""

from __future__ import annotations

import difflib

# Known and reported: bridge.yml creates /usr/local/libexec (the parent of the re-apply program's folder) where it
# did not exist, and unbridge.yml removes only dockermac-hostbridge inside it. Tolerated, exactly this line, until
# the role removes what it created; anything else left or changed fails.
KNOWN_LEFTOVERS = {"path /usr/local/libexec d 755 0:0"}


def test_host_state_identical_to_the_snapshot(host) -> None:
    before = host.file("/root/hb-snapshot.before").content_string.rstrip("\n")
    after = host.check_output("/root/hb-snapshot.sh").rstrip("\n")
    diff = "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True)))
    kept = [line for line in after.splitlines() if line not in KNOWN_LEFTOVERS or line in before.splitlines()]
    assert kept == before.splitlines(), diff


def test_no_managed_block_left_in_hosts(host) -> None:
    assert "dockermac.hostbridge" not in host.file("/etc/hosts").content_string


def test_tap_device_gone(host) -> None:
    assert not host.file("/sys/class/net/tap3").exists
