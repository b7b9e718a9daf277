"""macOS's GUI-session commands as a Linux test meets them: ``launchctl asuser``, ``sudo -u``, ``open -a`` and
``osascript`` (quit / is running), installed under their Mac paths by ``test_docker_desktop_restart.FakeMac`` (an
overlay on /usr/bin in a private mount namespace), each with a ``#!/usr/bin/python3`` line (any user can run it).

One script, dispatched on the name it is called by. What each models, and where from (docs/macos.md, "Docker
Desktop, launchd and the target Python"):

- The console user is the owner of ``/dev/console`` (Apple QA1133; ``stat -f%Su /dev/console``).
- A GUI app is reached only from the console user's GUI session: Mach bootstrap namespaces (Apple TN2083, "Daemons
  and Agents"; aahlenst.dev, "Accessing the macOS GUI in automation contexts"). A process is in it when it runs
  as the console user, or under ``launchctl asuser <console uid>`` (an ancestor process here), which only root
  may call. Root outside the session (a LaunchDaemon, ``become``): ``open`` fails with
  ``LSOpenURLsWithRole() failed with error -10810`` (the message verbatim from many public reports) and
  ``osascript`` with ``Application isn't running. (-600)``.
- ``launchctl asuser`` changes the session, not the identity (``man launchctl``): ``open`` run there as root starts
  the app as root, the wrong user; ``sudo -u <user>`` is what gives the user's identity.
- ``open -a NAME`` lets LaunchServices pick the app among the registered bundles of that name (the first line of
  ``registry`` here: an old copy on a mounted installer image); ``open -a PATH`` opens that bundle.
- "Docker Desktop" here is its VM process alone: ``<bundle>/Contents/Resources/bin/com.docker.hyperkit``, a
  ``sleep`` with that argv[0], started in a new session as the user ``open`` ran as. ``quit`` stops it.

Every call is appended to ``calls.jsonl`` (argv, euid) in the state directory.
"""

from __future__ import annotations

import json
import os
import pwd
import signal
import sys
import time

STATE = "@STATE@"  # replaced by the test fixture with its state directory
VM = "Contents/Resources/bin/com.docker.hyperkit"
DOCKER_ID = "com.docker.docker"


def log(argv: list[str]) -> None:
    with open(os.path.join(STATE, "calls.jsonl"), "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"argv": argv, "euid": os.geteuid()}) + "\n")


def console_uid() -> int:
    return os.stat("/dev/console").st_uid


def ancestors() -> list[list[str]]:
    """The argv of every ancestor process, nearest first."""
    found, pid = [], os.getppid()
    while pid > 1:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                found.append([a.decode(errors="replace") for a in handle.read().split(b"\0") if a])
            with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
                pid = int(handle.read().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return found


def in_gui_session() -> bool:
    uid = console_uid()
    if uid == 0:
        return False  # the login window: no GUI session at all
    if os.geteuid() == uid:
        return True
    wanted = ["asuser", str(uid)]
    return any(os.path.basename(argv[1]) == "launchctl" and argv[2:4] == wanted
               for argv in ancestors() if len(argv) >= 4)


def running_vm() -> int | None:
    try:
        with open(os.path.join(STATE, "vm.pid"), encoding="ascii") as handle:
            pid = int(handle.read())
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            alive = handle.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, ValueError, IndexError):
        return None
    return pid if alive else None


# --- the commands ------------------------------------------------------------------------------------------
def launchctl(args: list[str]) -> int:
    if len(args) < 3 or args[0] != "asuser":
        print(f"launchctl (fake): only 'asuser UID command...' is modelled, not {args}", file=sys.stderr)
        return 64
    if os.geteuid() != 0:
        print("Could not switch to audit session: 1: Operation not permitted", file=sys.stderr)
        return 1
    # The child inherits the session (here: this process stays its ancestor); the identity stays root.
    pid = os.fork()
    if pid == 0:
        os.execv(args[2], args[2:])  # noqa: S606 - the fake runs its argv as launchctl does
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def sudo(args: list[str]) -> int:
    user = "root"
    while args and args[0].startswith("-"):
        flag = args.pop(0)
        if flag == "--":
            break
        if flag in ("-u", "-p"):
            value = args.pop(0)
            user = value if flag == "-u" else user
    if os.geteuid() != 0:
        print("sudo: a password is required", file=sys.stderr)
        return 1
    account = pwd.getpwnam(user)
    os.setgroups([])
    os.setgid(account.pw_gid)
    os.setuid(account.pw_uid)
    os.environ.update(HOME=account.pw_dir, USER=user, LOGNAME=user)
    os.execv(args[0], args)  # noqa: S606 - the fake runs its argv as sudo does
    return 127


def open_app(args: list[str]) -> int:
    apps = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "-a"]
    if not apps:
        print("open (fake): only 'open [--background] -a APP' is modelled", file=sys.stderr)
        return 64
    app = apps[0]
    if "/" not in app:  # a name: LaunchServices picks the first registered bundle of that name
        with open(os.path.join(STATE, "registry"), encoding="utf-8") as handle:
            named = [p for p in handle.read().splitlines() if os.path.basename(p) == f"{app}.app"]
        if not named:
            print(f"Unable to find application named '{app}'", file=sys.stderr)
            return 1
        app = named[0]
    app = os.path.abspath(app)
    if not os.path.isdir(app):
        print(f"The file {app} does not exist.", file=sys.stderr)
        return 1
    if not in_gui_session():
        print(f"LSOpenURLsWithRole() failed with error -10810 for the file {app}.", file=sys.stderr)
        return 1
    if running_vm() is None:
        start_vm(os.path.join(app, VM))
    return 0


def start_vm(path: str) -> None:
    pid = os.fork()
    if pid == 0:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.execv("/bin/sleep", [path, "100000"])  # noqa: S606 - the "VM": a sleep named as the bundle's
    with open(os.path.join(STATE, "vm.pid"), "w", encoding="ascii") as handle:
        handle.write(str(pid))


def osascript(args: list[str]) -> int:
    script = args[1] if len(args) == 2 and args[0] == "-e" else ""
    if script not in (f'quit app id "{DOCKER_ID}"', 'quit app "Docker"', f'application id "{DOCKER_ID}" is running',
                      'application "Docker" is running'):
        print(f"osascript (fake): script not modelled: {args}", file=sys.stderr)
        return 64
    if not in_gui_session():
        print("0:22: execution error: Docker got an error: Application isn't running. (-600)", file=sys.stderr)
        return 1
    pid = running_vm()
    if script.endswith("is running"):
        print("true" if pid else "false")
        return 0
    if pid is not None and not os.path.exists(os.path.join(STATE, "hang-on-quit")):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while running_vm() is not None and time.monotonic() < deadline:
            time.sleep(0.05)
    return 0


COMMANDS = {"launchctl": launchctl, "sudo": sudo, "open": open_app, "osascript": osascript}


def main() -> int:
    name = os.path.basename(sys.argv[0])
    log([name, *sys.argv[1:]])
    return COMMANDS[name](sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
