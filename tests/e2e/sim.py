"""A simulated Mac running Docker Desktop on HyperKit, built from Linux parts, for the end-to-end test.

| on a Mac                                  | here                                                        |
|-------------------------------------------|-------------------------------------------------------------|
| the Mac's network stack                   | a network namespace ``hb-mac-<id>``                          |
| tuntaposx ``/dev/tapN``                   | a persistent TAP device in that namespace (``tap_device``)  |
| ``Docker.app`` bundle                     | a directory in one of the real layouts                      |
| hyperkit (``com.docker.hyperkit``)        | a compiled launcher exec'ing ``hyperkit_standin.py``        |
| the VM's ``eth1``                         | a TAP device in the Docker engine's namespace (down at first) |
| the VM's Docker engine                    | this machine's dockerd                                      |
| Docker Desktop starting hyperkit          | ``start_docker_desktop``: the bundle path, real argv line   |
| the tap interface vanishing on VM stop    | ``stop_docker_desktop`` removes the host side's address     |
| quitting and reopening Docker Desktop      | ``python sim.py restart-docker-desktop WORKDIR`` (any process) |

Everything is named with one random id and removed by ``destroy`` (also after a failure). The running "VM" is
tracked by a pid file in the work directory, and the simulation's names by ``sim.json`` there, so another process
(the playbook's restart command) can stop and start it exactly as the test does.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUNDLE_BINARY = "Contents/Resources/bin/com.docker.hyperkit"  # the 18.03-and-later layout


def sh(*argv: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=check, capture_output=True, text=True, **kwargs)


class SimulatedMac:
    def __init__(self, workdir: Path, *, tap: str = "tap1", user: str = "nobody", sim_id: str | None = None,
                 vm_netns: str | None = None) -> None:
        self.id = sim_id or secrets.token_hex(3)
        self.netns = f"hb-mac-{self.id}"
        self.vm_nic = f"hbvm{self.id}"  # the VM's eth1 (interface names are at most 15 characters)
        self.label = f"hostbridge-e2e={self.id}"
        self.tap = tap
        self.user = user
        self.workdir = workdir
        self.app = workdir / "Applications" / "Docker Desktop.app"  # a space, as users' paths have
        self.hyperkit = self.app / BUNDLE_BINARY
        self.argv_log = workdir / "hyperkit-argv.jsonl"
        self.vm_log = workdir / "hyperkit.log"
        self.vm_pidfile = workdir / "hyperkit-standin.pid"
        self.state_file = workdir / "sim.json"
        # The Docker engine's network namespace: this process's, which is the engine's.
        self.vm_netns = vm_netns or f"/proc/{os.getpid()}/ns/net"
        self._vm: subprocess.Popen | None = None
        self._spawned: list[subprocess.Popen] = []

    @classmethod
    def load(cls, workdir: Path) -> SimulatedMac:
        """The simulation another process created in ``workdir`` (see ``create``)."""
        state = json.loads((workdir / "sim.json").read_text(encoding="utf-8"))
        return cls(workdir, tap=state["tap"], user=state["user"], sim_id=state["id"], vm_netns=state["vm_netns"])

    # -- building and tearing down ------------------------------------------------------------
    def create(self) -> SimulatedMac:
        sh("ip", "netns", "add", self.netns)
        sh("ip", "-n", self.netns, "link", "set", "lo", "up")
        # Down, as a NIC nobody configured: Docker's macvlan driver does not bring its parent up (its containers'
        # links stay LOWERLAYERDOWN); the tap_bridge role's helper container does.
        sh("ip", "tuntap", "add", "dev", self.vm_nic, "mode", "tap")
        self.hyperkit.parent.mkdir(parents=True)
        (self.app / "Contents" / "Info.plist").write_text(
            '<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict>'
            "<key>CFBundleShortVersionString</key><string>2.5.0.1</string></dict></plist>\n")
        sh("cc", "-O2", f'-DPYTHON="{sys.executable}"', f'-DSTANDIN="{HERE / "hyperkit_standin.py"}"',
           "-o", str(self.hyperkit), str(HERE / "launcher.c"))
        self.state_file.write_text(json.dumps({"id": self.id, "tap": self.tap, "user": self.user,
                                               "vm_netns": self.vm_netns}), encoding="utf-8")
        return self

    def destroy(self) -> None:
        self.stop_docker_desktop()
        for proc in self._spawned:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
        # Whatever else still runs in the Mac's namespace was started by the test (servers, probes).
        pids = sh("ip", "netns", "pids", self.netns, check=False).stdout.split()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        # The tap_bridge role's helper container removes itself; one left by an interrupted run, for this VM NIC:
        helper = sh("docker", "inspect", "--format", "{{json .Args}}", "dockermac-hostbridge-vm-link", check=False)
        if helper.returncode == 0 and f'"{self.vm_nic}"' in helper.stdout:
            sh("docker", "rm", "-f", "dockermac-hostbridge-vm-link", check=False)
        ids = sh("docker", "ps", "-aq", "--filter", f"label={self.label}", check=False).stdout.split()
        if ids:
            sh("docker", "rm", "-f", *ids, check=False)
        nets = sh("docker", "network", "ls", "-q", "--filter", f"label={self.label}", check=False).stdout.split()
        for net in nets:
            sh("docker", "network", "rm", net, check=False)
        sh("ip", "link", "del", self.vm_nic, check=False)
        sh("ip", "netns", "del", self.netns, check=False)

    # -- Docker Desktop ------------------------------------------------------------------------
    def hyperkit_argv(self) -> list[str]:
        """A real Docker Desktop hyperkit line (background.md, from a public issue), paths made local."""
        data = self.workdir / "Data"
        return [
            "-A", "-u", "-F", str(data / "hyperkit.pid"), "-c", "2", "-m", "2048M",
            "-s", "0:0,hostbridge", "-s", "31,lpc",
            "-s", f"2:0,virtio-vpnkit,uuid=4e4c8a5c-2b9e-4f69-8a0a-1f0c7d8d9a10,path={data}/s50,macfile={data}/mac",
            "-s", f"3,virtio-blk,file://{data}/Docker.raw?sync=os&buffer_io=false,format=raw",
            "-s", "4,virtio-sock,guest_cid=3,path=" + str(data) + ",guest_forwards=2376;1525",
            "-l", f"com1,autopty={data}/tty,log={data}/console-ring",
            "-f", f"kexec,{self.app}/Contents/Resources/moby/vmlinuz64,{self.app}/Contents/Resources/moby/initrd.img,"
                  "earlyprintk=serial page_poison=1 vsyscall=emulate panic=1 nospec_store_bypass_disable noibrs",
        ]

    def start_docker_desktop(self) -> None:
        """Start "hyperkit" through the bundle path (so through the shim once installed), as Docker does."""
        self.start_hyperkit(self.hyperkit, self.hyperkit_argv())

    def restart_docker_desktop(self) -> None:
        """Quit and reopen Docker Desktop: the VM stops (the tap address goes) and starts through the bundle."""
        self.stop_docker_desktop()
        self.start_docker_desktop()

    def start_hyperkit(self, binary: Path, argv: list[str], *, cwd: Path | None = None) -> None:
        """Start ``binary`` (the bundle's hyperkit, or in a test any other one, also a path relative to ``cwd``)
        as Docker Desktop would, and wait until the stand-in has attached its devices. Raises RuntimeError when
        it exits instead."""
        self.stop_docker_desktop()
        env = dict(os.environ, HOSTBRIDGE_SIM_VM_NIC=self.vm_nic, HOSTBRIDGE_SIM_RUN_AS=self.user,
                   HOSTBRIDGE_SIM_VM_NETNS=self.vm_netns, HOSTBRIDGE_SIM_ARGV_LOG=str(self.argv_log))
        started = self._starts()
        log = open(self.vm_log, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self._vm = subprocess.Popen(["ip", "netns", "exec", self.netns, str(binary), *argv],
                                    env=env, stdout=log, stderr=log, start_new_session=True, cwd=cwd)
        log.close()
        self.vm_pidfile.write_text(str(self._vm.pid), encoding="ascii")
        deadline = time.monotonic() + 10
        while self._starts() == started:
            if self._vm.poll() is not None or time.monotonic() > deadline:
                tail = self.vm_log.read_text(errors="replace")[-2000:]
                self.stop_docker_desktop()
                raise RuntimeError(f"hyperkit did not start ({binary}):\n{tail}")
            time.sleep(0.05)

    def _starts(self) -> int:
        """How many times the stand-in has come up (it says so on stderr once its devices are attached)."""
        try:
            return self.vm_log.read_text(errors="replace").count("hyperkit stand-in: devices=")
        except FileNotFoundError:
            return 0

    def vm_pid(self) -> int | None:
        """The running stand-in's pid (whichever process started it), or None."""
        try:
            pid = int(self.vm_pidfile.read_text(encoding="ascii"))
        except (FileNotFoundError, ValueError):
            return None
        return pid if _alive(pid) else None

    def stop_docker_desktop(self) -> None:
        """Stop the VM. On a Mac the tap interface disappears with hyperkit, taking its address along;
        a persistent Linux TAP survives, so its address is removed to match."""
        if self._vm is not None:
            self._vm.poll()  # reap our own child if it exited on its own
        pid = self.vm_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
            if not self._reap(pid, 10):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                self._reap(pid, 10)
            sh("ip", "-n", self.netns, "addr", "flush", "dev", self.tap, check=False)
        self.vm_pidfile.unlink(missing_ok=True)
        self._vm = None

    def _reap(self, pid: int, timeout: float) -> bool:
        """Wait until ``pid`` is gone (our child: reaped; another process's: exited or a zombie)."""
        if self._vm is not None and self._vm.pid == pid:
            try:
                self._vm.wait(timeout)
            except subprocess.TimeoutExpired:
                return False
            return True
        deadline = time.monotonic() + timeout
        while _alive(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def vm_running(self) -> bool:
        return self.vm_pid() is not None

    # -- probes ----------------------------------------------------------------------------------
    def spawn_in_mac(self, *argv: str) -> subprocess.Popen:
        """Start a long-running process on the Mac (a server); ``destroy`` ends it."""
        proc = subprocess.Popen(["ip", "netns", "exec", self.netns, *argv], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        self._spawned.append(proc)
        return proc

    def in_mac(self, *argv: str, check: bool = False, timeout: float = 30) -> subprocess.CompletedProcess:
        return sh("ip", "netns", "exec", self.netns, *argv, check=check, timeout=timeout)

    def http_get(self, url: str, timeout: float = 3) -> int | str:
        """Status code of GET ``url`` from the Mac's side, or ``"NETERR <kind> <message>"`` (:func:`probe_code`)."""
        proc = self.in_mac(sys.executable, "-c", probe_code(url, timeout))
        return parse_probe(proc)


# A GET that tells a network failure from a broken probe: "STATUS <code>", or "NETERR <kind> <message>" where
# kind is "timeout" or the errno name (EHOSTUNREACH, ECONNREFUSED, ...). Anything else is the probe failing.
_PROBE = """
import errno, socket, urllib.error, urllib.request
try:
    print("STATUS", urllib.request.urlopen({url!r}, timeout={timeout}).status)
except urllib.error.HTTPError as exc:
    print("STATUS", exc.code)
except (urllib.error.URLError, OSError) as exc:
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, socket.timeout):
        kind = "timeout"
    elif isinstance(reason, OSError) and reason.errno:
        kind = errno.errorcode.get(reason.errno, str(reason.errno))
    else:
        kind = type(reason).__name__
    print("NETERR", kind, reason)
"""
# What a missing bridge looks like: nothing answers ARP on the link, so the GET times out or has no route to the
# host (a tap interface without its address gives ENETUNREACH instead: no route to the network).
UNREACHABLE = ("timeout", "EHOSTUNREACH")


def probe_code(url: str, timeout: float) -> str:
    return _PROBE.format(url=url, timeout=timeout)


def parse_probe(proc: subprocess.CompletedProcess) -> int | str:
    """The probe's answer; an AssertionError when the probe itself did not run to its verdict."""
    lines = proc.stdout.strip().splitlines()
    last = lines[-1] if lines else ""
    if proc.returncode != 0 or not last.startswith(("STATUS ", "NETERR ")):
        raise AssertionError(f"the HTTP probe failed (rc={proc.returncode}): {proc.stdout!r} {proc.stderr!r}")
    if last.startswith("STATUS "):
        return int(last.split()[1])
    return last


def assert_unreachable(answer: int | str, what: str, kinds: tuple[str, ...] = UNREACHABLE) -> None:
    """A negative control: the GET failed because the network did not carry it (not a refusal, not a probe bug)."""
    assert isinstance(answer, str), f"{what}: got HTTP {answer}"
    kind = answer.split()[1]
    assert kind in kinds, f"{what}: expected one of {kinds}, got {answer!r}"


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a running (not zombie) hyperkit stand-in; a reused pid is not ours."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            state = handle.read().rpartition(")")[2].split()[0]
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            cmdline = handle.read()
    except (OSError, IndexError):
        return False
    return state != "Z" and (b"hyperkit" in cmdline or b"ip\0netns" in cmdline)


def have_tools() -> str | None:
    """Why the simulation cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, TAP devices)"
    for tool in ("ip", "cc", "docker"):
        if shutil.which(tool) is None:
            return f"needs {tool}"
    if not os.path.exists("/dev/net/tun"):
        return "needs /dev/net/tun"
    if sh("docker", "info", check=False).returncode != 0:
        return "needs a running Docker engine"
    return None


def main(argv: list[str]) -> int:
    """``sim.py restart-docker-desktop WORKDIR``: what the playbook runs as its Docker Desktop restart."""
    if len(argv) != 2 or argv[0] != "restart-docker-desktop":
        print("usage: sim.py restart-docker-desktop WORKDIR", file=sys.stderr)
        return 2
    mac = SimulatedMac.load(Path(argv[1]))
    try:
        mac.restart_docker_desktop()
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"Docker Desktop restarted: hyperkit pid {mac.vm_pid()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
