"""_module: the one harness every module's main() is - errors, warnings, platform selection, check/diff mode."""

from __future__ import annotations

import typing as t
from pathlib import Path
from unittest import mock

import pytest
from ansible.module_utils import basic

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _errors, _module
from ansible_collections.dockermac.hostbridge.plugins.module_utils._commands import command_error
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.plugins.module_utils._module import Context, select_backend
from ansible_collections.dockermac.hostbridge.plugins.modules import (
    bridge_facts,
    etc_hosts_entry,
    hyperkit_shim,
    lo0_alias,
    tap_device,
)
from ansible_collections.dockermac.hostbridge.tests.unit.utils import FakeRunner, run_module

MODULES = {m.__name__.rsplit(".", 1)[-1]: m
           for m in (bridge_facts, etc_hosts_entry, hyperkit_shim, lo0_alias, tap_device)}
SPEC = {"name": {"type": "str"}}


def harness(manage: t.Callable[..., dict[str, t.Any]], args: dict[str, t.Any], *, system: str = "Linux",
            spec: dict[str, t.Any] | None = None) -> tuple[dict[str, t.Any], list[str]]:
    """Run ``manage`` through run_module as a module's main() would; its result and the warnings given."""
    warnings: list[str] = []
    with mock.patch.object(_module.platform, "system", return_value=system), \
            mock.patch.object(basic.AnsibleModule, "warn", lambda self, msg: warnings.append(msg)):
        result = run_module(lambda: _module.run_module(manage, spec or SPEC), args)
    return result, warnings


def test_a_hostbridge_error_becomes_fail_json_with_rc_stdout_stderr() -> None:
    def manage(ctx: Context, params: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        raise HostbridgeError("ifconfig lo0 failed (rc=1): no such thing", cmd=["/sbin/ifconfig", "lo0"], rc=1,
                              stdout="out", stderr="no such thing\n")

    result, warnings = harness(manage, {"name": "x"})
    assert result == {"failed": True, "msg": "ifconfig lo0 failed (rc=1): no such thing",
                      "cmd": ["/sbin/ifconfig", "lo0"], "rc": 1, "stdout": "out", "stderr": "no such thing\n"}
    assert warnings == []


def test_a_failing_command_of_a_real_module_reaches_the_result() -> None:
    runner = FakeRunner([(["ip", "-j", "addr", "show", "dev", "lo"], 2, "", "RTNETLINK answers: Permission denied\n"),
                         (["ip", "-j", "addr", "show", "dev", "lo"], 2, "", "RTNETLINK answers: Permission denied\n")])
    with mock.patch.object(_module, "CommandRunner", return_value=runner), \
            mock.patch.object(_module.platform, "system", return_value="Linux"):
        result = run_module(lo0_alias.main, {"addresses": ["198.51.100.1"], "persistent": False})
    runner.assert_done()
    assert result["failed"] is True
    assert result["rc"] == 2
    assert result["stdout"] == ""
    assert result["stderr"] == "RTNETLINK answers: Permission denied\n"
    assert result["msg"] == "ip addr show dev lo failed (rc=2): RTNETLINK answers: Permission denied"


def test_the_context_carries_the_platform_runner_module_check_and_diff_mode() -> None:
    seen: list[Context] = []

    def manage(ctx: Context, params: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        seen.append(ctx)
        return {"changed": False, "name": params["name"], "warnings": []}

    result, _warnings = harness(manage, {"name": "x", "_ansible_check_mode": True, "_ansible_diff": True},
                                system="Darwin")
    assert result == {"changed": False, "name": "x"}  # warnings are given with module.warn, not returned as is
    (ctx,) = seen
    assert (ctx.system, ctx.check_mode, ctx.diff_mode) == ("Darwin", True, True)
    assert isinstance(ctx.module, basic.AnsibleModule)
    assert isinstance(ctx.runner, _module.CommandRunner)


def platform_args(name: str, tmp_path: Path) -> dict[str, t.Any]:
    return {
        "bridge_facts": {},
        "etc_hosts_entry": {"path": str(tmp_path / "hosts"), "ip": "198.51.100.1", "names": ["nginx.test"]},
        "hyperkit_shim": {"app_path": str(tmp_path)},
        "lo0_alias": {"addresses": ["198.51.100.1"]},
        "tap_device": {"name": "tap1", "owner": "root"},
    }[name]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_an_unsupported_platform_is_named_by_every_module(name: str, tmp_path: Path) -> None:
    runner = FakeRunner([])
    with mock.patch.object(_module, "CommandRunner", return_value=runner), \
            mock.patch.object(_module.platform, "system", return_value="FreeBSD"):
        result = run_module(MODULES[name].main, platform_args(name, tmp_path))
    runner.assert_done()  # nothing was run
    assert result["failed"] is True
    assert result["msg"] == f"{name} does not support 'FreeBSD' (only macOS (Darwin) and Linux)"
    assert result["system"] == "FreeBSD"
    assert not (tmp_path / "hosts").exists()


@pytest.mark.parametrize("name", sorted(MODULES))
def test_warnings_from_manage_reach_the_user_for_every_module(name: str, tmp_path: Path) -> None:
    """lo0_alias and tap_device could not warn before the harness; every module's main() is the harness now."""
    module = MODULES[name]

    def manage(ctx: Context, params: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        return {"changed": False, "warnings": [f"{name}: something to know", "and another"]}

    warnings: list[str] = []
    with mock.patch.object(module, "manage", manage), \
            mock.patch.object(basic.AnsibleModule, "warn", lambda self, msg: warnings.append(msg)):
        result = run_module(module.main, platform_args(name, tmp_path))
    assert result == {"changed": False}
    assert warnings == [f"{name}: something to know", "and another"]


def test_select_backend_picks_by_platform_and_names_what_is_missing() -> None:
    backends = {"Darwin": "mac", "Linux": "linux"}
    assert select_backend("Darwin", backends, what="x") == "mac"
    assert select_backend("Linux", backends, what="x") == "linux"
    with pytest.raises(HostbridgeError) as info:
        select_backend("Windows", {"Darwin": "mac"}, what="some_module")
    assert info.value.msg == "some_module does not support 'Windows' (only macOS (Darwin))"
    assert info.value.details == {"system": "Windows"}


@pytest.mark.parametrize(("uid", "stderr", "hint"), [
    (501, "RTNETLINK answers: Operation not permitted\n", True),
    (501, "route: must be root to alter routing table\n", True),
    (501, "ifconfig: interface tap1 does not exist\n", False),  # not a privilege problem
    (0, "RTNETLINK answers: Operation not permitted\n", False),  # root refused: become would not help
])
def test_a_command_refused_for_lack_of_root_says_to_use_become(monkeypatch: pytest.MonkeyPatch, uid: int,
                                                               stderr: str, hint: bool) -> None:
    monkeypatch.setattr(_errors.os, "geteuid", lambda: uid)
    error = command_error("adding 198.51.100.2/32 to lo", ["/sbin/ip", "addr", "add"], 2, "", stderr)
    detail = stderr.strip()
    become = (f". This needs root and the module ran as uid {uid}: run the task with become (become: true on the "
              "task or the play, or ansible-playbook --become; add -K when sudo asks for a password).")
    assert error.msg == f"adding 198.51.100.2/32 to lo failed (rc=2): {detail}" + (become if hint else "")
    assert error.details == {"cmd": ["/sbin/ip", "addr", "add"], "rc": 2, "stdout": "", "stderr": stderr}
