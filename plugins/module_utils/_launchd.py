# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Root LaunchDaemons on macOS: author the plist, write it safely, load or unload it with launchctl.

``LaunchDaemon(runner, module).ensure(label=..., program_arguments=[...])`` writes
``/Library/LaunchDaemons/<label>.plist`` (root:wheel 0644, or launchd refuses it with "Path had bad
ownership/permissions") atomically under a directory lock and bootstraps it into the system domain; a
changed plist of a loaded job is booted out first. ``remove(label)`` boots it out and deletes the file.
``plan_ensure``/``plan_remove`` compute the change without making it (check mode, diff), ``apply`` makes it.

The launchd rules every LaunchDaemon of the collection follows (tests/fixtures/darwin/SOURCES.md cites them):
``bootout`` returns before the job is gone, and a ``bootstrap`` of the same label meanwhile fails with
"5: Input/output error", so a bootout is followed by a bounded wait until ``launchctl print`` no longer finds
the label; a label left disabled (an old ``unload -w``, ``launchctl disable``, or the Login Items "Allow in the
Background" switch) refuses ``bootstrap``, so ``launchctl enable`` comes first, and a bootstrap that still fails
for a disabled label says which switch to turn on.
"""

from __future__ import annotations

import grp
import os
import plistlib
import pwd
import re
import time
import typing as t

from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.plugins.module_utils._files import (
    directory_lock,
    read_bytes,
    remove_file,
    write_atomic,
)
from ansible_collections.dockermac.hostbridge.plugins.module_utils._types import Module, Runner
from ansible_collections.dockermac.hostbridge.plugins.module_utils._validation import launchd_label

LAUNCH_DAEMONS_DIR = "/Library/LaunchDaemons"
PLIST_MODE = 0o644
PLIST_OWNER = "root"
PLIST_GROUP = "wheel"  # macOS has no "root" group
# After `launchctl bootout`, how long to wait for launchd to let go of the label (it took 3 to 5 s in reports).
BOOTOUT_WAIT_SECONDS = 15.0
POLL_SECONDS = 0.5
# `bootstrap` answering "Input/output error" (5) is tried this many times in all, RETRY_SECONDS apart.
BOOTSTRAP_ATTEMPTS = 3
RETRY_SECONDS = 2.0
BACKGROUND_SWITCH = "System Settings > General > Login Items > Allow in the Background"
# `launchctl print-disabled system`: `"label" => disabled` (macOS 13+) or `"label" => true` (before).
_DISABLED_LINE = re.compile(r'^\s*"([^"]+)"\s*=>\s*(\S+)\s*$')


def validate_label(value: t.Any, *, field: str) -> str:
    """A reverse-DNS job label (``com.example.thing``): letters, digits, '.', '_' and '-' only."""
    return launchd_label(value, field=field)


class LaunchDaemonPlan(t.NamedTuple):
    label: str
    path: str
    before: bytes | None  # the plist on disk now (None: no file)
    after: bytes | None  # the plist wanted (None: no file)
    write: bool  # content differs: write it
    fix_perms: bool  # content right but owner/mode wrong: rewrite it with the right ones
    bootout: bool  # unload the loaded job (changed content, or removal)
    bootstrap: bool  # load the job from the plist
    delete: bool

    @property
    def changed(self) -> bool:
        return self.write or self.fix_perms or self.bootout or self.bootstrap or self.delete


class LaunchDaemon:
    """Authors, loads and removes root LaunchDaemons."""

    def __init__(self, runner: Runner, module: Module, *, directory: str | None = None,
                 owner: str | None = None, group: str | None = None,
                 sleep: t.Callable[[float], None] | None = None) -> None:
        self._runner = runner
        self._module = module
        self._sleep = sleep if sleep is not None else time.sleep
        self._directory = directory or LAUNCH_DAEMONS_DIR
        self._owner = owner or PLIST_OWNER
        self._group = group or PLIST_GROUP

    # --- pure parts -------------------------------------------------------------------------------------
    def path(self, label: str) -> str:
        return os.path.join(self._directory, f"{label}.plist")

    @staticmethod
    def render(*, label: str, program_arguments: t.Sequence[str], run_at_load: bool = True,
               keep_alive: bool | dict[str, t.Any] | None = None, start_interval: int | None = None,
               watch_paths: t.Sequence[str] | None = None, standard_out_path: str | None = None,
               standard_error_path: str | None = None, extra: dict[str, t.Any] | None = None) -> bytes:
        """The plist bytes (XML, keys sorted so equal input gives equal bytes), validated by a round trip."""
        validate_label(label, field="label")
        args = list(program_arguments)
        if not args or not all(isinstance(a, str) and a for a in args):
            raise HostbridgeError(f"program_arguments: {args!r} must be a non-empty list of non-empty strings",
                                  field="program_arguments", value=args)
        if not args[0].startswith("/"):
            raise HostbridgeError(f"program_arguments: {args[0]!r} must be an absolute path (launchd has no PATH "
                                  "search for root daemons worth relying on)",
                                  field="program_arguments", value=args)
        doc: dict[str, t.Any] = dict(extra or {})
        doc.update(Label=label, ProgramArguments=args, RunAtLoad=bool(run_at_load))
        if keep_alive is not None:
            doc["KeepAlive"] = keep_alive
        if start_interval is not None:
            if int(start_interval) <= 0:
                raise HostbridgeError(f"start_interval: {start_interval!r} must be a positive number of seconds",
                                      field="start_interval", value=start_interval)
            doc["StartInterval"] = int(start_interval)
        if watch_paths:
            doc["WatchPaths"] = list(watch_paths)
        if standard_out_path:
            doc["StandardOutPath"] = standard_out_path
        if standard_error_path:
            doc["StandardErrorPath"] = standard_error_path
        try:
            data = plistlib.dumps(doc, fmt=plistlib.FMT_XML, sort_keys=True)
            back = plistlib.loads(data)
        except (TypeError, ValueError, OverflowError) as exc:
            raise HostbridgeError(f"Cannot build the LaunchDaemon plist for {label}: {exc}", label=label) from exc
        if back.get("Label") != label or back.get("ProgramArguments") != args:
            raise HostbridgeError(f"The LaunchDaemon plist for {label} did not survive a round trip", label=label)
        return data

    # --- host state -----------------------------------------------------------------------------------
    def loaded(self, label: str) -> bool:
        """Whether launchd has the job in the system domain (``launchctl print`` exits 0 then)."""
        return self._runner.run(["launchctl", "print", f"system/{label}"], check=False).rc == 0

    def disabled(self, label: str) -> bool:
        """Whether the system domain's overrides mark the label disabled (``launchctl print-disabled system``)."""
        result = self._runner.run(["launchctl", "print-disabled", "system"], check=False)
        for line in result.stdout.splitlines():
            match = _DISABLED_LINE.match(line)
            if match and match.group(1) == label:
                return match.group(2) in ("disabled", "true")
        return False

    def _checked_path(self, label: str) -> str:
        validate_label(label, field="label")
        path = self.path(label)
        if os.path.islink(path):
            raise HostbridgeError(f"{path} is a symlink; refusing to write or remove a LaunchDaemon through it "
                                  "(launchd wants a plain root-owned file)", path=path)
        if not os.path.isdir(self._directory):
            raise HostbridgeError(f"{self._directory} does not exist; cannot manage LaunchDaemon {label}",
                                  path=path)
        return path

    def _perms_wrong(self, path: str) -> bool:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return False
        if st.st_mode & 0o7777 != PLIST_MODE:
            return True
        return st.st_uid != _uid(self._owner) or st.st_gid != _gid(self._group)

    def plan_ensure(self, *, label: str, program_arguments: t.Sequence[str], **options: t.Any) -> LaunchDaemonPlan:
        after = self.render(label=label, program_arguments=program_arguments, **options)
        path = self._checked_path(label)
        before = read_bytes(path)
        loaded = self.loaded(label)
        write = before != after
        return LaunchDaemonPlan(
            label=label, path=path, before=before, after=after, write=write,
            fix_perms=not write and self._perms_wrong(path),
            bootout=loaded and write, bootstrap=write or not loaded, delete=False,
        )

    def plan_remove(self, label: str) -> LaunchDaemonPlan:
        path = self._checked_path(label)
        before = read_bytes(path)
        loaded = self.loaded(label)
        return LaunchDaemonPlan(label=label, path=path, before=before, after=None, write=False, fix_perms=False,
                                bootout=loaded, bootstrap=False, delete=before is not None)

    # --- changes ----------------------------------------------------------------------------------------
    def apply(self, plan: LaunchDaemonPlan) -> None:
        if plan.bootout:
            self.bootout(plan.label)
        if plan.write or plan.fix_perms or plan.delete:
            with directory_lock(plan.path):
                if os.path.islink(plan.path):  # re-checked under the lock
                    raise HostbridgeError(f"{plan.path} became a symlink; refusing to follow it", path=plan.path)
                if plan.delete:
                    remove_file(plan.path)
                elif plan.after is not None:
                    write_atomic(self._module, plan.path, plan.after, mode=PLIST_MODE, owner=self._owner,
                                 group=self._group)
        if plan.bootstrap:
            self.bootstrap(plan.label, plan.path)

    def bootout(self, label: str) -> None:
        """Unload the job, then wait (bounded) until launchd no longer knows the label."""
        target = f"system/{label}"
        argv = ["launchctl", "bootout", target]
        result = self._runner.run(argv, check=False)
        # 3 "No such process" / 113 "Could not find service": gone already; 36 "Operation now in progress": going.
        if result.rc not in (0, 3, 36, 113):
            raise HostbridgeError(
                f"launchctl bootout {target} failed (rc={result.rc}): {(result.stderr or result.stdout).strip()}",
                cmd=argv, rc=result.rc, stdout=result.stdout, stderr=result.stderr)
        waited = 0.0
        while self.loaded(label):
            if waited >= BOOTOUT_WAIT_SECONDS:
                raise HostbridgeError(
                    f"launchd still has {target} {BOOTOUT_WAIT_SECONDS:g}s after `launchctl bootout` (its program "
                    f"may ignore SIGTERM). Check `sudo launchctl print {target}`, stop the job's program, then run the "
                    "task again.", label=label)
            self._sleep(POLL_SECONDS)
            waited += POLL_SECONDS

    def bootstrap(self, label: str, path: str) -> None:
        """``launchctl enable`` then ``bootstrap``; "Input/output error" is retried (bounded), then explained."""
        target = f"system/{label}"
        self._runner.run(["launchctl", "enable", target], what=f"launchctl enable {target}")
        argv = ["launchctl", "bootstrap", "system", path]
        disabled = False
        for attempt in range(1, BOOTSTRAP_ATTEMPTS + 1):
            result = self._runner.run(argv, check=False)
            if result.rc == 0:
                return
            io_error = result.rc == 5 or "Input/output error" in result.stderr + result.stdout
            if not io_error:
                break
            disabled = self.disabled(label)
            if disabled or attempt == BOOTSTRAP_ATTEMPTS:
                break
            self._sleep(RETRY_SECONDS)
        detail = (result.stderr or result.stdout).strip()
        if disabled:
            why = (f"{label} is disabled for launchd even after `launchctl enable {target}`: on macOS 13 and later "
                   f"that is the Login Items switch. Turn it on in {BACKGROUND_SWITCH} (the item named after the "
                   "program or \"sh\"), or allow the label with a configuration profile (com.apple.servicemanagement), "
                   "then run the task again.")
        elif io_error:
            why = (f"launchd refused it {BOOTSTRAP_ATTEMPTS} times. Causes seen: the previous instance still being "
                   f"removed (wait and run the task again), the label disabled in {BACKGROUND_SWITCH}, or a plist "
                   f"launchd rejects (check it is root:wheel 0644 and `plutil -lint {path}` accepts it); "
                   "`sudo launchctl bootstrap system <plist>` run by hand, or the system log, names the reason.")
        else:
            why = f"Check the file is root:wheel 0644 and `plutil -lint {path}` accepts it."
        raise HostbridgeError(f"launchctl bootstrap system {path} failed (rc={result.rc}): {detail}. {why}",
                              cmd=argv, rc=result.rc, stdout=result.stdout, stderr=result.stderr)

    def ensure(self, *, label: str, program_arguments: t.Sequence[str], check_mode: bool = False,
               **options: t.Any) -> bool:
        """Make the job exist with exactly this content and be loaded; returns whether anything changed."""
        plan = self.plan_ensure(label=label, program_arguments=program_arguments, **options)
        if plan.changed and not check_mode:
            self.apply(plan)
        return plan.changed

    def remove(self, label: str, *, check_mode: bool = False) -> bool:
        """Unload the job and delete its plist; returns whether anything changed."""
        plan = self.plan_remove(label)
        if plan.changed and not check_mode:
            self.apply(plan)
        return plan.changed


def _uid(name: str) -> int:
    try:
        return int(name) if name.isdigit() else pwd.getpwnam(name).pw_uid
    except KeyError:
        raise HostbridgeError(f"No user {name!r} on this host to own the LaunchDaemon plist") from None


def _gid(name: str) -> int:
    try:
        return int(name) if name.isdigit() else grp.getgrnam(name).gr_gid
    except KeyError:
        raise HostbridgeError(f"No group {name!r} on this host to own the LaunchDaemon plist") from None
