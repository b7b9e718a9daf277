"""The desired-state comparison bridge_facts makes: each module's own check-mode logic, file checksums, and
never a change on the host. Real files in a temp dir; Linux loopback state replayed from iproute2 JSON."""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import re
import typing as t
from pathlib import Path
from unittest import mock

import pytest

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _bootjob, _launchd, _loopback, _plan, _systemd
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.plugins.module_utils._hosts import manage as hosts_manage
from ansible_collections.dockermac.hostbridge.plugins.modules import lo0_alias
from ansible_collections.dockermac.hostbridge.tests.unit.plugins.modules.test_lo0_alias import (
    LO_STOCK,
    SHOW_ALL,
    SHOW_LO,
    ip_json,
)
from ansible_collections.dockermac.hostbridge.tests.unit.utils import FakeRunner
from ansible_collections.dockermac.hostbridge.tests.unit.utils import context as module_context

USER_LINES = b"127.0.0.1\tlocalhost\r\n# a user's comment\n10.1.2.3 printer.lan"


def context(runner: t.Any = None, *, console_user: str | None = "alice") -> _plan.PlanContext:
    return _plan.PlanContext(system="Linux", runner=runner or FakeRunner([]), module=mock.Mock(),
                             console_user=console_user)


def file_entry(path: Path, content: bytes, mode: str = "0644", **owner: int) -> dict[str, t.Any]:
    sha1 = hashlib.sha1(content, usedforsecurity=False).hexdigest()
    return {"kind": "file", "params": {"path": str(path), "sha1": sha1, "mode": mode,
                                       "uid": owner.get("uid", os.getuid()), "gid": owner.get("gid", os.getgid())}}


# --- files --------------------------------------------------------------------------------------------------
def test_file_in_sync_and_each_kind_of_drift(tmp_path: Path) -> None:
    path = tmp_path / "tap-reapply"
    path.write_bytes(b"#!/bin/sh\n")
    path.chmod(0o755)
    cases = {
        "same": file_entry(path, b"#!/bin/sh\n", "0755"),
        "content": file_entry(path, b"#!/bin/sh\nexit 0\n", "0755"),
        "mode": file_entry(path, b"#!/bin/sh\n", "0700"),
        "owner": file_entry(path, b"#!/bin/sh\n", "0755", uid=os.getuid() + 1),
        "missing": file_entry(tmp_path / "nothing-here", b"", "0644"),
        "directory": file_entry(tmp_path, b"", "0755"),
        "bad-mode": file_entry(path, b"#!/bin/sh\n", "rwxr-xr-x"),
    }
    plan = _plan.check(cases, context())
    assert plan["same"] == {"pending": False, "reason": "in sync", "exists": True}
    assert plan["content"] == {"pending": True, "reason": f"{path}: content differs", "exists": True}
    assert plan["mode"] == {"pending": True, "reason": f"{path}: mode 0755, wanted 0700", "exists": True}
    assert plan["owner"]["pending"] is True
    assert "owner" in plan["owner"]["reason"]
    assert plan["missing"] == {"pending": True, "reason": f"{tmp_path / 'nothing-here'} does not exist",
                               "exists": False}
    assert plan["directory"] == {"pending": True, "reason": f"{tmp_path} is not a regular file", "exists": True}
    assert plan["bad-mode"]["pending"] is True
    assert "rwxr-xr-x" in plan["bad-mode"]["reason"]


def test_a_symlink_is_not_taken_for_the_file(tmp_path: Path) -> None:
    (tmp_path / "real").write_bytes(b"x")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    plan = _plan.check({"f": file_entry(tmp_path / "link", b"x")}, context())
    assert plan["f"]["pending"] is True


# --- etc_hosts_entry: its own logic, in check mode ----------------------------------------------------------
def hosts_entry(path: Path, **params: t.Any) -> dict[str, t.Any]:
    return {"kind": "etc_hosts_entry", "params": {
        "path": str(path), "entries": [{"ip": "198.51.100.1", "names": ["nginx.test"]}], "exclusive": True,
        "marker": None, "backup": True, "flush_cache": True, "on_conflict": "warn", "unsafe_writes": False, **params}}


def apply_hosts(hosts: Path) -> None:
    """etc_hosts_entry for real on the temp file (its atomic write replaced by a plain one: no AnsibleModule)."""
    params = dict(hosts_entry(hosts)["params"], marker="dockermac.hostbridge", backup=False)
    with mock.patch("ansible_collections.dockermac.hostbridge.plugins.module_utils._hosts.write_atomic",
                    lambda module, path, data, **kw: Path(path).write_bytes(data)):
        hosts_manage(module_context("Linux"), params)


def test_hosts_pending_until_applied_then_in_sync_and_the_file_is_never_touched(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_bytes(USER_LINES)
    before = os.stat(hosts)
    plan = _plan.check({"names": hosts_entry(hosts)}, context())
    assert plan["names"] == {"pending": True, "reason": "etc_hosts_entry: would change"}
    assert hosts.read_bytes() == USER_LINES
    assert os.stat(hosts).st_mtime_ns == before.st_mtime_ns
    assert list(tmp_path.iterdir()) == [hosts], "no backup, temp or lock file may appear"

    apply_hosts(hosts)
    assert b"198.51.100.1\tnginx.test\r\n" in hosts.read_bytes()
    plan = _plan.check({"names": hosts_entry(hosts)}, context())
    assert plan["names"] == {"pending": False, "reason": "in sync"}


def test_hosts_file_arguments_leave_the_comparison_to_the_task(tmp_path: Path) -> None:
    """mode/owner (add_file_common_args) can only be compared by AnsibleModule setting them: never in the plan."""
    hosts = tmp_path / "hosts"
    hosts.write_bytes(USER_LINES)
    apply_hosts(hosts)
    before = os.stat(hosts)
    module = mock.Mock(check_mode=False)  # bridge_facts itself runs for real
    ctx = _plan.PlanContext(system="Linux", runner=FakeRunner([]), module=module, console_user=None)
    assert _plan.check({"names": hosts_entry(hosts)}, ctx)["names"] == {"pending": False, "reason": "in sync"}
    plan = _plan.check({"names": hosts_entry(hosts, mode="0600")}, ctx)
    assert plan["names"] == {"pending": True, "reason": "etc_hosts_entry: would change"}
    module.set_fs_attributes_if_different.assert_not_called()
    assert os.stat(hosts).st_mode == before.st_mode


def test_a_check_with_a_warning_is_pending_so_that_the_task_gives_it(tmp_path: Path) -> None:
    """A name shadowed by another line: in step, but the task's warning must reach the user on every run."""
    hosts = tmp_path / "hosts"
    hosts.write_bytes(b"10.9.9.9 nginx.test\n")
    apply_hosts(hosts)
    plan = _plan.check({"names": hosts_entry(hosts)}, context())
    assert plan["names"]["pending"] is True
    assert plan["names"]["reason"].startswith("etc_hosts_entry: ")
    assert "10.9.9.9" in plan["names"]["reason"]


def test_a_path_from_a_home_directory_is_not_compared(tmp_path: Path) -> None:
    """The check runs as the connecting user, the task as root: "~" is not the same directory."""
    plan = _plan.check({"names": hosts_entry(Path("~/hosts"))}, context())
    assert plan["names"] == {"pending": True,
                             "reason": "etc_hosts_entry: path starts with ~, which the task expands for its own user"}


# --- lo0_alias: the Linux backend with replayed iproute2 output ----------------------------------------------
@pytest.fixture(autouse=True)
def no_systemd(monkeypatch) -> None:
    monkeypatch.setattr(_systemd, "SYSTEMD_RUN_DIR", "/nonexistent/run/systemd/system")


def alias_entry(*addresses: str) -> dict[str, t.Any]:
    return {"kind": "lo0_alias", "params": {"addresses": list(addresses), "interface": None, "persistent": None,
                                            "exclusive_within": "198.51.100.0/24", "state": "present"}}


def test_loopback_in_sync_runs_only_the_read() -> None:
    runner = FakeRunner([(SHOW_LO, 0, ip_json(("lo", [*LO_STOCK, "198.51.100.1/32"])), "")])
    plan = _plan.check({"aliases": alias_entry("198.51.100.1")}, context(runner))
    assert plan["aliases"] == {"pending": False, "reason": "in sync"}
    runner.assert_done()


def test_loopback_drift_is_pending_with_what_would_change_and_nothing_is_run() -> None:
    # FakeRunner fails on any command not listed: no `ip addr add` or `del` may run.
    runner = FakeRunner([
        (SHOW_LO, 0, ip_json(("lo", [*LO_STOCK, "198.51.100.9/32"])), ""),
        (SHOW_ALL, 0, ip_json(("lo", [*LO_STOCK, "198.51.100.9/32"])), ""),
    ])
    plan = _plan.check({"aliases": alias_entry("198.51.100.1")}, context(runner))
    assert plan["aliases"] == {"pending": True,
                               "reason": "lo0_alias: added ['198.51.100.1/32']; removed ['198.51.100.9/32']"}
    runner.assert_done()


# --- parameters, the console user, errors -----------------------------------------------------------------
def test_owner_and_user_default_to_the_console_user_and_an_explicit_one_is_kept() -> None:
    seen: dict[str, dict[str, t.Any]] = {}

    def fake_run(kind: str, params: dict[str, t.Any], ctx: _plan.PlanContext) -> dict[str, t.Any]:
        seen[kind + ("-explicit" if kind in seen else "")] = params
        return {"changed": False}

    desired = {
        "tap": {"kind": "tap_device", "params": {"name": "tap1", "owner": None, "address": "10.0.75.1/24"}},
        "shim": {"kind": "hyperkit_shim", "params": {"app_path": None, "user": None}},
        "tap2": {"kind": "tap_device", "params": {"name": "tap2", "owner": "bob"}},
    }
    with mock.patch.object(_plan, "_run_module", fake_run):
        plan = _plan.check(desired, context(console_user="alice"))
    assert all(p == {"pending": False, "reason": "in sync"} for p in plan.values())
    assert seen["tap_device"]["owner"] == "alice"
    assert seen["hyperkit_shim"]["user"] == "alice"
    assert seen["hyperkit_shim"]["slot"] == "after_vpnkit", "module defaults apply to what was left out"
    assert seen["hyperkit_shim"]["app_path"] is None
    assert seen["tap_device-explicit"]["owner"] == "bob"


def test_invalid_parameters_are_pending_with_the_modules_own_message() -> None:
    desired = {
        "aliases": {"kind": "lo0_alias", "params": {"state": "present"}},
        "tap": {"kind": "tap_device", "params": {"name": "tap1", "colour": "red"}},
        "file": {"kind": "file", "params": {"path": "/x", "sha1": "00", "mode": "0644", "uid": "root"}},
    }
    plan = _plan.check(desired, context(console_user=None))
    assert plan["aliases"] == {"pending": True, "reason": "lo0_alias: missing required arguments: addresses"}
    assert plan["tap"]["pending"] is True
    assert "colour" in plan["tap"]["reason"]
    assert "state is present but all of the following are missing: owner" in plan["tap"]["reason"]
    assert plan["file"]["pending"] is True
    assert "uid" in plan["file"]["reason"]


@pytest.mark.parametrize(("error", "reason"), [
    (HostbridgeError("/dev/tap1 does not exist: the tuntaposx kext is not loaded"),
     "tap_device: /dev/tap1 does not exist: the tuntaposx kext is not loaded"),
    (KeyError("flags"), "tap_device: the check failed (KeyError: 'flags'); the task will tell"),
], ids=["expected", "unexpected"])
def test_a_failing_check_is_pending_so_the_module_task_runs_and_reports(error: Exception, reason: str) -> None:
    """Whatever goes wrong in a check, the facts call does not fail: the part is pending, with the reason."""
    def boom(kind: str, params: dict[str, t.Any], ctx: _plan.PlanContext) -> dict[str, t.Any]:
        raise error

    with mock.patch.object(_plan, "_run_module", boom):
        plan = _plan.check({"tap": {"kind": "tap_device", "params": {"name": "tap1"}}}, context())
    assert plan["tap"] == {"pending": True, "reason": reason}


@pytest.mark.parametrize("entry", [{"kind": "copy"}, {"params": {}}, "lo0_alias"])
def test_an_unknown_kind_is_an_error_naming_the_entry(entry: t.Any) -> None:
    with pytest.raises(HostbridgeError, match=r"^desired\.x\.kind: .* must be one of lo0_alias, etc_hosts_entry"):
        _plan.check({"x": entry}, context())


def test_the_loopback_module_and_the_plan_share_one_argument_spec() -> None:
    assert lo0_alias.ARGUMENT_SPEC is _loopback.ARGUMENT_SPEC is _plan.KINDS["lo0_alias"][0]


@pytest.mark.parametrize(("entry", "field"), [
    ({"kind": "file", "params": "path=/x"}, "desired.x.params: 'path=/x' must be a dict"),
    ({"kind": "file", "params": {}, "platforms": "linux"}, "desired.x.platforms: 'linux' must be a list"),
    ({"kind": "file", "params": {}, "platforms": ["windows"]}, "desired.x.platforms: ['windows'] must be a list"),
    ({"kind": "file", "params": {}, "strategy": "magic"}, "desired.x.strategy: 'magic' must be"),
])
def test_a_malformed_entry_is_an_error_naming_the_field(entry: dict[str, t.Any], field: str) -> None:
    with pytest.raises(HostbridgeError, match="^" + re.escape(field)):
        _plan.check({"ok": {"kind": "file", "params": {}}, "x": entry}, context())


def test_entries_of_a_strategy_not_possible_here_are_not_checked(tmp_path: Path) -> None:
    entry = dict(file_entry(tmp_path / "tap-reapply", b""), strategy="tap")
    ctx = context()._replace(possible=frozenset({"loopback", "routed"}))
    assert _plan.check({"program": entry}, ctx) == {}
    assert _plan.check({"program": entry}, context())["program"]["pending"] is True


def test_entries_for_another_platform_are_not_checked(tmp_path: Path) -> None:
    plist = file_entry(tmp_path / "job.plist", b"")
    plan = _plan.check({"plist": dict(plist, platforms=["darwin"]), "unit": dict(plist, platforms=["linux"]),
                        "any": dict(plist, platforms=None)}, context())
    assert sorted(plan) == ["any", "unit"]
    assert plan["unit"]["pending"] is True


@pytest.mark.parametrize(("systemd", "checked"), [(True, ["job"]), (False, [])])
def test_an_entry_for_systemd_is_checked_only_where_systemd_runs(tmp_path: Path, systemd: bool,
                                                                 checked: list[str]) -> None:
    entry = dict(file_entry(tmp_path / "unit", b""), platforms=["darwin", "systemd"])
    assert sorted(_plan.check({"job": entry}, context()._replace(systemd=systemd))) == checked


def test_an_entry_with_no_platform_is_never_checked(tmp_path: Path) -> None:
    entry = dict(file_entry(tmp_path / "unit", b""), platforms=[])
    assert _plan.check({"job": entry}, context()._replace(systemd=True)) == {}


def test_each_entry_reports_its_strategy_for_the_bridge_role(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x")
    path.chmod(0o644)
    plan = _plan.check({"tap": dict(file_entry(path, b"x"), strategy="tap"),
                        "loopback": dict(file_entry(path, b"y"), strategy="loopback"),
                        "none": file_entry(path, b"x")}, context())
    assert plan == {"tap": {"pending": False, "reason": "in sync", "exists": True, "strategy": "tap"},
                    "loopback": {"pending": True, "reason": f"{path}: content differs", "exists": True,
                                 "strategy": "loopback"},
                    "none": {"pending": False, "reason": "in sync", "exists": True}}


REAPPLY = {"name": "com.dockermac.hostbridge.tap-reapply", "program_arguments": ["/bin/sh", "/usr/local/libexec/x"],
           "start_interval": 10, "state": "present"}


def test_boot_job_on_darwin_runs_the_module_logic_in_check_mode(tmp_path: Path, monkeypatch) -> None:
    """The plist compared byte for byte and the job loaded, with one launchctl call: a re-run stays one call."""
    label = REAPPLY["name"]
    monkeypatch.setattr(_launchd, "LAUNCH_DAEMONS_DIR", str(tmp_path))
    monkeypatch.setattr(_launchd, "PLIST_OWNER", pwd.getpwuid(os.geteuid()).pw_name)  # root:wheel on a Mac
    monkeypatch.setattr(_launchd, "PLIST_GROUP", grp.getgrgid(os.getegid()).gr_name)
    plist = tmp_path / f"{label}.plist"
    plist.write_bytes(_bootjob.render_plist(_bootjob.validate(REAPPLY)))
    plist.chmod(0o644)
    runner = FakeRunner([
        (["launchctl", "print", f"system/{label}"], 0, f"system/{label} = {{\n\tstate = not running\n}}\n", ""),
        (["launchctl", "print", f"system/{label}"], 113, "", f'Could not find service "{label}" in domain for system'),
    ])
    entry = {"kind": "boot_job", "params": REAPPLY}
    ctx = _plan.PlanContext(system="Darwin", runner=runner, module=mock.Mock(), console_user="alice")
    assert _plan.check({"job": entry}, ctx) == {"job": {"pending": False, "reason": "in sync"}}
    assert _plan.check({"job": entry}, ctx) == {
        "job": {"pending": True, "reason": f"boot_job: launchctl bootstrap system {plist}"}}
    runner.assert_done()
    assert plist.read_bytes() == _bootjob.render_plist(_bootjob.validate(REAPPLY))


def test_boot_job_on_linux_compares_the_units_and_the_timer(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "run").mkdir()
    monkeypatch.setattr(_systemd, "SYSTEMD_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.setattr(_systemd, "UNIT_DIR", str(tmp_path))
    timer = f"{REAPPLY['name']}.timer"
    runner = FakeRunner([(["systemctl", "is-enabled", "--quiet", timer], 1, "", ""),
                         (["systemctl", "is-active", "--quiet", timer], 3, "", "")])
    plan = _plan.check({"job": {"kind": "boot_job", "params": REAPPLY}}, context(runner))
    runner.assert_done()
    assert plan["job"]["pending"] is True
    assert plan["job"]["reason"] == (f"boot_job: write {tmp_path}/{REAPPLY['name']}.service; write {tmp_path}/{timer}; "
                                     f"systemctl daemon-reload; systemctl enable {timer}; systemctl start {timer}")
    assert list(tmp_path.iterdir()) == [tmp_path / "run"]


def test_boot_job_options_are_validated_by_the_module_spec() -> None:
    plan = _plan.check({"job": {"kind": "boot_job", "params": {"name": "x.y"}}}, context())
    assert plan["job"] == {"pending": True, "reason": "boot_job: state is present but all of the following are "
                                                      "missing: program_arguments"}
