"""The boot_job module through AnsibleModule: option rules, check mode, results, and errors as fail_json."""

from __future__ import annotations

import typing as t
from unittest import mock

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _module, _systemd
from ansible_collections.dockermac.hostbridge.plugins.modules import boot_job
from ansible_collections.dockermac.hostbridge.tests.unit.utils import FakeRunner, run_module

NAME = "com.dockermac.hostbridge.tap-reapply"


def module_run(runner: FakeRunner, args: dict[str, t.Any], *, system: str) -> dict[str, t.Any]:
    with mock.patch.object(_module, "CommandRunner", return_value=runner), \
            mock.patch.object(_module.platform, "system", return_value=system), \
            mock.patch.object(_systemd, "SYSTEMD_RUN_DIR", "/nonexistent/run/systemd/system"):
        result = run_module(boot_job.main, args)
    runner.assert_done()
    return result


def test_program_arguments_are_required_with_state_present() -> None:
    result = module_run(FakeRunner([]), {"name": NAME}, system="Darwin")
    assert result["failed"] is True
    assert "state is present but all of the following are missing: program_arguments" in result["msg"]


def test_check_mode_on_darwin_reports_the_plan_and_writes_nothing(daemons) -> None:
    runner = FakeRunner([(["launchctl", "print", f"system/{NAME}"], 113, "", "Could not find service")])
    result = module_run(runner, {"name": NAME, "program_arguments": ["/bin/sh", "/usr/local/libexec/x"],
                                 "start_interval": 10, "_ansible_check_mode": True, "_ansible_diff": True},
                        system="Darwin")
    plist = daemons / f"{NAME}.plist"
    assert result["changed"] is True
    assert result["actions"] == [f"write {plist}", f"launchctl bootstrap system {plist}"]
    assert "<key>StartInterval</key>" in result["diff"][0]["after"]
    assert list(daemons.iterdir()) == []


def test_label_is_an_alias_of_name_and_errors_become_fail_json() -> None:
    result = module_run(FakeRunner([]), {"label": NAME, "program_arguments": ["/bin/true"]}, system="Linux")
    assert result["failed"] is True
    assert result["msg"].startswith(f"systemd does not run on this host (/nonexistent/run/systemd/system is missing)"
                                    f", so there is nothing to install the job {NAME} into.")
    assert result["name"] == NAME
