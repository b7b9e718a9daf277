"""``_strategy.py`` where cosmic-ray's mutants survived the other tests (docs/development.md, "Mutation score"):
macOS 12.5 itself on an Intel Mac (the Virtualization framework's minimum), and a settings key matched by name
only, whatever other keys come first."""

from __future__ import annotations

import json

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _strategy
from ansible_collections.dockermac.hostbridge.tests.unit.plugins.module_utils.test_facts import Mac, intel_runner, mac

__all__ = ["mac"]  # fixture


def test_macos_12_5_itself_gets_the_virtualization_framework_on_intel() -> None:
    choice = _strategy.vm_manager_default(version="4.20.0", architecture="x86_64", macos="12.5")
    assert choice.manager == _strategy.VIRTUALIZATION_FRAMEWORK
    assert _strategy.vm_manager_default(version="4.20.0", architecture="x86_64", macos="12.4").manager == (
        _strategy.HYPERKIT)


def test_a_setting_is_found_by_its_name_alone() -> None:
    """settings-store.json keys as Docker Desktop writes them, sorted: others before and after the one asked for."""
    settings = {"UseResourceSaver": True, "UseVirtualizationFramework": False, "VpnKitMaxPortIdleTime": 300}
    choice = _strategy.vm_manager_from_settings(settings, filename="settings-store.json", architecture="x86_64")
    assert choice == _strategy.VmChoice(_strategy.HYPERKIT, "settings-store.json UseVirtualizationFramework=false")


def test_the_vm_manager_option_as_a_task_sends_it_decides_both_strategies(mac: Mac) -> None:
    """tap_bridge_vm_manager comes decoded from JSON, never the code's own constant: compared by value."""
    mac.bundle(version="4.20.0")
    facts, _warnings = mac.facts(intel_runner(), vm_manager=json.loads('"hyperkit"'))
    strategies = facts["strategies"]
    assert strategies["routed"]["reason"].startswith("Docker Desktop runs on HyperKit (set by the vm_manager option")
    assert "the tap bridge needs HyperKit" not in strategies["tap"]["reason"]
