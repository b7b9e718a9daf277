# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Safe file changes: read, compute in memory, write a temp file beside the target, fsync, rename.

A reader sees either the old or the new content, never a partial file; the target's owner and mode are
kept; a failure (disk full, permission) leaves the original intact and removes the temp file.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import tempfile
import typing as t

from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import BECOME_HINT, HostbridgeError
from ansible_collections.dockermac.hostbridge.plugins.module_utils._types import Module

TEMP_SUFFIX = ".hostbridge.tmp"


def read_bytes(path: str) -> bytes | None:
    """The file's bytes, or None when it does not exist."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise HostbridgeError(f"Cannot read {path}: {exc.strerror}", path=path) from exc


@contextlib.contextmanager
def directory_lock(path: str) -> t.Iterator[None]:
    """Exclusive advisory lock serialising our writers of files in ``path``'s directory.

    The directory itself is locked (flock works on directory descriptors on Linux and macOS), so no lock
    file is left behind and the lock survives the rename that replaces the target.
    """
    directory = os.path.dirname(os.path.abspath(path)) or "/"
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError as exc:
        raise HostbridgeError(f"Cannot open directory {directory} to lock it: {exc.strerror}", path=path) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def write_atomic(
    module: Module,
    path: str,
    data: bytes,
    *,
    mode: int | None = None,
    owner: str | None = None,
    group: str | None = None,
    unsafe_writes: bool = False,
) -> None:
    """Replace ``path`` with ``data`` atomically.

    An existing file keeps its owner, group and mode unless ``mode``/``owner``/``group`` say otherwise; a
    new file gets them (or the umask default). ``unsafe_writes`` lets ``atomic_move`` fall back to an
    in-place write where rename is impossible (a bind-mounted /etc/hosts in a container).
    A symlinked ``path`` is written through (its target is replaced, the link stays): callers that must
    confine the target check it first with ``resolve_inside``.
    Call it under ``directory_lock``: temp files of ``path`` left by a killed earlier write are removed first.
    """
    path = os.path.realpath(path)
    directory = os.path.dirname(path)
    remove_stale_temps(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=TEMP_SUFFIX)
    except OSError as exc:
        raise cannot_write(path, exc) from exc
    try:
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            if mode is not None:
                # mkstemp makes 0600; a new file must not appear with it, even if the run dies right after the
                # rename (a re-run that finds the right content writes nothing, so would never fix the mode).
                os.chmod(tmp, mode)
        except OSError as exc:
            hint = " (disk full)" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else ""
            raise HostbridgeError(
                f"Cannot write a new version of {path}{hint}: {exc.strerror}. The original file is unchanged.",
                path=path,
            ) from exc
        module.atomic_move(tmp, path, unsafe_writes=unsafe_writes)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    if owner is not None:
        module.set_owner_if_different(path, owner, False)
    if group is not None:
        module.set_group_if_different(path, group, False)
    if mode is not None:
        module.set_mode_if_different(path, mode, False)
    fsync_directory(directory)


def cannot_write(path: str, exc: OSError) -> HostbridgeError:
    """The error for a file that cannot be written beside ``path`` (its temp file, its backup): without root, it
    says to use become."""
    denied = exc.errno in (errno.EACCES, errno.EPERM) and os.geteuid() != 0
    hint = " " + BECOME_HINT.format(uid=os.geteuid()) if denied else ""
    return HostbridgeError(f"Cannot write {path}: {exc.strerror} (creating a file in {os.path.dirname(path)})."
                           f"{hint} The original file is unchanged.", path=path)


def check_writable(path: str) -> None:
    """Fail, naming ``path`` and saying to use become, unless this process may create files beside ``path`` (the
    temp file of ``write_atomic``, a backup) - before anything is written."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.geteuid() != 0 and not os.access(directory, os.W_OK):
        raise cannot_write(path, PermissionError(errno.EACCES, os.strerror(errno.EACCES)))


def remove_stale_temps(path: str) -> list[str]:
    """Remove the temp files of ``path`` that an earlier, killed ``write_atomic`` left behind.

    Only names ``write_atomic`` itself makes are matched (``.<name>.<8 mkstemp characters>.hostbridge.tmp``).
    Callers hold ``directory_lock``, so no other writer of ours is between its mkstemp and its rename.
    """
    directory, name = os.path.split(path)
    pattern = re.compile(re.escape(f".{name}.") + r"[a-z0-9_]{8}" + re.escape(TEMP_SUFFIX) + r"\Z")
    removed: list[str] = []
    try:
        entries = os.listdir(directory or ".")
    except OSError:
        return removed
    for entry in entries:
        if pattern.match(entry):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(directory, entry))
                removed.append(entry)
    return removed


def remove_file(path: str) -> None:
    """Delete ``path``; one that is already gone is fine, any other failure is explained."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise HostbridgeError(f"Cannot remove {path}: {exc.strerror}", path=path) from exc


def fsync_directory(directory: str) -> None:
    # Makes a rename or unlink durable; some filesystems refuse to fsync a directory, which is harmless.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def resolve_inside(path: str, root: str, *, field: str) -> str:
    """``path`` with symlinks resolved, refusing a result outside ``root`` (itself resolved)."""
    real = os.path.realpath(path)
    real_root = os.path.realpath(root)
    if os.path.commonpath([real, real_root]) != real_root:
        raise HostbridgeError(
            f"{field}: {path!r} resolves to {real!r}, outside {real_root!r}; refusing to follow that symlink.",
            path=path,
        )
    return real
