"""Atomic writes, locking and symlink confinement on real files in a temp dir."""

from __future__ import annotations

import errno
import multiprocessing
import os
import stat

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _files
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError


@pytest.fixture
def module() -> AnsibleModule:
    with patch_module_args({}):
        return AnsibleModule(argument_spec={})


def test_read_bytes_missing_and_present(tmp_path) -> None:
    assert _files.read_bytes(str(tmp_path / "nope")) is None
    (tmp_path / "f").write_bytes(b"a\r\nb")
    assert _files.read_bytes(str(tmp_path / "f")) == b"a\r\nb"


def test_write_atomic_replaces_content_and_keeps_mode(module, tmp_path) -> None:
    target = tmp_path / "hosts"
    target.write_bytes(b"old\n")
    target.chmod(0o640)
    inode = target.stat().st_ino
    _files.write_atomic(module, str(target), b"new\n")
    assert target.read_bytes() == b"new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.stat().st_ino != inode  # replaced by rename, not rewritten in place
    assert not [p for p in os.listdir(tmp_path) if p.endswith(_files.TEMP_SUFFIX)]


def test_write_atomic_new_file_gets_requested_mode(module, tmp_path) -> None:
    target = tmp_path / "daemon.plist"
    _files.write_atomic(module, str(target), b"x", mode=0o644)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_write_atomic_writes_through_a_symlink(module, tmp_path) -> None:
    real = tmp_path / "private" / "hosts"
    real.parent.mkdir()
    real.write_bytes(b"old\n")
    link = tmp_path / "hosts"
    link.symlink_to(real)
    _files.write_atomic(module, str(link), b"new\n")
    assert link.is_symlink()
    assert real.read_bytes() == b"new\n"


def test_write_atomic_failure_keeps_original_and_cleans_temp(module, tmp_path, monkeypatch) -> None:
    target = tmp_path / "hosts"
    target.write_bytes(b"precious\n")

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_files.os, "fsync", no_space)
    with pytest.raises(HostbridgeError, match=r"disk full.*original file is unchanged"):
        _files.write_atomic(module, str(target), b"new\n")
    assert target.read_bytes() == b"precious\n"
    assert sorted(os.listdir(tmp_path)) == ["hosts"]


@pytest.mark.parametrize(("uid", "says_become"), [(501, True), (0, False)])
def test_write_atomic_in_a_directory_it_may_not_write(module, tmp_path, monkeypatch, uid: int,
                                                      says_become: bool) -> None:
    """The temp file cannot be created (no root): a HostbridgeError naming the file, saying to use become when not
    root (tests/system/test_without_root.py runs it for real as nobody)."""
    target = tmp_path / "hosts"
    target.write_bytes(b"precious\n")

    def denied(**kwargs: object) -> tuple[int, str]:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(_files.tempfile, "mkstemp", denied)
    monkeypatch.setattr(_files.os, "geteuid", lambda: uid)
    with pytest.raises(HostbridgeError) as info:
        _files.write_atomic(module, str(target), b"new\n")
    assert info.value.msg.startswith(f"Cannot write {target}: Permission denied (creating a file in {tmp_path}).")
    assert ("This needs root and the module ran as uid 501: run the task with become" in info.value.msg) is says_become
    assert info.value.msg.endswith("The original file is unchanged.")
    assert target.read_bytes() == b"precious\n"


def test_write_atomic_fsyncs_the_data_before_the_rename_and_the_directory_after(
        module, tmp_path, monkeypatch) -> None:
    """Durability, which a SIGKILL test cannot see (the page cache survives a killed process, not a power cut)."""
    target = tmp_path / "hosts"
    target.write_bytes(b"the old content\n")
    events: list[tuple[str, str]] = []
    real_fsync, real_rename, real_replace = os.fsync, os.rename, os.replace

    def fsync(fd: int) -> None:
        st = os.fstat(fd)
        events.append(("fsync", "dir" if stat.S_ISDIR(st.st_mode) else f"file of {st.st_size} bytes"))
        real_fsync(fd)

    def rename(src: str, dst: str, **kwargs: object) -> None:
        events.append(("rename", os.path.basename(os.fsdecode(dst))))
        real_rename(src, dst, **kwargs)

    def replace(src: str, dst: str, **kwargs: object) -> None:
        events.append(("rename", os.path.basename(os.fsdecode(dst))))
        real_replace(src, dst, **kwargs)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)
    monkeypatch.setattr(os, "replace", replace)
    _files.write_atomic(module, str(target), b"new\n")
    assert events == [("fsync", "file of 4 bytes"), ("rename", "hosts"), ("fsync", "dir")]
    assert target.read_bytes() == b"new\n"


def test_resolve_inside(tmp_path) -> None:
    bundle = tmp_path / "Docker.app"
    (bundle / "bin").mkdir(parents=True)
    (bundle / "bin" / "real").write_bytes(b"x")
    (bundle / "bin" / "inside").symlink_to(bundle / "bin" / "real")
    (bundle / "bin" / "outside").symlink_to(tmp_path)
    assert _files.resolve_inside(str(bundle / "bin" / "inside"), str(bundle), field="app_path") == str(
        bundle / "bin" / "real")
    with pytest.raises(HostbridgeError, match=r"^app_path: .*outside"):
        _files.resolve_inside(str(bundle / "bin" / "outside"), str(bundle), field="app_path")


def _hold_lock(path: str, ready, release) -> None:
    with _files.directory_lock(path):
        ready.set()
        release.wait(10)


def test_directory_lock_excludes_other_processes(tmp_path) -> None:
    target = str(tmp_path / "hosts")
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(target, ready, release))
    holder.start()
    try:
        assert ready.wait(10)
        acquired = ctx.Event()
        waiter = ctx.Process(target=_hold_lock, args=(target, acquired, ctx.Event()))
        waiter.start()
        # The second process cannot take the lock while the first holds it ...
        assert not acquired.wait(0.5)
        release.set()
        # ... and gets it once the first lets go.
        assert acquired.wait(10)
        waiter.terminate()
        waiter.join(10)
    finally:
        release.set()
        holder.join(10)
    assert holder.exitcode == 0
