"""Planning for another machine from a saved facts file (docs/roles.md): docs/examples/save-facts.yml writes
``{"hostbridge_facts": ...}`` per host, and bridge.yml given that file as extra vars gathers nothing and decides
from the saved facts. Real ansible-playbook runs in a network namespace of the test's own."""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

import pytest

from ansible_collections.dockermac.hostbridge.tests import ansible_cli
from ansible_collections.dockermac.hostbridge.tests.ansible_cli import ROOT
from ansible_collections.dockermac.hostbridge.tests.system.playbook import new_netns

pytestmark = pytest.mark.root


@pytest.fixture
def netns() -> t.Iterator[str]:
    with new_netns("facts") as name:
        yield name


def playbook(netns: str, *argv: str) -> list[tuple[str, dict[str, t.Any]]]:
    proc = ansible_cli.run(["ip", "netns", "exec", netns, ansible_cli.cli("ansible-playbook"), "-i", "localhost,",
                            "-c", "local", *argv], timeout=180)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    output = json.loads(proc.stdout)
    return ansible_cli.named_task_results(output, "localhost")


def test_saved_facts_plan_without_gathering(netns: str, tmp_path: Path) -> None:
    playbook(netns, f"{ROOT}/docs/examples/save-facts.yml", "-e", f"save_facts_dir={tmp_path}")
    saved = json.loads((tmp_path / "localhost.json").read_text(encoding="utf-8"))
    assert set(saved) == {"hostbridge_facts"}
    assert saved["hostbridge_facts"]["platform"] == "linux"
    assert saved["hostbridge_facts"]["strategies"]["loopback"]["possible"] is True

    # Mark the saved facts, so that a plan made from them is told apart from one made from gathered facts.
    saved["hostbridge_facts"]["architecture"] = "saved-architecture"
    (tmp_path / "localhost.json").write_text(json.dumps(saved), encoding="utf-8")
    (tmp_path / "vars.json").write_text(json.dumps({
        "bridge_strategy": "loopback", "loopback_services": [{"name": "saved.hostbridge-test.test",
                                                              "ip": "198.51.100.62"}],
        "loopback_persistent": False, "loopback_hosts_path": str(tmp_path / "hosts")}), encoding="utf-8")
    tasks = playbook(netns, "dockermac.hostbridge.bridge", "-e", f"@{tmp_path / 'localhost.json'}",
                     "-e", f"@{tmp_path / 'vars.json'}", "--check")
    gathered = [result for name, result in tasks if name.endswith("Gather the host bridge facts and compare the "
                                                                  "desired state with the host")]
    assert len(gathered) == 1
    assert gathered[0].get("skipped") is True
    said = [result["msg"] for name, result in tasks if name.endswith("Say which strategy applies")]
    assert said == ["localhost: linux/saved-architecture, strategy loopback, state present"]
