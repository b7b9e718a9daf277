"""A simulated Mac running Docker Desktop on HyperKit, built from Linux parts, for the end-to-end test.

| on a Mac                                  | here                                                        |
|-------------------------------------------|-------------------------------------------------------------|
| the Mac's network stack                   | a network namespace ``hb-mac-<id>``                          |
| tuntaposx ``/dev/tapN``                   | a persistent TAP device in that namespace (``tap_device``)  |
| ``Docker.app`` bundle                     | a directory in one of the real layouts                      |
| hyperkit (``com.docker.hyperkit``)        | a compiled launcher exec'ing ``hyperkit_standin.py``        |
| the VM's ``eth1``                         | a TAP device in the Docker engine's namespace               |
| the VM's Docker engine                    | this machine's dockerd                                      |
| Docker Desktop starting hyperkit          | ``start_docker_desktop``: the bundle path, real argv line   |
| the tap interface vanishing on VM stop    | ``stop_docker_desktop`` removes the host side's address     |

Everything is named with one random id and removed by ``destroy`` (also after a failure).
"""

from __future__ import annotations

import contextlib
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
    def __init__(self, workdir: Path, *, tap: str = "tap1", user: str = "nobody") -> None:
        self.id = secrets.token_hex(3)
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
        self._vm: subprocess.Popen | None = None

    # -- building and tearing down ------------------------------------------------------------
    def create(self) -> SimulatedMac:
        sh("ip", "netns", "add", self.netns)
        sh("ip", "-n", self.netns, "link", "set", "lo", "up")
        sh("ip", "tuntap", "add", "dev", self.vm_nic, "mode", "tap")
        sh("ip", "link", "set", self.vm_nic, "up")
        self.hyperkit.parent.mkdir(parents=True)
        (self.app / "Contents" / "Info.plist").write_text(
            '<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict>'
            "<key>CFBundleShortVersionString</key><string>2.5.0.1</string></dict></plist>\n")
        sh("cc", "-O2", f'-DPYTHON="{sys.executable}"', f'-DSTANDIN="{HERE / "hyperkit_standin.py"}"',
           "-o", str(self.hyperkit), str(HERE / "launcher.c"))
        return self

    def destroy(self) -> None:
        self.stop_docker_desktop()
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
        self.stop_docker_desktop()
        env = dict(os.environ, HOSTBRIDGE_SIM_VM_NIC=self.vm_nic, HOSTBRIDGE_SIM_RUN_AS=self.user,
                   HOSTBRIDGE_SIM_VM_NETNS=f"/proc/{os.getpid()}/ns/net", HOSTBRIDGE_SIM_ARGV_LOG=str(self.argv_log))
        log = open(self.vm_log, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self._vm = subprocess.Popen(["ip", "netns", "exec", self.netns, str(self.hyperkit), *self.hyperkit_argv()],
                                    env=env, stdout=log, stderr=log, start_new_session=True)
        log.close()
        time.sleep(0.5)  # the stand-in attaches its devices at start-up

    def stop_docker_desktop(self) -> None:
        """Stop the VM. On a Mac the tap interface disappears with hyperkit, taking its address along;
        a persistent Linux TAP survives, so its address is removed to match."""
        if self._vm is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._vm.pid, signal.SIGTERM)
            try:
                self._vm.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self._vm.pid, signal.SIGKILL)
                self._vm.wait(10)
            self._vm = None
            sh("ip", "-n", self.netns, "addr", "flush", "dev", self.tap, check=False)

    def vm_running(self) -> bool:
        return self._vm is not None and self._vm.poll() is None

    # -- probes ----------------------------------------------------------------------------------
    def in_mac(self, *argv: str, check: bool = False, timeout: float = 30) -> subprocess.CompletedProcess:
        return sh("ip", "netns", "exec", self.netns, *argv, check=check, timeout=timeout)

    def http_get(self, url: str, timeout: float = 3) -> int | str:
        """Status code of GET ``url`` from the Mac's side, or the error text."""
        code = ("import sys, urllib.request\n"
                "try:\n"
                f"    print(urllib.request.urlopen({url!r}, timeout={timeout}).status)\n"
                "except Exception as exc:\n"
                "    print(exc)\n")
        out = self.in_mac(sys.executable, "-c", code).stdout.strip()
        return int(out) if out.isdigit() else out


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
