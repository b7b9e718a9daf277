# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Trusted paths: whether a file a root job runs or reads is out of reach of every account but root.

The rule is sshd's StrictModes (OpenSSH ``misc.c`` ``safe_path``): the file and every directory above it up to
``/`` are owned by root (uid 0) and writable by neither group nor others. Each symlink on the way is a hop of its
own: the link must be root's, and its target is walked the same way (``/etc`` -> ``private/etc`` on macOS).

One relaxation, as narrow as the rule it rests on: a root-owned directory with the sticky bit (``/tmp``) may be
writable by others when what follows it exists and is root's, because in a sticky directory "a file ... may only
be removed or renamed by a user if the user ... is the owner of the file, the owner of the directory, or the
super-user" (macOS ``sticky(7)``; Linux ``inode(7)``, S_ISVTX). A missing name in such a directory is refused
(anyone could create it first).

No other owner is accepted, not even macOS system accounts: none of the paths the collection's jobs use needs one.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
import typing as t

from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError

MAX_LINKS = 40  # as the kernels' ELOOP limit


class Finding(t.NamedTuple):
    """One hop that fails: the path, its owner and mode, why, and the command that fixes it."""

    path: str
    owner: str
    mode: str
    why: str
    fix: str

    def __str__(self) -> str:
        return f"{self.path} (owner {self.owner}, mode {self.mode}) {self.why}"


class Report(t.NamedTuple):
    path: str
    exists: bool
    findings: list[Finding]
    owner: str | None = None  # of the file the path leads to (symlinks followed), when it exists

    @property
    def trusted(self) -> bool:
        return not self.findings

    def as_fact(self) -> dict[str, t.Any]:
        return {"path": self.path, "exists": self.exists, "trusted": self.trusted, "owner": self.owner,
                "problems": [str(f) for f in self.findings], "fixes": [f.fix for f in self.findings]}


class _Stat(t.Protocol):
    @property
    def st_mode(self) -> int: ...

    @property
    def st_uid(self) -> int: ...

    @property
    def st_gid(self) -> int: ...


def _name(uid: int) -> str:
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return f"gid {gid}"


def _judge(path: str, info: _Stat, *, last: bool) -> Finding | None:
    mode = stat.S_IMODE(info.st_mode)
    owner, shown = _name(info.st_uid), f"{mode:04o}"
    if info.st_uid != 0:
        return Finding(path, owner, shown, "is not owned by root: that account can replace what a root job runs",
                       f"sudo chown root {path}")
    if stat.S_ISLNK(info.st_mode):
        return None  # a link's own mode means nothing; its target is walked next
    writable = mode & (stat.S_IWGRP | stat.S_IWOTH)
    if not writable:
        return None
    if stat.S_ISDIR(info.st_mode) and mode & stat.S_ISVTX and not last:
        return None  # sticky: only root may rename or remove the root-owned entry that follows (checked next)
    by = " and ".join(([f"group {_group(info.st_gid)}"] if mode & stat.S_IWGRP else [])
                      + (["others"] if mode & stat.S_IWOTH else []))
    return Finding(path, owner, shown, f"is writable by {by}: they can replace what a root job runs",
                   f"sudo chmod go-w {path}")


def check(path: str, *, lstat: t.Callable[[str], _Stat] = os.lstat,
          readlink: t.Callable[[str], str] = os.readlink) -> Report:
    """Walk ``path`` from ``/`` hop by hop (symlinks followed, each link and target judged). A missing tail is
    fine (root creates it) unless its parent is writable by others."""
    if not path.startswith("/"):
        return Report(path, False, [Finding(path, "-", "-", "is not an absolute path", "give an absolute path")])
    findings: list[Finding] = []
    todo = path.split("/")
    current, links, exists, parent_open = "/", 0, True, False
    info = lstat("/")
    found = _judge("/", info, last=not any(todo))
    findings += [found] if found else []
    while todo:
        name = todo.pop(0)
        if name in ("", "."):
            continue
        if name == "..":
            current = os.path.dirname(current)
            continue
        hop = os.path.join(current, name)
        try:
            info = lstat(hop)
        except FileNotFoundError:
            exists = False
            if parent_open:
                findings.append(Finding(hop, "-", "-", "does not exist, in a directory others can write to: anyone "
                                        "can create it first", f"sudo mkdir -m 0755 {hop}, or choose another path"))
            break
        found = _judge(hop, info, last=not any(p not in ("", ".") for p in todo))
        findings += [found] if found else []
        parent_open = stat.S_ISDIR(info.st_mode) and bool(stat.S_IMODE(info.st_mode) & stat.S_IWOTH)
        if stat.S_ISLNK(info.st_mode):
            links += 1
            if links > MAX_LINKS:
                findings.append(Finding(hop, "-", "-", "has too many levels of symbolic links", "fix the links"))
                break
            target = readlink(hop)
            todo = target.split("/") + todo
            current = "/" if target.startswith("/") else current
        else:
            current = hop
    unique = list(dict.fromkeys(findings))
    return Report(path, exists, unique, _name(info.st_uid) if exists else None)


def interpreter(path: str) -> str | None:
    """The program of a ``#!`` line (a root job running a script runs that too), or None."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(256)
    except OSError:
        return None
    if not head.startswith(b"#!"):
        return None
    words = head[2:].split(b"\n", 1)[0].split()
    return os.fsdecode(words[0]) if words else None


def require(paths: t.Iterable[str], *, what: str, **kwargs: t.Any) -> None:
    """Raise naming every hop that fails (path, owner, mode, why) and the fix; nothing when all are trusted."""
    findings = [f for p in dict.fromkeys(paths) for f in check(p, **kwargs).findings]
    if findings:
        raise HostbridgeError(
            f"{what}: refusing, because a root job would run or read a file that an account other than root can "
            f"change: {'; '.join(map(str, findings))}. Fix: {'; '.join(dict.fromkeys(f.fix for f in findings))} "
            "(or choose paths under root-owned directories). See docs/security.md, trusted paths.",
            untrusted=[f._asdict() for f in findings])
