"""The routed strategy's plan entries (_plan + _homebrew): the Homebrew tap, the formula and the root service,
Docker Desktop's daemon.json key, the engine's version and the networks - in sync, each kind of drift, and what
cannot be decided, which is "pending" (the role's task then runs and tells), never an error.

Homebrew is laid out on disk as Homebrew/brew lays it out (``_homebrew``'s docstring cites where); ``launchctl
print`` answers argv-exact with the recorded outputs of tests/fixtures/darwin (SOURCES.md: the running and exited
jobs and the property list are reconstructed, the "Could not find service" line is the one test_launchd.py uses);
the engine is the fake Docker API on a unix socket."""

from __future__ import annotations

import json
import os
import plistlib
import tempfile
import typing as t
from pathlib import Path
from unittest import mock

import pytest

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _homebrew, _plan
from ansible_collections.dockermac.hostbridge.tests.fake_docker_api import FakeDockerAPI
from ansible_collections.dockermac.hostbridge.tests.unit.utils import FakeRunner, fixture_text

FORMULA = "chipmk/tap/docker-mac-net-connect"
LABEL = "homebrew.mxcl.docker-mac-net-connect"
PRINT = ["launchctl", "print", f"system/{LABEL}"]
NOT_LOADED = (PRINT, 113, "", f'Could not find service "{LABEL}" in domain for system\n')
OPTION = "com.docker.network.bridge.trusted_host_interfaces"
SYNC = {"pending": False, "reason": "in sync"}


class Brew:
    """A Homebrew installation under ``root``: Apple Silicon (/opt/homebrew, prefix = repository) or Intel
    (/usr/local/bin/brew a symlink into /usr/local/Homebrew, the Cellar in /usr/local)."""

    def __init__(self, root: Path, *, intel: bool = False) -> None:
        if intel:
            self.prefix, self.repository = root / "usr" / "local", root / "usr" / "local" / "Homebrew"
            (self.repository / "bin").mkdir(parents=True)
            (self.repository / "bin" / "brew").write_text("#!/bin/bash\n")
            (self.prefix / "bin").mkdir()
            (self.prefix / "bin" / "brew").symlink_to(self.repository / "bin" / "brew")
        else:
            self.prefix = self.repository = root / "opt" / "homebrew"
            (self.prefix / "bin").mkdir(parents=True)
            (self.prefix / "bin" / "brew").write_text("#!/bin/bash\n")
        (self.prefix / "Cellar").mkdir()
        self.brew = str(self.prefix / "bin" / "brew")

    def tap(self, user: str = "chipmk", repo: str = "homebrew-tap") -> None:
        (self.repository / "Library" / "Taps" / user / repo).mkdir(parents=True)

    def keg(self, *, receipt: bool = True, version: str = "v0.1.4") -> Path:
        keg = self.prefix / "Cellar" / "docker-mac-net-connect" / version
        (keg / "bin").mkdir(parents=True)
        if receipt:
            (keg / _homebrew.RECEIPT).write_text('{"source": {"tap": "chipmk/tap"}}\n')
        return keg


def context(runner: FakeRunner | None = None, **facts: t.Any) -> _plan.PlanContext:
    return _plan.PlanContext(system="Darwin", runner=runner or FakeRunner([]), module=mock.Mock(),
                             console_user="alice", facts=facts)


def one(kind: str, params: dict[str, t.Any], ctx: _plan.PlanContext) -> dict[str, t.Any]:
    entry = {"kind": kind, "strategy": "routed", "platforms": ["darwin"], "params": params}
    verdict = _plan.check({"entry": entry}, ctx)["entry"]
    assert verdict.pop("strategy") == "routed"  # the bridge role includes the routed role for it
    return t.cast("dict[str, t.Any]", verdict)


# --- the tap and the formula, read from Homebrew's directories -------------------------------------------------
@pytest.mark.parametrize("intel", [False, True], ids=["apple-silicon", "intel"])
def test_tap_and_formula_in_sync_and_missing(tmp_path: Path, intel: bool) -> None:
    brew = Brew(tmp_path, intel=intel)
    ctx = context(homebrew={"path": brew.brew, "owner": "alice"})
    taps = brew.repository / "Library" / "Taps" / "chipmk" / "homebrew-tap"
    assert one("homebrew_tap", {"tap": "chipmk/tap"}, ctx) == {
        "pending": True, "reason": f"tap chipmk/tap is not installed ({taps} is not a directory)"}
    rack = brew.prefix / "Cellar" / "docker-mac-net-connect"
    assert one("homebrew_formula", {"formula": FORMULA}, ctx) == {
        "pending": True, "reason": f"formula {FORMULA} is not installed (no keg of {rack} holds INSTALL_RECEIPT.json)"}
    brew.tap()
    brew.keg()
    assert one("homebrew_tap", {"tap": "chipmk/tap"}, ctx) == SYNC
    assert one("homebrew_tap", {"tap": "Chipmk/homebrew-Tap"}, ctx) == SYNC  # Tap names are case-insensitive
    assert one("homebrew_formula", {"formula": FORMULA}, ctx) == SYNC
    assert one("homebrew_formula", {"formula": "docker-mac-net-connect"}, ctx) == SYNC
    assert _homebrew.prefix_and_repository(brew.brew) == (str(brew.prefix), str(brew.repository))


def test_a_keg_without_its_receipt_is_not_installed(tmp_path: Path) -> None:
    """An interrupted install leaves a keg without INSTALL_RECEIPT.json; Homebrew does not count it."""
    brew = Brew(tmp_path)
    brew.keg(receipt=False)
    ctx = context(homebrew={"path": brew.brew})
    assert one("homebrew_formula", {"formula": FORMULA}, ctx)["pending"] is True
    brew.keg(version="v0.1.5")
    assert one("homebrew_formula", {"formula": FORMULA}, ctx) == SYNC


def test_the_brew_given_wins_and_no_brew_is_pending(tmp_path: Path) -> None:
    brew = Brew(tmp_path)
    brew.tap()
    assert one("homebrew_tap", {"tap": "chipmk/tap", "brew": brew.brew}, context()) == SYNC
    assert one("homebrew_tap", {"tap": "chipmk/tap"}, context(homebrew={"path": None})) == {
        "pending": True, "reason": "homebrew_tap: Homebrew was not found"}


def test_names_that_could_be_options_are_pending_and_nothing_runs(tmp_path: Path) -> None:
    brew = Brew(tmp_path)
    runner = FakeRunner([])
    ctx = context(runner, homebrew={"path": brew.brew})
    for kind, params in (("homebrew_tap", {"tap": "-x/tap"}), ("homebrew_formula", {"formula": "chipmk/tap/-x"}),
                         ("homebrew_service", {"formula": "--force"})):
        verdict = one(kind, params, ctx)
        assert verdict["pending"] is True
        assert "is not a Homebrew" in verdict["reason"], verdict
    assert runner.calls == []


# --- the service: launchd's system domain, as `sudo brew services info` reads it ---------------------------------
def plist(tmp_path: Path, **more: t.Any) -> Path:
    """The property list brew services writes (recorded, reconstructed), with more keys."""
    data = plistlib.loads(fixture_text("darwin", "homebrew.mxcl.docker-mac-net-connect.plist").encode())
    path = tmp_path / f"{LABEL}.plist"
    path.write_bytes(plistlib.dumps({**data, **more}))
    return path


def printed(sample: str, plist_path: Path) -> str:
    return fixture_text("darwin", sample).replace(f"/Library/LaunchDaemons/{LABEL}.plist", str(plist_path))


def service(runner: FakeRunner) -> dict[str, t.Any]:
    verdict = one("homebrew_service", {"formula": FORMULA}, context(runner))
    runner.assert_done()
    return verdict


def test_service_running_as_root_is_in_sync(tmp_path: Path) -> None:
    path = plist(tmp_path)
    runner = FakeRunner([(PRINT, 0, printed("launchctl_print_docker_mac_net_connect_running.txt", path), "")])
    assert service(runner) == SYNC


def test_service_not_loaded_exited_or_another_user_is_pending(tmp_path: Path) -> None:
    assert service(FakeRunner([NOT_LOADED])) == {"pending": True, "reason": (
        f"service {LABEL} is not loaded in the system domain (launchctl print: rc=113: Could not find service "
        f'"{LABEL}" in domain for system)')}
    path = plist(tmp_path)
    exited = printed("launchctl_print_docker_mac_net_connect_exited.txt", path)
    assert service(FakeRunner([(PRINT, 0, exited, "")])) == {
        "pending": True, "reason": f"service {LABEL} is loaded but not running (last exit code = 1)"}
    running = printed("launchctl_print_docker_mac_net_connect_running.txt", plist(tmp_path, UserName="alice"))
    assert service(FakeRunner([(PRINT, 0, running, "")])) == {
        "pending": True, "reason": f"service {LABEL} runs as alice, not root"}


def test_service_whose_owner_cannot_be_read_is_pending(tmp_path: Path) -> None:
    running = fixture_text("darwin", "launchctl_print_docker_mac_net_connect_running.txt")
    no_path = "".join(line for line in running.splitlines(keepends=True) if "\tpath = " not in line)
    assert service(FakeRunner([(PRINT, 0, no_path, "")])) == {"pending": True, "reason": (
        f"service {LABEL}: launchctl print names no property list, so who it runs as is unknown")}
    gone = printed("launchctl_print_docker_mac_net_connect_running.txt", tmp_path / "gone.plist")
    verdict = service(FakeRunner([(PRINT, 0, gone, "")]))
    assert verdict["pending"] is True
    assert "gone.plist" in verdict["reason"]


# --- daemon.json ----------------------------------------------------------------------------------------------
def test_daemon_json_key(tmp_path: Path) -> None:
    home = tmp_path / "alice"
    path = home / ".docker" / "daemon.json"
    ctx = context(console_user={"name": "alice", "home": str(home)})
    key = {"key": "allow-direct-routing", "value": True}
    assert one("daemon_json_key", key, ctx) == {"pending": True, "reason": f"{path} does not exist"}
    path.parent.mkdir(parents=True)
    cases = {
        '{"builder": {"gc": {"enabled": true}}, "allow-direct-routing": true}\n': SYNC,
        '{"builder": {"gc": {"enabled": true}}}\n': {
            "pending": True, "reason": f"{path}: allow-direct-routing is None, wanted True"},
        '{"allow-direct-routing": false}': {
            "pending": True, "reason": f"{path}: allow-direct-routing is False, wanted True"},
        '["allow-direct-routing"]': {"pending": True, "reason": f"{path} is not a JSON object"},
    }
    for content, verdict in cases.items():
        path.write_text(content)
        assert one("daemon_json_key", key, ctx) == verdict, content
    path.write_text("{not json")
    assert one("daemon_json_key", key, ctx)["pending"] is True
    # a path given wins; no home known and no path: pending
    other = tmp_path / "daemon.json"
    other.write_text(json.dumps({"allow-direct-routing": True}))
    assert one("daemon_json_key", {**key, "path": str(other)}, context()) == SYNC
    assert one("daemon_json_key", key, context()) == {
        "pending": True, "reason": "daemon_json_key: the console user's home is unknown"}


# --- the engine and the networks ------------------------------------------------------------------------------
@pytest.fixture
def api() -> t.Iterator[FakeDockerAPI]:
    with tempfile.TemporaryDirectory(prefix="hb-") as short, FakeDockerAPI(f"{short}/docker.sock") as fake:
        yield fake


@pytest.mark.parametrize(("version", "pending"), [("28.2.2", False), ("28.2.0", False), ("29.0.1", False),
                                                  ("28.1.1", True), ("27.5.1", True), ("28.10.0", False),
                                                  ("dev", True)])
def test_engine_version_rule(api: FakeDockerAPI, version: str, pending: bool) -> None:
    api.version = version
    verdict = one("docker_engine", {"version_at_least": "28.2"}, context()._replace(docker_socket=api.socket_path))
    assert verdict == ({"pending": True, "reason": f"Docker Engine {version} is not 28.2 or later"} if pending
                       else SYNC)
    assert api.calls() == ["/version"]


def test_engine_version_parts_left_out_count_as_zero(api: FakeDockerAPI) -> None:
    api.version = "28"
    verdict = one("docker_engine", {"version_at_least": "28.0"}, context()._replace(docker_socket=api.socket_path))
    assert verdict == SYNC


def test_engine_that_does_not_answer_is_pending(api: FakeDockerAPI) -> None:
    api.stop()
    verdict = one("docker_engine", {"version_at_least": "28.2", "socket": f"unix://{api.socket_path}"}, context())
    assert verdict["pending"] is True
    assert verdict["reason"].startswith(f"docker_engine: the Docker engine at {api.socket_path} could not be asked")


def test_networks_with_the_trusted_interfaces(api: FakeDockerAPI) -> None:
    ctx = context()._replace(docker_socket=api.socket_path)
    params = {"networks": [{"name": "a", "subnet": "198.51.100.0/25"},
                           {"name": "b", "subnet": "198.51.100.128/25", "gateway": "198.51.100.130"}],
              "driver": "bridge", "driver_options": {OPTION: "chip0"}}
    # a user's network that already has the option counts, without the role's label
    api.add_network("a", "198.51.100.0/25", options={OPTION: "chip0"})
    assert one("docker_networks", params, ctx) == {"pending": True, "reason": "network b does not exist"}
    api.add_network("b", "198.51.100.128/25", gateway="198.51.100.130", options={OPTION: "chip0"},
                    labels={"com.dockermac.hostbridge.role": "routed"})
    assert one("docker_networks", params, ctx) == SYNC
    api.networks["a"]["Options"] = {}
    assert one("docker_networks", params, ctx) == {
        "pending": True, "reason": f"network a: option {OPTION} is None, wanted 'chip0'"}
    api.networks["a"]["Options"] = {OPTION: "chip0"}
    api.networks["b"]["IPAM"]["Config"][0]["Gateway"] = "198.51.100.129"
    assert one("docker_networks", params, ctx) == {
        "pending": True, "reason": "network b: gateway is '198.51.100.129', wanted '198.51.100.130'"}
    assert {verb for verb, _path in api.requests} == {"GET"}


# --- the routed entries in the plan ---------------------------------------------------------------------------
def test_routed_entries_are_compared_on_a_mac_only(tmp_path: Path) -> None:
    brew = Brew(tmp_path)
    brew.tap()
    entry = {"kind": "homebrew_tap", "strategy": "routed", "platforms": ["darwin"], "params": {"tap": "chipmk/tap"}}
    facts = {"homebrew": {"path": brew.brew}}
    assert _plan.check({"brew_tap": entry}, context(**facts)) == {"brew_tap": {**SYNC, "strategy": "routed"}}
    linux = context(**facts)._replace(system="Linux")
    assert _plan.check({"brew_tap": entry}, linux) == {}
    no_routed = context(**facts)._replace(possible=frozenset({"loopback", "tap"}))
    assert _plan.check({"brew_tap": entry}, no_routed) == {}
    assert os.listdir(brew.repository / "Library" / "Taps") == ["chipmk"]  # only read


# --- the entries' shape: each required option alone ------------------------------------------------------------
@pytest.mark.parametrize(("kind", "params", "missing"), [
    ("homebrew_tap", {}, "tap"),
    ("homebrew_formula", {}, "formula"),
    ("homebrew_service", {}, "formula"),
    ("daemon_json_key", {"value": True}, "key"),
    ("daemon_json_key", {"key": "allow-direct-routing"}, "value"),
    ("docker_engine", {}, "version_at_least"),
    ("docker_networks", {"driver": "bridge"}, "networks"),
    ("docker_networks", {"networks": []}, "driver"),
    ("docker_networks", {"driver": "bridge", "networks": [{"subnet": "10.99.0.0/24"}]}, "name found in networks"),
    ("docker_networks", {"driver": "bridge", "networks": [{"name": "hb"}]}, "subnet found in networks"),
], ids=lambda value: value if isinstance(value, str) else None)
def test_an_entry_without_a_required_option_names_it(kind: str, params: dict[str, t.Any], missing: str) -> None:
    """The role always sends these; an entry without one is pending, naming what is missing, not taken as in sync."""
    assert one(kind, params, context()) == {"pending": True, "reason": f"{kind}: missing required arguments: {missing}"}
