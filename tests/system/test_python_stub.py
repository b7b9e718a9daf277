"""macOS's /usr/bin/python3 without the Command Line Tools: an xcode-select shim that prints a note or an error and
exits 1 (tests/fixtures/darwin/SOURCES.md). The bridge playbook must say `xcode-select --install`, and only after its
first module failed, so that a run in step still costs one remote call (test_bridge_plan)."""

from __future__ import annotations

import json
import subprocess
import typing as t
from pathlib import Path

import pytest

from ansible_collections.dockermac.hostbridge.tests import ansible_cli
from ansible_collections.dockermac.hostbridge.tests.unit.utils import fixture_text

PLAYBOOK = ansible_cli.cli("ansible-playbook")


def stub(tmp_path: Path, stderr: str) -> Path:
    """An interpreter that behaves as the shim: whatever it is asked, ``stderr`` and exit status 1."""
    (tmp_path / "stderr.txt").write_text(stderr, encoding="utf-8")
    path = tmp_path / "python3"
    path.write_text(f"#!/bin/sh\ncat '{tmp_path / 'stderr.txt'}' >&2\nexit 1\n", encoding="utf-8")
    path.chmod(0o755)
    return path


def bridge(interpreter: Path) -> tuple[subprocess.CompletedProcess[str], list[tuple[str, dict[str, t.Any]]]]:
    """bridge.yml against localhost with ``interpreter`` as the target Python; (the run, [(task name, result)])."""
    proc = ansible_cli.run([PLAYBOOK, "-i", "localhost,", "-c", "local", "dockermac.hostbridge.bridge",
                            "-e", f"ansible_python_interpreter={interpreter}", "-e", "bridge_strategy=loopback"],
                           env=ansible_cli.ansible_env(ANSIBLE_PYTHON_INTERPRETER=str(interpreter)))
    return proc, ansible_cli.named_task_results(json.loads(proc.stdout), "localhost")


@pytest.mark.parametrize("sample", ["python3_stub_no_clt_ssh_stderr.txt", "python3_stub_no_clt_gui_stderr.txt"])
def test_the_stub_python_says_install_the_command_line_tools(tmp_path: Path, sample: str) -> None:
    python = stub(tmp_path, fixture_text("darwin", sample))
    proc, tasks = bridge(python)
    assert proc.returncode != 0
    name, result = tasks[-1]
    assert name.endswith("Stop with what failed")
    assert "xcode-select --install" in result["msg"]
    assert f"the target Python {python} is the macOS stub" in result["msg"]
    ran = [n.split(" : ")[-1] for n, r in tasks if not r.get("skipped")]
    assert "Run the target Python without a module" in ran


def test_another_failure_is_reported_as_it_is(tmp_path: Path) -> None:
    python = stub(tmp_path, "python3: error while loading shared libraries: libpython3.9.so\n")
    proc, tasks = bridge(python)
    assert proc.returncode != 0
    _name, result = tasks[-1]
    assert "xcode-select" not in result["msg"]
    assert result["msg"].startswith("bridge: bridge_facts failed:")
    assert "libpython3.9.so" in result["msg"]
