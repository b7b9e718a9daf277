"""``_systemd.py`` where cosmic-ray's mutants survived the other tests (docs/development.md, "Mutation score"): the
oneshot unit lo0_alias writes, byte for byte with and without ordering lines, the programs it refuses, and which
plan of ``SystemdUnit`` counts as a change (a new content alone, a missing enable alone, removing a unit that is
not enabled, removing one that is not there). Real unit files in a temp dir, systemctl argv exactly (FakeRunner)."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _systemd
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.tests.unit.utils import FakeRunner

UNIT = "dockermac-hostbridge-lo.service"
ADD = ["/usr/sbin/ip", "addr", "replace", "198.51.100.1/32", "dev", "lo"]


@pytest.fixture
def module() -> AnsibleModule:
    with patch_module_args({}):
        return AnsibleModule(argument_spec={})


def query(verb: str, rc: int) -> tuple[list[str], int, str, str]:
    return (["systemctl", verb, "--quiet", UNIT], rc, "", "")


def ok(*argv: str) -> tuple[list[str], int, str, str]:
    return (list(argv), 0, "", "")


def units(module: AnsibleModule, tmp_path: Path, expected: list[t.Any]) -> tuple[_systemd.SystemdUnit, FakeRunner]:
    runner = FakeRunner(expected)
    return _systemd.SystemdUnit(runner, module, unit_dir=str(tmp_path)), runner


def test_the_oneshot_unit_is_exactly_these_bytes() -> None:
    assert _systemd.render_oneshot(description="hb aliases on lo", commands=[ADD], header="Managed.") == (
        b"# Managed.\n[Unit]\nDescription=hb aliases on lo\nAfter=network-pre.target\n"
        b"Before=network-online.target docker.service\n\n[Service]\nType=oneshot\nRemainAfterExit=yes\n"
        b"ExecStart=/usr/sbin/ip addr replace 198.51.100.1/32 dev lo\n\n[Install]\nWantedBy=multi-user.target\n")


def test_no_ordering_asked_means_no_ordering_lines() -> None:
    unit = _systemd.render_oneshot(description="d", commands=[ADD], after=(), before=())
    assert b"After=" not in unit
    assert b"Before=" not in unit


@pytest.mark.parametrize("commands", [[ADD, ["ip", "link"]], [ADD, []]], ids=["relative", "empty"])
def test_every_command_needs_an_absolute_program(commands: list[list[str]]) -> None:
    with pytest.raises(HostbridgeError, match="systemd ExecStart wants an absolute program path"):
        _systemd.render_oneshot(description="d", commands=commands)


def test_new_content_of_an_enabled_unit_is_a_change_written_and_reloaded(module, tmp_path: Path) -> None:
    (tmp_path / UNIT).write_bytes(b"old\n")
    systemd, runner = units(module, tmp_path, [query("is-enabled", 0), ok("systemctl", "daemon-reload")])
    plan = systemd.plan_ensure(UNIT, b"new\n")
    assert plan.changed is True
    systemd.apply(plan)
    runner.assert_done()
    assert (tmp_path / UNIT).read_bytes() == b"new\n"


def test_a_unit_in_place_but_not_enabled_is_a_change_that_only_enables(module, tmp_path: Path) -> None:
    (tmp_path / UNIT).write_bytes(b"same\n")
    systemd, runner = units(module, tmp_path, [query("is-enabled", 1), ok("systemctl", "enable", UNIT)])
    plan = systemd.plan_ensure(UNIT, b"same\n")
    assert plan.changed is True
    systemd.apply(plan)
    runner.assert_done()


def test_removing_a_unit_that_is_not_enabled_deletes_it(module, tmp_path: Path) -> None:
    (tmp_path / UNIT).write_bytes(b"x\n")
    systemd, runner = units(module, tmp_path, [query("is-enabled", 1), ok("systemctl", "daemon-reload")])
    plan = systemd.plan_remove(UNIT)
    assert plan.changed is True
    systemd.apply(plan)
    runner.assert_done()
    assert not (tmp_path / UNIT).exists()


def test_removing_a_unit_that_is_not_there_changes_nothing(module, tmp_path: Path) -> None:
    systemd, runner = units(module, tmp_path, [])
    plan = systemd.plan_remove(UNIT)
    assert plan.changed is False
    systemd.apply(plan)  # nothing to do: no systemctl call
    runner.assert_done()
