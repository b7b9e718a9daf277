# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Boot-time persistence on Linux: a oneshot systemd unit in /etc/systemd/system, enabled.

Only used where systemd runs (``/run/systemd/system`` exists, as ``sd_booted(3)`` checks). The unit is
written atomically under a directory lock (root:root 0644), ``systemctl daemon-reload`` makes systemd see
it, ``systemctl enable`` links it into its target. It is not started: the module has already made the
change, the unit repeats it at the next boot.
"""

from __future__ import annotations

import os
import re
import typing as t

from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.plugins.module_utils._files import (
    directory_lock,
    read_bytes,
    remove_file,
    write_atomic,
)
from ansible_collections.dockermac.hostbridge.plugins.module_utils._types import Module, Runner

SYSTEMD_RUN_DIR = "/run/systemd/system"
UNIT_DIR = "/etc/systemd/system"
UNIT_MODE = 0o644
_PLAIN_ARG = re.compile(r"^[A-Za-z0-9_./:@=+,-]+$")


def systemd_running(run_dir: str | None = None) -> bool:
    return os.path.isdir(run_dir or SYSTEMD_RUN_DIR)


def exec_line(argv: t.Sequence[str]) -> str:
    """One ``ExecStart=`` value: plain words as they are, anything else double-quoted with systemd escapes."""
    words = []
    for arg in argv:
        if _PLAIN_ARG.match(arg):
            words.append(arg)
        else:
            escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
            if "\n" in escaped:
                raise HostbridgeError(f"Cannot put a newline in a systemd command line: {arg!r}", value=arg)
            words.append(f'"{escaped}"')
    return " ".join(words)


def render_oneshot(*, description: str, commands: t.Sequence[t.Sequence[str]], wanted_by: str = "multi-user.target",
                   after: t.Sequence[str] = ("network-pre.target",),
                   before: t.Sequence[str] = ("network-online.target", "docker.service"),
                   header: str = "") -> bytes:
    """A oneshot service that runs ``commands`` in order at boot and stays "active" afterwards."""
    if not commands:
        raise HostbridgeError("A oneshot unit needs at least one command")
    for argv in commands:
        if not argv or not argv[0].startswith("/"):
            raise HostbridgeError(f"systemd ExecStart wants an absolute program path, not {list(argv)!r}")
    lines = [f"# {line}" for line in header.splitlines()]
    lines += ["[Unit]", f"Description={description}"]
    if after:
        lines.append("After=" + " ".join(after))
    if before:
        lines.append("Before=" + " ".join(before))
    lines += ["", "[Service]", "Type=oneshot", "RemainAfterExit=yes"]
    lines += [f"ExecStart={exec_line(argv)}" for argv in commands]
    lines += ["", "[Install]", f"WantedBy={wanted_by}", ""]
    return "\n".join(lines).encode("utf-8")


class UnitPlan(t.NamedTuple):
    unit: str
    path: str
    before: bytes | None
    after: bytes | None
    write: bool
    enable: bool
    disable: bool
    delete: bool

    @property
    def changed(self) -> bool:
        return self.write or self.enable or self.disable or self.delete


class SystemdUnit:
    """Writes, enables, disables and removes unit files in /etc/systemd/system."""

    def __init__(self, runner: Runner, module: Module, *, unit_dir: str | None = None) -> None:
        self._runner = runner
        self._module = module
        self._unit_dir = unit_dir or UNIT_DIR

    def path(self, unit: str) -> str:
        return os.path.join(self._unit_dir, unit)

    def _checked_path(self, unit: str) -> str:
        path = self.path(unit)
        if os.path.islink(path):
            raise HostbridgeError(f"{path} is a symlink; refusing to write or remove a unit through it", path=path)
        return path

    def enabled(self, unit: str) -> bool:
        return self._runner.run(["systemctl", "is-enabled", "--quiet", unit], check=False).rc == 0

    def plan_ensure(self, unit: str, content: bytes) -> UnitPlan:
        path = self._checked_path(unit)
        before = read_bytes(path)
        return UnitPlan(unit=unit, path=path, before=before, after=content, write=before != content,
                        enable=not self.enabled(unit), disable=False, delete=False)

    def plan_remove(self, unit: str) -> UnitPlan:
        path = self._checked_path(unit)
        before = read_bytes(path)
        enabled = before is not None and self.enabled(unit)
        return UnitPlan(unit=unit, path=path, before=before, after=None, write=False, enable=False,
                        disable=enabled, delete=before is not None)

    def apply(self, plan: UnitPlan) -> None:
        if plan.disable:
            self._runner.run(["systemctl", "disable", plan.unit], what=f"systemctl disable {plan.unit}")
        if plan.write or plan.delete:
            with directory_lock(plan.path):
                if plan.delete:
                    remove_file(plan.path)
                elif plan.after is not None:
                    write_atomic(self._module, plan.path, plan.after, mode=UNIT_MODE)
            self._runner.run(["systemctl", "daemon-reload"], what="systemctl daemon-reload")
        if plan.enable:
            self._runner.run(["systemctl", "enable", plan.unit], what=f"systemctl enable {plan.unit}")
