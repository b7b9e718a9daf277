"""App Management (macOS 13+): which program must get the permission, named from recorded ``ps`` listings
(tests/fixtures/darwin/ps_axo_*.txt, see SOURCES.md), and the message hyperkit_shim gives on EPERM."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _app_management as am
from ansible_collections.dockermac.hostbridge.tests.unit.utils import FakeRunner, fixture_text

PS = ["ps", "-axo", "pid=,ppid=,command="]


@pytest.mark.parametrize(("fixture", "pid", "kind", "program"), [
    ("ps_axo_ssh_become.txt", 2309, "ssh", "/usr/libexec/sshd-keygen-wrapper"),
    ("ps_axo_terminal_local.txt", 1302, "app", "/System/Applications/Utilities/Terminal.app"),
    ("ps_axo_pull_launchdaemon.txt", 641, "job",
     "/usr/local/opt/python@3.12/Frameworks/Python.framework/Versions/3.12/Resources/Python.app/Contents/MacOS/Python"),
])
def test_the_responsible_program(fixture: str, pid: int, kind: str, program: str) -> None:
    runner = FakeRunner([(PS, 0, fixture_text("darwin", fixture), "")])
    who = am.find_responsible(runner, pid=pid, environ={})
    assert (who.kind, who.program) == (kind, program)
    assert program in who.describe()
    assert runner.calls == [PS]


def test_the_message_names_cause_permission_and_program() -> None:
    who = am.responsible(am.parse_ps(fixture_text("darwin", "ps_axo_ssh_become.txt")), 2309, {})
    message = am.refused_message("/Applications/Docker.app/Contents/Resources/bin/com.docker.hyperkit", who)
    for words in ("EPERM", "macOS 13", "App Management", "Full Disk Access", "sshd-keygen-wrapper",
                  "Allow full disk access for remote users", "com.docker.hyperkit"):
        assert words in message


def test_the_pull_job_is_known_by_its_environment_too() -> None:
    table = am.parse_ps(fixture_text("darwin", "ps_axo_terminal_local.txt"))
    assert am.responsible(table, 1302, {am.PULL_JOB_ENV: "com.dockermac.hostbridge.pull"}).kind == "job"


@pytest.mark.parametrize(("runner", "kind"), [
    (FakeRunner(missing=["ps"]), "unknown"),
    (FakeRunner([(PS, 1, "", "ps: illegal option")]), "unknown"),
    (FakeRunner([(PS, 0, "  1 0 /sbin/launchd\n", "")]), "unknown"),  # our pid is not listed
])
def test_without_a_process_tree_every_case_is_named(runner: FakeRunner, kind: str) -> None:
    who = am.find_responsible(runner, pid=4242, environ={})
    assert who.kind == kind
    for words in ("sshd-keygen-wrapper", "terminal app", "ansible-pull LaunchDaemon"):
        assert words in who.describe()


def test_probe(tmp_path: Path) -> None:
    assert am.probe(str(tmp_path), "12.7.6") == "not_required"
    assert am.probe(str(tmp_path), "14.5") == "unknown"  # no readable TCC database: as without Full Disk Access
    db = tmp_path / am.TCC_DB
    db.parent.mkdir(parents=True)
    db.write_bytes(b"SQLite format 3\0")
    assert am.probe(str(tmp_path), "14.5") == "full_disk_access"
    db.unlink()
    db.mkdir()  # any refused read (without Full Disk Access: EPERM) is "unknown"
    assert am.probe(str(tmp_path), "14.5") == "unknown"
