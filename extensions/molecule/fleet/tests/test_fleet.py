"""What playbooks/bridge.yml left on each laptop of the fleet, seen from inside it."""

from __future__ import annotations

import json

TEAM = {"198.51.100.1": ["nginx.test"], "198.51.100.2": ["api.test", "api.team.internal"],
        "198.51.100.3": ["db.test"]}
# host_vars of hb-molecule-fleet-3 add grafana.test and drop db.test; the rest of the team's list stays.
OVERRIDE = {"198.51.100.1": ["nginx.test"], "198.51.100.2": ["api.test", "api.team.internal"],
            "198.51.100.9": ["grafana.test"]}


def expected(host) -> dict[str, list[str]]:
    return OVERRIDE if host.backend.get_hostname() == "hb-molecule-fleet-3" else TEAM


def inet(host, dev: str) -> set[tuple[str, int]]:
    info = json.loads(host.check_output(f"ip -j addr show dev {dev}"))[0]["addr_info"]
    return {(a["local"], a["prefixlen"]) for a in info if a["family"] == "inet"}


def test_one_loopback_alias_per_service(host) -> None:
    want = {(ip, 32) for ip in expected(host)}
    assert inet(host, "lo") == want | {("127.0.0.1", 8)}


def test_hosts_file_block_has_exactly_the_services(host) -> None:
    lines = host.file("/etc/hosts").content_string.splitlines()
    begin = next(i for i, line in enumerate(lines) if "dockermac.hostbridge" in line)
    end = next(i for i in range(begin + 1, len(lines)) if "dockermac.hostbridge" in lines[i])
    block = {line.split()[0]: line.split()[1:] for line in lines[begin + 1:end] if line.strip()}
    assert block == expected(host)
    # Docker's lines before the block are untouched.
    assert lines[0].split() == ["127.0.0.1", "localhost"]


def test_tap_device_owned_by_the_developer_with_the_gateway_address(host) -> None:
    assert host.file("/sys/class/net/tap3/owner").content_string.strip() == str(host.user("hbdev").uid)
    assert inet(host, "tap3") == {("10.0.75.1", 24)}


def test_reapply_program_installed_without_systemd(host) -> None:
    program = host.file("/usr/local/libexec/dockermac-hostbridge/tap-reapply")
    assert program.exists
    assert program.user == "root"
    assert program.mode == 0o755
    # No systemd in the container: no units were written.
    assert not host.file("/etc/systemd/system/com.dockermac.hostbridge.tap-reapply.timer").exists
    # The program does nothing when the address is there, and restores it when it is gone.
    host.check_output("sh /usr/local/libexec/dockermac-hostbridge/tap-reapply")
    assert inet(host, "tap3") == {("10.0.75.1", 24)}
    host.check_output("ip addr flush dev tap3")
    host.check_output("sh /usr/local/libexec/dockermac-hostbridge/tap-reapply")
    assert inet(host, "tap3") == {("10.0.75.1", 24)}
