"""The lo0_alias module through AnsibleModule: argument handling, results, Linux (iproute2 JSON) and systemd."""

from __future__ import annotations

import json
import typing as t
from unittest import mock

import pytest

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _loopback, _module, _systemd
from ansible_collections.dockermac.hostbridge.plugins.modules import lo0_alias
from ansible_collections.dockermac.hostbridge.tests.unit.utils import FakeRunner, fixture_text, run_module

UNIT = "com.dockermac.hostbridge.loopback.service"


def ip_json(*links: tuple[str, list[str]]) -> str:
    """``ip -j addr show`` output in iproute2 6.1's shape (only the keys the module reads, plus a few)."""
    out = []
    for index, (name, addresses) in enumerate(links, start=1):
        infos = []
        for text in addresses:
            local, prefix = text.split("/")
            infos.append({"family": "inet6" if ":" in local else "inet", "local": local, "prefixlen": int(prefix),
                          "scope": "host" if local in ("127.0.0.1", "::1") else "global",
                          "valid_life_time": 4294967295, "preferred_life_time": 4294967295})
        out.append({"ifindex": index, "ifname": name, "flags": ["LOOPBACK", "UP", "LOWER_UP"], "mtu": 65536,
                    "operstate": "UNKNOWN", "addr_info": infos})
    return json.dumps(out)


LO_STOCK = ["127.0.0.1/8", "::1/128"]
SHOW_LO = ["ip", "-j", "addr", "show", "dev", "lo"]
SHOW_ALL = ["ip", "-j", "addr", "show"]


class SbinRunner(FakeRunner):
    """Resolves binaries like Debian's /usr/sbin/ip does (the systemd unit needs absolute paths)."""

    def which(self, name: str, *, required: bool = True) -> str | None:
        return f"/usr/sbin/{name}"


def module_run(runner: FakeRunner, args: dict[str, t.Any], *, system: str = "Linux",
               systemd_dir: str | None = None) -> dict[str, t.Any]:
    with mock.patch.object(_module, "CommandRunner", return_value=runner), \
            mock.patch.object(_module.platform, "system", return_value=system), \
            mock.patch.object(_systemd, "SYSTEMD_RUN_DIR", systemd_dir or "/nonexistent/run/systemd/system"):
        result = run_module(lo0_alias.main, args)
    runner.assert_done()
    return result


@pytest.fixture(autouse=True)
def proc_ipv6(tmp_path, monkeypatch) -> t.Any:
    """A stand-in for /proc/sys/net/ipv6/conf, so results do not depend on the test host's sysctls."""
    conf = tmp_path / "proc-ipv6-conf"
    (conf / "lo").mkdir(parents=True)
    (conf / "lo" / "disable_ipv6").write_text("0\n")
    monkeypatch.setattr(_loopback.LinuxLoopback, "proc_ipv6_conf", str(conf))
    return conf


def test_linux_adds_and_reports() -> None:
    runner = FakeRunner([
        (SHOW_LO, 0, ip_json(("lo", LO_STOCK)), ""),
        (SHOW_ALL, 0, ip_json(("lo", LO_STOCK), ("eth0", ["172.17.0.2/16"])), ""),
        (["ip", "addr", "add", "198.51.100.1/32", "dev", "lo"], 0, "", ""),
        (["ip", "addr", "add", "fd00:db8::1/64", "dev", "lo"], 0, "", ""),
    ])
    result = module_run(runner, {"addresses": ["198.51.100.1", "fd00:db8::1/64"]})
    assert result["changed"] is True
    assert result["interface"] == "lo"
    assert result["addresses"] == result["added"] == ["198.51.100.1/32", "fd00:db8::1/64"]
    assert result["removed"] == []
    assert result["persistent_path"] is None


def test_linux_prefix_correction_and_exclusive_within() -> None:
    current = [*LO_STOCK, "198.51.100.1/24", "198.51.100.7/32", "10.9.9.9/32"]
    runner = FakeRunner([
        (SHOW_LO, 0, ip_json(("lo", current)), ""),
        (SHOW_ALL, 0, ip_json(("lo", current)), ""),
        (["ip", "addr", "del", "198.51.100.1/24", "dev", "lo"], 0, "", ""),
        (["ip", "addr", "del", "198.51.100.7/32", "dev", "lo"], 0, "", ""),
        (["ip", "addr", "add", "198.51.100.1/32", "dev", "lo"], 0, "", ""),
    ])
    result = module_run(runner, {"addresses": ["198.51.100.1"], "exclusive_within": "198.51.100.0/24"})
    assert result["removed"] == ["198.51.100.1/24", "198.51.100.7/32"]  # 10.9.9.9 is outside: kept
    assert result["added"] == ["198.51.100.1/32"]


def test_linux_address_on_another_interface_fails_and_changes_nothing() -> None:
    runner = FakeRunner([
        (SHOW_LO, 0, ip_json(("lo", LO_STOCK)), ""),
        (SHOW_ALL, 0, ip_json(("lo", LO_STOCK), ("veth0", ["198.51.100.3/24"])), ""),
    ])
    result = module_run(runner, {"addresses": ["198.51.100.3"]})
    assert result["failed"] is True
    assert result["msg"] == ("addresses: cannot add to lo: 198.51.100.3 is on veth0. Remove it there first or "
                             "pick another address.")


def test_linux_ipv6_disabled_fails_before_any_change(proc_ipv6) -> None:
    (proc_ipv6 / "lo" / "disable_ipv6").write_text("1\n")  # what Docker gives a container by default
    runner = FakeRunner([(SHOW_LO, 0, ip_json(("lo", ["127.0.0.1/8"])), "")])
    result = module_run(runner, {"addresses": ["198.51.100.1", "fd00:db8::7"]})
    assert result["failed"] is True
    assert result["msg"].startswith("addresses: IPv6 is disabled on lo (net.ipv6.conf.lo.disable_ipv6=1); cannot "
                                    "add fd00:db8::7/128.")


def test_linux_partial_failure_reports_changed() -> None:
    runner = FakeRunner([
        (SHOW_LO, 0, ip_json(("lo", LO_STOCK)), ""),
        (SHOW_ALL, 0, ip_json(("lo", LO_STOCK)), ""),
        (["ip", "addr", "add", "198.51.100.1/32", "dev", "lo"], 0, "", ""),
        (["ip", "addr", "add", "198.51.100.2/32", "dev", "lo"], 2, "", "RTNETLINK answers: Permission denied\n"),
    ])
    result = module_run(runner, {"addresses": ["198.51.100.1", "198.51.100.2"]})
    assert result["failed"] is True
    assert result["changed"] is True
    assert result["added"] == ["198.51.100.1/32"]
    assert result["msg"] == "adding 198.51.100.2/32 to lo failed (rc=2): RTNETLINK answers: Permission denied"


def test_linux_unknown_interface() -> None:
    runner = FakeRunner([(["ip", "-j", "addr", "show", "dev", "nope0"], 1, "", 'Device "nope0" does not exist.\n')])
    result = module_run(runner, {"addresses": ["198.51.100.1"], "interface": "nope0"})
    assert result["failed"] is True
    assert result["msg"] == "interface: 'nope0' does not exist on this host"
    assert result["field"] == "interface"


def test_check_mode_and_diff_through_the_module() -> None:
    runner = FakeRunner([
        (SHOW_LO, 0, ip_json(("lo", [*LO_STOCK, "198.51.100.9/32"])), ""),
        (SHOW_ALL, 0, ip_json(("lo", LO_STOCK)), ""),
    ])
    result = module_run(runner, {"addresses": ["198.51.100.1"], "exclusive_within": "198.51.100.0/24",
                                 "_ansible_check_mode": True, "_ansible_diff": True})
    assert result["changed"] is True
    assert result["diff"][0]["before"] == "lo 127.0.0.1/8\nlo 198.51.100.9/32\nlo ::1/128\n"
    assert result["diff"][0]["after"] == "lo 127.0.0.1/8\nlo 198.51.100.1/32\nlo ::1/128\n"


def test_darwin_default_interface_is_lo0() -> None:
    runner = FakeRunner([(["ifconfig", "lo0"], 0, fixture_text("darwin", "ifconfig_lo0_background.txt"), "")])
    result = module_run(runner, {"addresses": ["10.200.10.1/24"], "persistent": False}, system="Darwin")
    assert (result["changed"], result["interface"], result["addresses"]) == (False, "lo0", ["10.200.10.1/24"])


def test_unsupported_platform() -> None:
    result = module_run(FakeRunner([]), {"addresses": ["198.51.100.1"]}, system="FreeBSD")
    assert result["failed"] is True
    assert result["msg"] == "lo0_alias does not support 'FreeBSD' (only macOS (Darwin) and Linux)"


def test_bad_state_is_refused_by_the_argument_spec() -> None:
    result = module_run(FakeRunner([]), {"addresses": [], "state": "gone"})
    assert result["failed"] is True
    assert "state" in result["msg"]


# --- persistence on Linux ---------------------------------------------------------------------------------
def test_persistent_without_systemd_fails_clearly_before_any_command() -> None:
    result = module_run(FakeRunner([]), {"addresses": ["198.51.100.1"], "persistent": True})
    assert result["failed"] is True
    assert "persistence needs systemd or launchd; not available on this host" in result["msg"]


def test_persistent_by_default_only_where_systemd_runs() -> None:
    """Without systemd the default is not persistent (no unit, no failure); with it, see the test below."""
    runner = SbinRunner([(SHOW_LO, 0, ip_json(("lo", LO_STOCK)), ""), (SHOW_ALL, 0, ip_json(("lo", LO_STOCK)), ""),
                         (["ip", "addr", "add", "198.51.100.1/32", "dev", "lo"], 0, "", "")])
    result = module_run(runner, {"addresses": ["198.51.100.1"]})
    assert (result["changed"], result["persistent_path"]) == (True, None)


@pytest.fixture
def systemd(tmp_path, monkeypatch) -> t.Any:
    run_dir = tmp_path / "run-systemd-system"
    run_dir.mkdir()
    unit_dir = tmp_path / "etc-systemd-system"
    unit_dir.mkdir()
    monkeypatch.setattr(_systemd, "UNIT_DIR", str(unit_dir))
    return run_dir, unit_dir


@pytest.mark.parametrize("persistent", [{"persistent": True}, {}], ids=["explicit", "default-with-systemd"])
def test_persistent_writes_and_enables_a_oneshot_unit(systemd, persistent) -> None:
    run_dir, unit_dir = systemd
    runner = SbinRunner([
        (SHOW_LO, 0, ip_json(("lo", LO_STOCK)), ""),
        (SHOW_ALL, 0, ip_json(("lo", LO_STOCK)), ""),
        (["systemctl", "is-enabled", "--quiet", UNIT], 1, "", ""),
        (["ip", "addr", "add", "198.51.100.1/32", "dev", "lo"], 0, "", ""),
        (["ip", "addr", "add", "fd00:db8::1/128", "dev", "lo"], 0, "", ""),
        (["systemctl", "daemon-reload"], 0, "", ""),
        (["systemctl", "enable", UNIT], 0, "", "Created symlink ...\n"),
    ])
    result = module_run(runner, {"addresses": ["198.51.100.1", "fd00:db8::1"], **persistent,
                                 "_ansible_diff": True}, systemd_dir=str(run_dir))
    path = unit_dir / UNIT
    assert result["persistent_path"] == str(path)
    text = path.read_text()
    assert "[Service]\nType=oneshot\nRemainAfterExit=yes\n" in text
    assert ("ExecStart=/usr/sbin/ip addr replace 198.51.100.1/32 dev lo\n"
            "ExecStart=/usr/sbin/ip addr replace fd00:db8::1/128 dev lo\n") in text
    assert "[Install]\nWantedBy=multi-user.target\n" in text
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert result["diff"][1] == {"before_header": str(path), "after_header": str(path), "before": "", "after": text}


def test_persistent_unchanged_enabled_unit_is_left_alone(systemd) -> None:
    run_dir, unit_dir = systemd
    content = _systemd.render_oneshot(
        description="dockermac.hostbridge loopback aliases on lo",
        commands=[["/usr/sbin/ip", "addr", "replace", "198.51.100.1/32", "dev", "lo"]],
        header="Managed by the dockermac.hostbridge.lo0_alias Ansible module; edits are overwritten.")
    (unit_dir / UNIT).write_bytes(content)
    runner = SbinRunner([
        (SHOW_LO, 0, ip_json(("lo", [*LO_STOCK, "198.51.100.1/32"])), ""),
        (["systemctl", "is-enabled", "--quiet", UNIT], 0, "", ""),
    ])
    assert module_run(runner, {"addresses": ["198.51.100.1"], "persistent": True},
                      systemd_dir=str(run_dir))["changed"] is False


def test_absent_persistent_disables_and_deletes_the_unit(systemd) -> None:
    run_dir, unit_dir = systemd
    (unit_dir / UNIT).write_text("[Unit]\n")
    runner = FakeRunner([
        (SHOW_LO, 0, ip_json(("lo", [*LO_STOCK, "198.51.100.1/32"])), ""),
        (["systemctl", "is-enabled", "--quiet", UNIT], 0, "", ""),
        (["ip", "addr", "del", "198.51.100.1/32", "dev", "lo"], 0, "", ""),
        (["systemctl", "disable", UNIT], 0, "", ""),
        (["systemctl", "daemon-reload"], 0, "", ""),
    ])
    result = module_run(runner, {"addresses": ["198.51.100.1"], "persistent": True, "state": "absent"},
                        systemd_dir=str(run_dir))
    assert result["changed"] is True
    assert not (unit_dir / UNIT).exists()


def test_exec_line_quotes_what_systemd_would_expand() -> None:
    assert _systemd.exec_line(["/usr/sbin/ip", "addr", "replace", "fd00::1/128", "dev", "lo"]) == \
        "/usr/sbin/ip addr replace fd00::1/128 dev lo"
    assert _systemd.exec_line(["/bin/echo", "a b", "50%", "$HOME", 'q"']) == \
        '/bin/echo "a b" "50%%" "$$HOME" "q\\""'
