"""etc_hosts_entry through AnsibleModule on real files in tmp_path: options, check/diff, backup, errors, locking."""

from __future__ import annotations

import multiprocessing
import os
import typing as t
from pathlib import Path
from unittest import mock

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _hosts, _module
from ansible_collections.dockermac.hostbridge.plugins.modules import etc_hosts_entry
from ansible_collections.dockermac.hostbridge.tests.unit.utils import FakeRunner, fixture_text, run_module

MAC_HOSTS = fixture_text("darwin", "hosts_docker_desktop.txt").encode()


def module(args: dict[str, t.Any], *, system: str = "Linux", runner: FakeRunner | None = None,
           ) -> tuple[dict[str, t.Any], list[str]]:
    """Run the module; returns its result and its warnings. ``runner`` replaces the command runner."""
    warnings: list[str] = []
    with mock.patch.object(_module.platform, "system", return_value=system), \
            mock.patch.object(_module, "CommandRunner", return_value=runner or FakeRunner()), \
            mock.patch.object(basic.AnsibleModule, "warn", lambda self, msg: warnings.append(msg)):
        result = run_module(etc_hosts_entry.main, args)
    return result, warnings


@pytest.fixture
def hosts(tmp_path: Path) -> Path:
    path = tmp_path / "hosts"
    path.write_bytes(MAC_HOSTS)
    path.chmod(0o644)
    return path


def test_adds_then_reports_no_change(hosts: Path) -> None:
    args = {"path": str(hosts), "ip": "198.51.100.1", "names": ["nginx.test"]}
    result, warnings = module(args)
    assert result["changed"] is True
    assert result["entries"] == [{"ip": "198.51.100.1", "names": ["nginx.test"]}]
    assert warnings == []
    assert hosts.read_bytes().startswith(MAC_HOSTS)
    assert b"\n198.51.100.1\tnginx.test\n" in hosts.read_bytes()
    again, _w = module(args)
    assert again["changed"] is False


def test_check_mode_and_diff_change_nothing(hosts: Path) -> None:
    stat_before = hosts.stat()
    result, _w = module({"path": str(hosts), "entries": [{"ip": "198.51.100.1", "names": ["nginx.test"]}],
                        "_ansible_check_mode": True, "_ansible_diff": True})
    assert result["changed"] is True
    assert result["diff"]["before"] == MAC_HOSTS.decode()
    assert result["diff"]["after"].endswith("198.51.100.1\tnginx.test\n# END dockermac.hostbridge\n")
    assert hosts.read_bytes() == MAC_HOSTS
    assert hosts.stat().st_mtime_ns == stat_before.st_mtime_ns


def test_keeps_mode_and_owner_and_makes_a_backup(hosts: Path) -> None:
    hosts.chmod(0o600)
    if os.geteuid() == 0:
        os.chown(hosts, 1, 1)
    result, _w = module({"path": str(hosts), "ip": "198.51.100.1", "names": ["nginx.test"], "backup": True})
    assert Path(result["backup_file"]).read_bytes() == MAC_HOSTS
    assert hosts.stat().st_mode & 0o7777 == 0o600
    if os.geteuid() == 0:
        assert (hosts.stat().st_uid, hosts.stat().st_gid) == (1, 1)
    # No temp file is left beside it.
    assert sorted(p.name for p in hosts.parent.iterdir()) == sorted(["hosts", Path(result["backup_file"]).name])


def test_file_arguments_mode_applied_with_or_without_a_content_change(hosts: Path) -> None:
    """add_file_common_args: mode (and owner, group...) as the ansible.builtin.files fragment documents them."""
    args = {"path": str(hosts), "ip": "198.51.100.1", "names": ["nginx.test"]}
    module(args)
    checked, _w = module(dict(args, mode="0600", _ansible_check_mode=True))
    assert checked["changed"] is True
    assert hosts.stat().st_mode & 0o7777 == 0o644  # check mode: nothing changed
    result, _w = module(dict(args, mode="0600"))
    assert result["changed"] is True  # the content was right already: only the mode changed
    assert hosts.stat().st_mode & 0o7777 == 0o600
    again, _w = module(dict(args, mode="0600"))
    assert again["changed"] is False


def test_unsafe_writes_defaults_to_ansible_unsafe_writes(hosts: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    real = _hosts.write_atomic

    def spy(module: t.Any, path: str, data: bytes, **kwargs: t.Any) -> None:
        seen.append(kwargs["unsafe_writes"])
        real(module, path, data, **kwargs)

    monkeypatch.setattr(_hosts, "write_atomic", spy)
    module({"path": str(hosts), "ip": "198.51.100.1", "names": ["a.test"]})
    monkeypatch.setenv("ANSIBLE_UNSAFE_WRITES", "1")
    module({"path": str(hosts), "ip": "198.51.100.2", "names": ["b.test"]})
    module({"path": str(hosts), "ip": "198.51.100.3", "names": ["c.test"], "unsafe_writes": False})
    assert seen == [False, True, False]


def test_missing_file_is_created_only_when_there_is_something_to_write(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    result, _w = module({"path": str(path), "entries": [], "exclusive": True, "state": "absent"})
    assert result["changed"] is False
    assert not path.exists()
    result, _w = module({"path": str(path), "ip": "fd00::1", "names": ["v6.test"]})
    assert result["changed"] is True
    assert path.stat().st_mode & 0o777 == 0o644


def test_exclusive_absent_removes_the_block_and_restores_the_bytes(hosts: Path) -> None:
    module({"path": str(hosts), "entries": [{"ip": "198.51.100.1", "names": ["a.test"]},
                                            {"ip": "198.51.100.2", "names": ["b.test"]}]})
    result, _w = module({"path": str(hosts), "entries": [], "exclusive": True, "state": "absent"})
    assert result["changed"] is True
    assert result["entries"] == []
    assert hosts.read_bytes() == MAC_HOSTS


def test_conflict_warns_by_default_and_fail_changes_nothing(hosts: Path) -> None:
    hosts.write_bytes(MAC_HOSTS + b"10.1.1.1 nginx.test\n")
    original = hosts.read_bytes()
    args = {"path": str(hosts), "ip": "198.51.100.1", "names": ["nginx.test"]}
    result, _w = module({**args, "on_conflict": "fail"})
    assert result["failed"] is True
    assert "nginx.test is mapped to 10.1.1.1 by line 14" in result["msg"]
    assert result["conflicts"] == [{"name": "nginx.test", "ip": "198.51.100.1", "other_ip": "10.1.1.1",
                                    "line_number": 14}]
    assert hosts.read_bytes() == original
    result, warnings = module(args)
    assert result["changed"] is True
    assert len(warnings) == 1
    assert "line 14" in warnings[0]
    result, warnings = module({**args, "on_conflict": "ignore"})
    assert (result["changed"], warnings, len(result["conflicts"])) == (False, [], 1)


@pytest.mark.parametrize(("args", "message"), [
    ({"ip": "300.1.1.1", "names": ["a.test"]}, "ip: '300.1.1.1' is not a valid IPv4 or IPv6 address"),
    ({"ip": "198.51.100.1", "names": ["a b"]}, "names[0]: 'a b' is not a valid RFC 1123 host name"),
    ({"ip": "198.51.100.1", "names": ["$(reboot)"]}, "names[0]: '$(reboot)'"),
    ({"ip": "198.51.100.1"}, "names: None must be a non-empty list"),
    ({"ip": "198.51.100.1", "names": ["a"], "marker": "two words"}, "marker: 'two words'"),
    ({"ip": "198.51.100.1", "names": ["a"], "entries": [{"ip": "10.0.0.1", "names": ["b"]}]},
     "parameters are mutually exclusive: ip|entries"),
    ({"names": ["a"]}, "one of the following is required: ip, entries"),
    ({"entries": [{"ip": "10.0.0.1", "names": ["b"], "extra": 1}]}, "extra"),
    ({"entries": []}, "entries: [] must list at least one entry"),
    ({"ip": "198.51.100.1", "names": ["a"], "on_conflict": "shout"}, "on_conflict"),
])
def test_bad_input_fails_naming_the_field_and_leaves_the_file_alone(hosts: Path, args, message) -> None:
    result, _w = module({"path": str(hosts), **args})
    assert result["failed"] is True
    assert message in result["msg"]
    assert hosts.read_bytes() == MAC_HOSTS


def test_path_that_is_a_directory_or_in_a_missing_directory(tmp_path: Path) -> None:
    result, _w = module({"path": str(tmp_path), "ip": "10.0.0.1", "names": ["a"]})
    assert "is a directory" in result["msg"]
    result, _w = module({"path": str(tmp_path / "no" / "hosts"), "ip": "10.0.0.1", "names": ["a"]})
    assert "directory that does not exist" in result["msg"]


def test_damaged_block_fails_and_changes_nothing(hosts: Path) -> None:
    damaged = MAC_HOSTS + _hosts.BEGIN.format(marker="dockermac.hostbridge").encode() + b"\n10.0.0.1 a\n"
    hosts.write_bytes(damaged)
    result, _w = module({"path": str(hosts), "ip": "10.0.0.1", "names": ["a"]})
    assert "damaged" in result["msg"]
    assert hosts.read_bytes() == damaged


def test_macos_flushes_the_resolver_caches_only_after_a_change(hosts: Path) -> None:
    runner = FakeRunner([(["dscacheutil", "-flushcache"], 0, "", ""),
                         (["killall", "-HUP", "mDNSResponder"], 0, "", "")])
    module({"path": str(hosts), "ip": "198.51.100.1", "names": ["nginx.test"]}, system="Darwin", runner=runner)
    runner.assert_done()
    idle = FakeRunner([])
    module({"path": str(hosts), "ip": "198.51.100.1", "names": ["nginx.test"]}, system="Darwin", runner=idle)
    module({"path": str(hosts), "ip": "198.51.100.2", "names": ["x"], "flush_cache": False}, system="Darwin",
           runner=idle)
    module({"path": str(hosts), "ip": "198.51.100.3", "names": ["y"], "_ansible_check_mode": True},
           system="Darwin", runner=idle)
    assert idle.calls == []


def test_macos_flush_failure_is_a_warning(hosts: Path) -> None:
    runner = FakeRunner([(["dscacheutil", "-flushcache"], 0, "", ""),
                         (["killall", "-HUP", "mDNSResponder"], 1, "",
                          "No matching processes belonging to you were found\n")])
    result, warnings = module({"path": str(hosts), "ip": "198.51.100.1", "names": ["n"]}, system="Darwin",
                              runner=runner)
    assert result["changed"] is True
    assert warnings == ["The hosts file was updated, but `killall -HUP mDNSResponder` failed (rc=1: No matching "
                        "processes belonging to you were found); run `sudo killall -HUP mDNSResponder` or wait for "
                        "the cache to expire."]


def _add_one(path: str, index: int) -> None:
    """A separate process running the real module main() (exits through sys.exit like a real module)."""
    args = {"path": path, "ip": f"198.18.201.{index + 1}", "names": [f"svc{index}.test"], "flush_cache": False}
    with patch_module_args(args):
        etc_hosts_entry.main()


def test_concurrent_runs_never_lose_each_others_entries(hosts: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    writers = [ctx.Process(target=_add_one, args=(str(hosts), i)) for i in range(24)]
    for w in writers:
        w.start()
    for w in writers:
        w.join(60)
    assert [w.exitcode for w in writers] == [0] * 24
    block = _hosts.HostsFile(hosts.read_bytes(), marker="dockermac.hostbridge").entries
    assert sorted(e.names[0] for e in block) == sorted(f"svc{i}.test" for i in range(24))
    assert hosts.read_bytes().startswith(MAC_HOSTS)
