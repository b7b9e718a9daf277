"""The hyperkit_shim module through AnsibleModule, on fabricated Docker.app bundles in tmp_path."""

from __future__ import annotations

import contextlib
import errno
import os
import pwd
import shutil
import subprocess
import typing as t
from pathlib import Path
from unittest import mock

import pytest
from ansible.module_utils import basic

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _hyperkit, _module
from ansible_collections.dockermac.hostbridge.plugins.module_utils._shim_template import SHIM_VERSION, parse_marker
from ansible_collections.dockermac.hostbridge.plugins.modules import hyperkit_shim
from ansible_collections.dockermac.hostbridge.tests.unit.plugins.module_utils.hyperkit_fakes import (
    FakeBundle,
    apple_silicon_bundle,
    fake_binary,
    sha,
    tree,
)
from ansible_collections.dockermac.hostbridge.tests.unit.utils import fixture_text, run_module


def module(args: dict[str, t.Any], *, system: str = "Darwin") -> tuple[dict[str, t.Any], list[str]]:
    """Run the module; returns its result and the warnings it gave."""
    warnings: list[str] = []
    with mock.patch.object(_module.platform, "system", return_value=system), \
            mock.patch.object(basic.AnsibleModule, "warn", lambda self, msg: warnings.append(msg)):
        result = run_module(hyperkit_shim.main, args)
    return result, warnings


def present(bundle: FakeBundle, **extra: t.Any) -> dict[str, t.Any]:
    return {"app_path": str(bundle.app), **extra}


@pytest.fixture
def bundle(tmp_path: Path) -> FakeBundle:
    return FakeBundle(tmp_path)


def test_install_from_pristine(bundle: FakeBundle) -> None:
    result, warnings = module(present(bundle))
    assert result["changed"] is True
    assert result["restart_required"] is True
    assert (result["state_found"], result["state"], result["shim_version"]) == ("pristine", "installed", SHIM_VERSION)
    assert result["hyperkit_path"] == str(bundle.hyperkit)
    assert result["real_path"] == str(bundle.real)
    assert result["app_path"] == str(bundle.app)
    assert result["backup_file"] is None
    assert warnings == []
    # the real binary is the original inode, bytes and mode; the shim is ours, 0755
    assert bundle.real.read_bytes() == bundle.original
    assert bundle.real.stat().st_ino == bundle.original_inode
    text = bundle.hyperkit.read_text()
    assert text == bundle.shim_text()
    assert parse_marker(text.encode()).real_sha256 == sha(bundle.original)  # type: ignore[union-attr]
    assert bundle.hyperkit.stat().st_mode & 0o7777 == 0o755
    assert sorted(bundle.files()) == ["com.docker.hyperkit", "com.docker.hyperkit.real"]


def test_second_run_changes_nothing(bundle: FakeBundle) -> None:
    module(present(bundle))
    before = bundle.files()
    result, _w = module(present(bundle))
    assert (result["changed"], result["restart_required"], result["state_found"]) == (False, False, "installed")
    assert result["actions"] == []
    assert bundle.files() == before


def test_check_mode_reports_and_touches_nothing(bundle: FakeBundle) -> None:
    before = bundle.files()
    result, _w = module(present(bundle, _ansible_check_mode=True, _ansible_diff=True))
    assert (result["changed"], result["restart_required"], result["state"]) == (True, True, "installed")
    assert len(result["actions"]) == 2
    assert bundle.files() == before
    assert bundle.hyperkit.stat().st_ino == bundle.original_inode
    diff = result["diff"]
    assert diff["before"].startswith("state: pristine\n")
    assert f"sha256 {sha(bundle.original)}" in diff["before"]
    assert diff["after"].startswith("state: installed\n")
    assert diff["after"].endswith(bundle.shim_text())


def test_update_when_options_change(bundle: FakeBundle) -> None:
    module(present(bundle))
    result, _w = module(present(bundle, tap_device="tap7", slot="next_function", _ansible_diff=True))
    assert (result["changed"], result["restart_required"], result["state_found"]) == (True, True, "outdated")
    assert bundle.hyperkit.read_text() == bundle.shim_text(tap="tap7", slot="next_function")
    assert bundle.real.stat().st_ino == bundle.original_inode  # .real untouched
    assert "tap=tap1 slot=after_vpnkit" in result["diff"]["before"]
    assert "tap=tap7 slot=next_function" in result["diff"]["after"]


def test_update_keeps_the_owner_and_mode(bundle: FakeBundle) -> None:
    nobody = pwd.getpwnam("nobody")
    if os.geteuid() != 0:
        pytest.skip("chown needs root")
    os.chown(bundle.hyperkit, nobody.pw_uid, nobody.pw_gid)
    bundle.hyperkit.chmod(0o775)
    module(present(bundle))
    shim = bundle.hyperkit.stat()
    assert (shim.st_uid, shim.st_gid, shim.st_mode & 0o7777) == (nobody.pw_uid, nobody.pw_gid, 0o755)
    assert bundle.real.stat().st_mode & 0o7777 == 0o775  # the original, as it was
    module(present(bundle, tap_device="tap2"))
    shim = bundle.hyperkit.stat()
    assert (shim.st_uid, shim.st_mode & 0o022) == (nobody.pw_uid, 0)


def test_docker_update_reinstalls_with_a_warning(bundle: FakeBundle) -> None:
    module(present(bundle))
    new = bundle.docker_update()
    result, warnings = module(present(bundle))
    assert (result["state_found"], result["changed"], result["restart_required"]) == ("updated_by_docker", True, True)
    assert bundle.real.read_bytes() == new
    assert bundle.hyperkit.read_text() == bundle.shim_text(real_sha=sha(new))
    assert len(warnings) == 1
    assert "Docker Desktop replaced the shim" in warnings[0]


def test_orphaned_shim_fails_touching_nothing(bundle: FakeBundle) -> None:
    bundle.make_installed()
    bundle.real.unlink()
    before = bundle.files()
    for state in ("present", "absent"):
        result, _w = module(present(bundle, state=state))
        assert result["failed"]
        assert result["state_found"] == "orphaned_shim"
        assert "Reinstall Docker Desktop" in result["msg"]
        assert bundle.files() == before


def test_orphaned_shim_names_the_backups(bundle: FakeBundle) -> None:
    module(present(bundle, backup=True))
    bundle.real.unlink()
    result, _w = module(present(bundle))
    assert result["failed"]
    assert ".hostbridge-backup-" in result["msg"]


@pytest.mark.parametrize("kind", ["original", "script"])
def test_foreign_shim_fails_touching_nothing(bundle: FakeBundle, kind: str) -> None:
    if kind == "original":
        bundle.hyperkit.rename(str(bundle.hyperkit) + ".original")
    else:
        bundle.hyperkit.rename(bundle.real)
    bundle.hyperkit.write_text('#!/bin/bash\nexec "$0.real" "$@"\n')
    before = bundle.files()
    for state in ("present", "absent"):
        result, _w = module(present(bundle, state=state, _ansible_check_mode=state == "absent"))
        assert result["failed"]
        assert result["state_found"] == "foreign_shim"
        assert "Nothing was changed" in result["msg"]
        assert bundle.files() == before


def test_absent_restores_the_original_byte_for_byte(bundle: FakeBundle) -> None:
    module(present(bundle))
    result, _w = module(present(bundle, state="absent", _ansible_diff=True))
    assert (result["changed"], result["restart_required"]) == (True, True)
    assert (result["state_found"], result["state"]) == ("installed", "pristine")
    assert bundle.files() == {"com.docker.hyperkit": bundle.original}
    assert bundle.hyperkit.stat().st_ino == bundle.original_inode
    assert result["diff"]["after"].startswith("state: pristine\n")
    again, _w = module(present(bundle, state="absent"))
    assert (again["changed"], again["restart_required"], again["state_found"]) == (False, False, "pristine")


def test_absent_on_pristine_is_no_change(bundle: FakeBundle) -> None:
    result, _w = module(present(bundle, state="absent"))
    assert (result["changed"], result["restart_required"], result["state_found"]) == (False, False, "pristine")
    assert bundle.files() == {"com.docker.hyperkit": bundle.original}


def test_absent_of_an_outdated_shim(bundle: FakeBundle) -> None:
    bundle.make_installed(tap="tap9", slot="next_function")
    result, _w = module(present(bundle, state="absent"))
    assert (result["state_found"], result["changed"]) == ("outdated", True)
    assert bundle.files() == {"com.docker.hyperkit": bundle.original}


def test_absent_after_docker_update_drops_the_stale_real(bundle: FakeBundle) -> None:
    module(present(bundle))
    new = bundle.docker_update()
    result, warnings = module(present(bundle, state="absent"))
    assert (result["state_found"], result["changed"], result["restart_required"]) == ("updated_by_docker", True, False)
    assert bundle.files() == {"com.docker.hyperkit": new}
    assert warnings


def test_absent_refuses_a_real_binary_that_is_not_the_recorded_one(bundle: FakeBundle) -> None:
    module(present(bundle))
    bundle.real.unlink()
    bundle.real.write_bytes(fake_binary("someone else's"))
    before = bundle.files()
    result, _w = module(present(bundle, state="absent"))
    assert result["failed"]
    assert "recorded" in result["msg"]
    assert bundle.files() == before


def test_backup_is_an_independent_copy_made_once(bundle: FakeBundle) -> None:
    result, _w = module(present(bundle, backup=True))
    backup = Path(result["backup_file"])
    assert backup.parent == bundle.bindir
    assert backup.name.startswith("com.docker.hyperkit.hostbridge-backup-")
    assert backup.read_bytes() == bundle.original
    assert backup.stat().st_ino != bundle.original_inode
    module(present(bundle, state="absent"))
    again, _w = module(present(bundle, backup=True))
    assert again["backup_file"] == str(backup)  # same bytes: reused
    assert not any(a.startswith("back up") for a in again["actions"])
    assert len([n for n in bundle.files() if ".hostbridge-backup-" in n]) == 1


def test_check_mode_absent(bundle: FakeBundle) -> None:
    module(present(bundle))
    before = bundle.files()
    result, _w = module(present(bundle, state="absent", _ansible_check_mode=True))
    assert (result["changed"], result["restart_required"], result["state"]) == (True, True, "pristine")
    assert bundle.files() == before


@pytest.mark.parametrize(("args", "message"), [
    ({"tap_device": "tap300"}, "tap_device: 'tap300' must be a tap device name"),
    ({"user": "no-such-user-hb"}, "user: 'no-such-user-hb' is not a user"),
    ({"slot": "last"}, "value of slot must be one of"),
])
def test_bad_input_fails_before_any_change(bundle: FakeBundle, args: dict[str, str], message: str) -> None:
    before = bundle.files()
    result, _w = module(present(bundle, **args))
    assert result["failed"]
    assert message in result["msg"]
    assert bundle.files() == before


def test_missing_app_path(tmp_path: Path) -> None:
    result, _w = module({"app_path": str(tmp_path / "Docker.app")})
    assert result["failed"]
    assert result["msg"].startswith("app_path: ")


def test_linux_requires_app_path() -> None:
    result, _w = module({}, system="Linux")
    assert result["failed"]
    assert "app_path is required on Linux" in result["msg"]


@pytest.mark.parametrize("layout", [0, 1, 2])
def test_every_layout_round_trip(tmp_path: Path, layout: int) -> None:
    bundle = FakeBundle(tmp_path, layout=layout, name="Docker.app")
    module(present(bundle))
    assert parse_marker(bundle.hyperkit.read_bytes()).fields["real"] == bundle.real.name  # type: ignore[union-attr]
    module(present(bundle, state="absent"))
    assert bundle.files() == {bundle.hyperkit.name: bundle.original}


# --- the installed shim really starts the real binary with the tap device ---------------------------------
RECORDER_C = r"""
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    FILE *log = fopen(getenv("ARGV_LOG"), "w");
    if (log == NULL) return 111;
    for (int i = 1; i < argc; i++) { fputs(argv[i], log); fputc('\0', log); }
    fclose(log);
    return 0;
}
"""


def test_installed_shim_runs_the_real_hyperkit(tmp_path: Path) -> None:
    """A compiled (non-script) "hyperkit" in a bundle with a space in its path: install, start it with a real
    Docker Desktop command line, then remove, start again."""
    cc = shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler")
    source = tmp_path / "recorder.c"
    source.write_text(RECORDER_C)
    binary = tmp_path / "recorder"
    subprocess.run([cc, "-o", str(binary), str(source)], check=True)
    bundle = FakeBundle(tmp_path / "Apps", binary=binary.read_bytes())
    log = tmp_path / "argv"
    args = fixture_text("darwin", "hyperkit_argv_2019_vpnkit_slot1.txt").splitlines()

    def start() -> list[str]:
        subprocess.run([str(bundle.hyperkit), *args], env={"ARGV_LOG": str(log), "PATH": "/usr/bin:/bin"},
                       check=True)
        return log.read_bytes().decode().split("\0")[:-1]

    assert start() == args
    result, _w = module(present(bundle, tap_device="tap4"))
    assert result["changed"]
    vpnkit = args.index(next(a for a in args if ",virtio-vpnkit," in a))
    assert start() == [*args[: vpnkit + 1], "-s", "2:1,virtio-tap,tap4", *args[vpnkit + 1:]]
    module(present(bundle, state="absent"))
    assert start() == args


# --- state=absent where there is nothing to remove (issue 13 item 1) ----------------------------------------
@pytest.mark.parametrize("check", [False, True])
def test_absent_without_hyperkit_in_the_bundle_is_ok(tmp_path: Path, check: bool) -> None:
    app = apple_silicon_bundle(tmp_path)
    before = tree(tmp_path)
    result, warnings = module({"app_path": str(app), "state": "absent", "_ansible_check_mode": check,
                               "_ansible_diff": True})
    assert not result.get("failed"), result
    assert (result["changed"], result["restart_required"]) == (False, False)
    assert (result["state_found"], result["state"]) == ("no_hyperkit", "no_hyperkit")
    assert (result["app_path"], result["hyperkit_path"], result["real_path"]) == (str(app), None, None)
    assert result["actions"] == []
    assert result["diff"]["before"] == result["diff"]["after"]
    assert warnings == []
    assert tree(tmp_path) == before


@pytest.mark.parametrize("system", ["Darwin", "Linux"])
def test_absent_without_a_bundle_is_ok(tmp_path: Path, system: str) -> None:
    missing = tmp_path / "Docker.app"
    result, _w = module({"app_path": str(missing), "state": "absent"}, system=system)
    assert not result.get("failed"), result
    assert (result["changed"], result["state_found"], result["app_path"]) == (False, "no_hyperkit", None)
    assert list(tmp_path.iterdir()) == []


def test_absent_on_a_mac_without_docker_desktop_is_ok(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_hyperkit, "DEFAULT_APP", str(tmp_path / "Applications" / "Docker.app"))
    result, _w = module({"state": "absent", "user": pwd.getpwuid(os.getuid()).pw_name})
    assert not result.get("failed"), result
    assert (result["changed"], result["state_found"], result["app_path"]) == (False, "no_hyperkit", None)


def test_present_without_hyperkit_still_fails(tmp_path: Path) -> None:
    app = apple_silicon_bundle(tmp_path)
    before = tree(tmp_path)
    result, _w = module({"app_path": str(app)})
    assert result["failed"]
    assert "No hyperkit found" in result["msg"]
    assert "Apple Silicon" in result["msg"]
    assert tree(tmp_path) == before


# --- App Management (macOS 13+): EPERM even as root (issue 13 item 8) ----------------------------------------
@contextlib.contextmanager
def refusing_changes(folder: Path) -> t.Iterator[None]:
    """The kernel refuses every change in ``folder`` with EPERM, even to root, as macOS does to a notarized app's
    folder for a process without App Management: Linux's immutable attribute (chattr +i) gives the same errno."""
    subprocess.run(["chattr", "+i", str(folder)], check=True)
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


@pytest.mark.root
def test_eperm_names_app_management_and_the_program(bundle: FakeBundle) -> None:
    before = bundle.files()
    with refusing_changes(bundle.bindir):
        result, _w = module(present(bundle))
    assert result["failed"]
    assert result["errno"] == errno.EPERM
    for words in ("EPERM", "App Management", "Full Disk Access", "macOS 13", "The real hyperkit is intact"):
        assert words in result["msg"], result["msg"]
    # this test runs from no terminal app, SSH or job: the program below init (pytest's ancestry) is named
    assert "This run was started by" in result["msg"] or "This run came over SSH" in result["msg"], result["msg"]
    assert bundle.files() == before
    # the same refusal on Linux is not App Management
    with refusing_changes(bundle.bindir):
        result, _w = module(present(bundle), system="Linux")
    assert "App Management" not in result["msg"]
    assert result["msg"].startswith("Cannot change the bundle: Operation not permitted")
