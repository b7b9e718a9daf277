"""``_bootjob.py`` where cosmic-ray's mutants survived the other tests (docs/development.md, "Mutation score"):
states as a real task sends them (decoded from JSON, so never the code's own interned constants), the option
defaults of the module's argument spec, a boot delay of 0, unit files whose mode or owner drifted, the paths and
``reload_deferred`` a run reports, and trusted paths anyone can write. Real unit files in a temp dir, systemctl
argv exactly (FakeRunner)."""

from __future__ import annotations

import json
import os
import pwd
import stat
import typing as t
from pathlib import Path

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _bootjob
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.tests.unit.plugins.module_utils.test_bootjob import (
    LOADED,
    NOT_LOADED,
    PULL,
    SERVICE,
    TIMER,
    install,
    launchd,
    manage,
    module,
    ok,
    quiet,
    systemd,
    units,
)
from ansible_collections.dockermac.hostbridge.tests.unit.utils import FakeRunner

__all__ = ["module", "units"]  # fixtures


def as_sent(params: dict[str, t.Any]) -> dict[str, t.Any]:
    """The options as a task delivers them: decoded from JSON, so no string is one of the code's constants."""
    return t.cast("dict[str, t.Any]", json.loads(json.dumps(params)))


def spec_params(params: dict[str, t.Any]) -> dict[str, t.Any]:
    """The options after AnsibleModule applied boot_job's argument spec (its defaults filled in)."""
    with patch_module_args(params):
        return dict(AnsibleModule(argument_spec=_bootjob.ARGUMENT_SPEC, supports_check_mode=True).params)


def test_present_from_a_task_installs_and_absent_removes(module, units) -> None:
    runner = FakeRunner([quiet("is-enabled", TIMER, 1), quiet("is-active", TIMER, 3), ok("systemctl", "daemon-reload"),
                         ok("systemctl", "enable", TIMER), ok("systemctl", "start", TIMER)])
    result = manage(systemd(runner, module, units), as_sent({**PULL, "state": "present"}))
    runner.assert_done()
    assert result["actions"][-2:] == [f"systemctl enable {TIMER}", f"systemctl start {TIMER}"]
    runner = FakeRunner([quiet("is-enabled", TIMER, 0), ok("systemctl", "disable", "--now", TIMER),
                         ok("systemctl", "daemon-reload")])
    manage(systemd(runner, module, units), as_sent({"name": PULL["name"], "state": "absent"}))
    runner.assert_done()
    assert list((units / "units").iterdir()) == []


def test_absent_from_a_task_boots_out_and_removes_the_plist(module, daemons) -> None:
    plist = daemons / f"{PULL['name']}.plist"
    plist.write_bytes(b"x")
    runner = FakeRunner([LOADED, ok("launchctl", "bootout", f"system/{PULL['name']}"), NOT_LOADED])
    result = launchd(as_sent({"name": PULL["name"], "state": "absent"}), runner, module)
    runner.assert_done()
    assert (result["actions"], plist.exists()) == ([f"launchctl bootout system/{PULL['name']}", f"remove {plist}"],
                                                   False)


def test_a_program_anyone_can_replace_is_refused_for_a_task_too(module, units, tmp_path: Path) -> None:
    """root would run whatever another account puts there; the state comes from JSON as in a real task."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    program = shared / "job"
    program.write_text("#!/bin/sh\n", encoding="utf-8")
    program.chmod(0o755)
    with pytest.raises(HostbridgeError, match=rf"boot_job {PULL['name']}: .*{shared}"):
        manage(systemd(FakeRunner([]), module, units),
               as_sent({**PULL, "state": "present", "program_arguments": [str(program)]}))
    assert list((units / "units").iterdir()) == []


def test_a_trusted_path_anyone_can_write_is_refused(module, units, tmp_path: Path) -> None:
    """``trusted_paths`` (what the job reads, e.g. a checkout) are checked as the program is."""
    shared = tmp_path / "checkout"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(HostbridgeError, match=rf"boot_job {PULL['name']}: .*{shared}"):
        manage(systemd(FakeRunner([]), module, units), {**PULL, "trusted_paths": [str(shared)]})
    assert list((units / "units").iterdir()) == []


def test_a_boot_delay_of_zero_is_accepted() -> None:
    assert _bootjob.validate({**PULL, "boot_delay": 0}).boot_delay == 0
    with pytest.raises(HostbridgeError, match=r"^boot_delay: .*must be 0 or more"):
        _bootjob.validate({**PULL, "boot_delay": -1})


def test_without_reload_a_new_schedule_restarts_the_timer(module, units) -> None:
    """``reload`` defaults to true in the module's argument spec, as documented."""
    install(module, units)
    runner = FakeRunner([quiet("is-enabled", TIMER, 0), quiet("is-active", TIMER, 0), ok("systemctl", "daemon-reload"),
                         ok("systemctl", "restart", TIMER)])
    params = spec_params({k: v for k, v in {**PULL, "start_interval": 600}.items() if k != "reload"})
    manage(systemd(runner, module, units), params)
    runner.assert_done()


def test_a_missing_name_is_refused_by_the_argument_spec() -> None:
    with patch_module_args({"program_arguments": ["/bin/true"]}), pytest.raises(SystemExit):
        AnsibleModule(argument_spec=_bootjob.ARGUMENT_SPEC)


@pytest.mark.parametrize("mode", [0o600, 0o640])
def test_a_unit_file_with_a_narrower_mode_is_put_back_to_0644(module, units, mode: int) -> None:
    install(module, units)
    (units / "units" / SERVICE).chmod(mode)
    runner = FakeRunner([quiet("is-enabled", TIMER, 0), quiet("is-active", TIMER, 0)])
    result = manage(systemd(runner, module, units), PULL)
    runner.assert_done()
    assert result["actions"] == [f"set {units}/units/{SERVICE} to root:root 0644"]
    assert stat.S_IMODE((units / "units" / SERVICE).stat().st_mode) == 0o644


@pytest.mark.root
def test_a_unit_file_owned_by_another_account_is_given_back_to_root(module, units) -> None:
    install(module, units)
    nobody = pwd.getpwnam("nobody")
    os.chown(units / "units" / TIMER, nobody.pw_uid, nobody.pw_gid)
    runner = FakeRunner([quiet("is-enabled", TIMER, 0), quiet("is-active", TIMER, 0)])
    result = manage(systemd(runner, module, units), PULL)
    runner.assert_done()
    assert result["actions"] == [f"set {units}/units/{TIMER} to root:root 0644"]
    info = (units / "units" / TIMER).stat()
    assert (info.st_uid, info.st_gid) == (os.geteuid(), os.getegid())


def test_the_paths_are_the_unit_files_that_exist_or_will(module, units) -> None:
    runner = FakeRunner([quiet("is-enabled", TIMER, 1), quiet("is-active", TIMER, 3), ok("systemctl", "daemon-reload"),
                         ok("systemctl", "enable", TIMER), ok("systemctl", "start", TIMER)])
    result = manage(systemd(runner, module, units), PULL)
    assert result["paths"] == [f"{units}/units/{SERVICE}", f"{units}/units/{TIMER}"]
    assert result["reload_deferred"] is False  # systemd: the change takes effect in this run
    job = {"name": PULL["name"], "program_arguments": ["/bin/true"]}  # boot-only: a service, no timer
    (units / "units" / TIMER).unlink()
    runner = FakeRunner([quiet("is-enabled", f"{PULL['name']}.service", 1), ok("systemctl", "daemon-reload"),
                         ok("systemctl", "enable", f"{PULL['name']}.service")])
    result = manage(systemd(runner, module, units), job)
    runner.assert_done()
    assert result["paths"] == [f"{units}/units/{SERVICE}"]


def test_present_from_a_task_without_a_program_is_refused() -> None:
    with pytest.raises(HostbridgeError, match=r"^program_arguments: .*non-empty list"):
        _bootjob.validate(as_sent({"name": PULL["name"], "state": "present", "program_arguments": []}))


def test_present_from_a_task_where_systemd_does_not_run_is_refused(module, units) -> None:
    with pytest.raises(HostbridgeError, match="systemd does not run on this host"):
        manage(systemd(FakeRunner([]), module, units, running=False), as_sent({**PULL, "state": "present"}))
    assert list((units / "units").iterdir()) == []


def test_absent_from_a_task_disables_an_enabled_boot_only_service(module, units) -> None:
    job = {"name": PULL["name"], "program_arguments": ["/bin/true"]}
    (units / "units" / SERVICE).write_bytes(_bootjob.render_service(_bootjob.validate(job)))
    runner = FakeRunner([quiet("is-enabled", SERVICE, 0), ok("systemctl", "disable", SERVICE),
                         ok("systemctl", "daemon-reload")])
    manage(systemd(runner, module, units), as_sent({"name": PULL["name"], "state": "absent"}))
    runner.assert_done()


def test_a_job_waits_for_the_network_only_when_asked() -> None:
    """``requires_network`` defaults to false in the module's argument spec."""
    job = _bootjob.validate(spec_params({"name": PULL["name"], "program_arguments": ["/bin/true"]}))
    assert b"network-online.target" not in _bootjob.render_service(job)
    assert b"After=network-online.target\n" in _bootjob.render_service(_bootjob.validate(PULL))


def test_absent_where_systemd_does_not_run_removes_what_is_there_and_fails_nothing(module, units) -> None:
    """unbridge on a host without systemd (a container): nothing to stop, the files go."""
    (units / "units" / SERVICE).write_bytes(b"[Service]\n")
    result = manage(systemd(FakeRunner([]), module, units, running=False), {"name": PULL["name"], "state": "absent"})
    assert result["actions"] == [f"remove {units}/units/{SERVICE}"]
    assert list((units / "units").iterdir()) == []


def test_a_boot_only_service_in_step_stays_enabled(module, units) -> None:
    job = {"name": PULL["name"], "program_arguments": ["/bin/true"]}
    (units / "units" / SERVICE).write_bytes(_bootjob.render_service(_bootjob.validate(job)))
    (units / "units" / SERVICE).chmod(0o644)
    runner = FakeRunner([quiet("is-enabled", SERVICE, 0)])
    result = manage(systemd(runner, module, units), job)
    runner.assert_done()
    assert (result["changed"], result["actions"]) == (False, [])
