# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hyperkit shim's file operations: reading what is at a path, and changing the bundle one crash-safe
primitive at a time (``FileOps``). Which operations to run, and in what order, is ``_hyperkit``'s business.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import os
import secrets
import stat
import tempfile

from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.plugins.module_utils._files import TEMP_SUFFIX, fsync_directory
from ansible_collections.dockermac.hostbridge.plugins.module_utils._shim_template import Marker, parse_marker

HEAD = 4096
SMALL = 64 * 1024  # files up to this size are read whole (shims); hyperkit itself is megabytes
CHUNK = 1 << 20


# --- crash-safe file operations -----------------------------------------------------------------------------
def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def shim_mode(original_mode: int) -> int:
    """The original's permission bits without set-id bits and without group/other write; readable where
    executable (sh must read a script to run it)."""
    mode = stat.S_IMODE(original_mode) & 0o755
    mode |= (mode & 0o111) << 2
    if not mode & 0o111:
        mode = 0o755
    return mode


class FileOps:
    """Every change made in the bundle, one primitive at a time.

    ``checkpoint`` is called before each primitive (and between the steps of writing a temp file); it does
    nothing here. The fault-injection tests override it to stop the run at every point, as a crash or a
    SIGKILL would. Cleanup after ordinary errors happens in ``except Exception`` blocks, so a simulated crash
    (a ``BaseException``) leaves the files exactly as a real crash would.
    """

    def checkpoint(self, what: str) -> None:
        """Called before each file operation; a hook for tests."""

    def _temp_name(self, directory: str, stem: str) -> str:
        return os.path.join(directory, f".{stem}.{secrets.token_hex(6)}{TEMP_SUFFIX}")

    def write_temp(self, directory: str, stem: str, data: bytes, *, mode: int, uid: int, gid: int) -> str:
        """A new temp file in ``directory`` holding ``data``, fsynced, with ``mode`` and owner set."""
        self.checkpoint(f"create a temp file for {stem}")
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{stem}.", suffix=TEMP_SUFFIX)
        try:
            with os.fdopen(fd, "wb") as handle:
                self.checkpoint(f"write {tmp}")
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            self.checkpoint(f"set owner and mode of {tmp}")
            set_owner(tmp, uid, gid)
            os.chmod(tmp, mode)
        except Exception:
            unlink_quietly(tmp)
            raise
        return tmp

    def clone_to_temp(self, src: str, stem: str, *, sha256: str, copy: bool = False) -> str:
        """A temp file beside ``src`` with its exact bytes: a hard link (same inode: mode, owner and extended
        attributes included), or with ``copy`` (or where links are refused) a fsynced copy with the same mode
        and owner. The result's checksum is verified."""
        directory = os.path.dirname(src)
        tmp = None
        if not copy:
            tmp = self._temp_name(directory, stem)
            self.checkpoint(f"hard-link {src} to {tmp}")
            try:
                os.link(src, tmp)
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                    raise
                tmp = None
        if tmp is None:
            source = os.stat(src)
            self.checkpoint(f"create a temp copy of {src}")
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{stem}.", suffix=TEMP_SUFFIX)
            try:
                with os.fdopen(fd, "wb") as out, open(src, "rb") as handle:
                    self.checkpoint(f"copy {src} to {tmp}")
                    for chunk in iter(lambda: handle.read(CHUNK), b""):
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                self.checkpoint(f"set owner and mode of {tmp}")
                set_owner(tmp, source.st_uid, source.st_gid)
                os.chmod(tmp, stat.S_IMODE(source.st_mode))
            except Exception:
                unlink_quietly(tmp)
                raise
        try:
            got = sha256_file(tmp)
            if got != sha256:
                raise HostbridgeError(f"The copy {tmp} of {src} has sha256 {got}, expected {sha256}; nothing was "
                                      "replaced.", path=src)
        except Exception:
            unlink_quietly(tmp)
            raise
        return tmp

    def rename(self, src: str, dst: str) -> None:
        """Atomically put ``src`` in place of ``dst`` (same directory)."""
        self.checkpoint(f"rename {src} to {dst}")
        os.rename(src, dst)
        # rename(2) between two hard links of one file does nothing and leaves ``src``: finish the job.
        if os.path.lexists(src) and os.path.samefile(src, dst):
            os.unlink(src)
        fsync_directory(os.path.dirname(dst))

    def unlink(self, path: str) -> None:
        self.checkpoint(f"remove {path}")
        os.unlink(path)
        fsync_directory(os.path.dirname(path))


def set_owner(path: str, uid: int, gid: int) -> None:
    current = os.lstat(path)
    if (current.st_uid, current.st_gid) == (uid, gid):
        return
    try:
        os.chown(path, uid, gid)
    except PermissionError as exc:
        raise HostbridgeError(f"Cannot give {path} the owner {uid}:{gid} of the original hyperkit "
                              f"({exc.strerror}); run the module as root (become: true).", path=path) from exc


def unlink_quietly(path: str | None) -> None:
    if path:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


@dataclasses.dataclass(frozen=True)
class FileInfo:
    path: str
    head: bytes  # the first HEAD bytes
    small: bytes | None  # the whole content when at most SMALL bytes
    sha256: str
    size: int
    mode: int
    uid: int
    gid: int

    @property
    def is_script(self) -> bool:
        return self.head.startswith(b"#!")

    @property
    def marker(self) -> Marker | None:
        return parse_marker(self.head)

    def text(self) -> str:
        """The file as text (for our shims, which are small)."""
        return (self.small if self.small is not None else self.head).decode("utf-8", "replace")


def inspect(path: str) -> FileInfo | None:
    """What is at ``path`` (not following a final symlink), or None. Anything but a regular file is refused."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        kind = "a symlink" if stat.S_ISLNK(info.st_mode) else "not a regular file"
        raise HostbridgeError(f"{path} is {kind}; this module only ever writes regular files there, so something "
                              "else owns it. Refusing to touch it.", path=path)
    with open(path, "rb") as handle:
        head = handle.read(HEAD)
        whole = head + handle.read(SMALL + 1 - len(head)) if len(head) == HEAD else head
    small = whole if len(whole) <= SMALL else None
    return FileInfo(path=path, head=head, small=small, sha256=sha256_file(path), size=info.st_size,
                    mode=info.st_mode, uid=info.st_uid, gid=info.st_gid)


def is_prefix_of(candidate: str, path: str | None) -> bool:
    """Whether ``candidate``'s bytes are the beginning (or all) of ``path``'s."""
    if path is None or not os.path.isfile(path):
        return False
    with open(candidate, "rb") as small, open(path, "rb") as big:
        while True:
            chunk = small.read(CHUNK)
            if not chunk:
                return True
            if big.read(len(chunk)) != chunk:
                return False
