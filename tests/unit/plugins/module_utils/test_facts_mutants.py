"""``_facts.py`` where cosmic-ray's mutants survived the other tests (docs/development.md, "Mutation score"): the
os-release quotes, a failing ``sw_vers``, a settings file that cannot be read, the warning when the holder of a
tap cannot be told, and the trust report the module adds for ``trusted_paths``. Fabricated Macs of test_facts.py,
the bridge_facts module on this Linux machine (test_bridge_facts.py)."""

from __future__ import annotations

import errno
import plistlib
import tempfile
import typing as t
from pathlib import Path

import pytest

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _docker_api, _facts
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.tests.fake_docker_api import FakeDockerAPI
from ansible_collections.dockermac.hostbridge.tests.unit.plugins.module_utils.test_docker_api import serve
from ansible_collections.dockermac.hostbridge.tests.unit.plugins.module_utils.test_facts import (
    KMUTIL,
    SETTINGS,
    SW_VERS,
    SYSCTL,
    LinuxHost,
    Mac,
    mac,
)
from ansible_collections.dockermac.hostbridge.tests.unit.plugins.module_utils.test_plan_docker import (
    NETWORK,
    ROLE_LABEL,
)
from ansible_collections.dockermac.hostbridge.tests.unit.plugins.modules.test_bridge_facts import module
from ansible_collections.dockermac.hostbridge.tests.unit.utils import FakeRunner

__all__ = ["mac"]  # fixture


@pytest.mark.parametrize(("line", "name"), [
    ('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"', "Debian GNU/Linux 12 (bookworm)"),
    ("PRETTY_NAME='Ubuntu 24.04'", "Ubuntu 24.04"),
    ('PRETTY_NAME=""', None),
    ("PRETTY_NAME='Odd\"", "'Odd\""),  # quotes that do not match are kept
    ('PRETTY_NAME="', '"'),
])
def test_os_release_quotes_are_removed_only_when_they_match(line: str, name: str | None) -> None:
    assert _facts.parse_os_release(f"ID=x\n{line}\n") == name


def test_a_failing_sw_vers_gives_no_version_and_no_error(mac: Mac) -> None:
    mac.bundle()
    runner = FakeRunner([(SYSCTL, 0, "", ""), (SW_VERS, 1, "", "sw_vers: error\n"), (KMUTIL, 0, "", "")])
    facts, _warnings = mac.facts(runner)
    assert facts["os_version"] is None  # platform.mac_ver() gives "" off a Mac


def test_settings_that_cannot_be_read_are_a_warning(mac: Mac) -> None:
    mac.bundle(version="4.13.1")
    (mac.home / SETTINGS / "settings-store.json").mkdir(parents=True)  # reading it: IsADirectoryError
    facts, warnings = mac.facts(FakeRunner([(SYSCTL, 0, "", ""), (SW_VERS, 0, "13.6.1\n", ""), (KMUTIL, 0, "", "")]))
    assert warnings == [f"Cannot read Docker Desktop's settings {mac.home / SETTINGS / 'settings-store.json'}: "
                        f"[Errno {errno.EISDIR}] Is a directory: '{mac.home / SETTINGS / 'settings-store.json'}'"]
    assert facts["docker_desktop"]["settings_path"] == str(mac.home / SETTINGS / "settings-store.json")


class Unreadable:
    def holder(self, tap: str) -> t.NoReturn:
        raise PermissionError(errno.EACCES, "Permission denied", "/proc/1/fdinfo")


def test_a_holder_that_cannot_be_told_is_a_warning_saying_why() -> None:
    facts = _facts.LinuxFacts(runner=FakeRunner(), root="/nonexistent", home=None, machine="x86_64", environ={})
    facts.tap_backend = Unreadable  # type: ignore[assignment,method-assign]
    held = facts.tap_held(tap="tap1", shim_state="installed", docker={"engine_reachable": True}, devices=["tap1"])
    assert held == (None, False)
    assert facts.warnings == ["Cannot tell which process holds tap1: [Errno 13] Permission denied: '/proc/1/fdinfo'"]


def test_trusted_paths_add_a_trust_report_and_none_without_them() -> None:
    result, _warnings = module({"trusted_paths": ["/"]})
    assert result["ansible_facts"]["hostbridge"]["trust"] == [
        {"path": "/", "exists": True, "trusted": True, "owner": "root (uid 0)", "problems": [], "fixes": []}]
    result, _warnings = module({})
    assert "trust" not in result["ansible_facts"]["hostbridge"]


def test_a_linux_host_without_os_release_or_sysfs_has_no_version_and_no_tap(tmp_path: Path) -> None:
    host = LinuxHost(tmp_path)
    (host.root / "etc" / "os-release").unlink()
    (host.root / "sys" / "class" / "net").rmdir()
    facts = host.facts(user="nobody")
    assert (facts["os_version"], facts["tuntap"]["devices"]) == (None, [])


def test_without_sw_vers_the_version_is_the_one_python_reads(mac: Mac, monkeypatch: pytest.MonkeyPatch) -> None:
    """platform.mac_ver() as on an Intel Mac: (release, versioninfo, machine)."""
    mac.bundle()
    monkeypatch.setattr(_facts.platform, "mac_ver", lambda: ("13.6.1", ("", "", ""), "x86_64"))
    runner = FakeRunner([(SYSCTL, 0, "", ""), (KMUTIL, 0, "", "")], missing=["sw_vers"])
    facts, _warnings = mac.facts(runner)
    assert facts["os_version"] == "13.6.1"


def test_the_plan_asks_the_engine_the_facts_found(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Docker entry without a socket of its own: the socket the facts report (DOCKER_HOST here)."""
    with tempfile.TemporaryDirectory(prefix="hb-") as short, FakeDockerAPI(f"{short}/docker.sock") as api:
        api.add_network("tap", "10.0.75.0/24", gateway="10.0.75.1", driver="macvlan", options={"parent": "eth1"},
                        labels=ROLE_LABEL, ip_range="10.0.75.128/25")
        monkeypatch.setenv("DOCKER_HOST", f"unix://{api.socket_path}")
        result, _warnings = module({"desired": {"network": {"kind": "docker_network", "params": NETWORK}}})
    assert result["plan"] == {"network": {"pending": False, "reason": "in sync"}}


def test_an_os_release_that_is_not_utf8_gives_no_version(tmp_path: Path) -> None:
    host = LinuxHost(tmp_path)
    (host.root / "etc" / "os-release").write_bytes(b'PRETTY_NAME="Caf\xe9 OS"\n')
    assert host.facts(user="nobody")["os_version"] is None


@pytest.mark.parametrize(("answer", "up"), [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK", True),
    (b"HTTP/1.1 500 Internal Server Error\r\n\r\n", False),
    (b"nonsense\r\n", False),
    (b"HTTP/1.1\r\n", False),  # a status line cut short: no status, and no crash
    (b"", False),
])
def test_the_engine_is_up_only_for_a_200_to_ping(answer: bytes, up: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="hb-") as short:
        serve(f"{short}/docker.sock", answer)
        assert _docker_api.ping(f"{short}/docker.sock", timeout=_facts.PING_TIMEOUT) is up


def test_a_version_that_is_not_a_string_is_no_version() -> None:
    assert _facts.parse_info_plist(plistlib.dumps({"CFBundleShortVersionString": 4})) is None


@pytest.mark.parametrize(("text", "name"), [
    ('NAME="Fedora Linux"\nVERSION_ID=41\nPRETTY_NAME="Fedora Linux 41"\n', "Fedora Linux 41"),  # keys after it
    ('PRETTY_NAME="Debian\n', '"Debian'),  # an opening quote alone is kept
])
def test_only_pretty_name_is_read_wherever_it_stands(text: str, name: str) -> None:
    assert _facts.parse_os_release(text) == name


def test_no_account_means_no_home() -> None:
    facts = _facts.LinuxFacts(runner=FakeRunner(), root="/nonexistent", machine="x86_64", environ={})
    assert facts.home(None) is None


def test_a_linux_host_without_dev_net_tun_says_so(tmp_path: Path) -> None:
    assert LinuxHost(tmp_path).facts(user="nobody")["tuntap"]["dev_net_tun"] is False


def test_a_socket_path_where_no_engine_answers_is_not_reachable(tmp_path: Path) -> None:
    stale = tmp_path / "docker.sock"
    stale.write_text("")  # left behind: exists, nothing listens
    docker = LinuxHost(tmp_path).facts(user="nobody", environ={"DOCKER_HOST": f"unix://{stale}"})["docker"]
    assert (docker["socket"], docker["socket_exists"], docker["engine_reachable"]) == (str(stale), True, False)


class Refusing:
    def holder(self, tap: str) -> t.NoReturn:
        raise HostbridgeError("cannot read /proc")


def test_the_holder_is_asked_only_for_an_existing_tap_and_its_refusal_is_named() -> None:
    facts = _facts.LinuxFacts(runner=FakeRunner(), root="/nonexistent", machine="x86_64", environ={})
    facts.tap_backend = Refusing  # type: ignore[assignment,method-assign]
    engine = {"engine_reachable": True}
    assert facts.tap_held(tap="tap1", shim_state="installed", docker=engine, devices=[]) == (None, False)
    assert facts.warnings == []  # not asked: no such device
    assert facts.tap_held(tap="tap1", shim_state="installed", docker=engine, devices=["tap1"]) == (None, False)
    assert facts.warnings == ["Cannot tell which process holds tap1: cannot read /proc"]


def test_a_failing_sysctl_leaves_the_architecture_as_python_sees_it(mac: Mac) -> None:
    mac.bundle()
    runner = FakeRunner([(SYSCTL, 1, "", "sysctl: unknown oid 'hw.optional.arm64'\n"), (SW_VERS, 0, "10.15.7\n", ""),
                         (KMUTIL, 0, "", "")])
    facts, _warnings = mac.facts(runner)
    assert facts["architecture"] == "x86_64"


def test_settings_that_are_not_utf8_are_a_warning(mac: Mac) -> None:
    mac.bundle(version="4.13.1")
    path = mac.home / SETTINGS / "settings-store.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"name": "caf\xe9"}')
    _f, warnings = mac.facts(FakeRunner([(SYSCTL, 0, "", ""), (SW_VERS, 0, "13.6.1\n", ""), (KMUTIL, 0, "", "")]))
    assert len(warnings) == 1
    assert warnings[0].startswith(f"Cannot read Docker Desktop's settings {path}: 'utf-8' codec can't decode")
