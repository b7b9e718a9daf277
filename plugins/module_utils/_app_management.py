# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""macOS App Management (13 Ventura and later): who may change a notarized app such as Docker.app.

From macOS 13 a process that is not signed by the app's developer may change a notarized app only with the "App
Management" (or "Full Disk Access") permission of the process macOS holds responsible for it; otherwise the change
fails with EPERM, even as root (WWDC 2022 "What's new in privacy", quoted in Jeff Johnson's "How macOS Ventura App
Management works and doesn't work", lapcatsoftware.com, 2022-10-24, which also shows Full Disk Access implying it;
elastic/elastic-agent issue #2103: `chown ... .app: operation not permitted` on Ventura from a terminal without Full
Disk Access). The responsible process is the app or job at the top of the process tree: the terminal app, the
LaunchDaemon's program (for a script, its interpreter: artginzburg/sudo-touchid issue #8 grants /bin/bash), and
for SSH sessions `sshd-keygen-wrapper`, which the Remote Login setting "Allow full disk access for remote users"
covers (lima-vm/lima issue #4754).

Here: naming that process from ``ps`` (read only when a change was refused, or by bridge_facts), the message, and
the one permission probe there is without a prompt (reading the user's TCC database needs Full Disk Access).
"""

from __future__ import annotations

import dataclasses
import os
import re
import typing as t

from ansible_collections.dockermac.hostbridge.plugins.module_utils._types import Runner

SSH_WRAPPER = "/usr/libexec/sshd-keygen-wrapper"
PULL_JOB_ENV = "DOCKERMAC_HOSTBRIDGE_PULL_JOB"  # set in the pull role's LaunchDaemon (roles/pull/vars/main.yml)
TCC_DB = os.path.join("Library", "Application Support", "com.apple.TCC", "TCC.db")
FIRST_MACOS = 13
_SSHD = re.compile(r"^(?:\S*/)?sshd(?:-session|-keygen-wrapper)?(?::|\s|$)")
_PS_LINE = re.compile(r"^\s*(\d+)\s+(\d+)\s+(.*)$")

# App Management's place in System Settings (macOS 13+).
_SETTING = "System Settings > Privacy & Security > App Management (or Full Disk Access)"


@dataclasses.dataclass(frozen=True)
class Responsible:
    kind: str  # "ssh", "job", "app", "program" or "unknown"
    program: str | None  # the path to grant the permission to

    def describe(self) -> str:
        if self.kind == "ssh":
            return (f"This run came over SSH, so macOS holds sshd-keygen-wrapper ({SSH_WRAPPER}) responsible: turn on "
                    "System Settings > General > Sharing > Remote Login (i) > \"Allow full disk access for remote "
                    f"users\", or add {SSH_WRAPPER} under System Settings > Privacy & Security > Full Disk Access")
        if self.kind == "job":
            return (f"This run came from the ansible-pull LaunchDaemon, whose program is {self.program}: add that "
                    f"program under {_SETTING}")
        if self.kind == "app":
            return f"This run was started from {self.program}: turn it on for that app under {_SETTING}"
        if self.kind == "program":
            return f"This run was started by {self.program} (below launchd): add it under {_SETTING}"
        return ("Grant it to the program this run came from: over SSH to sshd-keygen-wrapper (Remote Login > "
                "\"Allow full disk access for remote users\"), from a terminal to that terminal app, from the "
                f"ansible-pull LaunchDaemon to the program it runs - under {_SETTING}")


def macos_major(version: str | None) -> int | None:
    try:
        return int((version or "").split(".")[0])
    except ValueError:
        return None


def parse_ps(text: str) -> dict[int, tuple[int, str]]:
    """``ps -axo pid=,ppid=,command=`` as {pid: (ppid, command line)}."""
    table = {}
    for line in text.splitlines():
        match = _PS_LINE.match(line)
        if match:
            table[int(match[1])] = (int(match[2]), match[3].strip())
    return table


def responsible(table: dict[int, tuple[int, str]], pid: int, environ: t.Mapping[str, str]) -> Responsible:
    """The process macOS holds responsible for ``pid``: its ancestor right below launchd (pid 1), or sshd's
    wrapper for an SSH session anywhere in the chain."""
    chain: list[str] = []
    top = None
    seen: set[int] = set()
    while pid in table and pid not in seen and pid > 1:
        seen.add(pid)
        parent, command = table[pid]
        chain.append(command)
        top = command
        pid = parent
    if any(_SSHD.match(command) for command in chain):
        return Responsible("ssh", SSH_WRAPPER)
    if top is None:
        return Responsible("unknown", None)
    program = top.split(" ", 1)[0]
    if environ.get(PULL_JOB_ENV) or any("ansible-pull" in command for command in chain):
        return Responsible("job", program)
    app = re.match(r"^(.*?\.app)/Contents/MacOS/", top)
    if app:
        return Responsible("app", app[1])
    return Responsible("program", program)


def find_responsible(runner: Runner, *, pid: int, environ: t.Mapping[str, str]) -> Responsible:
    if not runner.which("ps", required=False):
        return Responsible("unknown", None)
    result = runner.run(["ps", "-axo", "pid=,ppid=,command="], check=False)
    if result.rc != 0:
        return Responsible("unknown", None)
    return responsible(parse_ps(result.stdout), pid, environ)


def refused_message(path: str, who: Responsible) -> str:
    """Why a change of a notarized bundle failed with EPERM, and the exact fix."""
    return (f"macOS refused to change {path} (EPERM, Operation not permitted, even as root): from macOS 13 a "
            "notarized app such as Docker.app may be changed only by a process whose responsible program has the "
            f"App Management (or Full Disk Access) permission. {who.describe()}. Then run again.")


def probe(home: str | None, macos: str | None) -> str:
    """``not_required`` (before macOS 13), ``full_disk_access`` (this process can read the user's TCC database,
    which only Full Disk Access allows: a change of the bundle is allowed), else ``unknown`` (App Management
    itself cannot be read without a prompt: a change may be refused with EPERM)."""
    major = macos_major(macos)
    if major is not None and major < FIRST_MACOS:
        return "not_required"
    if not home:
        return "unknown"
    try:
        with open(os.path.join(home, TCC_DB), "rb") as handle:
            handle.read(16)
    except OSError:
        return "unknown"
    return "full_disk_access"
