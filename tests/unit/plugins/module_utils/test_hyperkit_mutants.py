"""``_hyperkit.py`` where cosmic-ray's mutants survived the other tests (docs/development.md, "Mutation score"):
options as a real module run gets them (strings from JSON, never the interpreter's shared literals), checksum
comparisons tried from both sides, the exact actions, notes and diff, reusing only an identical backup, and the
post-condition check after a step that did not happen. Fabricated bundles in tmp_path."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import pwd
import typing as t
from pathlib import Path

import pytest

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _hyperkit
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.plugins.module_utils._hyperkit import (
    DarwinHyperkitShim,
    Options,
    detect,
    locate,
    manage,
)
from ansible_collections.dockermac.hostbridge.plugins.module_utils._hyperkit_files import FileOps
from ansible_collections.dockermac.hostbridge.plugins.module_utils._shim_template import SHIM_VERSION
from ansible_collections.dockermac.hostbridge.tests.unit.plugins.module_utils.hyperkit_fakes import (
    FakeBundle,
    fake_binary,
    sha,
)
from ansible_collections.dockermac.hostbridge.tests.unit.utils import context

PRESENT = Options(tap="tap1", slot="after_vpnkit", state="present", backup=False)
ABSENT = dataclasses.replace(PRESENT, state="absent")
# fake_binary tags whose checksums sort below and above fake_binary("original")'s (checked by the test below).
LOWER, HIGHER = "new-1", "new-0"


def as_json(params: dict[str, t.Any]) -> dict[str, t.Any]:
    """The parameters as AnsibleModule gets them: decoded from JSON, so ``is "present"`` would be False."""
    return t.cast("dict[str, t.Any]", json.loads(json.dumps(params)))


def run(bundle: FakeBundle, *, ops: FileOps | None = None, diff: bool = False, **params: t.Any) -> dict[str, t.Any]:
    return manage(context("Linux", diff_mode=diff), as_json(bundle.params(**params)), ops=ops)


def test_the_tags_sort_on_both_sides_of_the_original() -> None:
    """The premise of the two-sided tests here: a mutant turning == or != into an order is caught by one side."""
    assert sha(fake_binary(LOWER)) < sha(fake_binary("original")) < sha(fake_binary(HIGHER))


def test_install_update_remove_with_options_from_json(tmp_path: Path) -> None:
    bundle = FakeBundle(tmp_path)
    assert run(bundle)["state"] == "installed"
    assert bundle.hyperkit.read_text() == bundle.shim_text()
    bundle.hyperkit.write_text(bundle.shim_text(tap="tap2"))  # an older shim: outdated
    result = run(bundle)
    assert result["actions"] == [f"update the shim at {bundle.hyperkit} to v{SHIM_VERSION} (tap=tap1 "
                                 "slot=after_vpnkit)"]
    assert bundle.hyperkit.read_text() == bundle.shim_text()
    assert run(bundle, state="absent")["state"] == "pristine"
    assert bundle.files() == {"com.docker.hyperkit": bundle.original}


@pytest.mark.parametrize("tag", [LOWER, HIGHER])
def test_docker_updating_the_shim_is_seen_whichever_checksum_sorts_first(tmp_path: Path, tag: str) -> None:
    bundle = FakeBundle(tmp_path)
    bundle.make_installed()
    bundle.docker_update(tag)
    assert (detect(locate(str(bundle.app)), PRESENT).state, run(bundle)["state"]) == ("updated_by_docker",
                                                                                      "installed")


@pytest.mark.parametrize("tag", [LOWER, HIGHER])
def test_a_replaced_real_binary_is_refused_whichever_checksum_sorts_first(tmp_path: Path, tag: str) -> None:
    bundle = FakeBundle(tmp_path)
    bundle.make_installed()
    bundle.real.unlink()
    bundle.real.write_bytes(fake_binary(tag))
    detection = detect(locate(str(bundle.app)), PRESENT)
    assert detection.problem is not None
    assert f"has sha256 {sha(fake_binary(tag))}, but the shim recorded {sha(bundle.original)}" in detection.problem


@pytest.mark.parametrize(("options", "note"), [
    (PRESENT, "; it will be replaced."),
    (ABSENT, "."),
])
def test_a_newer_shim_is_noted_with_what_happens_to_it(tmp_path: Path, options: Options, note: str) -> None:
    bundle = FakeBundle(tmp_path)
    bundle.make_installed()
    text = bundle.hyperkit.read_text().replace(f" v{SHIM_VERSION} ", f" v{SHIM_VERSION + 1} ", 1)
    bundle.hyperkit.unlink()
    bundle.hyperkit.write_text(text)
    options = Options(**as_json(dataclasses.asdict(options)))
    assert detect(locate(str(bundle.app)), options).notes == [
        f"The installed shim is version {SHIM_VERSION + 1}, newer than this collection's {SHIM_VERSION}{note}"]


def test_the_install_actions_say_whether_a_stale_real_binary_is_replaced(tmp_path: Path) -> None:
    fresh = FakeBundle(tmp_path / "fresh")
    assert run(fresh)["actions"] == [f"keep the real hyperkit as {fresh.real}",
                                     f"install the shim (v{SHIM_VERSION}) as {fresh.hyperkit}"]
    updated = FakeBundle(tmp_path / "updated")
    updated.make_installed()
    new = updated.docker_update()
    result = run(updated)
    assert result["actions"] == [f"keep the real hyperkit as {updated.real} (replacing the stale one)",
                                 f"install the shim (v{SHIM_VERSION}) as {updated.hyperkit}"]
    assert result["warnings"] == [
        f"Docker Desktop replaced the shim with a new hyperkit (sha256 {sha(new)}); it becomes the real one (the "
        f"stale {updated.real}, sha256 {sha(updated.original)}, is replaced) and the shim is installed again."]


def test_the_diff_of_an_install_and_of_a_removal(tmp_path: Path) -> None:
    bundle = FakeBundle(tmp_path)
    original = sha(bundle.original)
    shim_line = f"{bundle.hyperkit}: shim v{SHIM_VERSION} tap=tap1 slot=after_vpnkit real={bundle.real.name}"
    installed = f"state: installed\n{shim_line}\n{bundle.real}: real hyperkit, sha256 {original}\n\n"
    pristine = f"state: pristine\n{bundle.hyperkit}: real hyperkit, sha256 {original}\n{bundle.real}: absent\n"
    diff = run(bundle, diff=True)["diff"]
    assert (diff["before"], diff["after"]) == (pristine, installed + bundle.shim_text())
    diff = run(bundle, diff=True, state="absent")["diff"]
    assert (diff["before"], diff["after"]) == (installed + bundle.shim_text(), pristine)


@pytest.mark.parametrize("tag", [LOWER, HIGHER])
def test_a_backup_is_reused_only_when_it_holds_the_same_binary(tmp_path: Path, tag: str) -> None:
    bundle = FakeBundle(tmp_path)
    other = bundle.bindir / f"com.docker.hyperkit{_hyperkit.BACKUP_INFIX}20250101T000000Z"
    other.write_bytes(fake_binary(tag))
    result = run(bundle, backup=True)
    assert result["backup_file"] != str(other)
    assert Path(result["backup_file"]).read_bytes() == bundle.original
    assert other.read_bytes() == fake_binary(tag)


def test_a_partial_temp_file_of_the_new_shim_is_removed(tmp_path: Path) -> None:
    """Killed while writing the shim, before its marker line: only its first bytes say it is ours."""
    bundle = FakeBundle(tmp_path)
    partial = bundle.bindir / ".com.docker.hyperkit.aaaa.hostbridge.tmp"
    partial.write_text(bundle.shim_text()[:20])
    result = run(bundle)
    assert result["actions"][0] == f"remove the leftover temp file {partial}"
    assert bundle.temps() == []


class ShimNeverLands(FileOps):
    """A rename of the shim over hyperkit that reports success but does nothing (what the check after is for)."""

    def rename(self, src: str, dst: str) -> None:
        if dst.endswith("com.docker.hyperkit"):
            return
        super().rename(src, dst)


def test_a_step_that_did_not_happen_is_an_error(tmp_path: Path) -> None:
    bundle = FakeBundle(tmp_path)
    with pytest.raises(HostbridgeError, match=r"is in state 'pristine', not 'installed': unexpected$"):
        run(bundle, ops=ShimNeverLands())


def test_removing_a_leftover_copy_is_no_news_of_a_docker_update(tmp_path: Path) -> None:
    bundle = FakeBundle(tmp_path)
    bundle.real.write_bytes(bundle.original)  # an interrupted install's identical copy
    result = run(bundle, state="absent")
    assert (result["actions"], result["warnings"]) == ([f"remove the stale copy {bundle.real}"], [])
    assert bundle.files() == {"com.docker.hyperkit": bundle.original}


class RealCopyNeverGoes(FileOps):
    """An unlink of the real copy that reports success but does nothing."""

    def unlink(self, path: str) -> None:
        if not path.endswith(".real"):
            super().unlink(path)


def test_a_removal_that_left_the_real_copy_is_an_error(tmp_path: Path) -> None:
    bundle = FakeBundle(tmp_path)
    bundle.real.write_bytes(bundle.original)
    with pytest.raises(HostbridgeError, match=r"is in state 'pristine', not 'pristine': unexpected$"):
        run(bundle, state="absent", ops=RealCopyNeverGoes())


def test_an_unreadable_temp_file_does_not_stop_the_cleanup_of_the_others(tmp_path: Path) -> None:
    bundle = FakeBundle(tmp_path)
    unreadable = bundle.bindir / ".com.docker.hyperkit.0000.hostbridge.tmp"
    unreadable.mkdir()  # open() fails on it: kept, with a warning
    partial = bundle.bindir / ".com.docker.hyperkit.ffff.hostbridge.tmp"
    partial.write_bytes(bundle.original[:1000])
    result = run(bundle)
    assert result["actions"][0] == f"remove the leftover temp file {partial}"
    assert result["warnings"] == [f"{unreadable} looks like a temp file of this module but its content is unknown; "
                                  "left in place."]
    assert sorted(p.name for p in bundle.bindir.iterdir() if p.name.endswith(".hostbridge.tmp")) == [unreadable.name]


@pytest.mark.root
def test_the_shim_gets_the_owner_and_group_of_the_binary_it_replaces(tmp_path: Path) -> None:
    bundle = FakeBundle(tmp_path)
    os.chown(bundle.hyperkit, 501, 80)  # a Mac's first user, group admin
    run(bundle)
    assert [(p.stat().st_uid, p.stat().st_gid) for p in (bundle.hyperkit, bundle.real)] == [(501, 80), (501, 80)]


def test_docker_desktop_not_found_names_every_path_tried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_hyperkit, "DEFAULT_APP", str(tmp_path / "Docker.app"))
    home = pwd.struct_passwd(("alice", "x", 501, 20, "", str(tmp_path / "alice"), "/bin/zsh"))
    backend = DarwinHyperkitShim(environ={})
    monkeypatch.setattr(backend, "target_user", lambda user: home)
    with pytest.raises(HostbridgeError) as raised:
        backend.find_app(None, None)
    assert raised.value.msg == (f"Docker Desktop was not found: tried {tmp_path}/Docker.app, {tmp_path}/alice/"
                                "Applications/Docker.app. Set app_path to the Docker.app bundle.")


class DiskFull(FileOps):
    def write_temp(self, directory: str, stem: str, data: bytes, *, mode: int, uid: int, gid: int) -> str:
        raise OSError(errno.ENOSPC, "No space left on device", os.path.join(directory, ".shim.tmp"))


def test_a_failed_step_names_the_file_it_failed_on(tmp_path: Path) -> None:
    bundle = FakeBundle(tmp_path)
    with pytest.raises(HostbridgeError) as raised:
        run(bundle, ops=DiskFull())
    assert raised.value.msg == (f"Cannot change the bundle (disk full): No space left on device "
                                f"({bundle.bindir}/.shim.tmp). The real hyperkit is intact; fix the cause and re-run.")


def test_a_current_shim_is_left_alone_without_a_word(tmp_path: Path) -> None:
    bundle = FakeBundle(tmp_path)
    bundle.make_installed()
    result = run(bundle)
    assert (result["changed"], result["actions"], result["warnings"]) == (False, [], [])


def test_only_a_leftover_temp_file_to_remove_on_an_installed_shim(tmp_path: Path) -> None:
    bundle = FakeBundle(tmp_path)
    bundle.make_installed()
    partial = bundle.bindir / ".com.docker.hyperkit.aaaa.hostbridge.tmp"
    partial.write_bytes(bundle.original[:1000])
    result = run(bundle)
    assert (result["changed"], result["actions"]) == (True, [f"remove the leftover temp file {partial}"])
    assert bundle.temps() == []
    assert bundle.hyperkit.read_text() == bundle.shim_text()


@pytest.mark.parametrize("version", [SHIM_VERSION - 1, SHIM_VERSION + 1])
def test_another_version_over_a_replaced_real_binary_is_reported_outdated(tmp_path: Path, version: int) -> None:
    bundle = FakeBundle(tmp_path)
    bundle.make_installed()
    text = bundle.hyperkit.read_text().replace(f" v{SHIM_VERSION} ", f" v{version} ", 1)
    bundle.hyperkit.unlink()
    bundle.hyperkit.write_text(text)
    bundle.real.unlink()
    bundle.real.write_bytes(fake_binary("tampered"))
    detection = detect(locate(str(bundle.app)), PRESENT)
    assert (detection.state, detection.problem is not None) == ("outdated", True)


def test_sudo_user_is_taken_whatever_its_name_sorts_like(monkeypatch: pytest.MonkeyPatch) -> None:
    after_root = next((p for p in pwd.getpwall() if p.pw_name > "root"), None)
    assert after_root is not None, "a Debian /etc/passwd has sys, sync, www-data ..."
    monkeypatch.setattr(_hyperkit.os, "getlogin", lambda: "root")  # the fallback, were SUDO_USER passed over
    assert DarwinHyperkitShim(environ={"SUDO_USER": after_root.pw_name}).target_user(None) == after_root


def test_sudo_user_root_from_the_environment_is_passed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    other = next(p for p in pwd.getpwall() if p.pw_uid != 0)
    monkeypatch.setattr(_hyperkit.os, "getlogin", lambda: other.pw_name)
    root = "".join(["ro", "ot"])  # as os.environ gives it: not the interpreter's shared "root"
    assert DarwinHyperkitShim(environ={"SUDO_USER": root}).target_user(None) == other


@pytest.mark.parametrize("folder", ["Contents/Resources/bin/sub", "Contents/Resources/zz"])
def test_a_symlink_into_a_folder_sorting_after_bin_is_refused_too(tmp_path: Path, folder: str) -> None:
    bundle = FakeBundle(tmp_path)
    target = bundle.app / folder / "hyperkit"
    target.parent.mkdir(parents=True, exist_ok=True)
    bundle.hyperkit.rename(target)
    bundle.hyperkit.symlink_to(target)
    with pytest.raises(HostbridgeError, match=f"is a symlink to {target}, in another folder"):
        locate(str(bundle.app))


def test_a_removal_that_left_the_shim_in_place_is_an_error(tmp_path: Path) -> None:
    bundle = FakeBundle(tmp_path)
    bundle.make_installed()
    with pytest.raises(HostbridgeError, match=r"is in state 'installed', not 'pristine': unexpected$"):
        run(bundle, state="absent", ops=ShimNeverLands())


def test_a_small_temp_file_of_unknown_content_is_kept(tmp_path: Path) -> None:
    """Only a prefix of our own shim or binaries is ours: a short file of other bytes exists nowhere else."""
    bundle = FakeBundle(tmp_path)
    bundle.make_installed()
    notes = bundle.bindir / ".com.docker.hyperkit.eeee.hostbridge.tmp"
    notes.write_bytes(b"someone's notes\n")
    result = run(bundle)
    assert (result["changed"], notes.read_bytes()) == (False, b"someone's notes\n")
    assert result["warnings"] == [f"{notes} looks like a temp file of this module but its content is unknown; left "
                                  "in place."]
