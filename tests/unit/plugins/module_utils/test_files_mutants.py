"""``_files.py`` where cosmic-ray's mutants survived the other tests (docs/development.md, "Mutation score"):
requested owner, group and mode on an existing file, never an unsafe write unless asked, which directory is
locked, which temp files are cleaned, and each error path. Real files in a temp dir."""

from __future__ import annotations

import fcntl
import os
import stat
from pathlib import Path

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _files
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError

STALE = ".hosts.k3j_9x0a.hostbridge.tmp"  # the name an earlier, killed write_atomic of "hosts" left


@pytest.fixture
def module() -> AnsibleModule:
    with patch_module_args({}):
        return AnsibleModule(argument_spec={})


def test_an_existing_file_gets_the_requested_mode(module: AnsibleModule, tmp_path: Path) -> None:
    """atomic_move gives the new file the old one's mode; the requested mode must win over it."""
    target = tmp_path / "hosts"
    target.write_bytes(b"old\n")
    target.chmod(0o644)
    _files.write_atomic(module, str(target), b"new\n", mode=0o600)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


@pytest.mark.root
def test_an_existing_file_gets_the_requested_owner_and_group(module: AnsibleModule, tmp_path: Path) -> None:
    target = tmp_path / "hosts"
    target.write_bytes(b"old\n")
    _files.write_atomic(module, str(target), b"new\n", owner="1000", group="1001")
    assert (target.stat().st_uid, target.stat().st_gid) == (1000, 1001)
    _files.write_atomic(module, str(target), b"newer\n")  # nothing requested: kept
    assert (target.stat().st_uid, target.stat().st_gid) == (1000, 1001)


def test_never_an_unsafe_write_unless_asked(module: AnsibleModule, tmp_path: Path, monkeypatch) -> None:
    """unsafe_writes lets atomic_move write in place when a rename fails: a reader could see half a file."""
    asked: list[bool] = []
    real = module.atomic_move

    def atomic_move(src: str, dest: str, unsafe_writes: bool = False, **kwargs: object) -> None:
        asked.append(unsafe_writes)
        real(src, dest, unsafe_writes=unsafe_writes, **kwargs)

    monkeypatch.setattr(module, "atomic_move", atomic_move)
    _files.write_atomic(module, str(tmp_path / "hosts"), b"x\n")
    _files.write_atomic(module, str(tmp_path / "hosts"), b"y\n", unsafe_writes=True)
    assert asked == [False, True]


def test_the_lock_is_on_the_files_own_directory(tmp_path: Path) -> None:
    """Another flock of that directory must wait; one of its parent must not (the lock is not global)."""
    with _files.directory_lock(str(tmp_path / "hosts")):
        fd = os.open(tmp_path, os.O_RDONLY)
        parent = os.open(tmp_path.parent, os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(parent, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
            os.close(parent)


def test_a_write_removes_exactly_the_stale_temp_files_of_its_target(
        module: AnsibleModule, tmp_path: Path, monkeypatch) -> None:
    keep = [".hosts.short.hostbridge.tmp", ".other.k3j_9x0a.hostbridge.tmp", "hosts.k3j_9x0a.hostbridge.tmp",
            ".hosts.k3j_9x0a.hostbridge.tmp.bak"]
    for name in [STALE, *keep]:
        (tmp_path / name).write_bytes(b"half")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    (elsewhere / STALE).write_bytes(b"not ours")
    monkeypatch.chdir(elsewhere)  # the directory listed is the target's, not the current one
    _files.write_atomic(module, str(tmp_path / "hosts"), b"new\n")
    assert sorted(os.listdir(tmp_path)) == sorted(["hosts", "cwd", *keep])
    assert os.listdir(elsewhere) == [STALE]


def test_remove_stale_temps_names_what_it_removed_and_survives_a_missing_directory(tmp_path: Path) -> None:
    (tmp_path / STALE).write_bytes(b"half")
    assert _files.remove_stale_temps(str(tmp_path / "hosts")) == [STALE]
    assert _files.remove_stale_temps(str(tmp_path / "gone" / "hosts")) == []


def test_read_bytes_of_a_directory_is_explained(tmp_path: Path) -> None:
    with pytest.raises(HostbridgeError, match=r"^Cannot read .*: Is a directory$"):
        _files.read_bytes(str(tmp_path))


def test_a_lock_in_a_missing_directory_is_explained(tmp_path: Path) -> None:
    with pytest.raises(HostbridgeError, match=r"^Cannot open directory .*/gone to lock it: No such file"), \
            _files.directory_lock(str(tmp_path / "gone" / "hosts")):
        pass


def test_remove_file_missing_is_fine_and_a_directory_is_explained(tmp_path: Path) -> None:
    _files.remove_file(str(tmp_path / "gone"))
    (tmp_path / "dir").mkdir()
    with pytest.raises(HostbridgeError, match=r"^Cannot remove .*/dir: "):
        _files.remove_file(str(tmp_path / "dir"))
