"""unbridge.yml on a Mac with no hyperkit to restore (issue 13 item 1): an Apple Silicon Docker.app (Docker's cask
links `com.docker.hyperkit` only `on_intel`, Homebrew/homebrew-cask Casks/d/docker-desktop.rb), or no Docker.app at
all. The play completes, `hyperkit_shim state=absent` is ok and unchanged, and the bundle is not touched.

Run on Linux with the bundle given as `tap_bridge_app_path` (as the e2e simulation does), in a namespace with a
private /etc/hosts, with a target Python that has nothing extra.
"""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

import pytest

from ansible_collections.dockermac.hostbridge.tests import ansible_cli
from ansible_collections.dockermac.hostbridge.tests.system.playbook import PLAIN_PYTHON
from ansible_collections.dockermac.hostbridge.tests.unit.plugins.module_utils.hyperkit_fakes import (
    apple_silicon_bundle,
    tree,
)

pytestmark = [pytest.mark.root, pytest.mark.docker]

RESTORE_TASK = "Restore the original hyperkit"


def unbridge(netns: str, tmp: Path, app_path: Path) -> dict[str, t.Any]:
    extra = {"tap_bridge_app_path": str(app_path), "loopback_services": [], "loopback_persistent": False,
             "loopback_flush_cache": False, "loopback_hosts_unsafe_writes": True,
             "ansible_python_interpreter": PLAIN_PYTHON}
    (tmp / "vars.json").write_text(json.dumps(extra), encoding="utf-8")
    proc = ansible_cli.run(["ip", "netns", "exec", netns, ansible_cli.cli("ansible-playbook"), "-i", "localhost,",
                            "-c", "local", "dockermac.hostbridge.unbridge", "-e", f"@{tmp / 'vars.json'}"],
                           env=ansible_cli.ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
                                                       ANSIBLE_PYTHON_INTERPRETER=PLAIN_PYTHON), timeout=240)
    try:
        return t.cast("dict[str, t.Any]", json.loads(proc.stdout))
    except ValueError:
        pytest.fail(f"unbridge.yml gave no JSON (rc={proc.returncode}): {proc.stdout[-3000:]}\n{proc.stderr}")


def restore_results(output: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    return [result for name, result in ansible_cli.named_task_results(output, "localhost")
            if name.endswith(RESTORE_TASK)]


@pytest.mark.parametrize("bundle", ["apple_silicon", "none"])
def test_unbridge_completes_with_no_hyperkit(laptop: tuple[str, Path], tmp_path: Path,
                                             bundle: str) -> None:
    netns, _hosts = laptop
    apps = tmp_path / "Applications"
    apps.mkdir()
    app = apple_silicon_bundle(apps) if bundle == "apple_silicon" else apps / "Docker.app"
    before = tree(apps)
    for _run in range(2):
        output = unbridge(netns, tmp_path, app)
        assert output["stats"]["localhost"]["failures"] == 0, json.dumps(output)[-4000:]
        [restore] = restore_results(output)
        assert not restore.get("failed"), restore
        assert not restore.get("skipped"), restore
        assert (restore["changed"], restore["state_found"]) == (False, "no_hyperkit"), restore
        assert restore["app_path"] == (str(app) if bundle == "apple_silicon" else None)
        assert tree(apps) == before
