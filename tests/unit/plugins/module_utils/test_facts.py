"""bridge_facts' backend: parsing recorded macOS samples, strategy verdicts, fabricated Macs and Linux hosts."""

from __future__ import annotations

import contextlib
import json
import os
import plistlib
import pwd
import shutil
import socket
import tempfile
import threading
import typing as t
from pathlib import Path

import pytest

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _docker_api, _facts, _strategy
from ansible_collections.dockermac.hostbridge.plugins.module_utils._darwin import KEXT_APPROVAL_STEPS, kext_listed
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.plugins.module_utils._facts import DarwinFacts, LinuxFacts
from ansible_collections.dockermac.hostbridge.plugins.module_utils._strategy import (
    DOCKER_VMM,
    HYPERKIT,
    QEMU,
    UNKNOWN,
    VIRTUALIZATION_FRAMEWORK,
    Observed,
    VmChoice,
)
from ansible_collections.dockermac.hostbridge.tests.unit.plugins.module_utils.hyperkit_fakes import FakeBundle
from ansible_collections.dockermac.hostbridge.tests.unit.utils import FakeRunner, fixture_text

SETTINGS = os.path.join("Library", "Group Containers", "group.com.docker")
KMUTIL = ["kmutil", "showloaded", "--list-only", "-b", "net.sf.tuntaposx.tap"]
SYSCTL = ["sysctl", "-in", "hw.optional.arm64"]
SW_VERS = ["sw_vers", "-productVersion"]
VF_FALSE = "UseVirtualizationFramework=false"


def darwin(name: str) -> str:
    return fixture_text("darwin", name)


def plist_bytes(version: str | None = "4.15.0") -> bytes:
    if version == "4.15.0":
        return darwin("docker_app_info_plist_4.15.0.xml").encode()
    return plistlib.dumps({"CFBundleIdentifier": "com.docker.docker", "CFBundleShortVersionString": version})


# --- parsing recorded samples -------------------------------------------------------------------------------
def test_info_plist_of_docker_desktop_4_15() -> None:
    assert _facts.parse_info_plist(plist_bytes()) == "4.15.0"


def test_info_plist_binary_format_and_bad_input() -> None:
    binary = plistlib.dumps({"CFBundleShortVersionString": "4.13.1"}, fmt=plistlib.FMT_BINARY)
    assert _facts.parse_info_plist(binary) == "4.13.1"
    assert _facts.parse_info_plist(b"<plist><dict></dict></plist>\n") is None  # hyperkit_fakes' stub
    assert _facts.parse_info_plist(b"not a plist") is None
    assert _facts.parse_info_plist(plistlib.dumps(["a list"])) is None


@pytest.mark.parametrize(("sample", "arch", "want"), [
    ("settings_store_apple_silicon_vf.json", "arm64",
     VmChoice(VIRTUALIZATION_FRAMEWORK, "settings-store.json UseVirtualizationFramework=true")),
    ("settings_store_docker_vmm.json", "arm64", VmChoice(DOCKER_VMM, "settings-store.json UseLibkrun=true")),
    ("settings_json_intel_hyperkit.json", "x86_64", VmChoice(HYPERKIT, f"settings.json {VF_FALSE}")),
    ("settings_json_intel_hyperkit.json", "arm64", VmChoice(QEMU, f"settings.json {VF_FALSE}")),
    ("settings_store_fresh_install.json", "arm64", None),  # defaults are omitted from settings-store.json
])
def test_vm_manager_from_recorded_settings(sample: str, arch: str, want: VmChoice | None) -> None:
    settings = _facts.parse_settings(darwin(sample))
    assert settings is not None
    filename = "settings.json" if sample.startswith("settings_json") else "settings-store.json"
    assert _strategy.vm_manager_from_settings(settings, filename=filename, architecture=arch) == want


def test_settings_keys_match_whatever_their_case() -> None:
    camel = {"useLibkrun": True}
    choice = _strategy.vm_manager_from_settings(camel, filename="settings.json", architecture="arm64")
    assert choice is not None
    assert choice.manager == DOCKER_VMM
    # a non-boolean value says nothing
    assert _strategy.vm_manager_from_settings({"UseVirtualizationFramework": "yes"}, filename="x",
                                              architecture="x86_64") is None


@pytest.mark.parametrize("text", ["", "{", "[1, 2]", "null", '"text"'])
def test_settings_that_are_not_a_json_object(text: str) -> None:
    assert _facts.parse_settings(text) is None


@pytest.mark.parametrize(("version", "arch", "macos", "manager"), [
    ("4.13.1", "x86_64", "12.6", HYPERKIT),
    ("4.13.1", "arm64", "12.6", QEMU),
    ("2.5.0.1", "x86_64", "10.15.7", HYPERKIT),
    ("4.14.0", "x86_64", "13.0", VIRTUALIZATION_FRAMEWORK),
    ("4.15.0", "x86_64", "12.4", HYPERKIT),  # the Virtualization framework needs macOS 12.5
    ("4.15.0", "x86_64", None, VIRTUALIZATION_FRAMEWORK),
    ("4.35.1", "arm64", "12.4", VIRTUALIZATION_FRAMEWORK),
    (None, "x86_64", "13.0", UNKNOWN),
    ("garbage", "x86_64", "13.0", UNKNOWN),
])
def test_vm_manager_default_by_version(version: str | None, arch: str, macos: str | None, manager: str) -> None:
    choice = _strategy.vm_manager_default(version=version, architecture=arch, macos=macos)
    assert choice.manager == manager
    assert choice.source


def test_settings_win_over_the_version_default() -> None:
    settings = _facts.parse_settings(darwin("settings_json_intel_hyperkit.json"))
    choice = _strategy.decide_vm_manager(settings=settings, settings_name="settings.json", version="4.20.0",
                                         architecture="x86_64", macos="13.0")
    assert choice.manager == HYPERKIT
    fresh = _facts.parse_settings(darwin("settings_store_fresh_install.json"))
    choice = _strategy.decide_vm_manager(settings=fresh, settings_name="settings-store.json", version="4.50.0",
                                         architecture="arm64", macos="15.1")
    assert choice == VmChoice(VIRTUALIZATION_FRAMEWORK, "default of Docker Desktop 4.50.0 (4.14 and later)")


def test_kext_listings() -> None:
    assert kext_listed(darwin("kextstat_l_b_tuntap_tap.txt")) is True
    assert kext_listed(darwin("kextstat_l_b_tuntap_tun_only.txt")) is False
    assert kext_listed("") is False
    # kmutil prints a notice before the list on some versions; only kext lines count
    assert kext_listed("No variant specified, falling back to release\n") is False


def test_os_release() -> None:
    debian = ('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n'
              "ID=debian\n")
    assert _facts.parse_os_release(debian) == "Debian GNU/Linux 12 (bookworm)"
    assert _facts.parse_os_release("PRETTY_NAME='Alpine Linux v3.19'\n") == "Alpine Linux v3.19"
    assert _facts.parse_os_release("PRETTY_NAME=Arch\n") == "Arch"
    assert _facts.parse_os_release("NAME=x\n") is None


def test_docker_host_and_tap_names() -> None:
    assert _facts.docker_host_socket("unix:///run/user/1000/docker.sock") == "/run/user/1000/docker.sock"
    assert _facts.docker_host_socket("tcp://127.0.0.1:2375") is None
    assert _facts.docker_host_socket(None) is None
    assert _facts.tap_devices(["tap10", "tun0", "tap2", "tap", "tap1x", "tap0"]) == ["tap0", "tap2", "tap10"]


def test_version_tuple() -> None:
    assert _strategy.version_tuple("4.15.0") == (4, 15, 0)
    assert _strategy.version_tuple("18.03.1-ce-mac65") == (18, 3, 1)
    assert _strategy.version_tuple("") is None


# --- the engine's /_ping on a real unix socket --------------------------------------------------------------
@contextlib.contextmanager
def ping_server(path: str, response: bytes | None) -> t.Iterator[list[bytes]]:
    """A one-thread server on ``path`` answering every connection with ``response`` (None: never answers)."""
    requests: list[bytes] = []
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(4)
    server.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _addr = server.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                requests.append(conn.recv(4096))
                if response is None:
                    stop.wait(3)
                else:
                    conn.sendall(response)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield requests
    finally:
        stop.set()
        server.close()
        thread.join(5)


@pytest.fixture
def short_dir() -> t.Iterator[str]:
    # AF_UNIX paths are limited to about 100 bytes; pytest's tmp_path can be longer.
    path = tempfile.mkdtemp(prefix="hbf", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


OK = b"HTTP/1.1 200 OK\r\nApi-Version: 1.47\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\n\r\nOK"


def test_ping_a_live_engine(short_dir: str) -> None:
    path = os.path.join(short_dir, "docker.sock")
    with ping_server(path, OK) as requests:
        assert _docker_api.ping(path, timeout=_facts.PING_TIMEOUT) is True
    assert requests[0] == b"GET /_ping HTTP/1.0\r\nHost: docker\r\nConnection: close\r\n\r\n"


def test_ping_errors_and_silence(short_dir: str) -> None:
    path = os.path.join(short_dir, "docker.sock")
    assert _docker_api.ping(path, timeout=_facts.PING_TIMEOUT) is False  # nothing there
    with ping_server(path, b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"):
        assert _docker_api.ping(path, timeout=_facts.PING_TIMEOUT) is False
    os.unlink(path)
    with ping_server(path, None):
        assert _docker_api.ping(path, timeout=0.3) is False  # accepted, never answered: the timeout wins
    os.unlink(path)
    Path(path).write_text("a regular file")
    assert _docker_api.ping(path, timeout=_facts.PING_TIMEOUT) is False


# --- strategy verdicts --------------------------------------------------------------------------------------
def intel(**kwargs: t.Any) -> Observed:
    base: dict[str, t.Any] = {
        "platform": "darwin", "architecture": "x86_64", "tap_device": "tap1", "installed": True,
        "app_path": "/Applications/Docker.app", "vm": VmChoice(HYPERKIT, f"settings.json {VF_FALSE}"),
        "hyperkit_path": "/Applications/Docker.app/Contents/Resources/bin/com.docker.hyperkit",
        "shim_state": "pristine", "kext_loaded": True, "tap_device_exists": True}
    base.update(kwargs)
    return Observed(**base)


def test_verdict_intel_hyperkit() -> None:
    strategies = _strategy.decide_strategies(intel())
    assert strategies["tap"] == {"possible": True, "needs": [],
                                 "reason": "Intel Mac, Docker Desktop on HyperKit (settings.json "
                                           "UseVirtualizationFramework=false)"}
    assert strategies["loopback"]["possible"] is True
    # HyperKit is the tap strategy's ground: the routed strategy is not offered there
    assert strategies["routed"] == {
        "possible": False, "needs": [],
        "reason": "Docker Desktop runs on HyperKit (settings.json UseVirtualizationFramework=false): this collection "
                  "offers the routed strategy for the VM managers that replaced HyperKit; use the tap strategy there"}
    assert _strategy.recommend("darwin", strategies) == "tap"
    assert _strategy.recommendation("darwin", strategies)[1].startswith("the tap strategy is possible: Intel Mac")


def test_verdict_intel_hyperkit_without_the_kext_is_possible_with_a_need() -> None:
    tap = _strategy.decide_strategies(intel(kext_loaded=False, tap_device_exists=False))["tap"]
    assert tap["possible"] is True
    assert tap["needs"] == [f"tuntaposx kext not loaded and /dev/tap1 missing: {_strategy._TUNTAP_PKG_HINT}"]
    # /dev/tap1 present without the kext listed (another tuntap build): nothing to install
    assert _strategy.decide_strategies(intel(kext_loaded=False))["tap"]["needs"] == []


def test_verdict_intel_virtualization_framework() -> None:
    seen = intel(vm=VmChoice(VIRTUALIZATION_FRAMEWORK, "settings-store.json UseVirtualizationFramework=true"))
    strategies = _strategy.decide_strategies(seen)
    assert strategies["tap"]["possible"] is False
    assert strategies["tap"]["reason"].startswith(
        "Docker Desktop uses Apple's Virtualization framework (settings-store.json UseVirtualizationFramework=true); "
        "the tap bridge needs HyperKit")
    # the routed strategy is possible; without Homebrew (not in this Observed) loopback stays recommended
    routed = strategies["routed"]
    assert routed["possible"] is True
    assert routed["reason"].startswith("Docker Desktop on Apple's Virtualization framework (settings-store.json "
                                       "UseVirtualizationFramework=true): docker-mac-net-connect routes")
    assert routed["needs"] == ["Homebrew (brew at /opt/homebrew/bin/brew or /usr/local/bin/brew): the routed role "
                               "installs docker-mac-net-connect with it"]
    assert _strategy.recommendation("darwin", strategies) == (
        "loopback", "the routed strategy would need Homebrew (brew at /opt/homebrew/bin/brew or /usr/local/bin/brew): "
                    "the routed role installs docker-mac-net-connect with it")
    with_brew = _strategy.decide_strategies(seen._replace(homebrew_path="/usr/local/bin/brew"))
    assert with_brew["routed"]["needs"] == []
    assert _strategy.recommend("darwin", with_brew) == "routed"


def test_verdict_apple_silicon() -> None:
    seen = intel(architecture="arm64", vm=VmChoice(VIRTUALIZATION_FRAMEWORK, "x"), hyperkit_path=None)
    strategies = _strategy.decide_strategies(seen)
    assert strategies["tap"] == {"possible": False, "needs": [],
                                 "reason": "Apple Silicon: no HyperKit and no tuntaposx kext (both are x86_64 only)"}
    assert strategies["routed"]["possible"] is True
    assert _strategy.recommend("darwin", strategies) == "loopback"  # no Homebrew
    strategies = _strategy.decide_strategies(seen._replace(homebrew_path="/opt/homebrew/bin/brew"))
    assert _strategy.recommendation("darwin", strategies)[0] == "routed"


@pytest.mark.parametrize(("vm", "words"), [
    (VmChoice(DOCKER_VMM, "settings-store.json UseLibkrun=true"), "Docker VMM (settings-store.json UseLibkrun=true)"),
    (VmChoice(QEMU, "default"), "QEMU (default)"),
    (VmChoice(UNKNOWN, "no settings"), "an unknown VM manager (no settings)"),
])
def test_verdict_other_vm_managers(vm: VmChoice, words: str) -> None:
    strategies = _strategy.decide_strategies(intel(vm=vm, homebrew_path="/usr/local/bin/brew"))
    tap = strategies["tap"]
    assert tap["possible"] is False
    assert f"Docker Desktop uses {words}" in tap["reason"]
    # every VM manager but HyperKit (an unknown one included) is the routed strategy's
    assert strategies["routed"]["possible"] is True
    assert strategies["routed"]["reason"].startswith(f"Docker Desktop on {words}: docker-mac-net-connect")
    assert _strategy.recommend("darwin", strategies) == "routed"


def test_verdict_no_docker_desktop() -> None:
    seen = Observed(platform="darwin", architecture="x86_64", tap_device="tap1",
                    apps_tried=("/Applications/Docker.app", "/Users/a/Applications/Docker.app"))
    strategies = _strategy.decide_strategies(seen)
    assert strategies["tap"]["possible"] is False
    assert strategies["tap"]["reason"] == (
        "Docker Desktop is not installed (looked at /Applications/Docker.app, /Users/a/Applications/Docker.app); "
        "the tap bridge needs Docker Desktop on HyperKit")
    assert strategies["loopback"]["possible"] is True
    assert strategies["routed"] == {
        "possible": False, "needs": [],
        "reason": "Docker Desktop is not installed (looked at /Applications/Docker.app, /Users/a/Applications/"
                  "Docker.app); the routed strategy tunnels into Docker Desktop's VM (docker-mac-net-connect)"}
    assert _strategy.recommendation("darwin", strategies)[0] == "loopback"
    assert _strategy.recommendation("darwin", strategies)[1].startswith(
        "neither the tap nor the routed strategy is possible: Docker Desktop is not installed")


def test_verdict_hyperkit_selected_but_binary_missing_or_foreign() -> None:
    tap = _strategy.decide_strategies(intel(hyperkit_path=None))["tap"]
    assert (tap["possible"], tap["reason"]) == (False, "no hyperkit binary in /Applications/Docker.app: this Docker "
                                                       "Desktop cannot run HyperKit")
    tap = _strategy.decide_strategies(intel(shim_state="foreign_shim", shim_problem="undo it first"))["tap"]
    assert (tap["possible"], tap["reason"]) == (False, "the hyperkit binary is in state foreign_shim: undo it first")
    assert _strategy.decide_strategies(intel(shim_state="updated_by_docker"))["tap"]["possible"] is True


def test_verdict_linux() -> None:
    with_tun = _strategy.decide_strategies(Observed(platform="linux", architecture="x86_64", tap_device="tap1",
                                                    dev_net_tun=True))
    assert with_tun["tap"]["possible"] is True
    assert with_tun["loopback"]["possible"] is True
    assert with_tun["routed"]["possible"] is False
    assert "directly" in with_tun["routed"]["reason"]
    assert _strategy.recommend("linux", with_tun) == "loopback"  # tap is possible, loopback is still recommended
    assert _strategy.recommendation("linux", with_tun)[1].startswith("Linux reaches container IPs directly")
    without = _strategy.decide_strategies(Observed(platform="linux", architecture="aarch64", tap_device="tap1"))
    assert without["tap"]["possible"] is False
    assert without["tap"]["reason"].startswith("/dev/net/tun is missing")


# --- fabricated Macs -----------------------------------------------------------------------------------------
class Mac:
    """``root`` is the Mac's /, ``home`` the console user's home, both under tmp_path."""

    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path / "root"
        self.home = tmp_path / "home" / "alice"
        (self.root / "dev").mkdir(parents=True)
        (self.root / "Applications").mkdir()
        self.home.mkdir(parents=True)

    def bundle(self, *, where: Path | None = None, name: str = "Docker.app", layout: int = 2,
               version: str | None = "4.15.0") -> FakeBundle:
        bundle = FakeBundle(where or self.root / "Applications", layout=layout, name=name)
        (bundle.app / "Contents" / "Info.plist").write_bytes(plist_bytes(version))
        return bundle

    def apple_silicon_app(self, version: str = "4.35.1") -> Path:
        app = self.root / "Applications" / "Docker.app"
        (app / "Contents" / "Resources" / "bin").mkdir(parents=True)
        (app / "Contents" / "Info.plist").write_bytes(plist_bytes(version))
        return app

    def settings(self, sample: str, name: str = "settings-store.json", text: str | None = None) -> Path:
        path = self.home / SETTINGS / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(darwin(sample) if text is None else text)
        return path

    def char_device(self, name: str) -> None:
        # A symlink to /dev/null is a character device for os.stat, and needs no root.
        (self.root / "dev" / name).symlink_to("/dev/null")

    def facts(self, runner: FakeRunner, *, machine: str = "x86_64", environ: dict[str, str] | None = None,
              **params: t.Any) -> tuple[dict[str, t.Any], list[str]]:
        backend = DarwinFacts(runner=runner, root=str(self.root), home=str(self.home), machine=machine,
                              environ=environ or {})
        params.setdefault("user", "nobody")
        facts = backend.gather(params)
        runner.assert_done()
        return facts, backend.warnings


def intel_runner(*, kext: str = "", macos: str = "13.6.1") -> FakeRunner:
    return FakeRunner([(SYSCTL, 0, "", ""), (SW_VERS, 0, f"{macos}\n", ""), (KMUTIL, 0, kext, "")])


@pytest.fixture
def mac(tmp_path: Path) -> Mac:
    return Mac(tmp_path)


def test_intel_mac_on_hyperkit(mac: Mac) -> None:
    bundle = mac.bundle()
    settings = mac.settings("settings_json_intel_hyperkit.json", name="settings.json")
    mac.char_device("tap0")
    mac.char_device("tap1")
    (mac.root / "dev" / "tap9").write_text("not a device")
    facts, warnings = mac.facts(intel_runner(kext=darwin("kextstat_l_b_tuntap_tap.txt")))
    assert warnings == []
    nobody = pwd.getpwnam("nobody")
    assert facts["platform"] == "darwin"
    assert (facts["architecture"], facts["os_version"]) == ("x86_64", "13.6.1")
    assert facts["console_user"] == {"name": "nobody", "uid": nobody.pw_uid, "home": str(mac.home)}
    assert facts["docker_desktop"] == {
        "installed": True, "app_path": str(bundle.app), "version": "4.15.0", "vm_manager": HYPERKIT,
        "vm_manager_source": "settings.json UseVirtualizationFramework=false", "settings_path": str(settings),
        "hyperkit_path": str(bundle.hyperkit), "shim_state": "pristine",
        "app_management": "unknown", "vm_without_tap": False}  # macOS 13.6.1, no readable TCC database
    assert facts["tuntap"] == {"kext_loaded": True, "devices": ["tap0", "tap1"], "tap_device": "tap1",
                               "tap_device_exists": True, "dev_net_tun": False, "kext_state": "loaded",
                               "kext_load_on_demand": False, "kext_approval_steps": KEXT_APPROVAL_STEPS,
                               "holder_pid": None}
    assert facts["docker"] == {"socket": str(mac.root / "var/run/docker.sock"), "socket_exists": False,
                               "engine_reachable": False, "default_socket": "/var/run/docker.sock",
                               "default_socket_present": False}
    assert facts["strategies"]["tap"]["possible"] is True
    assert facts["strategies"]["tap"]["needs"] == []
    assert facts["strategies"]["routed"]["possible"] is False
    assert facts["homebrew"] == {"path": None, "owner": None}
    assert facts["recommended_strategy"] == "tap"


def test_intel_mac_without_the_kext_needs_it(mac: Mac) -> None:
    mac.bundle()
    mac.settings("settings_json_intel_hyperkit.json", name="settings.json")
    runner = FakeRunner([(SYSCTL, 0, "", ""), (SW_VERS, 0, "10.15.7\n", ""),
                         (["kextstat", "-l", "-b", "net.sf.tuntaposx.tap"], 0, "", "")], missing=["kmutil"])
    facts, _w = mac.facts(runner)
    assert facts["tuntap"]["kext_loaded"] is False
    assert facts["tuntap"]["devices"] == []
    tap = facts["strategies"]["tap"]
    assert tap["possible"] is True
    assert tap["needs"][0].startswith("tuntaposx kext not loaded and /dev/tap1 missing")
    assert facts["recommended_strategy"] == "tap"


# --- tuntaposx from macOS 11: approval and a restart, never loaded on demand (issue 13 item 6) ---------------
@pytest.mark.parametrize(("macos", "installed", "listing", "state", "todo"), [
    ("13.6.1", True, "", "awaiting_approval_or_reboot", "approves it and restarts"),
    ("11.7.10", True, "", "awaiting_approval_or_reboot", "Mattias Nissler"),
    ("13.6.1", False, "", "not_installed", "install tuntaposx"),
    ("10.15.7", True, "", "not_loaded", "kextload /Library/Extensions/tap.kext"),
    ("10.15.7", False, "", "not_installed", "installs it and loads it"),
    ("13.6.1", True, "kextstat_l_b_tuntap_tap.txt", "loaded", None),
    ("13.6.1", True, "kextstat_l_b_tuntap_tun_only.txt", "awaiting_approval_or_reboot", "Privacy & Security"),
])
def test_kext_state(mac: Mac, *, macos: str, installed: bool, listing: str, state: str, todo: str | None) -> None:
    mac.bundle()
    mac.settings("settings_json_intel_hyperkit.json", name="settings.json")
    if installed:  # what tuntap_20150118.pkg installs (background.md section 3)
        (mac.root / "Library" / "Extensions" / "tap.kext" / "Contents").mkdir(parents=True)
    facts, _w = mac.facts(intel_runner(kext=darwin(listing) if listing else "", macos=macos))
    tuntap = facts["tuntap"]
    assert tuntap["kext_state"] == state
    assert tuntap["kext_load_on_demand"] is (macos.startswith("10."))
    assert tuntap["kext_approval_steps"] == (None if macos.startswith("10.") else KEXT_APPROVAL_STEPS)
    needs = facts["strategies"]["tap"]["needs"]
    if todo is None:
        assert needs == []
    else:
        assert len(needs) == 1
        assert needs[0].startswith("tuntaposx kext not loaded and /dev/tap1 missing: ")
        assert todo in needs[0]


def test_intel_mac_on_the_virtualization_framework(mac: Mac) -> None:
    mac.bundle()  # Intel bundles still carry hyperkit
    mac.settings("settings_store_apple_silicon_vf.json")
    mac.settings("settings_json_intel_hyperkit.json", name="settings.json")  # stale: settings-store.json wins
    facts, _w = mac.facts(intel_runner())
    desktop = facts["docker_desktop"]
    assert (desktop["vm_manager"], desktop["vm_manager_source"]) == (
        VIRTUALIZATION_FRAMEWORK, "settings-store.json UseVirtualizationFramework=true")
    assert desktop["hyperkit_path"] is not None
    assert facts["strategies"]["tap"]["possible"] is False
    assert "Virtualization framework" in facts["strategies"]["tap"]["reason"]
    assert facts["recommended_strategy"] == "loopback"


def test_apple_silicon(mac: Mac) -> None:
    app = mac.apple_silicon_app()
    mac.settings("settings_store_apple_silicon_vf.json")
    runner = FakeRunner([(SW_VERS, 0, "15.1\n", ""), (KMUTIL, 0, "", "")])  # arm64: no sysctl question
    facts, _w = mac.facts(runner, machine="arm64")
    assert facts["architecture"] == "arm64"
    assert facts["docker_desktop"]["app_path"] == str(app)
    assert facts["docker_desktop"]["version"] == "4.35.1"
    assert facts["docker_desktop"]["vm_manager"] == VIRTUALIZATION_FRAMEWORK
    assert (facts["docker_desktop"]["hyperkit_path"], facts["docker_desktop"]["shim_state"]) == (None, None)
    assert facts["strategies"]["tap"]["reason"].startswith("Apple Silicon")
    assert facts["recommended_strategy"] == "loopback"


def test_x86_64_python_under_rosetta_is_apple_silicon(mac: Mac) -> None:
    mac.apple_silicon_app()
    runner = FakeRunner([(SYSCTL, 0, "1\n", ""), (SW_VERS, 0, "14.2\n", ""), (KMUTIL, 0, "", "")])
    facts, _w = mac.facts(runner, machine="x86_64")
    assert facts["architecture"] == "arm64"
    assert facts["strategies"]["tap"]["possible"] is False


def test_docker_vmm(mac: Mac) -> None:
    mac.apple_silicon_app()
    mac.settings("settings_store_docker_vmm.json")
    facts, _w = mac.facts(FakeRunner([(SW_VERS, 0, "15.1\n", ""), (KMUTIL, 0, "", "")]), machine="arm64")
    assert facts["docker_desktop"]["vm_manager"] == DOCKER_VMM
    assert facts["docker_desktop"]["vm_manager_source"] == "settings-store.json UseLibkrun=true"
    # Docker VMM is not HyperKit: routed is possible, but without Homebrew loopback stays recommended
    routed = facts["strategies"]["routed"]
    assert routed["possible"] is True
    assert routed["needs"][0].startswith("Homebrew (brew at /opt/homebrew/bin/brew or /usr/local/bin/brew)")
    assert facts["homebrew"] == {"path": None, "owner": None}
    assert facts["recommended_strategy"] == "loopback"
    assert facts["recommended_reason"].startswith("the routed strategy would need Homebrew")


def default_socket_link(mac: Mac) -> Path:
    """What Docker Desktop's "Allow the default Docker socket to be used" leaves: a link to the user's socket
    (dangling while Docker Desktop is not running; docs.docker.com/desktop/setup/install/mac-permission-requirements/
    "Installing symlinks")."""
    link = mac.root / "var" / "run" / "docker.sock"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(mac.home / ".docker" / "run" / "docker.sock")
    return link


@pytest.mark.parametrize("where", ["opt/homebrew/bin", "usr/local/bin"])
def test_apple_silicon_with_homebrew_is_routed(mac: Mac, where: str) -> None:
    mac.apple_silicon_app()
    mac.settings("settings_store_apple_silicon_vf.json")
    default_socket_link(mac)
    brew = mac.root / where / "brew"
    brew.parent.mkdir(parents=True)
    brew.write_text("#!/bin/sh\n")
    brew.chmod(0o755)
    facts, _w = mac.facts(FakeRunner([(SW_VERS, 0, "15.1\n", ""), (KMUTIL, 0, "", "")]), machine="arm64")
    assert facts["homebrew"] == {"path": str(brew), "owner": pwd.getpwuid(os.getuid()).pw_name}
    assert facts["strategies"]["routed"]["possible"] is True
    assert facts["strategies"]["routed"]["needs"] == []
    assert facts["recommended_strategy"] == "routed"
    assert facts["recommended_reason"].startswith("the tap strategy is not possible, the routed strategy is: "
                                                  "Docker Desktop on Apple's Virtualization framework")


def test_routed_needs_the_default_socket(mac: Mac) -> None:
    """Docker Desktop's default: no /var/run/docker.sock. docker-mac-net-connect (root, no DOCKER_HOST) would find
    no engine: the routed strategy needs the setting, and loopback stays recommended until it is on."""
    mac.apple_silicon_app()
    mac.settings("settings_store_apple_silicon_vf.json")
    brew = mac.root / "opt" / "homebrew" / "bin" / "brew"
    brew.parent.mkdir(parents=True)
    brew.write_text("#!/bin/sh\n")
    brew.chmod(0o755)
    runner = FakeRunner([(SW_VERS, 0, "15.1\n", ""), (KMUTIL, 0, "", "")])
    facts, _w = mac.facts(runner, machine="arm64")
    assert facts["docker"]["default_socket_present"] is False
    assert facts["strategies"]["routed"]["possible"] is True
    assert facts["strategies"]["routed"]["needs"] == [
        "Docker Desktop's setting 'Allow the default Docker socket to be used' (Settings > Advanced; it asks for your "
        "password): docker-mac-net-connect runs as root and talks to /var/run/docker.sock, which Docker Desktop "
        "creates only with that setting on"]
    assert facts["recommended_strategy"] == "loopback"
    assert facts["recommended_reason"].startswith("the routed strategy would need Docker Desktop's setting 'Allow "
                                                  "the default Docker socket to be used'")
    # the setting on, Docker Desktop not running: a dangling link is the setting's mark, nothing is needed
    link = default_socket_link(mac)
    assert not link.exists()
    facts, _w = mac.facts(FakeRunner([(SW_VERS, 0, "15.1\n", ""), (KMUTIL, 0, "", "")]), machine="arm64")
    assert facts["docker"]["default_socket_present"] is True
    assert facts["strategies"]["routed"]["needs"] == []
    assert facts["recommended_strategy"] == "routed"


def test_homebrew_order_and_what_is_not_brew(mac: Mac) -> None:
    backend = DarwinFacts(runner=FakeRunner(), root=str(mac.root), home=str(mac.home), machine="arm64", environ={})
    intel = mac.root / "usr" / "local" / "bin" / "brew"
    intel.parent.mkdir(parents=True)
    intel.write_text("#!/bin/sh\n")
    intel.chmod(0o644)  # not executable: not Homebrew's brew
    (mac.root / "opt" / "homebrew" / "bin" / "brew").mkdir(parents=True)  # a directory named brew
    assert backend.homebrew() == {"path": None, "owner": None}
    intel.chmod(0o755)
    assert backend.homebrew()["path"] == str(intel)
    apple = mac.root / "opt" / "homebrew" / "bin" / "brew"
    apple.rmdir()
    apple.symlink_to(intel)  # a symlink to an executable counts; Apple Silicon's path wins
    assert backend.homebrew()["path"] == str(apple)


def test_no_docker_desktop(mac: Mac) -> None:
    facts, _w = mac.facts(intel_runner())
    desktop = facts["docker_desktop"]
    assert desktop == {"installed": False, "app_path": None, "version": None, "vm_manager": None,
                       "vm_manager_source": None, "settings_path": None, "hyperkit_path": None, "shim_state": None,
                       "app_management": None, "vm_without_tap": False}
    assert "Docker Desktop is not installed" in facts["strategies"]["tap"]["reason"]
    assert str(mac.home / "Applications" / "Docker.app") in facts["strategies"]["tap"]["reason"]
    assert facts["recommended_strategy"] == "loopback"


@pytest.mark.parametrize("layout", [0, 1, 2])
def test_hyperkit_layouts_in_home_applications(mac: Mac, layout: int) -> None:
    bundle = mac.bundle(where=mac.home / "Applications", layout=layout, version="4.13.1")
    mac.settings("settings_store_fresh_install.json")  # no VM key: the version decides
    facts, _w = mac.facts(intel_runner())
    desktop = facts["docker_desktop"]
    assert desktop["app_path"] == str(bundle.app)
    assert desktop["hyperkit_path"] == str(bundle.hyperkit)
    assert desktop["shim_state"] == "pristine"
    assert (desktop["vm_manager"], desktop["vm_manager_source"]) == (HYPERKIT, "default of Docker Desktop 4.13.1 "
                                                                               "(before 4.14)")
    assert facts["strategies"]["tap"]["possible"] is True


def test_app_path_with_spaces_and_shim_states(mac: Mac, tmp_path: Path) -> None:
    where = tmp_path / "Applications" / "Developer Tools"
    bundle = mac.bundle(where=where, name="Docker Desktop.app", version="4.13.1")
    mac.bundle()  # /Applications/Docker.app exists too: the option wins
    facts, _w = mac.facts(intel_runner(), app_path=str(bundle.app), tap_device="tap3")
    assert facts["docker_desktop"]["app_path"] == str(bundle.app)
    assert facts["tuntap"]["tap_device"] == "tap3"
    bundle.make_installed(tap="tap3")
    facts, _w = mac.facts(intel_runner(), app_path=str(bundle.app), tap_device="tap3")
    assert facts["docker_desktop"]["shim_state"] == "installed"
    facts, _w = mac.facts(intel_runner(), app_path=str(bundle.app))  # a shim for tap3, asked about tap1
    assert facts["docker_desktop"]["shim_state"] == "outdated"
    Path(str(bundle.hyperkit) + ".original").write_bytes(b"docker-tuntap-osx's copy")
    facts, _w = mac.facts(intel_runner(), app_path=str(bundle.app))
    assert facts["docker_desktop"]["shim_state"] == "foreign_shim"
    tap = facts["strategies"]["tap"]
    assert tap["possible"] is False
    assert "docker-tuntap-osx" in tap["reason"]


def test_missing_app_path_falls_back_with_a_warning(mac: Mac, tmp_path: Path) -> None:
    bundle = mac.bundle()
    facts, warnings = mac.facts(intel_runner(), app_path=str(tmp_path / "nowhere" / "Docker.app"))
    assert facts["docker_desktop"]["app_path"] == str(bundle.app)
    assert warnings == [f"app_path {tmp_path / 'nowhere' / 'Docker.app'} is not a directory; looked for Docker "
                        "Desktop in the default places instead."]


def test_unreadable_settings_fall_back_to_the_version(mac: Mac) -> None:
    mac.bundle(version="4.13.1")
    path = mac.settings("", text="{ truncated")
    facts, warnings = mac.facts(intel_runner())
    assert facts["docker_desktop"]["settings_path"] == str(path)
    assert facts["docker_desktop"]["vm_manager"] == HYPERKIT
    assert len(warnings) == 1
    assert "not a JSON object" in warnings[0]


# macOS 15 guards app group containers: opening another app's group container from an SSH session or a
# LaunchDaemon fails with EPERM ("Operation not permitted"; Apple: "Protecting local app data using containers on
# macOS"; smartcontractkit/chainlink#19863 meets it on group.com.docker/settings-store.json).
TCC_REFUSAL = PermissionError(1, "Operation not permitted")


def refuse_settings(monkeypatch: pytest.MonkeyPatch, refusal: OSError = TCC_REFUSAL) -> None:
    """open() of anything under the group container raises ``refusal``, as on macOS 15 over SSH."""
    real_open = open

    def guarded(file: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
        if SETTINGS in str(file):
            raise refusal
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", guarded)


def test_refused_settings_are_unknown_never_a_version_guess(mac: Mac, monkeypatch: pytest.MonkeyPatch) -> None:
    mac.bundle(version="4.20.0")  # the version alone would say the Virtualization framework
    mac.settings("settings_json_intel_hyperkit.json", name="settings.json")  # the truth: HyperKit
    # The whole container is refused: the first file asked for (the newer name) is the one reported.
    path = mac.home / SETTINGS / "settings-store.json"
    refuse_settings(monkeypatch)
    facts, warnings = mac.facts(intel_runner())
    desktop = facts["docker_desktop"]
    assert desktop["vm_manager"] == UNKNOWN
    assert desktop["settings_path"] == str(path)
    source = desktop["vm_manager_source"]
    assert source.startswith(f"{path} could not be read (Operation not permitted): macOS 15")
    assert "tap_bridge_vm_manager" in source
    assert "Virtualization framework" not in facts["strategies"]["tap"]["reason"]
    assert facts["strategies"]["tap"]["possible"] is False
    assert "tap_bridge_vm_manager" in facts["strategies"]["tap"]["reason"]
    assert warnings == []


def test_the_vm_manager_option_overrides_refused_settings(mac: Mac, monkeypatch: pytest.MonkeyPatch) -> None:
    mac.bundle(version="4.20.0")
    mac.settings("settings_json_intel_hyperkit.json", name="settings.json")
    refuse_settings(monkeypatch)
    facts, _w = mac.facts(intel_runner(kext=darwin("kextstat_l_b_tuntap_tap.txt")), vm_manager=HYPERKIT)
    assert facts["docker_desktop"]["vm_manager"] == HYPERKIT
    assert "vm_manager option" in facts["docker_desktop"]["vm_manager_source"]
    assert facts["strategies"]["tap"]["possible"] is True


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to another user")
def test_a_really_unreadable_settings_file_read_by_another_user() -> None:
    """No patching: a settings file its reader may not open (root's, mode 000), read by ``nobody`` in a child."""
    top = Path(tempfile.mkdtemp(prefix="hb-tcc-"))
    try:
        mac = Mac(top)
        mac.bundle(version="4.20.0")
        path = mac.settings("settings_json_intel_hyperkit.json", name="settings.json")
        for directory in (top, *(d for d in path.parents if top in d.parents)):
            directory.chmod(0o755)
        path.chmod(0)
        desktop = _as_nobody(lambda: mac.facts(intel_runner())[0]["docker_desktop"])
    finally:
        shutil.rmtree(top)
    assert desktop["vm_manager"] == UNKNOWN
    assert desktop["vm_manager_source"].startswith(f"{path} could not be read (Permission denied)")


def _as_nobody(gather: t.Callable[[], t.Any]) -> t.Any:
    """``gather()`` run in a forked child that became ``nobody``; its JSON result (or its error) comes back."""
    nobody = pwd.getpwnam("nobody")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            answer = {"result": gather()}
        except BaseException as exc:  # reported to the parent, which fails the test
            answer = {"error": repr(exc)}
        os.write(write, json.dumps(answer).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        answer = json.loads(pipe.read() or b'{"error": "no answer"}')
    os.waitpid(pid, 0)
    assert "error" not in answer, answer["error"]
    return answer["result"]


def test_user_socket_and_a_live_engine(mac: Mac, short_dir: str) -> None:
    # the home is a short path here, for AF_UNIX
    home = Path(short_dir)
    (home / ".docker" / "run").mkdir(parents=True)
    sock = home / ".docker" / "run" / "docker.sock"
    backend = DarwinFacts(runner=intel_runner(), root=str(mac.root), home=str(home), machine="x86_64", environ={})
    with ping_server(str(sock), OK):
        facts = backend.gather({"user": "nobody"})
    assert facts["docker"] == {"socket": str(sock), "socket_exists": True, "engine_reachable": True,
                               "default_socket": "/var/run/docker.sock", "default_socket_present": False}


def test_without_sw_vers_and_kext_tools(mac: Mac) -> None:
    runner = FakeRunner([], missing=["sysctl", "sw_vers", "kmutil", "kextstat"])
    facts, _w = mac.facts(runner)
    assert facts["tuntap"]["kext_loaded"] is False
    assert facts["os_version"] is None  # platform.mac_ver() is empty on Linux


@pytest.mark.root
def test_console_user_is_the_owner_of_dev_console(mac: Mac) -> None:
    console = mac.root / "dev" / "console"
    console.write_text("")
    nobody = pwd.getpwnam("nobody")
    os.chown(console, nobody.pw_uid, nobody.pw_gid)
    facts, _w = mac.facts(intel_runner(), user=None, environ={"SUDO_USER": "root"})
    assert facts["console_user"]["name"] == "nobody"
    # root at the console (login window): SUDO_USER decides
    os.chown(console, 0, 0)
    daemon = pwd.getpwuid(1)
    facts, _w = mac.facts(intel_runner(), user=None, environ={"SUDO_USER": daemon.pw_name})
    assert facts["console_user"]["name"] == daemon.pw_name


def test_bad_options_are_refused(mac: Mac) -> None:
    with pytest.raises(HostbridgeError, match="tap_device: 'tap256' must be a tap device name"):
        mac.facts(FakeRunner(), tap_device="tap256")
    with pytest.raises(HostbridgeError, match="user: 'no such user' is not a user on this host"):
        mac.facts(FakeRunner(), user="no such user")


# --- fabricated Linux hosts ----------------------------------------------------------------------------------
class LinuxHost:
    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path / "root"
        (self.root / "dev" / "net").mkdir(parents=True)
        (self.root / "etc").mkdir()
        (self.root / "sys" / "class" / "net").mkdir(parents=True)
        (self.root / "etc" / "os-release").write_text('PRETTY_NAME="Ubuntu 24.04.1 LTS"\nID=ubuntu\n')

    def interface(self, name: str, tun_flags: str | None) -> None:
        path = self.root / "sys" / "class" / "net" / name
        path.mkdir()
        if tun_flags is not None:
            (path / "tun_flags").write_text(f"{tun_flags}\n")

    def facts(self, **params: t.Any) -> dict[str, t.Any]:
        environ = params.pop("environ", {})
        backend = LinuxFacts(runner=FakeRunner(), root=str(self.root), home="/home/x", machine="aarch64",
                             environ=environ)
        return backend.gather(params)


def test_linux_with_dev_net_tun(tmp_path: Path) -> None:
    host = LinuxHost(tmp_path)
    (host.root / "dev" / "net" / "tun").symlink_to("/dev/null")
    host.interface("tap1", "0x1002")  # IFF_TAP | IFF_NO_PI
    host.interface("tap0", "0x1001")  # a TUN interface named tap0
    host.interface("tap2", None)  # not a TUN/TAP interface (a veth named tap2)
    host.interface("eth0", None)
    facts = host.facts(user="nobody")
    assert (facts["platform"], facts["architecture"], facts["os_version"]) == ("linux", "arm64", "Ubuntu 24.04.1 LTS")
    assert facts["tuntap"] == {"kext_loaded": False, "devices": ["tap1"], "tap_device": "tap1",
                               "tap_device_exists": True, "dev_net_tun": True, "kext_state": None,
                               "kext_load_on_demand": False, "kext_approval_steps": None, "holder_pid": None}
    assert facts["docker_desktop"]["installed"] is False
    assert facts["strategies"]["tap"]["possible"] is True
    assert facts["strategies"]["routed"]["possible"] is False
    assert facts["homebrew"] == {"path": None, "owner": None}
    assert facts["recommended_strategy"] == "loopback"
    assert facts["recommended_reason"].startswith("Linux reaches container IPs directly")
    assert facts["console_user"]["name"] == "nobody"
    assert facts["systemd"] is False


def test_linux_systemd_is_seen_from_its_runtime_directory(tmp_path: Path) -> None:
    host = LinuxHost(tmp_path)
    (host.root / "run" / "systemd" / "system").mkdir(parents=True)
    assert host.facts()["systemd"] is True


def test_linux_without_dev_net_tun(tmp_path: Path) -> None:
    host = LinuxHost(tmp_path)
    (host.root / "dev" / "net" / "tun").write_text("a regular file is not the device")
    facts = host.facts(environ={"DOCKER_HOST": "unix:///run/user/1000/docker.sock"})
    assert facts["tuntap"]["dev_net_tun"] is False
    assert facts["strategies"]["tap"]["possible"] is False
    assert facts["docker"]["socket"] == "/run/user/1000/docker.sock"
    assert facts["recommended_strategy"] == "loopback"


def test_linux_simulated_bundle(tmp_path: Path) -> None:
    host = LinuxHost(tmp_path)
    bundle = FakeBundle(tmp_path / "sim")
    facts = host.facts(app_path=str(bundle.app))
    desktop = facts["docker_desktop"]
    assert (desktop["installed"], desktop["app_path"]) == (False, str(bundle.app))
    assert (desktop["hyperkit_path"], desktop["shim_state"]) == (str(bundle.hyperkit), "pristine")


def test_unsupported_system() -> None:
    with pytest.raises(HostbridgeError, match="does not support 'Windows'"):
        _facts.gather(params={}, system="Windows", runner=FakeRunner())


# --- recorded facts: tests/fixtures/facts/<kind>.json, what bridge_facts gives on each kind of machine ----------
# The example inventories are checked against these (tests/system/test_example_inventories.py). Each is made
# here from the recorded macOS samples above (tests/fixtures/darwin/SOURCES.md) on a fabricated machine, so they
# change when the code's decision changes: HOSTBRIDGE_RECORD_FACTS=1 rewrites them, and the diff is reviewed.
FACTS_DIR = Path(__file__).resolve().parents[3] / "fixtures" / "facts"


def _homebrew(mac: Mac) -> None:
    brew = mac.root / "opt" / "homebrew" / "bin" / "brew"
    brew.parent.mkdir(parents=True)
    brew.write_text("#!/bin/sh\n")
    brew.chmod(0o755)


def _default_socket(mac: Mac) -> None:
    """Docker Desktop's "Allow the default Docker socket to be used" on: /var/run/docker.sock, a link to the
    user's socket (docker-mac-net-connect's only engine; bridge_facts counts the link, dangling or not)."""
    run = mac.root / "var" / "run"
    run.mkdir(parents=True, exist_ok=True)
    (run / "docker.sock").symlink_to("/Users/alice/.docker/run/docker.sock")


def _record_intel_hyperkit(mac: Mac) -> dict[str, t.Any]:
    """An Intel Mac, Docker Desktop 4.15 set to HyperKit, tuntaposx loaded and /dev/tap1 there."""
    mac.bundle()
    mac.settings("settings_json_intel_hyperkit.json", name="settings.json")
    mac.char_device("tap1")
    return mac.facts(intel_runner(kext=darwin("kextstat_l_b_tuntap_tap.txt")))[0]


def _record_intel_virtualization_framework_homebrew(mac: Mac) -> dict[str, t.Any]:
    """An Intel Mac, Docker Desktop on Apple's Virtualization framework with the default socket on, Homebrew."""
    mac.bundle()
    mac.settings("settings_store_apple_silicon_vf.json")
    _homebrew(mac)
    _default_socket(mac)
    return mac.facts(intel_runner())[0]


def _record_apple_silicon_homebrew(mac: Mac, *, default_socket: bool = True) -> dict[str, t.Any]:
    """An Apple Silicon Mac, Docker Desktop 4.35 (Virtualization framework), Homebrew in /opt/homebrew, and the
    default socket on (or off)."""
    mac.apple_silicon_app()
    mac.settings("settings_store_apple_silicon_vf.json")
    _homebrew(mac)
    if default_socket:
        _default_socket(mac)
    return mac.facts(FakeRunner([(SW_VERS, 0, "15.1\n", ""), (KMUTIL, 0, "", "")]), machine="arm64")[0]


def _record_apple_silicon(mac: Mac) -> dict[str, t.Any]:
    """An Apple Silicon Mac, Docker Desktop 4.35 (Virtualization framework), no Homebrew."""
    mac.apple_silicon_app()
    mac.settings("settings_store_apple_silicon_vf.json")
    return mac.facts(FakeRunner([(SW_VERS, 0, "15.1\n", ""), (KMUTIL, 0, "", "")]), machine="arm64")[0]


def _record_linux(tmp_path: Path) -> dict[str, t.Any]:
    """A Linux laptop (Ubuntu 24.04) with /dev/net/tun."""
    host = LinuxHost(tmp_path)
    (host.root / "dev" / "net" / "tun").symlink_to("/dev/null")
    return host.facts(user="nobody")


RECORDED = {"intel_hyperkit": _record_intel_hyperkit,
            "intel_virtualization_framework_homebrew": _record_intel_virtualization_framework_homebrew,
            "apple_silicon_homebrew": _record_apple_silicon_homebrew,
            "apple_silicon_homebrew_no_default_socket":
                lambda mac: _record_apple_silicon_homebrew(mac, default_socket=False),
            "apple_silicon": _record_apple_silicon}


def _portable(value: t.Any, tmp_path: Path) -> t.Any:
    """The facts without this run's temp paths and uids: the fabricated / is /, the home /Users/alice."""
    text = json.dumps(value, sort_keys=True)
    text = text.replace(str(tmp_path / "home" / "alice"), "/Users/alice").replace(str(tmp_path / "root"), "")
    facts = json.loads(text)
    facts["console_user"] = {"name": "alice", "uid": 501, "home": facts["console_user"]["home"]}
    if facts["homebrew"]["owner"] is not None:
        facts["homebrew"]["owner"] = "alice"
    return facts


@pytest.mark.parametrize("kind", [*RECORDED, "linux"])
def test_recorded_facts_are_what_bridge_facts_gives(tmp_path: Path, kind: str) -> None:
    facts = _record_linux(tmp_path) if kind == "linux" else RECORDED[kind](Mac(tmp_path))
    facts = _portable(facts, tmp_path)
    path = FACTS_DIR / f"{kind}.json"
    if os.environ.get("HOSTBRIDGE_RECORD_FACTS") == "1":
        path.write_text(json.dumps(facts, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    assert json.loads(path.read_text(encoding="utf-8")) == facts, f"{path} is stale: HOSTBRIDGE_RECORD_FACTS=1"


# --- after a reboot: the shim in place, the VM running, the tap device held by nobody --------------------------
IFCONFIG_TAP1 = ["ifconfig", "tap1"]


@pytest.mark.parametrize(
    ("ifconfig", "holder", "without_tap"),
    [
        # hyperkit holds /dev/tap1: tuntaposx's `open (pid N)` status line (a real `ifconfig tap1`)
        ((0, darwin("ifconfig_tap1_open.txt"), ""), 25606, False),
        # nobody holds it: the interface does not exist (hyperkit could not open the device and only warned)
        ((1, "", darwin("ifconfig_tap1_missing_stderr.txt")), None, True),
    ],
)
def test_vm_running_without_the_tap_device(mac: Mac, short_dir: str, ifconfig: tuple[int, str, str],
                                           holder: int | None, without_tap: bool) -> None:
    bundle = mac.bundle()
    bundle.make_installed(tap="tap1")
    mac.settings("settings_json_intel_hyperkit.json", name="settings.json")
    mac.char_device("tap1")
    home = Path(short_dir)
    (home / ".docker" / "run").mkdir(parents=True)
    sock = home / ".docker" / "run" / "docker.sock"
    runner = FakeRunner([(SYSCTL, 0, "", ""), (SW_VERS, 0, "13.6.1\n", ""), (KMUTIL, 0, "", ""),
                         (IFCONFIG_TAP1, *ifconfig)])
    backend = DarwinFacts(runner=runner, root=str(mac.root), home=str(home), machine="x86_64", environ={})
    with ping_server(str(sock), OK):
        facts = backend.gather({"user": "nobody"})
    runner.assert_done()
    assert facts["docker_desktop"]["shim_state"] == "installed"
    assert facts["tuntap"]["holder_pid"] == holder
    assert facts["docker_desktop"]["vm_without_tap"] is without_tap
    assert backend.warnings == []


def test_holder_is_not_looked_up_when_it_cannot_matter(mac: Mac) -> None:
    # The shim in place, the device there, but no engine answers (Docker Desktop not running): no ifconfig call.
    bundle = mac.bundle()
    bundle.make_installed(tap="tap1")
    mac.char_device("tap1")
    facts, _w = mac.facts(intel_runner())
    assert (facts["tuntap"]["holder_pid"], facts["docker_desktop"]["vm_without_tap"]) == (None, False)


def fake_proc(root: Path, processes: dict[str, tuple[str, dict[str, tuple[str, str]]]]) -> Path:
    """A /proc with ``self`` and, per pid, its network namespace and fds (target, fdinfo text)."""
    proc = root / "proc"
    for pid, (netns, fds) in {"self": ("net:[4026531992]", {}), **processes}.items():
        (proc / pid / "ns").mkdir(parents=True)
        (proc / pid / "ns" / "net").symlink_to(netns)
        (proc / pid / "fd").mkdir()
        (proc / pid / "fdinfo").mkdir()
        for fd, (target, info) in fds.items():
            (proc / pid / "fd" / fd).symlink_to(target)
            (proc / pid / "fdinfo" / fd).write_text(info)
    return proc


def tun_fd(name: str) -> tuple[str, str]:
    # What the kernel shows for a TUN/TAP fd (drivers/net/tun.c, tun_chr_show_fdinfo).
    return "/dev/net/tun", f"pos:\t0\nflags:\t02\nmnt_id:\t26\nino:\t1055\niff:\t{name}\n"


def test_linux_holder_from_fdinfo_in_this_namespace_only(tmp_path: Path) -> None:
    here, elsewhere = "net:[4026531992]", "net:[4026532500]"
    tap = _facts.LinuxTap(FakeRunner())
    tap.proc = str(fake_proc(tmp_path, {
        "77": (elsewhere, {"5": tun_fd("tap1")}),  # another namespace's tap1
        "88": (here, {"3": ("/tmp/notes", "iff:\ttap1\n"), "4": tun_fd("tap10")}),  # a file, another device
        "99": (here, {"0": ("/dev/null", "pos:\t0\n"), "7": tun_fd("tap1")}),
    }))
    assert tap.holder("tap1") == 99
    assert tap.holder("tap10") == 88
    assert tap.holder("tap2") is None
