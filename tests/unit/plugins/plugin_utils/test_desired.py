"""_desired: each part's desired state and input problems from its role variables - the rules the roles' Jinja held
before (the same values for the same input: checked against that Jinja, 14 cases, when it moved)."""

from __future__ import annotations

import hashlib
import typing as t

import pytest

from ansible_collections.dockermac.hostbridge.plugins.plugin_utils import _desired
from ansible_collections.dockermac.hostbridge.tests.unit.roles.test_desired_state import load

# The roles' defaults; their derived variables the rules read, as they render with those defaults.
LOOPBACK = load("loopback", "defaults", "main.yml")
TAP = {**load("tap_bridge", "defaults", "main.yml"), "tap_bridge__gateway": "10.0.75.1",
       "tap_bridge__vm_link_name": load("tap_bridge", "vars", "main.yml")["tap_bridge__vm_link_name"]}
ROUTED = {**load("routed", "defaults", "main.yml"), "routed__trusted": "chip0",
          "routed__option": load("routed", "vars", "main.yml")["routed__option"]}


def getter(base: dict[str, t.Any], **given: t.Any) -> t.Callable[[str], t.Any]:
    return {**base, **given}.__getitem__  # a variable the rules do not read is a KeyError


def svc(name: str, ip: str, **extra: t.Any) -> dict[str, t.Any]:
    return {"name": name, "ip": ip, **extra}


def test_loopback_addresses_each_once_with_their_prefix() -> None:
    services = [svc("a.test", "198.51.100.9"), svc("b.test", "198.51.100.10", prefix=32), svc("c.test", "198.51.100.9"),
                svc("d.test", "fd00::1", prefix=None)]
    params = _desired.loopback(getter(LOOPBACK, loopback_services=services))["lo0_alias"]["params"]
    assert params["addresses"] == ["198.51.100.9", "198.51.100.10/32", "fd00::1"]


def test_loopback_hosts_entries_one_per_address_sorted_with_every_name_once() -> None:
    services = [svc("b.test", "198.51.100.9", aliases=["b2.test", "b.test"]), svc("a.test", "198.51.100.10"),
                svc("c.test", "198.51.100.9")]
    params = _desired.loopback(getter(LOOPBACK, loopback_services=services))["etc_hosts_entry"]["params"]
    # sorted as text, as Jinja's groupby sorted them: "198.51.100.10" before "198.51.100.9"
    assert params["entries"] == [{"ip": "198.51.100.10", "names": ["a.test"]},
                                 {"ip": "198.51.100.9", "names": ["b.test", "b2.test", "c.test"]}]


def test_loopback_compares_addresses_and_names_without_case() -> None:
    # as Ansible's unique and Jinja's groupby did: one address, one entry, each under its first spelling
    services = [svc("Web.test", "FD00::1"), svc("web.test", "fd00::1", aliases=["WEB.test", "api.test"])]
    desired = _desired.loopback(getter(LOOPBACK, loopback_services=services))
    assert desired["lo0_alias"]["params"]["addresses"] == ["FD00::1"]
    assert desired["etc_hosts_entry"]["params"]["entries"] == [{"ip": "FD00::1", "names": ["Web.test", "api.test"]}]


def test_loopback_services_are_the_teams_with_the_hosts_changes() -> None:
    desired = _desired.loopback(getter(
        LOOPBACK, loopback_services=[svc("a.test", "198.51.100.1"), svc("b.test", "198.51.100.2")],
        loopback_services_extra=[svc("a.test", "198.51.100.7")], loopback_services_drop=["b.test"]))
    assert desired["lo0_alias"]["params"]["addresses"] == ["198.51.100.7"]


@pytest.mark.parametrize(("given", "want"), [
    ({}, {"interface": None, "exclusive_within": None, "exclusive": True, "state": "present"}),
    ({"loopback_interface": "", "loopback_exclusive_within": ""}, {"interface": None, "exclusive_within": None}),
    ({"loopback_interface": "lo", "loopback_exclusive_within": "198.51.100.0/24"},
     {"interface": "lo", "exclusive_within": "198.51.100.0/24"}),
    ({"loopback_hosts_exclusive": False}, {"exclusive": False}),
    ({"loopback_hosts_exclusive": False, "loopback_state": "absent"}, {"exclusive": True, "state": "absent"}),
], ids=["defaults", "empty-is-unset", "given", "not-exclusive", "absent-removes-all-it-wrote"])
def test_loopback_options(given: dict[str, t.Any], want: dict[str, t.Any]) -> None:
    desired = _desired.loopback(getter(LOOPBACK, **given))
    found = {**desired["lo0_alias"]["params"], **desired["etc_hosts_entry"]["params"]}
    assert {key: found[key] for key in want} == want
    assert desired["lo0_alias"]["params"]["state"] == desired["etc_hosts_entry"]["params"]["state"]
    assert {entry["strategy"] for entry in desired.values()} == {"loopback"}


def test_loopback_problems_name_the_field_and_the_value() -> None:
    problems = _desired.loopback_problems(getter(
        LOOPBACK, loopback_services=[svc("bad name", "198.51.100.1"), {"ip": "198.51.100.2"}, "not a mapping"],
        loopback_services_extra=[svc("x.test", "300.1.1.1", aliases=["-x"])], loopback_hosts_marker="a b"))
    assert [problem.split(":")[0] for problem in problems] == [
        "loopback_services[0].name", "loopback_services[1].name", "loopback_services[2].name",
        "loopback_services[2].ip", "loopback_services_extra[0].ip", "loopback_services_extra[0].aliases[0]",
        "loopback_hosts_marker"]
    assert problems[0] == ("loopback_services[0].name: 'bad name' is not a valid RFC 1123 host name (letters, digits, "
                           "hyphens and dots only) (rule hostname)")
    assert _desired.loopback_problems(getter(LOOPBACK, loopback_services=[svc("a.test", "198.51.100.1")])) == []


def test_tap_bridge_defaults_every_entry_with_the_docker_side() -> None:
    desired = _desired.tap_bridge(getter(TAP), lambda: "#!/bin/sh\n")
    assert list(desired) == ["tap_device", "hyperkit_shim", "reapply_program", "boot_job", "network", "vm_link"]
    assert desired["tap_device"]["params"] == {"name": "tap1", "owner": None, "address": "10.0.75.1/24",
                                               "require_interface": False, "state": "present"}
    assert desired["hyperkit_shim"]["platforms"] == ["darwin"]  # no bundle given: only on a Mac
    # sha1 of the program as the template task writes it
    sha1 = hashlib.sha1(b"#!/bin/sh\n", usedforsecurity=False).hexdigest()
    assert desired["reapply_program"]["params"] == {"path": TAP["tap_bridge_reapply_path"], "mode": "0755",
                                                    "sha1": sha1}
    job = desired["boot_job"]
    assert job["platforms"] == ["darwin", "systemd"]
    assert job["params"]["program_arguments"] == ["/bin/sh", TAP["tap_bridge_reapply_path"]]
    assert job["params"]["standard_error_path"] == "/var/log/com.dockermac.hostbridge.tap-reapply.log"
    assert job["params"]["description"] == "dockermac.hostbridge: re-apply the address of tap1"
    assert desired["network"]["params"]["gateway"] == "10.0.75.1"
    assert desired["network"]["params"]["labels"] == {"com.dockermac.hostbridge.role": "tap_bridge"}
    assert desired["vm_link"]["params"]["command"][3] == "eth1"
    assert desired["vm_link"]["params"]["name"] == "dockermac-hostbridge-vm-link"


def test_tap_bridge_given_values() -> None:
    desired = _desired.tap_bridge(getter(
        TAP, tap_bridge_user="alice", tap_bridge_app_path="/Applications/Docker.app", tap_bridge_reapply_interval="25",
        tap_bridge_network_labels={"team": "x"}, tap_bridge_docker_socket="/var/run/docker.sock"), lambda: "")
    assert desired["tap_device"]["params"]["owner"] == desired["hyperkit_shim"]["params"]["user"] == "alice"
    assert desired["hyperkit_shim"]["platforms"] is None  # a bundle given: everywhere (the simulated Mac)
    assert desired["boot_job"]["params"]["start_interval"] == 25
    assert desired["network"]["params"]["labels"] == {"team": "x", "com.dockermac.hostbridge.role": "tap_bridge"}
    assert desired["network"]["params"]["socket"] == desired["vm_link"]["params"]["socket"] == "/var/run/docker.sock"


@pytest.mark.parametrize(("persistent", "platforms"), [
    (None, ["darwin", "systemd"]), (True, ["darwin", "linux"]), ("yes", ["darwin", "linux"]), (False, []), ("no", []),
])
def test_tap_bridge_job_platforms(persistent: t.Any, platforms: list[str]) -> None:
    desired = _desired.tap_bridge(getter(TAP, tap_bridge_reapply_persistent=persistent), lambda: "")
    assert desired["boot_job"]["platforms"] == platforms


def test_tap_bridge_docker_side_only_when_managed() -> None:
    desired = _desired.tap_bridge(getter(TAP, tap_bridge_network_manage="no", tap_bridge_vm_link_manage=False),
                                  lambda: "")
    assert "network" not in desired
    assert "vm_link" not in desired


def test_tap_bridge_program_rendered_only_when_asked() -> None:
    def program() -> str:
        raise AssertionError("rendered")
    with pytest.raises(AssertionError, match="rendered"):
        _desired.tap_bridge(getter(TAP), program)


def test_tap_bridge_problems() -> None:
    problems = _desired.tap_bridge_problems(getter(TAP, tap_bridge_device="tap256", tap_bridge_reapply_interval=5))
    assert problems == ["tap_bridge_device: 'tap256' must be a tap device name from tap0 to tap255 (rule tap_name)",
                        "tap_bridge_reapply_interval: 5 must be an integer of at least 10 (rule integer_at_least)"]


def test_problems_one_message_per_part_and_none_for_parts_without_a_check() -> None:
    get = getter({**LOOPBACK, **TAP, **ROUTED}, loopback_hosts_marker="a b", tap_bridge_device="tap256")
    assert [message.split(":")[0] for message in _desired.problems(get, ["loopback", "tap_bridge", "routed"])] == [
        "loopback", "tap_bridge"]
    assert _desired.problems(getter({**LOOPBACK, **TAP}), ["loopback", "tap_bridge"]) == []


@pytest.mark.parametrize(("given", "entries"), [
    ({}, ["brew_tap", "brew_formula", "brew_service"]),
    ({"routed_networks": [{"name": "n", "subnet": "172.30.0.0/24"}]},
     ["brew_tap", "brew_formula", "brew_service", "engine_version", "trusted_networks"]),
    ({"routed_direct_routing": "daemon_option"}, ["brew_tap", "brew_formula", "brew_service", "engine_version",
                                                  "daemon_json"]),
    ({"routed_direct_routing": "none", "routed_networks": [{"name": "n", "subnet": "172.30.0.0/24"}]},
     ["brew_tap", "brew_formula", "brew_service"]),
], ids=["no-networks", "trusted-networks", "daemon-option", "no-direct-routing"])
def test_routed_entries_by_direct_routing(given: dict[str, t.Any], entries: list[str]) -> None:
    desired = _desired.routed(getter(ROUTED, **given))
    assert list(desired) == entries
    assert all((entry["strategy"], entry["platforms"]) == ("routed", ["darwin"]) for entry in desired.values())
    assert desired["brew_service"]["params"] == {"formula": ROUTED["routed_formula"]}
    if "trusted_networks" in desired:
        assert desired["trusted_networks"]["params"]["driver_options"] == {
            "com.docker.network.bridge.trusted_host_interfaces": "chip0"}
    if "daemon_json" in desired:
        assert desired["daemon_json"]["params"] == {"path": None, "key": "allow-direct-routing", "value": True}
    if "engine_version" in desired:
        assert desired["engine_version"]["params"] == {"version_at_least": "28.2", "socket": None}
