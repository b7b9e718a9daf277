"""The Execution Environment runs bridge.yml against a test host, as AWX / Automation Platform would.

`tools/ee build` makes (or reuses, by the hash of every input) the image ``hostbridge-ee:<hash>``. A throwaway test
host (``hb-ee-host-*``, from the local base image, NET_ADMIN) gets sshd and sudo from the .deb files that
`tools/ee build` gathered, a user with a password-protected sudo rule and an authorised SSH key. The EE then runs
``ansible-runner run`` on a private data directory laid out as AWX lays it out for a job: the playbook
(``import_playbook: dockermac.hostbridge.bridge``), an inventory, extra vars, the machine credential's SSH key
(``env/ssh_key``, loaded into ssh-agent by the runner) and its become password (``env/passwords`` answering
``--ask-become-pass``). Both containers sit on an ``--internal`` Docker network: nothing reaches beyond them.
The EE's own ansible-core and collections do the work: the data directory holds no collection.

Run: ``tools/ee test`` (builds first), or ``.venv/bin/pytest -q tests/ee`` (runs `tools/ee build` itself).
"""

from __future__ import annotations

import glob
import json
import os
import re
import secrets
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).resolve().parents[2]
BASE_IMAGE = "hostbridge-base:bookworm"
SERVICE = {"name": "hostbridge-ee.test", "ip": "198.51.100.9"}
RECAP = re.compile(
    r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)",
    re.MULTILINE,
)

pytestmark = [pytest.mark.docker, pytest.mark.root]


def sh(*argv: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=timeout)
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(argv)} exited {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


@pytest.fixture(scope="module")
def ee() -> dict[str, str]:
    """The current image (built by `tools/ee build` unless its inputs' tag exists) and the test host's .deb files."""
    sh(str(ROOT / "tools" / "ee"), "build", timeout=900)
    env = dict(
        line.split("=", 1) for line in (ROOT / ".tmp" / "ee" / "build.env").read_text().splitlines() if "=" in line
    )
    assert re.fullmatch(r"hostbridge-ee:[0-9a-f]{12}", env["HOSTBRIDGE_EE_IMAGE"])
    assert glob.glob(os.path.join(env["HOSTBRIDGE_EE_TESTHOST_DEBS"], "openssh-server_*.deb"))
    return env


def in_ee(image: str, *argv: str) -> str:
    return sh("docker", "run", "--rm", "--network", "none", image, *argv).stdout


def _ssh_keypair() -> tuple[str, str]:
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return private, public.decode() + " hb-ee-test\n"


# The test host: sshd and sudo from the gathered .deb files (no network, no image built), a developer account whose
# sudo rule asks for its password, and root's sshd in the foreground.
TESTHOST_SETUP = r"""
set -eu
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
dpkg -i /debs/*.deb > /tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }
useradd -m -s /bin/bash hbdev
echo "hbdev:$HB_PASSWORD" | chpasswd
echo 'hbdev ALL=(ALL:ALL) ALL' > /etc/sudoers.d/hbdev && chmod 0440 /etc/sudoers.d/hbdev
install -d -m 0700 -o hbdev -g hbdev /home/hbdev/.ssh
install -m 0600 -o hbdev -g hbdev /keys/id.pub /home/hbdev/.ssh/authorized_keys
mkdir -p /run/sshd
exec /usr/sbin/sshd -D -e
"""


@pytest.fixture(scope="module")
def testhost(ee: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Any:
    suffix = secrets.token_hex(4)
    network, host = f"hb-ee-net-{suffix}", f"hb-ee-host-{suffix}"
    password = secrets.token_urlsafe(12)
    private, public = _ssh_keypair()
    keys = tmp_path_factory.mktemp("keys")
    (keys / "id.pub").write_text(public)
    keys.chmod(0o755)
    try:
        # --internal: a bridge of Docker's own with no route out; the machine's network is never touched.
        sh("docker", "network", "create", "--internal", network)
        sh("docker", "run", "-d", "--name", host, "--hostname", host, "--network", network,
           "--cap-add", "NET_ADMIN", "-e", f"HB_PASSWORD={password}",
           "-v", f"{ee['HOSTBRIDGE_EE_TESTHOST_DEBS']}:/debs:ro", "-v", f"{keys}:/keys:ro",
           "--entrypoint", "/bin/sh", BASE_IMAGE, "-c", TESTHOST_SETUP)
        deadline = time.monotonic() + 60
        while "Server listening on" not in (logs := sh("docker", "logs", host, check=False)).stderr:
            running = sh("docker", "inspect", "-f", "{{.State.Running}}", host, check=False).stdout.strip()
            if running != "true" or time.monotonic() > deadline:
                pytest.fail(f"the test host's sshd did not start:\n{logs.stdout}\n{logs.stderr}")
            time.sleep(0.3)
        yield {"name": host, "network": network, "password": password, "private_key": private}
    finally:
        sh("docker", "rm", "-f", host, check=False)
        sh("docker", "network", "rm", network, check=False)


@pytest.fixture(scope="module")
def private_data_dir(testhost: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What AWX hands ansible-runner for a job with a machine credential (SSH key + become password)."""
    pdd = tmp_path_factory.mktemp("runner")
    (pdd / "project").mkdir()
    (pdd / "inventory").mkdir()
    (pdd / "env").mkdir()
    (pdd / "project" / "bridge.yml").write_text(
        "---\n# The one-line playbook docs/awx.md has a project add for its job template.\n"
        "- ansible.builtin.import_playbook: dockermac.hostbridge.bridge\n"
    )
    (pdd / "inventory" / "hosts").write_text(
        f"[linux_laptops]\n{testhost['name']} ansible_user=hbdev ansible_python_interpreter=/usr/bin/python3\n"
    )
    extravars = {
        "bridge_strategy": "loopback",
        "loopback_services": [SERVICE],
        # No systemd in the container: nothing to make persistent.
        "loopback_persistent": False,
        # /etc/hosts is bind-mounted into a container: it cannot be renamed over.
        "loopback_hosts_unsafe_writes": True,
    }
    (pdd / "env" / "extravars").write_text(json.dumps(extravars))
    envvars = {
        "ANSIBLE_INJECT_FACT_VARS": "false",
        "ANSIBLE_HOST_KEY_CHECKING": "false",
        "ANSIBLE_FORCE_COLOR": "false",
    }
    (pdd / "env" / "envvars").write_text(json.dumps(envvars))
    (pdd / "env" / "ssh_key").write_text(testhost["private_key"])
    (pdd / "env" / "cmdline").write_text("--ask-become-pass")
    (pdd / "env" / "passwords").write_text(json.dumps({r"^BECOME password.*:\s*?$": testhost["password"]}))
    # The EE runs as uid 1000 (AWX: an arbitrary uid in group 0); it writes artifacts here.
    for path in [pdd, *pdd.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o644)
    return pdd


def run_bridge(ee: dict[str, str], testhost: dict[str, str], pdd: Path, ident: str) -> dict[str, Any]:
    started = time.monotonic()
    proc = sh("docker", "run", "--rm", "--name", f"hb-ee-runner-{ident}-{secrets.token_hex(3)}",
              "--network", testhost["network"], "-v", f"{pdd}:/runner", ee["HOSTBRIDGE_EE_IMAGE"],
              "ansible-runner", "run", "/runner", "-p", "bridge.yml", "--ident", ident,
              check=False, timeout=600)
    out = proc.stdout + proc.stderr
    recaps = {m["host"]: {k: int(v) for k, v in m.groupdict().items() if k != "host"} for m in RECAP.finditer(out)}
    stats = None
    for event_file in sorted((pdd / "artifacts" / ident / "job_events").glob("*.json")):
        event = json.loads(event_file.read_text())
        if event.get("event") == "playbook_on_stats":
            stats = event["event_data"]
    return {"rc": proc.returncode, "output": out, "recap": recaps.get(testhost["name"]), "stats": stats,
            "status": (pdd / "artifacts" / ident / "status").read_text().strip()
            if (pdd / "artifacts" / ident / "status").exists() else None,
            "seconds": round(time.monotonic() - started, 1)}


NAVIGATOR = Path(os.environ.get("HOSTBRIDGE_EE_VENV", ROOT / ".venv-ee")) / "bin" / "ansible-navigator"


def run_navigator(ee: dict[str, str], testhost: dict[str, str], workdir: Path) -> dict[str, Any]:
    """A developer's run: ansible-navigator on this host starts the EE (pull policy never) on the test network."""
    workdir.mkdir()
    key = workdir / "id_ed25519"
    key.write_text(testhost["private_key"])
    key.chmod(0o600)
    (workdir / "bridge.yml").write_text("---\n- ansible.builtin.import_playbook: dockermac.hostbridge.bridge\n")
    (workdir / "hosts").write_text(
        f"{testhost['name']} ansible_user=hbdev ansible_python_interpreter=/usr/bin/python3"
        f" ansible_ssh_private_key_file={key}\n"
    )
    (workdir / "vars.json").write_text(json.dumps({
        "bridge_strategy": "loopback", "loopback_services": [SERVICE], "loopback_persistent": False,
        "loopback_hosts_unsafe_writes": True, "ansible_become_password": testhost["password"],
    }))
    started = time.monotonic()
    proc = subprocess.run(
        [str(NAVIGATOR), "run", "bridge.yml", "-i", "hosts", "-e", "@vars.json", "--mode", "stdout",
         "--ee", "true", "--eei", ee["HOSTBRIDGE_EE_IMAGE"], "--pull-policy", "never", "--ce", "docker",
         f"--co=--network={testhost['network']}", "--senv", "ANSIBLE_INJECT_FACT_VARS=false",
         "--senv", "ANSIBLE_HOST_KEY_CHECKING=false", "--senv", "ANSIBLE_FORCE_COLOR=false",
         "--pae", "false", "--lf", str(workdir / "navigator.log")],
        cwd=workdir, capture_output=True, text=True, check=False, timeout=600,
        # navigator hands the caller's ANSIBLE_* variables to the EE: the Makefile's ANSIBLE_COLLECTIONS_PATH
        # (host paths) would hide the image's collections.
        env={k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")},
    )
    out = re.sub(r"\x1b\[[0-9;=]*[A-Za-z]|\x1b\[K", "", proc.stdout + proc.stderr)
    recaps = {m["host"]: {k: int(v) for k, v in m.groupdict().items() if k != "host"} for m in RECAP.finditer(out)}
    return {"rc": proc.returncode, "output": out, "recap": recaps.get(testhost["name"]),
            "seconds": round(time.monotonic() - started, 1)}


@pytest.fixture(scope="module")
def runs(ee: dict[str, str], testhost: dict[str, str], private_data_dir: Path) -> list[dict[str, Any]]:
    results = []
    for ident in ("first", "second"):
        result = run_bridge(ee, testhost, private_data_dir, ident)
        print(f"\n--- {ident} run ({result['seconds']} s, rc {result['rc']}):\n{result['output'][-3000:]}")
        results.append(result)
    return results


@pytest.fixture(scope="module")
def navigator_run(
    runs: list[dict[str, Any]], ee: dict[str, str], testhost: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    result = run_navigator(ee, testhost, tmp_path_factory.mktemp("navigator") / "project")
    print(f"\n--- ansible-navigator run ({result['seconds']} s, rc {result['rc']}):\n{result['output'][-1500:]}")
    return result


def test_image_holds_the_runtime_and_the_collections(ee: dict[str, str]) -> None:
    image = ee["HOSTBRIDGE_EE_IMAGE"]
    labels = sh("docker", "image", "inspect", "-f", "{{json .Config.Labels}}", image).stdout
    assert "ansible-execution-environment" in labels
    assert re.search(r"ansible \[core 2\.19\.\d+\]", in_ee(image, "ansible", "--version"))
    assert in_ee(image, "ansible-runner", "--version").strip() == "2.4.3"
    listing = in_ee(image, "ansible-galaxy", "collection", "list", "--format", "json")
    installed = json.loads(listing)["/usr/share/ansible/collections/ansible_collections"]
    galaxy = (ROOT / "galaxy.yml").read_text()
    version = re.search(r"^version:\s*(\S+)", galaxy, re.MULTILINE)[1]
    assert installed["dockermac.hostbridge"]["version"] == version
    for name in ("community.docker", "community.general", "ansible.posix", "community.library_inventory_filtering_v1"):
        assert name in installed
    # The modules' documentation renders from the image's copy (the tarball holds the plugins).
    assert "dockermac.hostbridge.lo0_alias" in in_ee(image, "ansible-doc", "dockermac.hostbridge.lo0_alias")
    # ssh and ssh-agent for machine credentials; no leftover offline pip configuration or wheel folder.
    assert "OpenSSH" in sh("docker", "run", "--rm", "--network", "none", image, "ssh", "-V").stderr
    env = in_ee(image, "env")
    assert "PIP_NO_INDEX=0" in env
    assert in_ee(image, "sh", "-c", "test ! -e /opt/hostbridge-ee && echo gone").strip() == "gone"


def test_first_run_applies_the_bridge(runs: list[dict[str, Any]], testhost: dict[str, str]) -> None:
    first = runs[0]
    assert first["rc"] == 0, first["output"][-4000:]
    assert first["status"] == "successful"
    assert first["recap"] is not None, first["output"][-4000:]
    assert first["recap"]["changed"] > 0
    assert first["recap"]["failed"] == 0
    assert first["recap"]["unreachable"] == 0
    assert first["stats"]["changed"].get(testhost["name"], 0) == first["recap"]["changed"]
    assert "Loopback aliases of every service" in first["output"]


def test_second_run_changes_nothing(runs: list[dict[str, Any]], testhost: dict[str, str]) -> None:
    second = runs[1]
    assert second["rc"] == 0, second["output"][-4000:]
    assert second["status"] == "successful"
    assert second["recap"] is not None, second["output"][-4000:]
    assert second["recap"]["changed"] == 0, second["output"][-4000:]
    assert second["recap"]["failed"] == 0
    assert second["recap"]["unreachable"] == 0
    assert not second["stats"]["changed"]
    assert not second["stats"]["failures"]
    # Required for ansible-core 2.21; the EE's 2.19 shows none either, and a new one should be noticed.
    for run in runs:
        assert "[DEPRECATION WARNING]" not in run["output"], run["output"][-4000:]


def test_ansible_navigator_run_from_the_image_changes_nothing(navigator_run: dict[str, Any]) -> None:
    """A third run, the way a developer tries the image: `ansible-navigator run --mode stdout --ee true`."""
    assert navigator_run["rc"] == 0, navigator_run["output"][-4000:]
    assert navigator_run["recap"] is not None, navigator_run["output"][-4000:]
    assert navigator_run["recap"]["changed"] == 0, navigator_run["output"][-4000:]
    assert navigator_run["recap"]["failed"] == 0
    assert navigator_run["recap"]["unreachable"] == 0


def test_the_test_host_has_the_alias_and_the_name(runs: list[dict[str, Any]], testhost: dict[str, str]) -> None:
    assert runs[0]["rc"] == 0
    addresses = sh("docker", "exec", testhost["name"], "ip", "-o", "addr", "show", "dev", "lo").stdout
    assert re.search(rf"\binet {re.escape(SERVICE['ip'])}/32\b", addresses), addresses
    hosts = sh("docker", "exec", testhost["name"], "cat", "/etc/hosts").stdout
    assert re.search(rf"^{re.escape(SERVICE['ip'])}\s+{re.escape(SERVICE['name'])}\s*$", hosts, re.MULTILINE), hosts
    # The work was done as root through sudo with the become password: the file stays root's.
    owner = sh("docker", "exec", testhost["name"], "stat", "-c", "%U", "/etc/hosts").stdout.strip()
    assert owner == "root"
