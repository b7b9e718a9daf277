"""Fault injection: the module is stopped before each of its file operations, in turn, for every transition.

After each interruption the real binary's bytes must still be at the hyperkit path or at ``.real`` (checked by
sha256), Docker Desktop must still be able to start (the path is the real binary, or our shim with its
``.real``), and a re-run must converge to the wanted state (then a third run changes nothing).

Two ways to stop: in-process, a ``BaseException`` raised from ``FileOps.checkpoint`` (cleanup handlers catch
only ``Exception``, so files stay as a crash leaves them); and a real ``SIGKILL`` of a subprocess running the
module code, at the same points.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import typing as t
from pathlib import Path

import pytest

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _hyperkit
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.plugins.module_utils._hyperkit import manage
from ansible_collections.dockermac.hostbridge.plugins.module_utils._hyperkit_files import FileOps
from ansible_collections.dockermac.hostbridge.plugins.module_utils._shim_template import parse_marker
from ansible_collections.dockermac.hostbridge.tests.unit.plugins.module_utils.hyperkit_fakes import (
    MACHO,
    FakeBundle,
    sha,
)
from ansible_collections.dockermac.hostbridge.tests.unit.utils import context


class Crash(BaseException):
    """A simulated crash (not an Exception: no cleanup handler runs)."""


class CountingOps(FileOps):
    def __init__(self) -> None:
        self.points: list[str] = []

    def checkpoint(self, what: str) -> None:
        self.points.append(what)


class CrashingOps(FileOps):
    def __init__(self, at: int) -> None:
        self.at = at
        self.seen = 0

    def checkpoint(self, what: str) -> None:
        if self.seen == self.at:
            raise Crash(what)
        self.seen += 1


# --- scenarios: (set up a bundle, the params of the run) -> the bytes that must survive --------------------
def _pristine(bundle: FakeBundle) -> bytes:
    return bundle.original


def _pristine_with_stale_temps(bundle: FakeBundle) -> bytes:
    (bundle.bindir / ".com.docker.hyperkit.x1.hostbridge.tmp").write_bytes(bundle.original[:5000])
    (bundle.bindir / ".com.docker.hyperkit.x2.hostbridge.tmp").write_text(bundle.shim_text())
    return bundle.original


def _installed(bundle: FakeBundle) -> bytes:
    bundle.make_installed()
    return bundle.original


def _outdated(bundle: FakeBundle) -> bytes:
    bundle.make_installed(tap="tap2")
    return bundle.original


def _updated_by_docker(bundle: FakeBundle) -> bytes:
    bundle.make_installed()
    return bundle.docker_update()


def _leftover_copy(bundle: FakeBundle) -> bytes:
    bundle.real.write_bytes(bundle.original)
    return bundle.original


SCENARIOS: dict[str, tuple[t.Callable[[FakeBundle], bytes], dict[str, t.Any]]] = {
    "install": (_pristine, {}),
    "install-backup": (_pristine, {"backup": True}),
    "install-stale-temps": (_pristine_with_stale_temps, {}),
    "update": (_outdated, {}),
    "reinstall-after-docker-update": (_updated_by_docker, {"backup": True}),
    "absent": (_installed, {"state": "absent"}),
    "absent-outdated": (_outdated, {"state": "absent"}),
    "absent-after-docker-update": (_updated_by_docker, {"state": "absent"}),
    "absent-leftover-copy": (_leftover_copy, {"state": "absent"}),
}


def run(bundle: FakeBundle, params: dict[str, t.Any], ops: FileOps | None = None) -> dict[str, t.Any]:
    return manage(context("Linux"), bundle.params(**params), ops=ops)


def assert_safe(bundle: FakeBundle, real_bytes: bytes) -> None:
    """The real binary survives and Docker Desktop could start now."""
    files = bundle.files()
    name, real_name = bundle.hyperkit.name, bundle.real.name
    assert sha(real_bytes) in {sha(data) for key, data in files.items() if key in (name, real_name)}, files.keys()
    current = files[name]
    if current.startswith(MACHO):
        # A binary: exactly the real one, whole (not a truncated or another copy): starts without the shim.
        assert current == real_bytes, f"{name} holds {len(current)} bytes of a binary that is not the real one"
        return
    marker = parse_marker(current)
    assert marker is not None, "the hyperkit path holds neither a binary nor our shim"
    assert real_name in files, "our shim without .real: Docker Desktop would not start"
    assert sha(files[real_name]) == marker.real_sha256
    assert files[real_name] == real_bytes
    assert os.access(bundle.hyperkit, os.X_OK)


def test_assert_safe_refuses_a_partial_or_foreign_binary(tmp_path: Path) -> None:
    """The check itself: a Mach-O header is not enough, the binary at the hyperkit path must be the real one."""
    bundle = FakeBundle(tmp_path)
    assert_safe(bundle, bundle.original)
    bundle.real.write_bytes(bundle.original)
    for wrong in (bundle.original[:5000], MACHO + b"\0" * 100):
        bundle.hyperkit.write_bytes(wrong)
        with pytest.raises(AssertionError, match="not the real one"):
            assert_safe(bundle, bundle.original)


def assert_converged(bundle: FakeBundle, real_bytes: bytes, state: str) -> None:
    files = bundle.files()
    assert bundle.temps() == []
    if state == "present":
        assert files[bundle.hyperkit.name] == bundle.shim_text(real_sha=sha(real_bytes)).encode()
        assert files[bundle.real.name] == real_bytes
        assert bundle.hyperkit.stat().st_mode & 0o777 == 0o755
    else:
        assert files[bundle.hyperkit.name] == real_bytes
        assert bundle.real.name not in files


def points_of(tmp_path: Path, scenario: str) -> list[str]:
    setup, params = SCENARIOS[scenario]
    bundle = FakeBundle(tmp_path / "count")
    real_bytes = setup(bundle)
    ops = CountingOps()
    run(bundle, params, ops)
    assert_converged(bundle, real_bytes, params.get("state", "present"))
    assert ops.points
    return ops.points


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_interrupted_at_every_step_then_converges(tmp_path: Path, scenario: str) -> None:
    setup, params = SCENARIOS[scenario]
    state = params.get("state", "present")
    points = points_of(tmp_path, scenario)
    for at, point in enumerate(points):
        bundle = FakeBundle(tmp_path / f"crash-{at}")
        real_bytes = setup(bundle)
        with pytest.raises(Crash):
            run(bundle, params, CrashingOps(at))
        try:
            assert_safe(bundle, real_bytes)
            again = run(bundle, params)
            assert again["state"] == ("installed" if state == "present" else "pristine")
            assert_converged(bundle, real_bytes, state)
            assert run(bundle, params)["changed"] is False
        except AssertionError as exc:
            raise AssertionError(f"{scenario}: stopped before step {at} ({point}): {exc}") from exc


def test_install_points_are_the_documented_sequence(tmp_path: Path) -> None:
    """Shim temp first, then .real through a temp hard link, then the shim renamed over the binary."""
    points = points_of(tmp_path, "install")
    kinds = [p.split(" ")[0] for p in points]
    assert kinds == ["create", "write", "set", "hard-link", "rename", "rename"]
    assert points[4].endswith(".real")
    assert points[5].endswith("com.docker.hyperkit")


def test_absent_is_one_rename(tmp_path: Path) -> None:
    points = points_of(tmp_path, "absent")
    assert len(points) == 1
    assert points[0].startswith("rename ")
    assert points[0].endswith(".real to " + str(
        tmp_path / "count" / "Docker Desktop.app" / "Contents/Resources/bin/com.docker.hyperkit"))


def test_interrupted_copy_when_links_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where hard links fail (EPERM) the real binary is copied: the copy's steps are interruptible too."""

    def no_link(src: str, dst: str) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(_hyperkit.os, "link", no_link)
    points = points_of(tmp_path, "install")
    assert any(p.startswith("copy ") for p in points)
    for at in range(len(points)):
        bundle = FakeBundle(tmp_path / f"crash-{at}")
        with pytest.raises(Crash):
            run(bundle, {}, CrashingOps(at))
        assert_safe(bundle, bundle.original)
        run(bundle, {})
        assert_converged(bundle, bundle.original, "present")
        assert bundle.real.stat().st_ino != bundle.hyperkit.stat().st_ino


def test_disk_error_midway_cleans_up_and_keeps_the_binary(tmp_path: Path) -> None:
    """An ordinary error (ENOSPC while renaming .real in) removes the temp files and leaves the bundle as it was."""

    class Full(FileOps):
        def rename(self, src: str, dst: str) -> None:
            if dst.endswith(".real"):
                raise OSError(errno.ENOSPC, "No space left on device")
            super().rename(src, dst)

    bundle = FakeBundle(tmp_path)
    before = bundle.files()
    with pytest.raises(HostbridgeError, match=r"Cannot change the bundle \(disk full\): No space left on device"):
        run(bundle, {}, Full())
    assert bundle.files() == before


# --- the same with a real SIGKILL -------------------------------------------------------------------------
KILLER = textwrap.dedent("""
    import json, os, signal, sys
    from unittest import mock
    from ansible_collections.dockermac.hostbridge.plugins.module_utils._hyperkit import manage
    from ansible_collections.dockermac.hostbridge.plugins.module_utils._hyperkit_files import FileOps
    from ansible_collections.dockermac.hostbridge.plugins.module_utils._module import Context

    class Killer(FileOps):
        seen = 0
        def checkpoint(self, what):
            if self.seen == int(sys.argv[2]):
                os.kill(os.getpid(), signal.SIGKILL)
            self.seen += 1

    params = dict({"app_path": sys.argv[1], "user": None, "tap_device": "tap1", "slot": "after_vpnkit",
                   "state": "present", "backup": False}, **json.loads(sys.argv[3]))
    manage(Context("Linux", mock.Mock(), mock.Mock(), check_mode=False, diff_mode=False), params, ops=Killer())
    print("not killed")
""")


@pytest.mark.parametrize("scenario", ["install", "absent", "reinstall-after-docker-update"])
def test_sigkill_at_every_step_then_converges(tmp_path: Path, scenario: str) -> None:
    setup, params = SCENARIOS[scenario]
    state = params.get("state", "present")
    steps = len(points_of(tmp_path, scenario))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    for at in range(steps):
        bundle = FakeBundle(tmp_path / f"kill-{at}")
        real_bytes = setup(bundle)
        proc = subprocess.run([sys.executable, "-c", KILLER, str(bundle.app), str(at), json.dumps(params)],
                              env=env,
                              capture_output=True, text=True, check=False, timeout=60)
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        assert_safe(bundle, real_bytes)
        run(bundle, params)
        assert_converged(bundle, real_bytes, state)
