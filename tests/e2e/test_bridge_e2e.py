"""The whole tap bridge, end to end, against a simulated Intel Mac running Docker Desktop on HyperKit.

``sim.SimulatedMac`` builds the Mac from Linux parts (see ``docs/e2e.md``): a network namespace as the Mac, a fake
``Docker Desktop.app`` whose ``com.docker.hyperkit`` is a compiled launcher of ``hyperkit_standin.py``, and a TAP
device in the Docker engine's namespace as the VM's ``eth1``. The stand-in links the VM's NIC to the Mac's
``tapN`` only when its command line carries ``-s ...,virtio-tap,tapN`` - so only when the shim put it there.

The playbooks run unmodified, as a user runs them (``ansible-playbook dockermac.hostbridge.bridge``), inside the
Mac's namespace, so that ``tap_device`` and ``lo0_alias`` act on the simulated Mac; the Docker modules talk to
this machine's engine through its socket. The Docker Desktop restart the role triggers is
``sim.py restart-docker-desktop``: it stops the running stand-in and starts it again through the bundle path,
as quitting and reopening Docker Desktop does.

One test, in order (each step needs the previous one's state):
1. Docker Desktop starts through the bundle (no shim): hyperkit gets no tap device.
2. bridge.yml: the shim is installed and Docker Desktop restarted through it; ``tap1`` owned by the user
   hyperkit runs as, with the gateway address; the macvlan network on the VM's NIC; the loopback service.
3. A web server container on that network answers the Mac by its IP; the container reaches the Mac's gateway.
4. The shim is what makes it work: hyperkit started without it, or with the wrong tap device, everything else
   equal (address re-applied), and the same GET fails; back through the shim, it works.
5. bridge.yml again: ``changed=0``.
6. A Docker Desktop restart drops the tap address (the GET fails); the rendered re-apply program, run as launchd
   runs it (``/bin/sh <program>``), puts it back and the GET works without the playbook.
7. unbridge.yml restores everything: hyperkit byte for byte, no tap device, no network, the hosts file identical.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import pwd
import re
import shutil
import sys
import time
import typing as t
from pathlib import Path

import pytest

from ansible_collections.dockermac.hostbridge.tests import ansible_cli

_spec = importlib.util.spec_from_file_location("hostbridge_e2e_sim", Path(__file__).with_name("sim.py"))
_sim = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _sim
_spec.loader.exec_module(_sim)
SimulatedMac, have_tools, sh = _sim.SimulatedMac, _sim.have_tools, _sim.sh
probe_code, parse_probe, assert_unreachable = _sim.probe_code, _sim.parse_probe, _sim.assert_unreachable

pytestmark = [pytest.mark.root, pytest.mark.docker]

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PLAYBOOK_BIN = ansible_cli.cli("ansible-playbook")
IMAGE = "hostbridge-base:bookworm"
GATEWAY = "10.0.75.1"
HOST_ADDRESS = f"{GATEWAY}/24"
SERVICE = {"name": "web.hostbridge-e2e.test", "ip": "198.51.100.77"}
RECAP = re.compile(r"^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)

# A Mac's /etc/hosts: the stock header and Docker Desktop's block (background.md), which must survive untouched.
HOSTS = (
    "##\n# Host Database\n#\n# localhost is used to configure the loopback interface\n"
    "# when the system is booting.  Do not change this entry.\n##\n"
    "127.0.0.1\tlocalhost\n255.255.255.255\tbroadcasthost\n::1             localhost\n"
    "# Added by Docker Desktop\n# To allow the same kube context to work on the host and the container:\n"
    "127.0.0.1 kubernetes.docker.internal\n# End of section\n"
)


# --- helpers ----------------------------------------------------------------------------------------------------
def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def argv_starts(mac: SimulatedMac) -> list[list[str]]:
    """Every command line hyperkit was started with, oldest first."""
    if not mac.argv_log.exists():
        return []
    return [json.loads(line) for line in mac.argv_log.read_text(encoding="utf-8").splitlines() if line]


def with_tap(argv: list[str], tap: str) -> list[str]:
    """``argv`` with ``-s 2:1,virtio-tap,<tap>`` right after the virtio-vpnkit device, as mal's shim does."""
    at = next(i for i, arg in enumerate(argv) if ",virtio-vpnkit," in arg)
    return [*argv[: at + 1], "-s", f"2:1,virtio-tap,{tap}", *argv[at + 1:]]


def ipv4(mac: SimulatedMac, dev: str) -> list[str] | None:
    """IPv4 addresses of ``dev`` in the Mac's namespace; None when the device does not exist."""
    proc = sh("ip", "-n", mac.netns, "-j", "addr", "show", "dev", dev, check=False)
    if proc.returncode != 0:
        return None
    return sorted(f"{a['local']}/{a['prefixlen']}" for link in json.loads(proc.stdout)
                  for a in link.get("addr_info", []) if a["family"] == "inet")


def vm_nic_up(mac: SimulatedMac) -> bool:
    """Whether the simulated VM's eth1 is administratively up (in the engine's namespace)."""
    link = json.loads(sh("ip", "-j", "link", "show", "dev", mac.vm_nic).stdout)[0]
    return "UP" in link["flags"]


def get(mac: SimulatedMac, url: str, *, want: int | None = 200, wait: float = 10, timeout: float = 2) -> int | str:
    """GET from the Mac. With ``want``, retry until that answer comes (a link coming up, ARP) or ``wait`` ends."""
    deadline = time.monotonic() + wait
    while True:
        answer = mac.http_get(url, timeout=timeout)
        if want is None or answer == want or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


def docker_get(container: str, url: str, timeout: float = 2) -> int | str:
    """GET from inside a container (the base image has python3); the answer as :func:`sim.parse_probe` gives it."""
    return parse_probe(sh("docker", "exec", container, "python3", "-c", probe_code(url, timeout), check=False))


class Playbooks:
    """ansible-playbook inside the Mac's namespace, with the test's extra vars."""

    def __init__(self, mac: SimulatedMac, extra_vars: dict[str, t.Any]) -> None:
        self.mac = mac
        self.vars_file = mac.workdir / "extra-vars.json"
        self.vars_file.write_text(json.dumps(extra_vars), encoding="utf-8")

    def run(self, name: str) -> tuple[dict[str, int], str]:
        cmd = ["ip", "netns", "exec", self.mac.netns, str(PLAYBOOK_BIN), "-i", "localhost,", "-c", "local",
               f"dockermac.hostbridge.{name}", "-e", f"@{self.vars_file}"]
        if os.path.isdir("/run/systemd/system"):
            # Hide a running systemd so nothing can be written to the host's /etc/systemd/system.
            cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                   'mount -t tmpfs tmpfs /run/systemd && exec "$0" "$@"', *cmd]
        env = ansible_cli.ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default", ANSIBLE_PIPELINING="true")
        env = {k: v for k, v in env.items() if not k.startswith("DOCKER_")}  # the Mac's own engine socket only
        proc = ansible_cli.run(cmd, env=env, cwd=self.mac.workdir, timeout=240)
        output = proc.stdout + proc.stderr
        match = RECAP.search(proc.stdout)
        if proc.returncode != 0 or not match:
            pytest.fail(f"{name}.yml failed (rc={proc.returncode}):\n{output[-6000:]}\n--- hyperkit log:\n"
                        f"{self.mac.vm_log.read_text(errors='replace')[-2000:] if self.mac.vm_log.exists() else ''}")
        ok, changed, unreachable, failed = (int(n) for n in match.groups())
        return {"ok": ok, "changed": changed, "unreachable": unreachable, "failed": failed}, output


# --- fixtures ---------------------------------------------------------------------------------------------------
@pytest.fixture
def mac(tmp_path: Path) -> t.Iterator[SimulatedMac]:
    reason = have_tools()
    if reason is None and sh("docker", "image", "inspect", IMAGE, check=False).returncode != 0:
        reason = f"needs the local image {IMAGE} (tools/bootstrap builds it)"
    if reason:
        pytest.skip(reason)
    workdir = tmp_path / "mac"
    workdir.mkdir()
    sim = SimulatedMac(workdir)
    try:
        sim.create()
        yield sim
    finally:
        sim.destroy()
        shutil.rmtree(workdir, ignore_errors=True)


# --- the test ---------------------------------------------------------------------------------------------------
def test_tap_bridge_end_to_end(mac: SimulatedMac) -> None:
    hosts = mac.workdir / "hosts"
    hosts.write_text(HOSTS, encoding="utf-8")
    hosts_before = hosts.read_bytes()
    hyperkit_sha = sha256(mac.hyperkit)
    real = mac.hyperkit.with_name(mac.hyperkit.name + ".real")
    reapply = mac.workdir / "libexec" / "dockermac-hostbridge" / "tap-reapply"
    network = f"hb-tap-{mac.id}"
    label_key, _eq, label_value = mac.label.partition("=")
    playbooks = Playbooks(mac, {
        "bridge_strategy": "tap",
        "tap_bridge_app_path": str(mac.app),
        "tap_bridge_user": mac.user,
        "tap_bridge_device": mac.tap,
        "tap_bridge_vm_interface": mac.vm_nic,  # the simulated VM's eth1, never the machine's own NIC
        "tap_bridge_host_address": HOST_ADDRESS,
        "tap_bridge_network_name": network,
        "tap_bridge_network_labels": {label_key: label_value},
        "tap_bridge_docker_socket": "/var/run/docker.sock",
        "tap_bridge_docker_restart_command": [sys.executable, str(HERE / "sim.py"), "restart-docker-desktop",
                                              str(mac.workdir)],
        "tap_bridge_docker_restart_timeout": 30,
        # The helper container runs with --net=host, the engine's namespace: the simulated VM's, where its NIC is.
        "tap_bridge_vm_link_image": IMAGE,
        "tap_bridge_reapply_path": str(reapply),
        "tap_bridge_reapply_persistent": False,  # run by hand below, as launchd would run it
        "loopback_services": [SERVICE],
        "loopback_hosts_path": str(hosts),
        "loopback_persistent": False,
    })

    # 1. Docker Desktop without the shim: hyperkit gets no tap device, the Mac has none.
    mac.start_docker_desktop()
    original_argv = mac.hyperkit_argv()
    assert argv_starts(mac) == [original_argv]
    assert ipv4(mac, mac.tap) is None
    assert not vm_nic_up(mac)

    # 2. bridge.yml.
    recap, output = playbooks.run("bridge")
    assert recap["changed"] > 0, output
    starts = argv_starts(mac)
    assert starts == [original_argv, with_tap(original_argv, mac.tap)], "restarted once, through the shim"
    assert real.exists()
    assert sha256(real) == hyperkit_sha
    assert mac.hyperkit.read_bytes().startswith(b"#!/bin/sh\n# dockermac.hostbridge-shim v1 tap=tap1 ")
    vm_pid = mac.vm_pid()
    assert vm_pid is not None
    uid = int(Path(f"/proc/{vm_pid}/status").read_text().split("\nUid:")[1].split()[0])
    assert uid == pwd.getpwnam(mac.user).pw_uid, "hyperkit runs as the user, so the tap device must be theirs"
    owner = sh("ip", "netns", "exec", mac.netns, "cat", f"/sys/class/net/{mac.tap}/owner").stdout.strip()
    assert int(owner) == uid
    assert ipv4(mac, mac.tap) == [HOST_ADDRESS]
    assert f"{SERVICE['ip']}/32" in (ipv4(mac, "lo") or [])
    assert re.search(rf"^{re.escape(SERVICE['ip'])}\s+{re.escape(SERVICE['name'])}$", hosts.read_text(), re.M)
    assert hosts.read_text().startswith(HOSTS)
    assert reapply.is_file()
    net = json.loads(sh("docker", "network", "inspect", network).stdout)[0]
    assert net["Driver"] == "macvlan"
    assert net["Options"]["parent"] == mac.vm_nic
    assert net["Labels"] == {"com.dockermac.hostbridge.role": "tap_bridge", label_key: label_value}
    assert vm_nic_up(mac), "the helper container brought the VM's NIC up"

    # 3. A container on the bridge network, reached by its IP from the Mac; the Mac reached from the container.
    web = f"hb-e2e-web-{mac.id}"
    sh("docker", "run", "-d", "--name", web, "--label", mac.label, "--network", network, IMAGE,
       "python3", "-m", "http.server", "8080")
    ip = json.loads(sh("docker", "inspect", web).stdout)[0]["NetworkSettings"]["Networks"][network]["IPAddress"]
    assert ip.startswith("10.0.75.")
    url = f"http://{ip}:8080/"
    assert get(mac, url) == 200

    share = mac.workdir / "mac-share"
    share.mkdir()
    (share / "index.html").write_text("the Mac\n")
    mac.spawn_in_mac(sys.executable, "-m", "http.server", "8081", "--bind", GATEWAY, "--directory", str(share))
    deadline = time.monotonic() + 10
    while (answer := docker_get(web, f"http://{GATEWAY}:8081/")) != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert answer == 200, f"container -> Mac gateway: {answer}"

    # 4. The shim is what makes it work. Everything else equal (network, container, tap1 with its address put
    # back by the re-apply program), hyperkit started without the shim, or with a shim's line for another tap
    # device, leaves the VM's NIC unlinked from tap1: the same GET fails.
    def reapply_now() -> None:
        proc = mac.in_mac("/bin/sh", str(reapply))
        assert proc.returncode == 0, proc.stderr
        assert ipv4(mac, mac.tap) == [HOST_ADDRESS]

    mac.start_hyperkit(real, original_argv)  # what Docker Desktop runs without the shim
    reapply_now()
    assert_unreachable(get(mac, url, want=None), "Mac -> container, hyperkit without the shim")
    assert_unreachable(docker_get(web, f"http://{GATEWAY}:8081/"), "container -> Mac, hyperkit without the shim")

    sh("ip", "-n", mac.netns, "tuntap", "add", "dev", "tap2", "mode", "tap", "user", mac.user)
    sh("ip", "-n", mac.netns, "link", "set", "tap2", "up")
    mac.start_hyperkit(real, with_tap(original_argv, "tap2"))  # a shim for the wrong device
    reapply_now()
    assert_unreachable(get(mac, url, want=None), "Mac -> container, a shim for tap2")
    mac.stop_docker_desktop()
    sh("ip", "-n", mac.netns, "link", "del", "tap2")

    mac.start_docker_desktop()  # through the bundle path, so the shim, again
    reapply_now()
    assert get(mac, url) == 200
    assert argv_starts(mac)[-1] == with_tap(original_argv, mac.tap)

    # 5. Nothing to do on a second run (and Docker Desktop is not restarted).
    starts = len(argv_starts(mac))
    recap, output = playbooks.run("bridge")
    assert recap["changed"] == 0, output
    assert recap["failed"] == 0
    assert len(argv_starts(mac)) == starts

    # 6. A Docker Desktop restart drops the tap address; the re-apply job's program, run as launchd runs it,
    # brings the bridge back without the playbook. A second run has nothing to do.
    mac.restart_docker_desktop()
    assert ipv4(mac, mac.tap) == []
    assert_unreachable(get(mac, url, want=None), "Mac -> container, tap1 without its address", ("ENETUNREACH",))
    reapply_now()
    assert get(mac, url) == 200
    traced = mac.in_mac("/bin/sh", "-x", str(reapply))
    assert traced.returncode == 0, traced.stderr
    assert "ip addr replace" not in traced.stderr, "a second run changes nothing"
    assert ipv4(mac, mac.tap) == [HOST_ADDRESS]

    # 6b. A Docker Desktop update puts a plain hyperkit back in place of the shim. bridge_facts finds tap1 in step
    # (the address is there), but the shim is reinstalled and Docker Desktop restarted through it, which drops the
    # address: the tap device's task must run after the restart all the same. No re-apply program this time.
    update = mac.hyperkit.with_name(mac.hyperkit.name + ".update")
    shutil.copy2(real, update)
    update.replace(mac.hyperkit)
    starts = len(argv_starts(mac))
    recap, output = playbooks.run("bridge")
    assert recap["changed"] > 0, output
    assert mac.hyperkit.read_bytes().startswith(b"#!/bin/sh\n# dockermac.hostbridge-shim v1 tap=tap1 ")
    assert argv_starts(mac)[starts:] == [with_tap(original_argv, mac.tap)], "restarted once, through the shim"
    assert ipv4(mac, mac.tap) == [HOST_ADDRESS], "the address comes back after the restart, from the playbook"
    assert get(mac, url) == 200

    # 7. unbridge.yml restores everything.
    sh("docker", "rm", "-f", web)
    recap, output = playbooks.run("unbridge")
    assert recap["changed"] > 0, output
    assert sha256(mac.hyperkit) == hyperkit_sha
    assert not real.exists()
    assert sorted(p.name for p in mac.hyperkit.parent.iterdir()) == [mac.hyperkit.name]
    assert argv_starts(mac)[-1] == original_argv, "Docker Desktop restarted without the tap device"
    assert mac.vm_running()
    assert ipv4(mac, mac.tap) is None
    assert sh("docker", "network", "inspect", network, check=False).returncode != 0
    assert hosts.read_bytes() == hosts_before
    assert f"{SERVICE['ip']}/32" not in (ipv4(mac, "lo") or [])
    assert not reapply.parent.exists()
