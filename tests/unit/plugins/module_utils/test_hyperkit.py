"""_hyperkit: bundle layouts, state recognition, options, users and the state machine through manage()."""

from __future__ import annotations

import pwd
import typing as t
from pathlib import Path

import pytest

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _hyperkit
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.plugins.module_utils._hyperkit import (
    DarwinHyperkitShim,
    LinuxHyperkitShim,
    Options,
    detect,
    locate,
    manage,
    validate,
)
from ansible_collections.dockermac.hostbridge.plugins.module_utils._hyperkit_files import shim_mode
from ansible_collections.dockermac.hostbridge.plugins.module_utils._shim_template import SHIM_VERSION
from ansible_collections.dockermac.hostbridge.tests.unit.plugins.module_utils.hyperkit_fakes import (
    FakeBundle,
    fake_binary,
    sha,
)
from ansible_collections.dockermac.hostbridge.tests.unit.utils import context

PRESENT = Options(tap="tap1", slot="after_vpnkit", state="present", backup=False)


# --- layouts ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("layout", "relative"), [
    (0, "Contents/MacOS/com.docker.hyperkit"),
    (1, "Contents/Resources/bin/hyperkit"),
    (2, "Contents/Resources/bin/com.docker.hyperkit"),
])
def test_each_layout_is_found(tmp_path: Path, layout: int, relative: str) -> None:
    bundle = FakeBundle(tmp_path, layout=layout)
    location = locate(str(bundle.app))
    assert location.hyperkit_path == str(bundle.app / relative)
    assert location.real_path == str(bundle.app / relative) + ".real"


def test_first_layout_that_exists_wins(tmp_path: Path) -> None:
    FakeBundle(tmp_path, layout=2)
    bundle = FakeBundle(tmp_path, layout=1)
    assert locate(str(bundle.app)).hyperkit_path == str(bundle.hyperkit)


def test_bundle_without_hyperkit_lists_the_paths_tried(tmp_path: Path) -> None:
    app = tmp_path / "Docker.app"
    (app / "Contents" / "MacOS").mkdir(parents=True)
    with pytest.raises(HostbridgeError) as info:
        locate(str(app))
    for _layout, relative in _hyperkit.LAYOUTS:
        assert str(app / relative) in info.value.msg
    assert "Virtualization framework" in info.value.msg
    assert "Apple Silicon" in info.value.msg
    assert len(info.value.details["paths_tried"]) == 3


def test_missing_app_is_refused(tmp_path: Path) -> None:
    with pytest.raises(HostbridgeError, match=r"^app_path: '.*nope.app' is not a directory"):
        locate(str(tmp_path / "nope.app"))


def test_binary_symlinked_outside_the_bundle_is_refused(tmp_path: Path) -> None:
    bundle = FakeBundle(tmp_path / "in")
    outside = tmp_path / "elsewhere"
    outside.write_bytes(fake_binary("x"))
    bundle.hyperkit.unlink()
    bundle.hyperkit.symlink_to(outside)
    with pytest.raises(HostbridgeError, match="outside"):
        locate(str(bundle.app))


def test_bin_folder_symlinked_outside_the_bundle_is_refused(tmp_path: Path) -> None:
    bundle = FakeBundle(tmp_path / "in")
    outside = tmp_path / "outbin"
    bundle.bindir.rename(outside)
    bundle.bindir.symlink_to(outside)
    with pytest.raises(HostbridgeError, match="outside"):
        locate(str(bundle.app))


def test_symlink_inside_the_same_folder_is_followed(tmp_path: Path) -> None:
    bundle = FakeBundle(tmp_path)
    target = bundle.bindir / "hyperkit-1.0"
    bundle.hyperkit.rename(target)
    bundle.hyperkit.symlink_to("hyperkit-1.0")
    location = locate(str(bundle.app))
    assert location.hyperkit_path == str(target)
    assert location.real_path == str(target) + ".real"


def test_symlink_into_another_folder_of_the_bundle_is_refused(tmp_path: Path) -> None:
    bundle = FakeBundle(tmp_path)
    target = bundle.app / "Contents" / "hyperkit"
    bundle.hyperkit.rename(target)
    bundle.hyperkit.symlink_to(target)
    with pytest.raises(HostbridgeError, match="another folder"):
        locate(str(bundle.app))


def test_real_left_without_binary_is_an_error_with_the_fix(tmp_path: Path) -> None:
    bundle = FakeBundle(tmp_path)
    bundle.hyperkit.rename(bundle.real)
    with pytest.raises(HostbridgeError) as info:
        locate(str(bundle.app))
    assert f"mv -f '{bundle.real}' '{bundle.hyperkit}'" in info.value.msg
    assert bundle.real.read_bytes() == bundle.original


# --- states -------------------------------------------------------------------------------------------------
def state_of(bundle: FakeBundle, options: Options = PRESENT) -> _hyperkit.Detection:
    return detect(locate(str(bundle.app)), options)


def test_state_pristine(tmp_path: Path) -> None:
    detection = state_of(FakeBundle(tmp_path))
    assert (detection.state, detection.problem, detection.leftover_copy) == ("pristine", None, False)


def test_state_pristine_with_a_leftover_copy(tmp_path: Path) -> None:
    bundle = FakeBundle(tmp_path)
    bundle.real.write_bytes(bundle.original)
    detection = state_of(bundle)
    assert (detection.state, detection.leftover_copy) == ("pristine", True)


def test_state_installed(tmp_path: Path) -> None:
    bundle = FakeBundle(tmp_path)
    bundle.make_installed()
    detection = state_of(bundle)
    assert (detection.state, detection.problem) == ("installed", None)


@pytest.mark.parametrize("installed", [{"tap": "tap2"}, {"slot": "next_function"}])
def test_state_outdated_by_options(tmp_path: Path, installed: dict[str, str]) -> None:
    bundle = FakeBundle(tmp_path)
    bundle.make_installed(**installed)
    assert state_of(bundle).state == "outdated"


@pytest.mark.parametrize("version", [0, SHIM_VERSION + 1])
def test_state_outdated_by_version(tmp_path: Path, version: int) -> None:
    bundle = FakeBundle(tmp_path)
    bundle.make_installed()
    text = bundle.hyperkit.read_text().replace(f"-shim v{SHIM_VERSION} ", f"-shim v{version} ")
    bundle.hyperkit.write_text(text)
    detection = state_of(bundle)
    assert detection.state == "outdated"
    assert bool(detection.notes) == (version > SHIM_VERSION)


def test_state_outdated_by_hand_edit(tmp_path: Path) -> None:
    bundle = FakeBundle(tmp_path)
    bundle.make_installed()
    bundle.hyperkit.write_text(bundle.hyperkit.read_text() + "# edited\n")
    assert state_of(bundle).state == "outdated"


def test_state_orphaned_shim(tmp_path: Path) -> None:
    bundle = FakeBundle(tmp_path)
    bundle.make_installed()
    bundle.real.unlink()
    detection = state_of(bundle)
    assert detection.state == "orphaned_shim"
    assert "Reinstall Docker Desktop" in (detection.problem or "")


def test_state_updated_by_docker(tmp_path: Path) -> None:
    bundle = FakeBundle(tmp_path)
    bundle.make_installed()
    bundle.docker_update()
    detection = state_of(bundle)
    assert (detection.state, detection.problem) == ("updated_by_docker", None)


def test_state_foreign_original(tmp_path: Path) -> None:
    bundle = FakeBundle(tmp_path)
    Path(str(bundle.hyperkit) + ".original").write_bytes(bundle.original)
    bundle.hyperkit.write_text('#!/bin/bash\nexec "$0.original" "$@"\n')
    detection = state_of(bundle)
    assert detection.state == "foreign_shim"
    assert "docker-tuntap-osx" in (detection.problem or "")


def test_state_foreign_script(tmp_path: Path) -> None:
    bundle = FakeBundle(tmp_path)
    bundle.hyperkit.rename(bundle.real)
    bundle.hyperkit.write_text("#!/bin/sh\n# another tool\nexec \"$0.real\" \"$@\" -s 2:1,virtio-tap,tap1\n")
    detection = state_of(bundle)
    assert detection.state == "foreign_shim"
    assert f"mv -f '{bundle.real}' '{bundle.hyperkit}'" in (detection.problem or "")


def test_state_real_is_a_script(tmp_path: Path) -> None:
    bundle = FakeBundle(tmp_path)
    bundle.make_installed()
    bundle.real.unlink()
    bundle.real.write_text("#!/bin/sh\nexit 0\n")
    assert state_of(bundle).state == "foreign_shim"


def test_real_checksum_differing_from_the_marker_is_a_problem(tmp_path: Path) -> None:
    bundle = FakeBundle(tmp_path)
    bundle.make_installed()
    bundle.real.unlink()
    bundle.real.write_bytes(fake_binary("tampered"))
    detection = state_of(bundle)
    assert detection.state == "installed"
    assert sha(fake_binary("tampered")) in (detection.problem or "")


def test_real_symlink_is_refused(tmp_path: Path) -> None:
    bundle = FakeBundle(tmp_path)
    bundle.real.symlink_to(tmp_path / "x")
    with pytest.raises(HostbridgeError, match="is a symlink"):
        state_of(bundle)


# --- options and users --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("params", "message"), [
    ({"tap_device": "tap256"}, "tap_device: 'tap256'"),
    ({"tap_device": "utun1"}, "tap_device: 'utun1'"),
    ({"tap_device": "tap1 "}, "tap_device: 'tap1 '"),
    ({"slot": "2:1"}, "slot: '2:1'"),
    ({"state": "gone"}, "state: 'gone'"),
])
def test_validate_names_field_and_value(params: dict[str, str], message: str) -> None:
    with pytest.raises(HostbridgeError) as info:
        validate(params)
    assert info.value.msg.startswith(message)


def test_validate_defaults() -> None:
    assert validate({}) == Options(tap="tap1", slot="after_vpnkit", state="present", backup=False)


@pytest.mark.parametrize(("mode", "want"), [
    (0o755, 0o755), (0o775, 0o755), (0o777, 0o755), (0o4755, 0o755), (0o700, 0o700), (0o711, 0o755),
    (0o750, 0o750), (0o644, 0o755),
])
def test_shim_mode(mode: int, want: int) -> None:
    assert shim_mode(mode) == want
    assert shim_mode(mode) & 0o022 == 0


def test_target_user_from_sudo_user() -> None:
    root = pwd.getpwuid(0)
    other = next((p for p in pwd.getpwall() if p.pw_uid != 0), None)
    if other is None:
        pytest.skip("no second user in /etc/passwd")
    assert DarwinHyperkitShim(environ={"SUDO_USER": other.pw_name}).target_user(None) == other
    assert DarwinHyperkitShim(environ={"SUDO_USER": "root"}).target_user("0") == root
    assert DarwinHyperkitShim(environ={}).target_user(root.pw_name) == root


def test_target_user_unknown_is_refused() -> None:
    with pytest.raises(HostbridgeError, match=r"^user: 'no-such-user-hb' is not a user"):
        DarwinHyperkitShim(environ={}).target_user("no-such-user-hb")


def test_darwin_default_apps_order() -> None:
    bob = pwd.struct_passwd(("bob", "*", 501, 20, "Bob", "/Users/bob", "/bin/zsh"))
    assert DarwinHyperkitShim().default_apps(bob) == ["/Applications/Docker.app",
                                                      "/Users/bob/Applications/Docker.app"]
    assert DarwinHyperkitShim().default_apps(None) == ["/Applications/Docker.app"]


def test_darwin_finds_the_user_app_when_applications_has_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              ) -> None:
    home = tmp_path / "home"
    bundle = FakeBundle(home / "Applications", name="Docker.app")
    monkeypatch.setattr(_hyperkit, "DEFAULT_APP", str(tmp_path / "Applications" / "Docker.app"))
    fake = pwd.struct_passwd(("bob", "*", 501, 20, "Bob", str(home), "/bin/zsh"))
    backend = DarwinHyperkitShim(environ={})
    monkeypatch.setattr(backend, "target_user", lambda user: fake)
    assert backend.find_app(None, None) == str(bundle.app)
    system = FakeBundle(tmp_path / "Applications", name="Docker.app")
    assert backend.find_app(None, None) == str(system.app)  # /Applications first


def test_darwin_no_app_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_hyperkit, "DEFAULT_APP", str(tmp_path / "Docker.app"))
    backend = DarwinHyperkitShim(environ={})
    monkeypatch.setattr(backend, "target_user", lambda user: None)
    with pytest.raises(HostbridgeError, match=r"Docker Desktop was not found: tried .*Docker.app"):
        backend.find_app(None, None)


def test_linux_needs_app_path() -> None:
    with pytest.raises(HostbridgeError, match="app_path is required on Linux"):
        LinuxHyperkitShim(environ={}).find_app(None, None)


def test_unsupported_system() -> None:
    with pytest.raises(HostbridgeError, match="does not support 'Windows'"):
        manage(context("Windows"), {})


# --- leftovers ----------------------------------------------------------------------------------------------
def run(bundle: FakeBundle, **params: t.Any) -> dict[str, t.Any]:
    return manage(context("Linux"), bundle.params(**params))


def test_leftover_temp_files_of_ours_are_removed(tmp_path: Path) -> None:
    bundle = FakeBundle(tmp_path)
    partial = bundle.bindir / ".com.docker.hyperkit.aaaa.hostbridge.tmp"
    partial.write_bytes(bundle.original[:1000])  # an interrupted copy
    shim = bundle.bindir / ".com.docker.hyperkit.bbbb.hostbridge.tmp"
    shim.write_text(bundle.shim_text(tap="tap9"))  # an interrupted shim write
    empty = bundle.bindir / ".com.docker.hyperkit.cccc.hostbridge.tmp"
    empty.write_bytes(b"")
    result = run(bundle)
    assert result["changed"]
    assert sum(a.startswith("remove the leftover temp file") for a in result["actions"]) == 3
    assert bundle.temps() == []


def test_unknown_temp_file_is_kept_with_a_warning(tmp_path: Path) -> None:
    bundle = FakeBundle(tmp_path)
    bundle.make_installed()
    unknown = bundle.bindir / ".com.docker.hyperkit.dddd.hostbridge.tmp"
    unknown.write_bytes(fake_binary("unknown"))
    result = run(bundle)
    assert not result["changed"]
    assert unknown.exists()
    assert any(str(unknown) in w for w in result["warnings"])
