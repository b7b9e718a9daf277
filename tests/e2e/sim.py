"""A simulated Mac running Docker Desktop on HyperKit, built from Linux parts, for the end-to-end test.

| on a Mac                               | here                                                                  |
|----------------------------------------|-----------------------------------------------------------------------|
| the Mac's network stack                | a network namespace ``hb-mac-<id>``                                   |
| tuntaposx ``/dev/tapN``                | a persistent TAP device in that namespace (``tap_device``)            |
| ``Docker.app`` bundle                  | a directory in one of the real layouts                                |
| hyperkit (``com.docker.hyperkit``)     | a compiled launcher exec'ing ``hyperkit_standin.py``                  |
| Docker Desktop's Linux VM              | a network namespace ``hb-vm-<id>``, new at every start                |
| the VM's ``eth1``                      | a TAP device ``eth1`` in it, created down at every start              |
| the VM's Docker engine                 | a dockerd of its own in that namespace (own data-root, socket)        |
| Docker Desktop starting hyperkit       | ``start_docker_desktop``: the bundle path, real argv line             |
| the tap interface vanishing on VM stop | ``stop_docker_desktop`` removes the host side's address               |
| quitting and reopening Docker Desktop  | ``python sim.py restart-docker-desktop WORKDIR`` (any process)        |
| restarting the Mac                     | ``reboot``: tap device root's again, addresses gone, boot jobs, login |

Everything is named with one random id and removed by ``destroy`` (also after a failure). The running "VM" is
tracked by pid files in the work directory, and the simulation's names by ``sim.json`` there, so another process
(the playbook's restart command) can stop and start it exactly as the test does.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import typing as t
from pathlib import Path

HERE = Path(__file__).resolve().parent
# How every test and benchmark runs the ansible CLI (loaded by path: this file is run as a script too).
_cli_spec = importlib.util.spec_from_file_location("hostbridge_ansible_cli", HERE.parent / "ansible_cli.py")
ansible_cli = importlib.util.module_from_spec(_cli_spec)
_cli_spec.loader.exec_module(ansible_cli)
BUNDLE_BINARY = "Contents/Resources/bin/com.docker.hyperkit"  # the 18.03-and-later layout
ENGINE_IMAGE = "hostbridge-base:bookworm"  # copied into the VM's engine, as if pulled there
CONNECTION = ("-i", "localhost,", "-c", "local")  # how every playbook reaches the simulated Mac


def sh(*argv: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=check, capture_output=True, text=True, **kwargs)


class SimulatedMac:
    def __init__(self, workdir: Path, *, tap: str = "tap1", user: str = "nobody", sim_id: str | None = None) -> None:
        self.id = sim_id or secrets.token_hex(3)
        self.netns = f"hb-mac-{self.id}"
        self.vm_netns = f"hb-vm-{self.id}"  # Docker Desktop's VM: its NIC and its engine
        self.vm_nic = "eth1"  # the VM's second NIC, in the VM's namespace only
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
        # The VM's Docker engine: its socket stands for Docker Desktop's ~/.docker/run/docker.sock.
        self.engine_dir = workdir / "vm"
        self.engine_socket = self.engine_dir / "docker.sock"
        self.engine_pidfile = self.engine_dir / "dockerd.pid"
        self.engine_log = self.engine_dir / "dockerd.log"
        self.engine_exec_root = Path("/run") / self.vm_netns
        self._vm: subprocess.Popen | None = None
        self._spawned: list[subprocess.Popen] = []

    @classmethod
    def load(cls, workdir: Path) -> SimulatedMac:
        """The simulation another process created in ``workdir`` (see ``create``)."""
        state = json.loads((workdir / "sim.json").read_text(encoding="utf-8"))
        return cls(workdir, tap=state["tap"], user=state["user"], sim_id=state["id"])

    # -- building and tearing down ------------------------------------------------------------
    def create(self) -> SimulatedMac:
        sh("ip", "netns", "add", self.netns)
        sh("ip", "-n", self.netns, "link", "set", "lo", "up")
        self.hyperkit.parent.mkdir(parents=True)
        (self.app / "Contents" / "Info.plist").write_text(
            '<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict>'
            "<key>CFBundleShortVersionString</key><string>2.5.0.1</string></dict></plist>\n")
        sh("cc", "-O2", f'-DPYTHON="{sys.executable}"', f'-DSTANDIN="{HERE / "hyperkit_standin.py"}"',
           "-o", str(self.hyperkit), str(HERE / "launcher.c"))
        self.state_file.write_text(json.dumps({"id": self.id, "tap": self.tap, "user": self.user,
                                               "creator_pid": os.getpid()}), encoding="utf-8")
        # The image the VM's engine runs, as if it had been pulled there once (no registry here).
        self.engine_dir.mkdir()
        self._boot_vm()
        self._start_engine()
        save = subprocess.Popen(["docker", "save", ENGINE_IMAGE], stdout=subprocess.PIPE)
        loaded = subprocess.run(["docker", "--host", self.engine_host, "load", "-q"], stdin=save.stdout,
                                capture_output=True, text=True, check=False)
        save.stdout.close()
        if save.wait() != 0 or loaded.returncode != 0:
            raise RuntimeError(f"cannot copy {ENGINE_IMAGE} into the VM's engine: {loaded.stderr}")
        self._halt_vm()
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
        sh("ip", "netns", "del", self.netns, check=False)
        # The VM's engine is gone with the VM: only mounts it may have left, and its files.
        for root in (self.engine_exec_root, self.engine_dir):
            for mount in reversed(_mounts_under(root)):
                sh("umount", "-l", mount, check=False)
            shutil.rmtree(root, ignore_errors=True)

    # -- the VM and its engine -----------------------------------------------------------------
    @property
    def engine_host(self) -> str:
        return f"unix://{self.engine_socket}"

    def docker(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        """The docker CLI against the VM's engine (as ``docker`` on the Mac talks to Docker Desktop's)."""
        return sh("docker", "--host", self.engine_host, *argv, check=check)

    def _boot_vm(self) -> None:
        """A fresh VM: its own network namespace with ``eth1`` down, as every Docker Desktop start boots one. Docker's
        macvlan driver never sets the parent up (libnetwork drivers/macvlan/macvlan_setup.go, createMacVlan)."""
        self._halt_vm()
        sh("ip", "netns", "add", self.vm_netns)
        sh("ip", "-n", self.vm_netns, "link", "set", "lo", "up")
        sh("ip", "-n", self.vm_netns, "tuntap", "add", "dev", self.vm_nic, "mode", "tap")

    def _halt_vm(self) -> None:
        """The VM powers off: its engine stops (its containers with it), its namespace and NIC go."""
        self._stop_engine()
        sh("ip", "netns", "del", self.vm_netns, check=False)

    def _start_engine(self) -> None:
        """The VM's engine boots: a dockerd in the VM's namespace that starts the containers whose restart policy
        says so, as Docker Desktop's engine does at every VM start. Entered with nsenter, not ``ip netns exec``,
        which would hide the cgroup mounts dockerd needs behind a fresh /sys."""
        log = open(self.engine_log, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        subprocess.Popen(
            ["nsenter", f"--net=/run/netns/{self.vm_netns}", "dockerd",
             "--data-root", str(self.engine_dir / "data"), "--exec-root", str(self.engine_exec_root),
             "--pidfile", str(self.engine_pidfile), "--host", self.engine_host,
             "--containerd-namespace", self.vm_netns, "--containerd-plugins-namespace", f"{self.vm_netns}-plugins",
             "--cgroup-parent", self.vm_netns, "--bridge", "none", "--iptables=false", "--ip-masq=false",
             "--log-level", "warn"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 60
        while sh("docker", "--host", self.engine_host, "version", check=False).returncode != 0:
            if time.monotonic() > deadline:
                tail = self.engine_log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the VM's engine did not start:\n{tail}")
            time.sleep(0.05)

    def _stop_engine(self) -> None:
        pid = _pid_from(self.engine_pidfile)
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.engine_pidfile.unlink(missing_ok=True)

    def engine_running(self) -> bool:
        pid = _pid_from(self.engine_pidfile)
        return pid is not None and _pid_alive(pid)

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
        as Docker Desktop would, in a fresh VM, and wait until the stand-in has attached its devices and the VM's
        engine answers. Raises RuntimeError when it exits instead."""
        self.stop_docker_desktop()
        self._boot_vm()
        env = dict(os.environ, HOSTBRIDGE_SIM_VM_NIC=self.vm_nic, HOSTBRIDGE_SIM_RUN_AS=self.user,
                   HOSTBRIDGE_SIM_VM_NETNS=f"/run/netns/{self.vm_netns}", HOSTBRIDGE_SIM_ARGV_LOG=str(self.argv_log))
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
        self._start_engine()  # the VM boots, its engine with it

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
        a persistent Linux TAP survives, so its address is removed to match. The engine stops first, as it does
        when the VM shuts down."""
        self._stop_engine()
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
        self._halt_vm()

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

    # -- the Mac restarting ----------------------------------------------------------------------
    def reboot(self, boot_jobs: t.Sequence[t.Sequence[str]] = ()) -> None:
        """Restart the Mac, then log the user in.

        - Docker Desktop stops with the Mac (the VM and its engine halt).
        - tuntaposx re-creates ``/dev/tapN`` at every kext load, owned by root:wheel with mode 0660
          (``devfs_make_node(..., 0, 0, 0660, ...)``, tuntap/src/tuntap.cc:285 at saittam/tuntaposx 0422492e):
          the TAP device is re-created owned by root, down and without addresses; only root may open it.
        - Addresses set at run time are gone (the tap interface's, the loopback aliases).
        - ``boot_jobs`` run as launchd runs a RunAtLoad LaunchDaemon: as root, before anyone logs in, each argv
          as the job's ProgramArguments (``/bin/sh <program>``), in the Mac's namespace.
        - The user logs in and Docker Desktop starts at login, through the bundle (so through the shim).
        """
        self.stop_docker_desktop()
        if sh("ip", "-n", self.netns, "link", "show", "dev", self.tap, check=False).returncode == 0:
            sh("ip", "-n", self.netns, "link", "del", "dev", self.tap)
            sh("ip", "-n", self.netns, "tuntap", "add", "dev", self.tap, "mode", "tap", "user", "0", "group", "0")
        # lo loses its aliases; the kernel gives it 127.0.0.1 and ::1 back when it comes up.
        sh("ip", "-n", self.netns, "link", "set", "lo", "down")
        sh("ip", "-n", self.netns, "addr", "flush", "dev", "lo")
        sh("ip", "-n", self.netns, "link", "set", "lo", "up")
        for argv in boot_jobs:
            job = self.in_mac(*argv)
            if job.returncode != 0:
                raise RuntimeError(f"boot job {list(argv)} failed (rc={job.returncode}): {job.stderr}")
        self.start_docker_desktop()

    def tap_warnings(self) -> int:
        """How many times hyperkit could not open the tap device (its warning, once per start)."""
        try:
            return self.vm_log.read_text(errors="replace").count(f"open of tap device /dev/{self.tap} failed")
        except FileNotFoundError:
            return 0

    # -- the playbooks -----------------------------------------------------------------------------
    @property
    def network(self) -> str:
        return f"hb-tap-{self.id}"

    def bridge_vars(self, *, reapply: Path, host_address: str = "10.0.75.1/24") -> dict[str, t.Any]:
        """The tap strategy's variables for this Mac (the test and the bench add their own)."""
        label_key, _eq, label_value = self.label.partition("=")
        return {
            "bridge_strategy": "tap",
            "tap_bridge_app_path": str(self.app),
            "tap_bridge_user": self.user,
            "tap_bridge_device": self.tap,
            "tap_bridge_vm_interface": self.vm_nic,  # the simulated VM's eth1, in the VM's namespace
            "tap_bridge_host_address": host_address,
            "tap_bridge_network_name": self.network,
            "tap_bridge_network_labels": {label_key: label_value},
            "tap_bridge_docker_socket": str(self.engine_socket),
            "tap_bridge_docker_restart_command": [sys.executable, str(HERE / "sim.py"), "restart-docker-desktop",
                                                  str(self.workdir)],
            "tap_bridge_docker_restart_timeout": 30,
            # The link container runs with --network host: the VM's namespace, where its NIC is.
            "tap_bridge_vm_link_image": ENGINE_IMAGE,
            "tap_bridge_reapply_path": str(reapply),
            "tap_bridge_reapply_persistent": False,  # run as launchd would run it, by the caller
        }

    def playbook(self, name: str, extra_vars: Path, *extra: str, timeout: float = 240) -> subprocess.CompletedProcess:
        """``ansible-playbook dockermac.hostbridge.<name>`` as a user runs it, inside the Mac's namespace (so
        ``tap_device`` and ``lo0_alias`` act on the simulated Mac), with the VM's engine as ``DOCKER_HOST`` (Docker
        Desktop's socket on a Mac)."""
        cmd = [*self.ansible_prefix(), ansible_cli.cli("ansible-playbook"), *CONNECTION,
               f"dockermac.hostbridge.{name}", "-e", f"@{extra_vars}", *extra]
        env = self.ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")
        return ansible_cli.run(cmd, env=env, cwd=self.workdir, timeout=timeout)

    def ansible_prefix(self) -> list[str]:
        """What runs an ansible command on the Mac: inside its namespace, and with a running systemd hidden, so
        nothing is written to the host's units (the bench times its runs with this same prefix)."""
        cmd = ["ip", "netns", "exec", self.netns]
        if os.path.isdir("/run/systemd/system"):
            cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                   'mount -t tmpfs tmpfs /run/systemd && exec "$0" "$@"', *cmd]
        return cmd

    def ansible_env(self, **overrides: str) -> dict[str, str]:
        """The suite's ansible environment, pipelined, with the VM's engine as the only ``DOCKER_*`` setting."""
        env = ansible_cli.ansible_env(**{"ANSIBLE_PIPELINING": "true", **overrides})
        env = {k: v for k, v in env.items() if not k.startswith("DOCKER_")}
        env["DOCKER_HOST"] = self.engine_host
        return env

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
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            cmdline = handle.read()
    except OSError:
        return False
    return _pid_alive(pid) and (b"hyperkit" in cmdline or b"ip\0netns" in cmdline)


def _pid_from(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text(encoding="ascii").strip())
    except (FileNotFoundError, ValueError):
        return None


def _pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _mounts_under(root: Path) -> list[str]:
    """Mount points at or below ``root``, in mount order."""
    prefix = str(root)
    with open("/proc/self/mounts", encoding="utf-8") as handle:
        points = [line.split()[1].replace("\\040", " ") for line in handle]
    return [point for point in points if point == prefix or point.startswith(prefix + "/")]


def have_tools() -> str | None:
    """Why the simulation cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, TAP devices)"
    for tool in ("ip", "cc", "docker", "dockerd", "nsenter"):
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
    # Run from the playbook, this process is in its private mount namespace (the test's unshare, ip netns exec's
    # fresh /sys): the VM's namespace and engine must be made in the creator's (the test's), where it finds them.
    creator = json.loads((Path(argv[1]) / "sim.json").read_text(encoding="utf-8"))["creator_pid"]
    theirs = f"/proc/{creator}/ns/mnt"
    if os.readlink("/proc/self/ns/mnt") != os.readlink(theirs):
        os.execvp("nsenter", ["nsenter", f"--mount={theirs}", sys.executable,  # noqa: S606 - argv, no shell
                              str(Path(__file__).resolve()), *argv])
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
