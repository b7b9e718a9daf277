"""The routed role run by ansible-playbook against this machine.

Mac side (marker root): facts of an Apple Silicon Mac given as extra vars, a fake ``brew`` owned by ``nobody``
(standing in for the developer who installed Homebrew) that records every argv with the uid it ran as and answers
with the recorded outputs of tests/fixtures/darwin (SOURCES.md). It keeps a little state (tapped, installed,
service) so that runs are idempotent, and behaves like Homebrew where it matters: it refuses root but for
``services`` (``check-run-command-as-root`` in Homebrew/brew ``Library/Homebrew/brew.sh``), ``services info`` as a
user does not see the root service, ``services start`` as root takes root ownership of the keg, and ``uninstall``
fails on a keg the user does not own. What Homebrew and launchd keep on disk follows the state (``DISK``): a tap's
clone under ``Library/Taps``, the keg's ``INSTALL_RECEIPT.json``, the service's LaunchDaemon property list, which
is what bridge_facts' plan reads (test_bridge_plan_routed.py). ``become`` goes through ``su -s /bin/sh`` (no sudo
here; root needs no password).

Docker side: the role's ``networks`` entry point against the local engine, for real (markers root, docker); and
every path whose result depends on the engine's version (daemon_option's daemon.json merge, backup and restart;
trusted_interfaces' networks) against a fake Docker API on the fake Mac's socket reporting a chosen version
(tests/fake_docker_api.py), so that both sides of Engine 28.0 and 28.2 are tested whatever Docker is installed.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import typing as t
from pathlib import Path

import pytest

from ansible_collections.dockermac.hostbridge.tests import ansible_cli
from ansible_collections.dockermac.hostbridge.tests.fake_docker_api import FakeDockerAPI

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "darwin"
COLLECTIONS = f"{ROOT / '.tmp' / 'collections'}:{ROOT / '.cache' / 'collections'}"
FORMULA = "chipmk/tap/docker-mac-net-connect"
TEST_LABEL = "com.dockermac.hostbridge.test"
ROLE_LABEL = "com.dockermac.hostbridge.role"

# What Homebrew and launchd keep on disk for a state of the fake Mac under ``base``, shared by the fake brew and the
# test: each tap ``user/repo`` a directory ``Library/Taps/user/homebrew-repo`` (Homebrew/brew ``tap.rb``), an
# installed formula's keg with ``INSTALL_RECEIPT.json`` (``Formula#any_version_installed?``), a started service's
# property list in the system domain's ``Library/LaunchDaemons`` (``brew services start`` as root).
DISK = r'''
import os, shutil

def mirror(base, state):
    prefix = os.path.join(base, "opt", "homebrew")
    taps = os.path.join(prefix, "Library", "Taps")
    for tap in state["taps"]:
        user, repo = tap.split("/")
        os.makedirs(os.path.join(taps, user, "homebrew-" + repo), exist_ok=True)
    for user in os.listdir(taps):
        for repo in os.listdir(os.path.join(taps, user)):
            if user + "/" + repo[len("homebrew-"):] not in state["taps"]:
                shutil.rmtree(os.path.join(taps, user, repo))
    keg = os.path.join(prefix, "Cellar", "docker-mac-net-connect", "v0.1.4")
    receipt = os.path.join(keg, "INSTALL_RECEIPT.json")
    if state["installed"] and not os.path.exists(receipt):
        os.makedirs(keg, exist_ok=True)
        with open(receipt, "w") as handle:
            handle.write('{"source": {"tap": "chipmk/tap"}}\n')
    elif not state["installed"] and os.path.exists(receipt):
        os.unlink(receipt)
    plist = os.path.join(base, "Library", "LaunchDaemons", "homebrew.mxcl.docker-mac-net-connect.plist")
    if state["service"] != "none" and not os.path.exists(plist):
        shutil.copy(os.path.join(base, "samples", "homebrew.mxcl.docker-mac-net-connect.plist"), plist)
    elif state["service"] == "none" and os.path.exists(plist):
        os.unlink(plist)
'''

FAKE_BREW = r'''#!/usr/bin/python3
"""Fake brew: records argv and uid, answers from recorded samples, keeps state in state.json."""
import json, os, sys
@DISK@
HERE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PREFIX = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEG = os.path.join(PREFIX, "Cellar", "docker-mac-net-connect")
FORMULA = "chipmk/tap/docker-mac-net-connect"
args = sys.argv[1:]
with open(os.path.join(HERE, "calls.jsonl"), "a") as rec:
    rec.write(json.dumps({"uid": os.getuid(), "argv": args}) + "\n")
if os.getuid() == 0 and args[:1] != ["services"]:
    sys.stderr.write("Error: Running Homebrew as root is extremely dangerous and no longer supported.\n"
                     "As Homebrew does not drop privileges on installation you would be giving all\n"
                     "build scripts full access to your system.\n")
    sys.exit(1)
state_path = os.path.join(HERE, "state.json")
with open(state_path) as handle:
    state = json.load(handle)

def sample(name):
    with open(os.path.join(HERE, "samples", name)) as handle:
        return handle.read()

def save():
    with open(state_path, "w") as handle:
        json.dump(state, handle)
    mirror(HERE, state)

def keg_files():
    for top, dirs, files in os.walk(KEG):
        yield top
        for name in files:
            yield os.path.join(top, name)

if args == ["tap"]:
    print("\n".join(state["taps"]))
elif args[:1] == ["tap"] and len(args) == 2:
    state["taps"].append(args[1]); save()
    print("==> Tapping " + args[1])
elif args == ["info", "--json=v2", FORMULA]:
    if "chipmk/tap" not in state["taps"]:
        sys.stderr.write('Error: No available formula with the name "%s".\n' % FORMULA)
        sys.exit(1)
    info = json.loads(sample("brew_info_json_v2_docker_mac_net_connect.json"))
    if state["installed"]:
        info["formulae"][0]["installed"] = [{"version": "v0.1.4", "installed_on_request": True}]
    print(json.dumps(info))
elif args == ["install", FORMULA]:
    os.makedirs(os.path.join(KEG, "v0.1.4", "bin"))
    open(os.path.join(KEG, "v0.1.4", "bin", "docker-mac-net-connect"), "w").close()
    state["installed"] = True; save()
elif args == ["uninstall", "--force", FORMULA]:
    if any(os.stat(path).st_uid != os.getuid() for path in keg_files()):
        sys.stderr.write("Error: Permission denied @ apply2files - %s/v0.1.4/bin/docker-mac-net-connect\n" % KEG)
        sys.exit(1)
    for top, dirs, files in os.walk(KEG, topdown=False):
        for name in files:
            os.unlink(os.path.join(top, name))
        os.rmdir(top)
    state["installed"] = False; save()
elif args == ["services", "info", "--json", FORMULA]:
    if not state["installed"]:
        sys.stderr.write("Error: Formula `docker-mac-net-connect` is not installed.\n")
        sys.exit(1)
    # a user does not see the system domain: the root service looks not loaded to them
    seen = state["service"] if os.getuid() == 0 else "none"
    print(sample({"started": "brew_services_info_json_started_root.json", "none": "brew_services_info_json_none.json",
                  "error": "brew_services_info_json_error_root.json"}[seen]), end="")
elif args[:2] == ["services", "start"] or args[:2] == ["services", "restart"]:
    if os.getuid() == 0:
        for path in keg_files():  # Homebrew takes root ownership of the keg
            os.chown(path, 0, 0)
    state["service"] = "started"; save()
    sys.stderr.write(sample("brew_services_start_root_stderr.txt"))
elif args[:2] == ["services", "stop"]:
    state["service"] = "none"; save()
    print("Stopping `docker-mac-net-connect`... (might take a while)")
    print("==> Successfully stopped `docker-mac-net-connect` (label: homebrew.mxcl.docker-mac-net-connect)")
else:
    sys.stderr.write("fake brew: unexpected arguments %r\n" % (args,))
    sys.exit(64)
'''.replace("@DISK@", DISK)
_disk: dict[str, t.Any] = {}
exec(DISK, _disk)  # noqa: S102 - the same mirror() the fake brew runs


def playbook(path: Path, *, role_vars: dict[str, t.Any], tasks_from: str | None = None) -> Path:
    include: dict[str, t.Any] = {"name": "dockermac.hostbridge.routed"}
    if tasks_from:
        include["tasks_from"] = tasks_from
    play = [{"hosts": "all", "gather_facts": False,
             "tasks": [{"name": "The routed role", "ansible.builtin.include_role": include, "vars": role_vars}]}]
    path.write_text(json.dumps(play))  # JSON is YAML
    return path


def run_playbook(book: Path, inventory: Path, *extra: str, check: bool = False,
                 extra_vars: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = ansible_cli.ansible_env(
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default",
        # The fake Mac's modules run under /usr/bin/python3, which nobody can execute (the venv's interpreter
        # lives under /root); the venv's packages give it `requests` for the Docker modules.
        PYTHONPATH=sysconfig.get_paths()["purelib"])
    argv = [ansible_cli.cli("ansible-playbook"), "-i", str(inventory), str(book), *extra]
    if check:
        argv.append("--check")
    if extra_vars is not None:
        argv += ["-e", f"@{extra_vars}"]
    return ansible_cli.run(argv, env=env, cwd=str(book.parent))


def recap(result: subprocess.CompletedProcess[str]) -> dict[str, int]:
    line = next(line for line in result.stdout.splitlines() if line.startswith("localhost") and "ok=" in line)
    return {key: int(value) for key, value in (part.split("=") for part in line.split()[2:])}


def ok(result: subprocess.CompletedProcess[str]) -> dict[str, int]:
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    return recap(result)


# --- the Mac side: Homebrew and the service, with a fake brew ------------------------------------------------
NOBODY = pwd.getpwnam("nobody")


class FakeMac:
    """/tmp/hbrXXXX (0755): opt/homebrew/bin/brew owned by nobody, samples/, calls.jsonl, state.json (0666), and
    what Homebrew and launchd keep on disk for that state (``DISK``)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.brew = base / "opt" / "homebrew" / "bin" / "brew"
        self.keg = base / "opt" / "homebrew" / "Cellar" / "docker-mac-net-connect"
        self.calls_file = base / "calls.jsonl"
        self.state_file = base / "state.json"
        self.home = base / "home"
        self.state_dir = base / "var" / "lib" / "dockermac-hostbridge"
        self.record = self.state_dir / "routed.json"
        self.taps = base / "opt" / "homebrew" / "Library" / "Taps"
        self.launch_daemons = base / "Library" / "LaunchDaemons"
        for directory in (self.brew.parent, self.keg.parent, self.home, base / "samples", self.taps,
                          self.launch_daemons):
            directory.mkdir(parents=True, exist_ok=True)
        for directory in (base, base / "opt", base / "opt" / "homebrew", base / "samples", base / "Library",
                          self.launch_daemons):
            directory.chmod(0o755)
        for directory in (self.brew.parent, self.keg.parent, self.home, self.taps.parent, self.taps):
            os.chown(directory, NOBODY.pw_uid, NOBODY.pw_gid)
        for sample in [*FIXTURES.glob("brew_*"), *FIXTURES.glob("launchctl_print_docker_mac_net_connect_*"),
                       FIXTURES / "homebrew.mxcl.docker-mac-net-connect.plist"]:
            shutil.copy(sample, base / "samples" / sample.name)
            (base / "samples" / sample.name).chmod(0o644)
        self.brew.write_text(FAKE_BREW)
        self.brew.chmod(0o755)
        os.chown(self.brew, NOBODY.pw_uid, NOBODY.pw_gid)
        self.set_state(taps=["homebrew/core"], installed=False, service="none")
        self.calls_file.write_text("")
        self.calls_file.chmod(0o666)
        self.inventory = base / "inventory.ini"
        self.inventory.write_text(
            "localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3 "
            "ansible_become_method=ansible.builtin.su \"ansible_become_flags=-s /bin/sh\"\n")
        self.facts = base / "facts.json"
        self.facts.write_text(json.dumps({"hostbridge_facts": self.hostbridge()}))

    def hostbridge(self) -> dict[str, t.Any]:
        vf = "settings-store.json UseVirtualizationFramework=true"
        return {
            "platform": "darwin", "architecture": "arm64", "os_version": "15.1",
            "console_user": {"name": "nobody", "uid": NOBODY.pw_uid, "home": str(self.home)},
            "docker": {"socket": str(self.home / ".docker" / "run" / "docker.sock"), "socket_exists": False,
                       "engine_reachable": False},
            "docker_desktop": {"installed": True, "app_path": "/Applications/Docker.app", "version": "4.42.0",
                               "vm_manager": "virtualization_framework", "vm_manager_source": vf,
                               "settings_path": None, "hyperkit_path": None, "shim_state": None},
            "tuntap": {"kext_loaded": False, "devices": [], "tap_device": "tap1", "tap_device_exists": False,
                       "dev_net_tun": False},
            "homebrew": {"path": str(self.brew), "owner": "nobody"},
            "strategies": {
                "loopback": {"possible": True, "reason": "loopback works everywhere"},
                "tap": {"possible": False, "reason": "Apple Silicon", "needs": []},
                "routed": {"possible": True, "needs": [],
                           "reason": f"Docker Desktop on Apple's Virtualization framework ({vf})"}},
            "recommended_strategy": "routed", "recommended_reason": "the routed strategy is possible",
        }

    def set_state(self, **values: t.Any) -> None:
        state = json.loads(self.state_file.read_text()) if self.state_file.exists() else {}
        state.update(values)
        self.state_file.write_text(json.dumps(state))
        self.state_file.chmod(0o666)
        _disk["mirror"](str(self.base), state)

    def state(self) -> dict[str, t.Any]:
        return json.loads(self.state_file.read_text())

    def take_calls(self) -> list[tuple[int, list[str]]]:
        calls = [json.loads(line) for line in self.calls_file.read_text().splitlines()]
        self.calls_file.write_text("")
        return [(call["uid"], call["argv"]) for call in calls]

    @contextlib.contextmanager
    def engine(self, version: str) -> t.Iterator[FakeDockerAPI]:
        """A fake Docker engine of ``version`` on the socket the facts name (~/.docker/run/docker.sock), which the
        facts now call reachable; its restart re-reads ~/.docker/daemon.json."""
        dot_docker = self.home / ".docker"
        dot_docker.mkdir(exist_ok=True)
        os.chown(dot_docker, NOBODY.pw_uid, NOBODY.pw_gid)
        facts = self.hostbridge()
        facts["docker"].update(socket_exists=True, engine_reachable=True)
        self.facts.write_text(json.dumps({"hostbridge_facts": facts}))
        with FakeDockerAPI(facts["docker"]["socket"], version=version,
                           daemon_json=str(dot_docker / "daemon.json")) as api:
            yield api

    def run(self, state: str = "present", *, check: bool = False,
            **role_vars: t.Any) -> subprocess.CompletedProcess[str]:
        role_vars.setdefault("routed_state_dir", str(self.state_dir))
        book = playbook(self.base / "play.yml", role_vars={"routed_state": state, **role_vars})
        return run_playbook(book, self.inventory, check=check, extra_vars=self.facts)


@contextlib.contextmanager
def new_fake_mac() -> t.Iterator[FakeMac]:
    """A fake Mac in a directory of its own, removed afterwards (also the fixture of test_bridge_plan_routed.py)."""
    base = Path(tempfile.mkdtemp(prefix="hbr", dir="/tmp"))  # nobody must reach it: not under pytest's 0700 dirs
    try:
        yield FakeMac(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def fake_mac() -> t.Iterator[FakeMac]:
    with new_fake_mac() as mac:
        yield mac


ME = NOBODY.pw_uid
READ_TAPS = (ME, ["tap"])
READ_INFO = (ME, ["info", "--json=v2", FORMULA])
ROOT_SERVICE_INFO = (0, ["services", "info", "--json", FORMULA])


def assert_brew_as_root_only_for_services(calls: list[tuple[int, list[str]]]) -> None:
    for uid, argv in calls:
        if argv[0] == "services":
            assert uid == 0, f"brew {argv} must run as root (the service creates a utun device)"
        else:
            assert uid == ME, f"brew {argv} ran as uid {uid}, not as the Homebrew owner"


@pytest.mark.root
def test_mac_side_argv_check_mode_idempotence_and_undo(fake_mac: FakeMac) -> None:
    # 1. check mode on a fresh Mac: only reads; the tap and the install are announced, nothing else runs
    counts = ok(fake_mac.run(check=True))
    calls = fake_mac.take_calls()
    assert calls == [READ_TAPS, ROOT_SERVICE_INFO]
    assert counts["changed"] == 1  # the tap; the install is announced by a debug task, the start skipped
    assert fake_mac.state() == {"taps": ["homebrew/core"], "installed": False, "service": "none"}

    # 2. for real: tap, install (as nobody), start (as root)
    result = fake_mac.run()
    counts = ok(result)
    calls = fake_mac.take_calls()
    assert calls == [READ_TAPS, (ME, ["tap", "chipmk/tap"]), READ_INFO, (ME, ["install", FORMULA]),
                     ROOT_SERVICE_INFO, (0, ["services", "start", FORMULA])]
    assert_brew_as_root_only_for_services(calls)
    assert counts["changed"] == 5  # tap, install, start, the record's directory and file
    assert json.loads(fake_mac.record.read_text()) == {"formula": FORMULA, "installed": ["formula", "service"]}
    assert os.stat(fake_mac.record).st_uid == 0
    assert fake_mac.state()["service"] == "started"
    assert os.stat(fake_mac.keg / "v0.1.4" / "bin" / "docker-mac-net-connect").st_uid == 0  # Homebrew's chown

    # 3. again: reads only, changed=0; the same in check mode
    for check in (False, True):
        counts = ok(fake_mac.run(check=check))
        assert fake_mac.take_calls() == [READ_TAPS, READ_INFO, ROOT_SERVICE_INFO]
        assert counts["changed"] == 0

    # 4. the service crashed (loaded, exit code 1): restart, not start
    fake_mac.set_state(service="error")
    counts = ok(fake_mac.run())
    assert fake_mac.take_calls() == [READ_TAPS, READ_INFO, ROOT_SERVICE_INFO,
                                     (0, ["services", "restart", FORMULA])]
    assert counts["changed"] == 1

    # 5. undo, in check mode first (reads only), then for real: stop (root), keg back to nobody, uninstall (nobody)
    ok(fake_mac.run("absent", check=True))
    assert fake_mac.take_calls() == [ROOT_SERVICE_INFO, READ_INFO]
    result = fake_mac.run("absent")
    counts = ok(result)
    calls = fake_mac.take_calls()
    assert calls == [ROOT_SERVICE_INFO, (0, ["services", "stop", FORMULA]), READ_INFO,
                     (ME, ["uninstall", "--force", FORMULA])]
    assert_brew_as_root_only_for_services(calls)
    assert counts["changed"] == 4  # stop, keg ownership, uninstall, the record
    assert fake_mac.state() == {"taps": ["homebrew/core", "chipmk/tap"], "installed": False, "service": "none"}
    assert not fake_mac.keg.exists()
    assert not fake_mac.record.exists()
    assert "was installed by hand" not in result.stdout
    assert "networks labelled com.dockermac.hostbridge.role=routed are left in place" in result.stdout

    # 6. undo again: nothing to do (no keg: brew is not even asked about the formula)
    counts = ok(fake_mac.run("absent"))
    assert fake_mac.take_calls() == [ROOT_SERVICE_INFO]
    assert counts["changed"] == 0


@pytest.mark.root
def test_unbridge_leaves_a_docker_mac_net_connect_installed_by_hand(fake_mac: FakeMac) -> None:
    """The developer ran `brew install` and `sudo brew services start` before the collection came: bridge finds both
    there (records nothing), unbridge leaves both and says how to remove them."""
    (fake_mac.keg / "v0.1.4" / "bin").mkdir(parents=True)
    (fake_mac.keg / "v0.1.4" / "bin" / "docker-mac-net-connect").write_text("")
    fake_mac.set_state(taps=["homebrew/core", "chipmk/tap"], installed=True, service="started")
    assert ok(fake_mac.run())["changed"] == 0
    assert fake_mac.take_calls() == [READ_TAPS, READ_INFO, ROOT_SERVICE_INFO]
    assert not fake_mac.record.exists()

    result = fake_mac.run("absent")
    assert ok(result)["changed"] == 0
    assert fake_mac.take_calls() == [ROOT_SERVICE_INFO]  # no stop, no uninstall
    assert fake_mac.state() == {"taps": ["homebrew/core", "chipmk/tap"], "installed": True, "service": "started"}
    assert (fake_mac.keg / "v0.1.4" / "bin" / "docker-mac-net-connect").exists()
    said = " ".join(result.stdout.split())
    assert (f"routed: {FORMULA} was installed by hand, not by this collection ({fake_mac.record} does not record "
            "it), so it stays installed and its service stays as it is.") in said
    assert f"sudo brew services stop {FORMULA};" in said

    # formula by hand, service stopped: the collection starts the service (recorded), so unbridge stops it again
    # and still leaves the formula
    fake_mac.set_state(service="none")
    assert ok(fake_mac.run())["changed"] == 3  # start, the record's directory and file
    assert json.loads(fake_mac.record.read_text())["installed"] == ["service"]
    fake_mac.take_calls()
    result = fake_mac.run("absent")
    ok(result)
    assert fake_mac.take_calls() == [ROOT_SERVICE_INFO, (0, ["services", "stop", FORMULA])]
    assert fake_mac.state()["installed"] is True
    assert "was installed by hand" in result.stdout
    assert not fake_mac.record.exists()


@pytest.mark.root
def test_refusals_before_any_brew_call(fake_mac: FakeMac) -> None:
    facts = fake_mac.hostbridge()
    # HyperKit: the verdict's reason is the message
    facts["strategies"]["routed"] = {"possible": False, "needs": [], "reason": "Docker Desktop runs on HyperKit (x)"}
    fake_mac.facts.write_text(json.dumps({"hostbridge_facts": facts}))
    result = fake_mac.run()
    assert result.returncode != 0
    assert "the routed strategy is not possible on this host: Docker Desktop runs on HyperKit (x)" in result.stdout
    # no Homebrew
    facts = fake_mac.hostbridge()
    facts["homebrew"] = {"path": None, "owner": None}
    fake_mac.facts.write_text(json.dumps({"hostbridge_facts": facts}))
    result = fake_mac.run()
    assert result.returncode != 0
    assert "Homebrew was not found" in result.stdout
    # Docker Desktop's default socket switched off: docker-mac-net-connect (root) would find no engine
    facts = fake_mac.hostbridge()
    facts["docker"].update(default_socket="/var/run/docker.sock", default_socket_present=False)
    fake_mac.facts.write_text(json.dumps({"hostbridge_facts": facts}))
    result = fake_mac.run()
    assert result.returncode != 0
    assert ('routed: /var/run/docker.sock does not exist: in Docker Desktop > Settings > Advanced, switch on "Allow '
            'the default Docker socket to be used"') in " ".join(result.stdout.split())
    # brew owned by root: refused, Homebrew does not run as root
    facts = fake_mac.hostbridge()
    facts["homebrew"]["owner"] = "root"
    fake_mac.facts.write_text(json.dumps({"hostbridge_facts": facts}))
    result = fake_mac.run()
    assert result.returncode != 0
    assert "Homebrew refuses to run as root" in result.stdout
    # a formula name that could smuggle options into brew's argv
    fake_mac.facts.write_text(json.dumps({"hostbridge_facts": fake_mac.hostbridge()}))
    bad = (("--force", "chipmk/tap", "routed_formula: '--force' is not a Homebrew formula"),
           ("chipmk/tap/-x", "chipmk/tap", "routed_formula: 'chipmk/tap/-x' is not a Homebrew formula"),
           (FORMULA, "-x/tap", "routed_tap: '-x/tap' is not a Homebrew tap"))
    for formula, tap, says in bad:
        result = fake_mac.run(routed_formula=formula, routed_tap=tap)
        assert result.returncode != 0
        assert f"routed: {says}" in result.stdout, result.stdout
    assert fake_mac.take_calls() == []


@pytest.mark.root
def test_linux_says_routable_and_does_nothing(fake_mac: FakeMac) -> None:
    facts = fake_mac.hostbridge()
    facts["platform"] = "linux"
    fake_mac.facts.write_text(json.dumps({"hostbridge_facts": facts}))
    result = fake_mac.run()
    assert ok(result)["changed"] == 0
    assert "a Linux host reaches the containers' IPs directly" in result.stdout
    assert fake_mac.take_calls() == []


# --- the Docker side: networks with trusted_host_interfaces on the local engine ------------------------------
def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


def inspect(name: str) -> dict[str, t.Any] | None:
    result = docker("network", "inspect", name, check=False)
    return json.loads(result.stdout)[0] if result.returncode == 0 else None


def free_subnets(count: int) -> list[str]:
    """10.99.x.0/24 subnets that neither a Docker network nor a route of this machine overlaps."""
    taken: list[ipaddress.IPv4Network] = []
    for net_id in docker("network", "ls", "-q").stdout.split():
        for config in (inspect(net_id) or {}).get("IPAM", {}).get("Config") or []:
            with contextlib.suppress(ValueError, KeyError):
                taken.append(ipaddress.ip_network(config["Subnet"], strict=False))
    for route in json.loads(subprocess.run(["ip", "-j", "-4", "route", "show", "table", "all"], capture_output=True,
                                           text=True, check=True).stdout or "[]"):
        with contextlib.suppress(ValueError):
            if route.get("dst", "default") != "default":
                taken.append(ipaddress.ip_network(route["dst"], strict=False))
    found = []
    for third in range(200, 250):
        candidate = ipaddress.ip_network(f"10.99.{third}.0/24")
        if not any(candidate.overlaps(other) for other in taken):
            found.append(str(candidate))
            if len(found) == count:
                return found
    pytest.fail("no free 10.99.x.0/24 subnet")


@pytest.fixture
def engine(tmp_path: Path) -> t.Iterator[Path]:
    """The inventory; every network carrying the test label is removed afterwards, also on failure."""
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    try:
        yield inventory
    finally:
        for net_id in docker("network", "ls", "-q", "--filter", f"label={TEST_LABEL}=routed").stdout.split():
            docker("network", "rm", net_id, check=False)


def networks_play(tmp_path: Path, inventory: Path, state: str, networks: list[dict[str, str]],
                  **more: t.Any) -> subprocess.CompletedProcess[str]:
    book = playbook(tmp_path / f"networks-{state}.yml", tasks_from="networks", role_vars={
        "routed_state": state, "routed_networks": networks, "routed_docker_socket": "/var/run/docker.sock",
        "routed_network_labels": {TEST_LABEL: "routed"}, **more})
    return run_playbook(book, inventory)


@pytest.mark.root
@pytest.mark.docker
def test_trusted_networks_on_the_local_engine(tmp_path: Path, engine: Path) -> None:
    subnet_a, subnet_b = free_subnets(2)
    suffix = os.urandom(3).hex()
    name_a, name_b = f"hbr-routed-a-{suffix}", f"hbr-routed-b-{suffix}"
    gateway_a = str(next(ipaddress.ip_network(subnet_a).hosts()) + 1)  # not Docker's default first address
    nets = [{"name": name_a, "subnet": subnet_a, "gateway": gateway_a}, {"name": name_b, "subnet": subnet_b}]

    # created with the option, the role's label and the test label
    assert ok(networks_play(tmp_path, engine, "present", nets))["changed"] == 1
    for name, subnet in ((name_a, subnet_a), (name_b, subnet_b)):
        net = inspect(name)
        assert net is not None
        assert net["Driver"] == "bridge"
        assert net["Options"]["com.docker.network.bridge.trusted_host_interfaces"] == "chip0"
        assert net["Labels"] == {ROLE_LABEL: "routed", TEST_LABEL: "routed"}
        assert net["IPAM"]["Config"][0]["Subnet"] == subnet
    assert inspect(name_a)["IPAM"]["Config"][0]["Gateway"] == gateway_a
    ids = {name: inspect(name)["Id"] for name in (name_a, name_b)}

    # second run: nothing changes (the networks are not recreated)
    assert ok(networks_play(tmp_path, engine, "present", nets))["changed"] == 0
    assert {name: inspect(name)["Id"] for name in (name_a, name_b)} == ids

    # another interface list: Docker read the option at creation, so the role refuses and says how ...
    result = networks_play(tmp_path, engine, "present", nets, routed_trusted_interfaces=["chip0", "eth9"])
    assert result.returncode != 0
    assert "Docker reads com.docker.network.bridge.trusted_host_interfaces only when a network is created" \
        in result.stdout
    assert (f"docker network rm {name_b} && docker network create --subnet {subnet_b} -o "
            f"com.docker.network.bridge.trusted_host_interfaces=chip0:eth9 {name_b}") in " ".join(result.stdout.split())
    assert {name: inspect(name)["Id"] for name in (name_a, name_b)} == ids
    # ... and recreates them when allowed
    counts = ok(networks_play(tmp_path, engine, "present", nets, routed_trusted_interfaces=["chip0", "eth9"],
                              routed_recreate_networks=True))
    assert counts["changed"] == 1
    for name in (name_a, name_b):
        assert inspect(name)["Options"]["com.docker.network.bridge.trusted_host_interfaces"] == "chip0:eth9"
        assert inspect(name)["Id"] != ids[name]

    # undo: the labelled networks go; then a user's own network of the same name, without the role's label, stays
    counts = ok(networks_play(tmp_path, engine, "absent", nets))
    assert counts["changed"] == 1
    assert inspect(name_a) is None
    assert inspect(name_b) is None
    docker("network", "create", "--label", f"{TEST_LABEL}=routed", "--subnet", subnet_a, name_a)
    users = inspect(name_a)
    counts = ok(networks_play(tmp_path, engine, "absent", nets))
    assert counts["changed"] == 0
    assert inspect(name_a) == users

    # a user's network of a listed name without the option is not touched without routed_recreate_networks
    result = networks_play(tmp_path, engine, "present", nets[:1])
    assert result.returncode != 0
    assert f"{name_a} (com.docker.network.bridge.trusted_host_interfaces=(unset)" in " ".join(result.stdout.split())
    assert inspect(name_a) == users


# --- the engine's version decides: a fake Docker API reporting the version, whatever Docker is installed ---------
DAEMON_JSON = {"builder": {"gc": {"enabled": True}}, "features": {"containerd-snapshotter": True}}
NET = {"name": "hbr-routed-fake", "subnet": "198.51.100.0/24"}


def write_daemon_json(fake_mac: FakeMac, content: dict[str, t.Any]) -> Path:
    path = fake_mac.home / ".docker" / "daemon.json"
    path.write_text(json.dumps(content, indent=2) + "\n")
    os.chown(path, NOBODY.pw_uid, NOBODY.pw_gid)
    path.chmod(0o600)  # not what the role would create: its mode must be kept
    return path


def flat(result: subprocess.CompletedProcess[str]) -> str:
    return " ".join(result.stdout.split())


@pytest.mark.root
def test_daemon_option_refused_before_engine_28_2(fake_mac: FakeMac) -> None:
    """Engine 28.1: dockerd would refuse to start with the key, so the role writes nothing and restarts nothing."""
    fake_mac.set_state(taps=["homebrew/core", "chipmk/tap"], installed=True, service="started")
    with fake_mac.engine("28.1.1") as api:
        path = write_daemon_json(fake_mac, DAEMON_JSON)
        before = path.read_bytes()
        result = fake_mac.run(routed_direct_routing="daemon_option",
                              routed_docker_restart_command=api.restart_argv(), routed_docker_restart_timeout=3)
        assert result.returncode != 0
        assert "routed: Docker Engine 28.1.1 does not know allow-direct-routing (added in 28.2" in flat(result)
        assert "routed_direct_routing=daemon_option sets" in result.stdout  # the run says what it changes
        assert path.read_bytes() == before
        assert list(path.parent.glob("daemon.json.*~")) == []
        assert api.restarts == 0
        assert api.calls() == ["/version", "/info"]


@pytest.mark.root
def test_daemon_option_merge_backup_restart_and_undo_on_engine_28_2(fake_mac: FakeMac) -> None:
    fake_mac.set_state(taps=["homebrew/core", "chipmk/tap"], installed=True, service="started")
    with fake_mac.engine("28.2.2") as api:
        path = write_daemon_json(fake_mac, DAEMON_JSON)
        more = {"routed_direct_routing": "daemon_option", "routed_docker_restart_command": api.restart_argv(),
                "routed_docker_restart_timeout": 3}
        # check mode: announced, nothing written, no restart
        ok(fake_mac.run(check=True, **more))
        assert json.loads(path.read_text()) == DAEMON_JSON
        assert api.restarts == 0
        api.requests.clear()
        # the key merged, every other key kept, owner and mode kept, one backup with the old content, one restart
        # after which the engine (re-reading the file) answered
        counts = ok(fake_mac.run(**more))
        assert counts["changed"] == 2  # the file, the restart command
        assert json.loads(path.read_text()) == {**DAEMON_JSON, "allow-direct-routing": True}
        assert (os.stat(path).st_uid, os.stat(path).st_mode & 0o777) == (NOBODY.pw_uid, 0o600)
        backups = list(path.parent.glob("daemon.json.*~"))
        assert len(backups) == 1
        assert json.loads(backups[0].read_text()) == DAEMON_JSON
        assert api.restarts == 1
        assert api.start_error is None
        # the version check, the restart, the wait for the engine
        assert api.calls() == ["/version", "/info", "/fake/restart", "/version", "/info"]
        # again: nothing to write, no restart
        api.requests.clear()
        assert ok(fake_mac.run(**more))["changed"] == 0
        assert api.restarts == 1
        assert len(list(path.parent.glob("daemon.json.*~"))) == 1
        # undo: the key goes, the rest stays, a second backup, a restart; the engine is not asked its version
        api.requests.clear()
        counts = ok(fake_mac.run("absent", **more))
        assert json.loads(path.read_text()) == DAEMON_JSON
        assert len(list(path.parent.glob("daemon.json.*~"))) == 2
        assert api.restarts == 2
        assert "/version" in api.calls()  # the wait after the restart (and the labelled networks' lookup)
        assert ok(fake_mac.run("absent", **more))["changed"] == 0
        assert api.restarts == 2


@pytest.mark.root
def test_fake_engine_refuses_a_daemon_json_key_it_does_not_know(tmp_path: Path) -> None:
    """The simulation fights back: had the role written the key for Engine 28.1, the restarted engine would not
    come up (and the role's wait for it would time out)."""
    daemon_json = tmp_path / "daemon.json"
    daemon_json.write_text('{"allow-direct-routing": true}')
    with FakeDockerAPI(str(tmp_path / "docker.sock"), version="28.1.1", daemon_json=str(daemon_json)) as api:
        subprocess.run(api.restart_argv(), check=True, timeout=10)
        assert api.start_error == (f"unable to configure the Docker daemon with file {daemon_json}: the following "
                                   "directives don't match any configuration option: allow-direct-routing")
        api.version = "28.2.2"
        subprocess.run(api.restart_argv(), check=True, timeout=10)
        assert api.start_error is None


@pytest.mark.root
def test_trusted_interfaces_by_engine_version(fake_mac: FakeMac) -> None:
    fake_mac.set_state(taps=["homebrew/core", "chipmk/tap"], installed=True, service="started")
    # no network listed: the option protects nothing - said clearly, and the engine is not even asked
    with fake_mac.engine("28.2.2") as api:
        result = fake_mac.run()
        assert ok(result)["changed"] == 0
        assert "WARNING: routed: routed_direct_routing=trusted_interfaces with no routed_networks changes nothing" \
            in flat(result)
        assert api.requests == []
    # Engine 28.1 filters but does not know the option: refused before any network is created
    with fake_mac.engine("28.1.1") as api:
        result = fake_mac.run(routed_networks=[NET])
        assert result.returncode != 0
        assert ("routed: Docker Engine 28.1.1 filters packets routed to container IPs (since 28.0) but does not know "
                "com.docker.network.bridge.trusted_host_interfaces (added in 28.2)") in flat(result)
        assert api.calls("POST") == []
        assert set(api.networks) == {"bridge"}
    # Engine 28.2: created with the option and the label; a second run changes nothing
    with fake_mac.engine("28.2.2") as api:
        assert ok(fake_mac.run(routed_networks=[NET]))["changed"] == 1
        created = api.networks[NET["name"]]
        assert created["Options"] == {"com.docker.network.bridge.trusted_host_interfaces": "chip0"}
        assert created["Labels"] == {ROLE_LABEL: "routed"}
        assert created["IPAM"]["Config"] == [{"Subnet": NET["subnet"]}]
        assert ok(fake_mac.run(routed_networks=[NET]))["changed"] == 0
        assert api.calls("POST") == ["/networks/create"]
    # Engine 27: no filter yet - said, and the networks are created all the same
    with fake_mac.engine("27.5.1") as api:
        result = fake_mac.run(routed_networks=[NET])
        assert ok(result)["changed"] == 1
        assert "routed: Docker Engine 27.5.1 does not filter packets routed to container IPs" in flat(result)
    # no engine: a clear stop, not a connection traceback
    with fake_mac.engine("28.2.2") as api:
        api.stop()
        result = fake_mac.run(routed_networks=[NET])
        assert result.returncode != 0
        assert "routed: the Docker engine does not answer on " in flat(result)
