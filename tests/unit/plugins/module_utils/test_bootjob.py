"""boot_job's logic: the plist and the unit files byte for byte, launchctl and systemctl argv exactly (FakeRunner),
real files in temp directories (no systemd runs here)."""

from __future__ import annotations

import grp
import os
import plistlib
import pwd
import stat
import typing as t

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _bootjob, _systemd
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.tests.unit.utils import FakeRunner, context

NAME = "com.dockermac.hostbridge.pull"
ODD_ARGV = ["/opt/ansible venv/bin/ansible-pull", "-U", "https://git.example.internal/t/c.git?a=1&b=<2>",
            "-d", '/var/lib/hb pull/100%$HOME "q" \\x', "local.yml"]
PULL = {"name": NAME, "program_arguments": ODD_ARGV,
        "environment": {"PATH": "/usr/local/bin:/usr/bin:/bin", "HB_ODD": 'a $b %c "d" \\e', "N": 5},
        "description": "dockermac.hostbridge: ansible-pull of https://x/100%", "start_interval": 1800,
        "boot_delay": 120, "requires_network": True, "process_type": "Background",
        "standard_out_path": "/var/log/hb.log", "standard_error_path": "/var/log/hb.log"}
SERVICE = f"{NAME}.service"
TIMER = f"{NAME}.timer"


def quiet(verb: str, unit: str, rc: int) -> tuple[list[str], int, str, str]:
    return (["systemctl", verb, "--quiet", unit], rc, "", "")


def ok(*argv: str) -> tuple[list[str], int, str, str]:
    return (list(argv), 0, "", "")


@pytest.fixture
def module() -> AnsibleModule:
    with patch_module_args({}):
        return AnsibleModule(argument_spec={})


@pytest.fixture
def units(tmp_path) -> t.Any:
    (tmp_path / "run").mkdir()
    (tmp_path / "units").mkdir()
    return tmp_path


def systemd(runner: FakeRunner, module: AnsibleModule, units, *, running: bool = True) -> _bootjob.SystemdBackend:
    me, group = pwd.getpwuid(os.geteuid()).pw_name, grp.getgrgid(os.getegid()).gr_name  # root:root on a host
    return _bootjob.SystemdBackend(runner, module, unit_dir=str(units / "units"),
                                   run_dir=str(units / ("run" if running else "nope")), owner=me, group=group)


def manage(backend: t.Any, params: dict[str, t.Any], *, check_mode: bool = False,
           diff_mode: bool = False) -> dict[str, t.Any]:
    return _bootjob.manage(context("Linux", check_mode=check_mode, diff_mode=diff_mode), params, backend=backend)


# --- rendering ---------------------------------------------------------------------------------------------
def test_service_and_timer_are_exactly_these_bytes() -> None:
    job = _bootjob.validate(PULL)
    assert _bootjob.render_service(job) == (
        b"# Managed by the dockermac.hostbridge.boot_job Ansible module; local changes are overwritten.\n"
        b"[Unit]\n"
        b"Description=dockermac.hostbridge: ansible-pull of https://x/100%%\n"
        b"Wants=network-online.target\n"
        b"After=network-online.target\n"
        b"\n"
        b"[Service]\n"
        b"Type=oneshot\n"
        b'Environment="HB_ODD=a $b %%c \\"d\\" \\\\e"\n'
        b'Environment="N=5"\n'
        b'Environment="PATH=/usr/local/bin:/usr/bin:/bin"\n'
        b'ExecStart="/opt/ansible venv/bin/ansible-pull" -U "https://git.example.internal/t/c.git?a=1&b=<2>" -d '
        b'"/var/lib/hb pull/100%%$$HOME \\"q\\" \\\\x" local.yml\n'
    )
    assert _bootjob.render_timer(job) == (
        b"# Managed by the dockermac.hostbridge.boot_job Ansible module; local changes are overwritten.\n"
        b"[Unit]\n"
        b"Description=dockermac.hostbridge: ansible-pull of https://x/100%% (every 1800s)\n"
        b"\n"
        b"[Timer]\n"
        b"OnBootSec=120s\n"
        b"OnUnitActiveSec=1800s\n"
        b"AccuracySec=1s\n"
        b"\n"
        b"[Install]\n"
        b"WantedBy=timers.target\n"
    )


def test_a_boot_only_service_is_wanted_by_multi_user_and_has_no_timer() -> None:
    job = _bootjob.validate({"name": "com.x.boot", "program_arguments": ["/bin/true"]})
    assert _bootjob.render_timer(job) is None
    assert _bootjob.render_service(job).endswith(b"ExecStart=/bin/true\n\n[Install]\nWantedBy=multi-user.target\n")
    assert b"Description=dockermac.hostbridge: com.x.boot\n" in _bootjob.render_service(job)


def test_the_plist_carries_every_launchd_key() -> None:
    doc = plistlib.loads(_bootjob.render_plist(_bootjob.validate(PULL)))
    assert doc == {"Label": NAME, "ProgramArguments": ODD_ARGV, "RunAtLoad": True, "StartInterval": 1800,
                   "EnvironmentVariables": {"HB_ODD": 'a $b %c "d" \\e', "N": "5",
                                            "PATH": "/usr/local/bin:/usr/bin:/bin"},
                   "ProcessType": "Background", "StandardOutPath": "/var/log/hb.log",
                   "StandardErrorPath": "/var/log/hb.log"}


@pytest.mark.parametrize(("params", "field", "why"), [
    ({"program_arguments": ["bin/x"]}, "program_arguments", "absolute program path"),
    ({"program_arguments": []}, "program_arguments", "non-empty list"),
    ({"program_arguments": ["/bin/x", "a\nb"]}, r"program_arguments\[1\]", "control character"),
    ({"program_arguments": ["/bin/x"], "environment": {"A-B": "x"}}, "environment", "environment variable name"),
    ({"program_arguments": ["/bin/x"], "environment": {"A": ["x"]}}, "environment.A", "must be a string"),
    ({"program_arguments": ["/bin/x"], "environment": {"A": "x\ty"}}, "environment.A", "control character"),
    ({"program_arguments": ["/bin/x"], "start_interval": 0}, "start_interval", "at least 10"),
    ({"program_arguments": ["/bin/x"], "start_interval": 9}, "start_interval", "at least 10 .*ThrottleInterval"),
    ({"program_arguments": ["/bin/x"], "boot_delay": -1}, "boot_delay", "0 or more"),
    ({"program_arguments": ["/bin/x"], "standard_out_path": "log"}, "standard_out_path", "absolute path"),
    ({"program_arguments": ["/bin/x"], "name": "../x"}, "name", "reverse-DNS label"),
])
def test_bad_options_are_refused_naming_the_field(params, field, why) -> None:
    with pytest.raises(HostbridgeError, match=rf"^{field}: .*{why}"):
        _bootjob.validate({"name": NAME, **params})


# --- systemd -----------------------------------------------------------------------------------------------
def test_systemd_fresh_install_writes_reloads_enables_and_starts_the_timer(module, units) -> None:
    runner = FakeRunner([quiet("is-enabled", TIMER, 1), quiet("is-active", TIMER, 3),
                         ok("systemctl", "daemon-reload"), ok("systemctl", "enable", TIMER),
                         ok("systemctl", "start", TIMER)])
    result = manage(systemd(runner, module, units), PULL, diff_mode=True)
    runner.assert_done()
    job = _bootjob.validate(PULL)
    for unit, content in ((SERVICE, _bootjob.render_service(job)), (TIMER, _bootjob.render_timer(job))):
        path = units / "units" / unit
        assert path.read_bytes() == content
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert result["changed"] is True
    assert result["backend"] == "systemd"
    assert result["actions"] == [f"write {units}/units/{SERVICE}", f"write {units}/units/{TIMER}",
                                 "systemctl daemon-reload", f"systemctl enable {TIMER}", f"systemctl start {TIMER}"]
    assert [d["before"] for d in result["diff"]] == ["", ""]
    assert result["diff"][1]["after"].endswith("WantedBy=timers.target\n")


def install(module, units) -> None:
    runner = FakeRunner([quiet("is-enabled", TIMER, 1), quiet("is-active", TIMER, 3), ok("systemctl", "daemon-reload"),
                         ok("systemctl", "enable", TIMER), ok("systemctl", "start", TIMER)])
    manage(systemd(runner, module, units), PULL)
    runner.assert_done()


def test_systemd_in_step_is_three_reads_and_unchanged(module, units) -> None:
    install(module, units)
    runner = FakeRunner([quiet("is-enabled", TIMER, 0), quiet("is-active", TIMER, 0)])
    result = manage(systemd(runner, module, units), PULL)
    runner.assert_done()
    assert (result["changed"], result["actions"]) == (False, [])


@pytest.mark.parametrize(("reload", "last"), [(True, [ok("systemctl", "restart", TIMER)]), (False, [])])
def test_a_new_schedule_restarts_the_running_timer_unless_reload_is_off(module, units, reload, last) -> None:
    install(module, units)
    runner = FakeRunner([quiet("is-enabled", TIMER, 0), quiet("is-active", TIMER, 0), ok("systemctl", "daemon-reload"),
                         *last])
    result = manage(systemd(runner, module, units), {**PULL, "start_interval": 600, "reload": reload})
    runner.assert_done()
    assert b"OnUnitActiveSec=600s\n" in (units / "units" / TIMER).read_bytes()
    assert result["actions"][0] == f"write {units}/units/{TIMER}"


def test_systemd_mode_drift_is_fixed_without_a_reload(module, units) -> None:
    install(module, units)
    (units / "units" / SERVICE).chmod(0o666)
    runner = FakeRunner([quiet("is-enabled", TIMER, 0), quiet("is-active", TIMER, 0)])
    result = manage(systemd(runner, module, units), PULL)
    runner.assert_done()
    assert result["actions"] == [f"set {units}/units/{SERVICE} to root:root 0644"]
    assert stat.S_IMODE((units / "units" / SERVICE).stat().st_mode) == 0o644


def test_check_mode_reads_only_and_touches_nothing(module, units) -> None:
    runner = FakeRunner([quiet("is-enabled", TIMER, 1), quiet("is-active", TIMER, 3)])
    result = manage(systemd(runner, module, units), PULL, check_mode=True, diff_mode=True)
    runner.assert_done()
    assert result["changed"] is True
    assert list((units / "units").iterdir()) == []
    assert len(result["diff"]) == 2


def test_dropping_the_interval_turns_the_timer_into_a_boot_only_service(module, units) -> None:
    install(module, units)
    runner = FakeRunner([quiet("is-enabled", TIMER, 0), quiet("is-enabled", SERVICE, 1),
                         ok("systemctl", "disable", "--now", TIMER), ok("systemctl", "daemon-reload"),
                         ok("systemctl", "enable", SERVICE)])
    params = {k: v for k, v in PULL.items() if k != "start_interval"}
    result = manage(systemd(runner, module, units), params)
    runner.assert_done()
    assert not (units / "units" / TIMER).exists()
    assert result["actions"][0] == f"systemctl disable --now {TIMER}"


def test_absent_disables_and_stops_the_timer_then_removes_both_files(module, units) -> None:
    install(module, units)
    runner = FakeRunner([quiet("is-enabled", TIMER, 0), ok("systemctl", "disable", "--now", TIMER),
                         ok("systemctl", "daemon-reload")])
    result = manage(systemd(runner, module, units), {"name": NAME, "state": "absent"}, diff_mode=True)
    runner.assert_done()
    assert list((units / "units").iterdir()) == []
    assert result["actions"] == [f"systemctl disable --now {TIMER}", f"remove {units}/units/{SERVICE}",
                                 f"remove {units}/units/{TIMER}", "systemctl daemon-reload"]
    assert [d["after"] for d in result["diff"]] == ["", ""]
    runner = FakeRunner([])
    assert manage(systemd(runner, module, units), {"name": NAME, "state": "absent"})["changed"] is False


def test_absent_disables_an_enabled_boot_only_service(module, units) -> None:
    job = {"name": NAME, "program_arguments": ["/bin/true"]}
    (units / "units" / SERVICE).write_bytes(_bootjob.render_service(_bootjob.validate(job)))
    runner = FakeRunner([quiet("is-enabled", SERVICE, 0), ok("systemctl", "disable", SERVICE),
                         ok("systemctl", "daemon-reload")])
    manage(systemd(runner, module, units), {"name": NAME, "state": "absent"})
    runner.assert_done()


def test_no_systemd_is_a_clear_error_and_changes_nothing(module, units) -> None:
    runner = FakeRunner([])
    with pytest.raises(HostbridgeError, match=r"systemd does not run on this host .* Run its program another way"):
        manage(systemd(runner, module, units, running=False), PULL)
    assert list((units / "units").iterdir()) == []


def test_a_symlinked_unit_is_refused(module, units, tmp_path_factory) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "x"
    elsewhere.write_bytes(b"theirs")
    (units / "units" / SERVICE).symlink_to(elsewhere)
    with pytest.raises(HostbridgeError, match="is a symlink"):
        manage(systemd(FakeRunner([]), module, units), PULL)
    assert elsewhere.read_bytes() == b"theirs"


# --- launchd -----------------------------------------------------------------------------------------------
PRINT = ["launchctl", "print", f"system/{NAME}"]
NOT_LOADED = (PRINT, 113, "", f'Could not find service "{NAME}" in domain for system\n')
LOADED = (PRINT, 0, f"system/{NAME} = {{\n}}\n", "")


def launchd(params: dict[str, t.Any], runner: FakeRunner, module, **kwargs: t.Any) -> dict[str, t.Any]:
    ctx = context("Darwin", runner=runner, module=module, check_mode=kwargs.pop("check_mode", False),
                  diff_mode=kwargs.pop("diff_mode", False))
    return _bootjob.manage(ctx, params, backend=_bootjob.LaunchdBackend(runner, module, sleep=lambda _s: None))


def test_launchd_fresh_install_enables_then_bootstraps(module, daemons) -> None:
    plist = daemons / f"{NAME}.plist"
    runner = FakeRunner([NOT_LOADED, ok("launchctl", "enable", f"system/{NAME}"),
                         ok("launchctl", "bootstrap", "system", str(plist))])
    result = launchd(PULL, runner, module, diff_mode=True)
    runner.assert_done()
    assert plist.read_bytes() == _bootjob.render_plist(_bootjob.validate(PULL))
    assert result["actions"] == [f"write {plist}", f"launchctl bootstrap system {plist}"]
    assert (result["backend"], result["paths"], result["reload_deferred"]) == ("launchd", [str(plist)], False)
    assert result["diff"][0]["before"] == ""


def test_launchd_changed_plist_of_a_loaded_job_boots_out_waits_and_bootstraps(module, daemons) -> None:
    plist = daemons / f"{NAME}.plist"
    plist.write_bytes(b"old")
    runner = FakeRunner([LOADED, ok("launchctl", "bootout", f"system/{NAME}"), LOADED, NOT_LOADED,
                         ok("launchctl", "enable", f"system/{NAME}"),
                         ok("launchctl", "bootstrap", "system", str(plist))])
    result = launchd(PULL, runner, module)
    runner.assert_done()
    assert result["actions"][0] == f"launchctl bootout system/{NAME}"


def test_launchd_reload_off_only_writes_and_says_so(module, daemons) -> None:
    plist = daemons / f"{NAME}.plist"
    plist.write_bytes(b"old")
    runner = FakeRunner([LOADED])
    result = launchd({**PULL, "reload": False}, runner, module)
    runner.assert_done()
    assert (result["changed"], result["reload_deferred"], result["actions"]) == (True, True, [f"write {plist}"])
    assert plist.read_bytes() == _bootjob.render_plist(_bootjob.validate(PULL))


def test_launchd_absent_boots_out_waits_and_removes(module, daemons) -> None:
    plist = daemons / f"{NAME}.plist"
    plist.write_bytes(b"x")
    runner = FakeRunner([LOADED, ok("launchctl", "bootout", f"system/{NAME}"), NOT_LOADED])
    result = launchd({"name": NAME, "state": "absent"}, runner, module)
    runner.assert_done()
    assert not plist.exists()
    assert result["actions"] == [f"launchctl bootout system/{NAME}", f"remove {plist}"]


def test_unknown_system_is_refused(module) -> None:
    with pytest.raises(HostbridgeError,
                       match=r"boot_job does not support 'FreeBSD' \(only macOS \(Darwin\) and Linux\)"):
        _bootjob.manage(context("FreeBSD", module=module, check_mode=True), PULL)


def test_systemd_run_dir_default_is_the_one_lo0_alias_uses() -> None:
    assert _systemd.SYSTEMD_RUN_DIR == "/run/systemd/system"


def test_launchd_absent_with_reload_off_leaves_the_loaded_job_until_boot(module, daemons) -> None:
    plist = daemons / f"{NAME}.plist"
    plist.write_bytes(b"x")
    runner = FakeRunner([LOADED])
    result = launchd({"name": NAME, "state": "absent", "reload": False}, runner, module)
    runner.assert_done()
    assert not plist.exists()
    assert (result["actions"], result["reload_deferred"]) == ([f"remove {plist}"], True)
