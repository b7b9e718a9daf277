"""The docker_desktop role's restart against macOS's GUI-session rules (``fake_macos/gui_session.py``).

ansible-playbook runs as root, as the pull LaunchDaemon runs it, in a private mount namespace where
``/bin/launchctl``, ``/usr/bin/sudo``, ``/usr/bin/open`` and ``/usr/bin/osascript`` are the fakes (an overlay on
``/usr/bin``; Debian's ``/bin`` is a link to it) and ``/dev/console`` belongs to the "console user" ``nobody``. The
engine it waits for is this machine's dockerd, which answers all along: only a new VM process may count.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import typing as t
from pathlib import Path

import pytest

from ansible_collections.dockermac.hostbridge.tests import ansible_cli
from ansible_collections.dockermac.hostbridge.tests.system.playbook import PLAYBOOK_BIN

pytestmark = [pytest.mark.root, pytest.mark.docker]

HERE = Path(__file__).resolve().parent
FAKES = ("launchctl", "sudo", "open", "osascript")
VM = "Contents/Resources/bin/com.docker.hyperkit"
NOBODY = pwd.getpwnam("nobody")


class FakeMac:
    """The state directory the fakes share, two Docker bundles (the configured one, with a space in its path, and
    an older copy that LaunchServices prefers by name), and the mount namespace the commands run in."""

    def __init__(self, top: Path, console_uid: int) -> None:
        self.top = top
        self.state = top / "state"
        self.app = top / "Applications" / "Docker Desktop" / "Docker.app"
        self.dmg_app = top / "Volumes" / "Docker" / "Docker.app"  # the mounted installer image: an older copy
        self.console = top / "console"
        for bundle in (self.app, self.dmg_app):
            (bundle / VM).parent.mkdir(parents=True)
        self.state.mkdir()
        for shared in ("calls.jsonl", "vm.pid"):  # written by root and by the user
            (self.state / shared).write_text("")
            (self.state / shared).chmod(0o666)
        (self.state / "registry").write_text(f"{self.dmg_app}\n{self.app}\n", encoding="utf-8")
        self.console.write_text("")
        os.chown(self.console, console_uid, 0)
        upper, work = top / "upper", top / "work"
        upper.mkdir()
        work.mkdir()
        # Debian's own Python: the console user runs the fakes too, and cannot run a Python under /root.
        script = "#!/usr/bin/python3\n" + (HERE / "fake_macos" / "gui_session.py").read_text(encoding="utf-8")
        for name in FAKES:
            (upper / name).write_text(script.replace("@STATE@", str(self.state)), encoding="utf-8")
            (upper / name).chmod(0o755)
        self.enter = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                      f"mount -t overlay overlay -o lowerdir=/usr/bin,upperdir={upper},workdir={work} /usr/bin && "
                      f'mount --bind {self.console} /dev/console && exec "$0" "$@"']

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.enter, *argv], capture_output=True, text=True, check=False, timeout=60)

    def vm(self) -> tuple[int, int, list[str]] | None:
        """(pid, uid, argv) of the running VM process, or None."""
        try:
            pid = int((self.state / "vm.pid").read_text(encoding="ascii"))
            status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
        except (OSError, ValueError):
            return None
        if "\nState:\tZ" in status:
            return None
        uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[2])
        return pid, uid, argv

    def calls(self) -> list[dict[str, t.Any]]:
        path = self.state / "calls.jsonl"
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        return [json.loads(line) for line in lines]

    def start_docker_desktop(self) -> int:
        """Docker Desktop started at login: by the user, from the configured bundle."""
        proc = self.run("/usr/bin/sudo", "-u", "nobody", "/usr/bin/open", "-a", str(self.app))
        assert proc.returncode == 0, proc.stderr
        running = self.vm()
        assert running is not None
        assert running[1] == NOBODY.pw_uid
        return running[0]

    def restart(self, **role_vars: t.Any) -> subprocess.CompletedProcess[str]:
        """The role's restart entry point, as the tap_bridge and routed roles include it, run as root."""
        playbook = self.top / "play.yml"
        variables = {"docker_desktop_socket": "/var/run/docker.sock", "docker_desktop_app_path": str(self.app),
                     "docker_desktop_restart_timeout": 10, **role_vars}
        include = {"name": "dockermac.hostbridge.docker_desktop", "tasks_from": "restart"}
        task = {"name": "Restart", "ansible.builtin.include_role": include, "vars": variables}
        playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [task]}]),
                            encoding="utf-8")
        return ansible_cli.run([*self.enter, PLAYBOOK_BIN, "-i", "localhost,", "-c", "local", str(playbook)],
                               timeout=180)

    def stop(self) -> None:
        running = self.vm()
        if running is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(running[0], signal.SIGKILL)


@contextlib.contextmanager
def fake_mac(console_uid: int) -> t.Iterator[FakeMac]:
    top = Path(tempfile.mkdtemp(prefix="hb-gui-"))
    top.chmod(0o755)
    mac = FakeMac(top, console_uid)
    try:
        yield mac
    finally:
        mac.stop()
        shutil.rmtree(top, ignore_errors=True)


def failed_task(proc: subprocess.CompletedProcess[str]) -> tuple[str, dict[str, t.Any]]:
    """(name, result) of the task that failed the run."""
    for name, result in ansible_cli.named_task_results(json.loads(proc.stdout), "localhost"):
        if result.get("failed") and not result.get("ignore_errors"):
            return name, result
    raise AssertionError(f"no failed task in: {proc.stdout[-2000:]}")


def test_restart_from_root_runs_in_the_console_users_session_and_starts_a_new_vm() -> None:
    with fake_mac(NOBODY.pw_uid) as mac:
        old_pid = mac.start_docker_desktop()
        proc = mac.restart()
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        running = mac.vm()
        assert running is not None, "Docker Desktop's VM is not running after the restart"
        pid, uid, argv = running
        assert pid != old_pid
        assert uid == NOBODY.pw_uid, "the VM runs as root: Docker Desktop was started outside the user's identity"
        assert argv[0] == str(mac.app / VM), f"the VM of another bundle runs: {argv}"
        session = ["launchctl", "asuser", str(NOBODY.pw_uid), "/usr/bin/sudo", "-u", "nobody"]
        calls = [c["argv"] for c in mac.calls()]
        assert [*session, "/usr/bin/osascript", "-e", 'quit app id "com.docker.docker"'] in calls
        assert [*session, "/usr/bin/open", "--background", "-a", str(mac.app)] in calls


def test_no_user_at_the_screen_stops_with_what_to_do_and_quits_nothing() -> None:
    with fake_mac(0) as mac:  # /dev/console is root's while the login window shows
        (mac.state / "registry").write_text(f"{mac.app}\n", encoding="utf-8")
        mac.console.chmod(0o600)
        old = mac.run("/usr/bin/python3", "-c", "pass")  # the namespace works without a user
        assert old.returncode == 0, old.stderr
        proc = mac.restart()
        assert proc.returncode != 0
        name, result = failed_task(proc)
        assert name.endswith("Require a user logged in at the screen")
        assert "nobody is logged in at this Mac's screen" in result["msg"]
        assert "log in at the Mac" in result["msg"]
        assert not any(c["argv"][0] in ("osascript", "open", "launchctl") for c in mac.calls())


def test_an_engine_that_still_answers_is_no_restart() -> None:
    """Docker Desktop ignores the quit (a dialog is open, say): the old VM keeps running and the engine keeps
    answering; the role must not report a restart."""
    with fake_mac(NOBODY.pw_uid) as mac:
        old_pid = mac.start_docker_desktop()
        (mac.state / "hang-on-quit").write_text("")
        proc = mac.restart(docker_desktop_restart_timeout=4)
        assert proc.returncode != 0
        name, _result = failed_task(proc)
        assert name.endswith("Wait until the VM of the bundle has stopped")
        still = mac.vm()
        assert still is not None
        assert still[0] == old_pid
