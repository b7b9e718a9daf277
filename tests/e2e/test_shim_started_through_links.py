"""The installed shim, started by another path than the bundle's (issue 13 item 4), on the simulated Mac.

Docker's Homebrew cask links ``/usr/local/bin/hyperkit`` to the bundle's ``com.docker.hyperkit`` on Intel
(Homebrew/homebrew-cask ``Casks/d/docker-desktop.rb``: ``on_intel do binary ".../com.docker.hyperkit", target:
"/usr/local/bin/hyperkit"``), and minikube's hyperkit driver (kubernetes/minikube ``pkg/drivers/hyperkit/driver.go``,
``hyperkit.New("", ...)``) starts the first of moby/hyperkit ``go/hyperkit.go``'s ``defaultHyperKits`` found -
``hyperkit`` on PATH, ``/usr/local/bin/hyperkit`` - so ``$0`` is the link. The shim must run the real hyperkit
(here the compiled launcher of ``hyperkit_standin.py``) with the tap device whatever ``$0`` is.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

from ansible_collections.dockermac.hostbridge.tests.system.playbook import run_module_in_netns

_spec = importlib.util.spec_from_file_location("hostbridge_e2e_sim", Path(__file__).with_name("sim.py"))
_sim = sys.modules.get("hostbridge_e2e_sim") or importlib.util.module_from_spec(_spec)
if "hostbridge_e2e_sim" not in sys.modules:
    sys.modules[_spec.name] = _sim
    _spec.loader.exec_module(_sim)
SimulatedMac, have_tools = _sim.SimulatedMac, _sim.have_tools

pytestmark = [pytest.mark.root, pytest.mark.docker]


@pytest.fixture
def mac(tmp_path: Path) -> t.Iterator[t.Any]:
    missing = have_tools()
    if missing:
        pytest.fail(f"the simulated Mac {missing}")
    simulated = SimulatedMac(tmp_path).create()
    try:
        subprocess.run(["ip", "-n", simulated.netns, "tuntap", "add", "dev", simulated.tap, "mode", "tap", "user",
                        simulated.user], check=True)
        result = run_module_in_netns(simulated.netns, str(tmp_path), "hyperkit_shim",
                                     {"app_path": str(simulated.app), "tap_device": simulated.tap})
        assert result["changed"], result
        yield simulated
    finally:
        simulated.destroy()


def last_start(mac: t.Any) -> list[str]:
    return json.loads(mac.argv_log.read_text(encoding="utf-8").splitlines()[-1])


@pytest.mark.parametrize("how", ["cask-link", "relative-link", "relative-path"])
def test_shim_started_through_a_link_adds_the_tap(mac: t.Any, tmp_path: Path, how: str) -> None:
    bindir = tmp_path / "usr local" / "bin"  # spaces on both sides: here and in "Docker Desktop.app"
    bindir.mkdir(parents=True)
    link, cwd = bindir / "hyperkit", None
    if how == "cask-link":  # what `brew install --cask docker` makes, an absolute link
        link.symlink_to(mac.hyperkit)
    elif how == "relative-link":
        link.symlink_to(os.path.relpath(mac.hyperkit, bindir))
    else:  # the bundle's own file by a relative path, as `cd "Docker Desktop.app"; Contents/.../hyperkit`
        link, cwd = mac.hyperkit.relative_to(mac.app), mac.app
    argv = mac.hyperkit_argv()
    mac.start_hyperkit(link, argv, cwd=cwd)
    got = last_start(mac)
    vpnkit = next(i for i, arg in enumerate(argv) if ",virtio-vpnkit," in arg)
    assert got == [*argv[: vpnkit + 1], "-s", f"2:1,virtio-tap,{mac.tap}", *argv[vpnkit + 1:]]
    log = mac.vm_log.read_text(errors="replace")
    assert "forwarding=yes" in log.splitlines()[-1], log[-2000:]
    assert "hostbridge-shim:" not in log
