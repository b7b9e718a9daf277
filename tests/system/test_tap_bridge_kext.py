"""tap_bridge's tuntaposx tasks (roles/tap_bridge/tasks/kext.yml) against the facts of a simulated Intel Mac (issue 13
item 6). From macOS 11 a third-party kext cannot be loaded on demand: it needs the user's approval in System
Settings and a restart (Apple Platform Deployment, "System extensions in macOS" > "Kernel extensions"). The role
must stop with exactly those steps and never run what can only fail there (`installer` again, `kextload`).

The facts are gathered by bridge_facts' own Darwin backend from a fake Mac root and the recorded command outputs
(tests/unit/plugins/module_utils/test_facts.py's `Mac`), then handed to the role as a saved facts file is
(`hostbridge_facts`); the real ansible-playbook runs the role's tasks on this Linux host, where /dev/tap77 never
exists.
"""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

import pytest

from ansible_collections.dockermac.hostbridge.plugins.module_utils._darwin import KEXT_APPROVAL_STEPS
from ansible_collections.dockermac.hostbridge.tests import ansible_cli
from ansible_collections.dockermac.hostbridge.tests.unit.plugins.module_utils.test_facts import (
    Mac,
    darwin,
    intel_runner,
)

PLAY = [{"hosts": "localhost", "gather_facts": False, "tasks": [
    {"ansible.builtin.include_role": {"name": "dockermac.hostbridge.tap_bridge", "tasks_from": "kext.yml"}}]}]
NEVER = ("Install the tuntap package", "Load the tap kernel extension")


def run_kext_tasks(tmp_path: Path, *, macos: str, installed: bool, loaded: bool = False,
                   pkg: str | None = "/tmp/tuntap_20150118.pkg") -> tuple[int, list[tuple[str, dict[str, t.Any]]]]:
    mac = Mac(tmp_path / "mac")
    mac.bundle()
    mac.settings("settings_json_intel_hyperkit.json", name="settings.json")
    if installed:
        (mac.root / "Library" / "Extensions" / "tap.kext" / "Contents").mkdir(parents=True)
    facts, _w = mac.facts(intel_runner(kext=darwin("kextstat_l_b_tuntap_tap.txt") if loaded else "", macos=macos),
                          tap_device="tap77")
    (tmp_path / "vars.json").write_text(json.dumps({"hostbridge_facts": facts, "tap_bridge_device": "tap77",
                                                    "tap_bridge_tuntap_pkg": pkg}), encoding="utf-8")
    (tmp_path / "play.yml").write_text(json.dumps(PLAY), encoding="utf-8")
    proc = ansible_cli.run([ansible_cli.cli("ansible-playbook"), "-i", "localhost,", "-c", "local",
                            str(tmp_path / "play.yml"), "-e", f"@{tmp_path / 'vars.json'}"], timeout=120)
    output = json.loads(proc.stdout)
    return proc.returncode, ansible_cli.named_task_results(output, "localhost")


def ran(tasks: list[tuple[str, dict[str, t.Any]]], name: str) -> bool:
    return any(task.endswith(name) and not result.get("skipped") for task, result in tasks)


def failure(tasks: list[tuple[str, dict[str, t.Any]]]) -> tuple[str, str]:
    [(name, result)] = [(name, result) for name, result in tasks if result.get("failed")]
    return name, result["msg"]


@pytest.mark.parametrize("macos", ["11.7.10", "13.6.1"])
def test_installed_but_not_loaded_on_macos_11_stops_with_the_steps(tmp_path: Path, macos: str) -> None:
    rc, tasks = run_kext_tasks(tmp_path, macos=macos, installed=True)
    assert rc != 0
    name, msg = failure(tasks)
    assert name.endswith("Stop - the installed tuntaposx waits for the user's approval and a restart")
    assert msg.startswith("tap_bridge: /dev/tap77 does not exist: tuntaposx is installed but not loaded. ")
    assert KEXT_APPROVAL_STEPS in msg
    for never in NEVER:
        assert not ran(tasks, never), never


def test_not_installed_without_a_package_asks_for_it(tmp_path: Path) -> None:
    rc, tasks = run_kext_tasks(tmp_path, macos="13.6.1", installed=False, pkg=None)
    assert rc != 0
    name, msg = failure(tasks)
    assert name.endswith("Require the tuntap installer package")
    assert "tap_bridge_tuntap_pkg is not set" in msg
    for never in NEVER:
        assert not ran(tasks, never), never


def test_loaded_kext_is_left_alone(tmp_path: Path) -> None:
    """Loaded but /dev/tap77 missing (tuntaposx makes tap0..tap15): nothing to install or load; the tap_device
    task that follows in the role says why precisely."""
    rc, tasks = run_kext_tasks(tmp_path, macos="13.6.1", installed=True, loaded=True)
    assert rc == 0, tasks
    assert not [name for name, result in tasks if not result.get("skipped") and "tuntap" in name.lower()]
